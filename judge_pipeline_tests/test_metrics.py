"""Agreement and bootstrap metrics against closed forms."""

import numpy as np
import pytest

from judge_pipeline.metrics.agreement import alpha_interval_reference, invalid_rate, krippendorff_alpha_interval
from judge_pipeline.metrics.bootstrap import bootstrap_ci


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
