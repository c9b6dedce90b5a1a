"""Agreement and bootstrap metrics against closed forms."""

import numpy as np
import pytest

from judge_pipeline.metrics.agreement import alpha_interval_reference, invalid_rate, krippendorff_alpha_interval
from judge_pipeline.metrics.bootstrap import bootstrap_ci, crossed_bootstrap_ci


def test_alpha_matches_closed_form():
    rng = np.random.default_rng(0)
    gold = rng.integers(0, 10, 50).astype(float)
    judge = np.clip(gold + rng.normal(0, 2, 50), 0, 9)
    assert krippendorff_alpha_interval(judge, gold) == pytest.approx(alpha_interval_reference(judge, gold), rel=1e-9)


def test_alpha_perfect_and_missing():
    assert krippendorff_alpha_interval([1, 2, 3, 9], [1, 2, 3, 9]) == pytest.approx(1.0)
    # a missing judge score drops its unit
    assert krippendorff_alpha_interval([1, None, 3, 9], [1, 5, 3, 9]) == pytest.approx(1.0)
    assert np.isnan(krippendorff_alpha_interval([None, None], [1, 2]))


def test_alpha_of_reversed_scores_is_negative():
    assert krippendorff_alpha_interval([0, 3, 6, 9], [9, 6, 3, 0]) < 0


def test_bootstrap_ci_brackets_the_mean():
    values = np.arange(100, dtype=float)
    est, lo, hi = bootstrap_ci(values, resamples=500)
    assert est == pytest.approx(49.5) and lo < est < hi and hi - lo < 25


def test_invalid_rate():
    assert invalid_rate([1, None, 3, None]) == 0.5


def test_crossed_bootstrap_resamples_seeds_and_prompts():
    prompts = np.arange(10, dtype=float)
    # one seed: the ordinary bootstrap over prompts, exactly
    assert crossed_bootstrap_ci([prompts], 300, 0.9) == bootstrap_ci(prompts, np.mean, 300, 0.9)
    same = crossed_bootstrap_ci([prompts, prompts], 300, 0.9)  # identical seeds add no spread
    apart = crossed_bootstrap_ci([prompts, prompts + 10], 300, 0.9)
    assert same[0] == pytest.approx(4.5) and apart[0] == pytest.approx(9.5)
    assert apart[2] - apart[1] > 2 * (same[2] - same[1])
    with_gap = crossed_bootstrap_ci([[1.0, np.nan], [3.0, 5.0]], 200, 0.9)  # an invalid verdict is left out
    assert with_gap[0] == pytest.approx(3.0) and with_gap[1] <= with_gap[0] <= with_gap[2]
    assert all(np.isnan(v) for v in crossed_bootstrap_ci([[np.nan]], 10, 0.9))
