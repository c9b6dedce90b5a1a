"""Gao fits on synthetic curves with known parameters, best-of-n against brute force, style control."""

import itertools
import math

import numpy as np
import pytest

from judge_pipeline.metrics.best_of_n import best_of_n_expectation, best_of_n_kl, best_of_n_weights, default_ns
from judge_pipeline.metrics.gao_fits import curve_landmarks, fit_gao, gao_curve
from judge_pipeline.metrics.style import style_controlled, style_features


# ------------------------------------------------------------------ Gao fits
@pytest.mark.parametrize("form,alpha,beta", [("best_of_n", 1.3, 0.25), ("rl", 0.8, 0.3), ("rl", 2.0, 0.9)])
def test_gao_fit_recovers_known_parameters_within_5_percent(form, alpha, beta):
    rng = np.random.default_rng(1)
    d = np.linspace(0.1, 6.0, 30)
    gain = gao_curve(form, d, alpha, beta) + rng.normal(0, 0.01, len(d))
    fit = fit_gao(form, d, gain)
    assert fit.alpha == pytest.approx(alpha, rel=0.05)
    assert fit.beta == pytest.approx(beta, rel=0.05)
    assert fit.r2 > 0.99
    expected_peak = alpha / (2 * beta) if form == "best_of_n" else math.exp(alpha / beta - 1)
    assert fit.d_peak == pytest.approx(expected_peak, rel=0.05)
    assert fit.gain_at_peak == pytest.approx(float(gao_curve(form, np.array([expected_peak]), alpha, beta)[0]), rel=0.05)


def test_gao_fit_without_a_peak_and_bad_input():
    d = np.array([0.5, 1.0, 2.0, 3.0])
    fit = fit_gao("best_of_n", d, 0.7 * d + 0.05 * d * d)  # still accelerating: beta < 0, no peak
    assert fit.beta < 0 and fit.d_peak is None and fit.gain_at_peak is None
    falling = fit_gao("best_of_n", d, -0.3 * d - 0.1 * d * d)  # falls from the start: the peak is d = 0, not d < 0
    assert falling.alpha < 0 < falling.beta and falling.d_peak == 0.0 and falling.gain_at_peak == 0.0
    with pytest.raises(ValueError, match="at least two points"):
        fit_gao("rl", [0.0, 1.0], [0.0, 0.4])
    with pytest.raises(ValueError, match="unknown Gao form"):
        fit_gao("linear", d, d)
    with pytest.raises(ValueError, match=">= 0"):
        fit_gao("rl", [-1.0, 1.0, 2.0], [0.0, 0.1, 0.2])


def test_curve_landmarks_find_peak_divergence_and_regret():
    steps = [0, 4, 8, 12, 16]
    proxy = [3.0, 4.0, 5.0, 6.0, 7.0]
    gold = [3.0, 3.5, 4.0, 3.2, 2.5]
    lm = curve_landmarks(steps, proxy, gold, gold_low=[g - 0.2 for g in gold], gold_high=[g + 0.2 for g in gold])
    assert (lm.peak_step, lm.peak_gold, lm.divergence_step) == (8, 4.0, 12)
    assert lm.regret == pytest.approx(1.5) and lm.gold_drop_significant
    # gold monotone: no divergence, no regret
    lm = curve_landmarks(steps, proxy, [1, 2, 3, 4, 5])
    assert lm.divergence_step is None and lm.regret == 0 and not lm.gold_drop_significant
    # gold falls but the proxy falls too: not the training judge being hacked
    lm = curve_landmarks([0, 1, 2], [5.0, 4.0, 3.0], [5.0, 4.0, 3.0])
    assert lm.divergence_step is None and lm.regret == 2.0
    with pytest.raises(ValueError, match="increasing"):
        curve_landmarks([2, 1], [1, 1], [1, 1])


# ------------------------------------------------------------------ best-of-n
def _brute_force(proxy, gold, n):
    vals = []
    for subset in itertools.combinations(range(len(proxy)), n):
        best = max(proxy[i] for i in subset)
        tied = [i for i in subset if proxy[i] == best]
        vals.append(np.mean([gold[i] for i in tied]))
    return float(np.mean(vals))


@pytest.mark.parametrize("proxy", [[0.1, 0.9, 0.5, 0.3, 0.7, 0.2], [1.0, 1.0, 2.0, 0.0, 2.0, 1.0]])
def test_best_of_n_matches_brute_force_over_all_subsets(proxy):
    gold = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0]
    for n in range(1, len(proxy) + 1):
        assert best_of_n_expectation(proxy, gold, n) == pytest.approx(_brute_force(proxy, gold, n))
        assert best_of_n_weights(np.array(proxy), n).sum() == pytest.approx(1.0)
    assert best_of_n_expectation(proxy, gold, 1) == pytest.approx(np.mean(gold))  # n = 1 is the plain mean


def test_best_of_n_kl_and_ns():
    assert best_of_n_kl(1) == 0.0
    assert best_of_n_kl(64) == pytest.approx(math.log(64) - 63 / 64)
    assert default_ns(64) == [1, 2, 4, 8, 16, 32, 64]
    assert default_ns(12) == [1, 2, 4, 8, 12]
    with pytest.raises(ValueError, match="pool of at least 5"):
        best_of_n_weights(np.zeros(4), 5)


# ------------------------------------------------------------------ style control
def test_style_features():
    text = "# Title\n\nSome **bold** words and __more__.\n- one\n- two\n1. three"
    f = style_features(text)
    assert (f["headers"], f["list_items"], f["bold"]) == (1.0, 3.0, 2.0)
    assert f["log_words"] == pytest.approx(math.log1p(len(text.split())))


def test_style_control_removes_a_pure_length_effect():
    rng = np.random.default_rng(0)
    texts, scores, ref = [], [], []
    for step, words in [(0, 5), (1, 20), (2, 80)]:
        for _ in range(20):
            n = int(words * rng.uniform(0.7, 1.3))
            texts.append(" ".join(["word"] * n))
            scores.append(2.0 * math.log1p(n) + rng.normal(0, 0.05))  # the score only rewards length
            ref.append(step == 0)
    controlled, coefs = style_controlled(texts, scores, ref)
    scores, ref = np.array(scores), np.array(ref)
    assert coefs["log_words"] == pytest.approx(2.0, rel=0.05)
    late = np.arange(len(texts)) >= 40
    assert scores[late].mean() - scores[ref].mean() > 2.0  # raw scores climb
    assert abs(controlled[late].mean() - controlled[ref].mean()) < 0.1  # controlled ones do not
    with pytest.raises(ValueError, match="reference rows"):
        style_controlled(texts, scores, [False] * len(texts))

