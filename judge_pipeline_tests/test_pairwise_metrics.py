"""Pairwise metrics on hand-made inputs: exact values, invalid verdicts, swapped orders."""

import math

import numpy as np
import pytest

from judge_pipeline.metrics.pairwise import (
    PositionConsistency,
    accuracy_ci,
    consistent_label,
    consistent_labels,
    correct_flags,
    flip_rate,
    human_human_alpha,
    pairwise_accuracy,
    pairwise_accuracy_valid,
    pointwise_pair_credit,
    pointwise_to_pair_accuracy,
    position_consistency,
)


def test_accuracy_counts_invalid_as_wrong():
    pred, gold = [1, 2, None, 2, 1], [1, 1, 2, 2, 2]
    assert correct_flags(pred, gold).tolist() == [1.0, 0.0, 0.0, 1.0, 0.0]
    assert pairwise_accuracy(pred, gold) == pytest.approx(2 / 5)
    assert pairwise_accuracy_valid(pred, gold) == pytest.approx(2 / 4)
    # NaN and numpy ints read as None / labels
    assert pairwise_accuracy([np.int64(1), float("nan")], [1, 1]) == 0.5


def test_accuracy_all_invalid_and_empty():
    assert pairwise_accuracy([None, None], [1, 2]) == 0.0
    assert math.isnan(pairwise_accuracy_valid([None, None], [1, 2]))
    assert math.isnan(pairwise_accuracy([], []))
    assert math.isnan(pairwise_accuracy_valid([], []))


@pytest.mark.parametrize("pred,gold,message", [
    ([1, 2], [1], "length mismatch"),
    ([3], [1], r"pred\[0\]: label must be 1, 2 or None"),
    ([True], [1], "label must be"),
    (["1"], [1], "label must be"),
    ([1], [None], r"gold\[0\]: gold label missing"),
])
def test_accuracy_rejects_bad_input(pred, gold, message):
    with pytest.raises(ValueError, match=message):
        pairwise_accuracy(pred, gold)


def test_swapped_order_consistency():
    # pair 0: (a,b)->1 a better; (b,a)->2 the second shown, a, better: consistent on a
    # pair 1: (a,b)->2; (b,a)->1 b shown first is better: consistent on b
    # pair 2: always picks the first shown: flip
    # pair 3: always picks the second shown: flip
    # pair 4: swapped verdict invalid; pair 5: both invalid
    ab = [1, 2, 1, 2, 1, None]
    ba = [2, 1, 1, 2, None, None]
    assert consistent_labels(ab, ba) == [1, 2, None, None, None, None]
    pc = position_consistency(ab, ba)
    assert isinstance(pc, PositionConsistency)
    assert pc.consistent == pytest.approx(2 / 6)
    assert pc.flip_rate == pytest.approx(2 / 6)
    assert pc.either_invalid == pytest.approx(2 / 6)
    assert pc.n == 6
    assert flip_rate(ab, ba) == pytest.approx(2 / 6)
    assert pc._asdict()["consistent"] == pc.consistent


def test_consistent_label_scalar():
    assert consistent_label(1, 2) == 1
    assert consistent_label(2, 1) == 2
    assert consistent_label(1, 1) is None
    assert consistent_label(None, 2) is None


def test_consistency_all_invalid_and_empty():
    pc = position_consistency([None, 1], [2, None])
    assert (pc.consistent, pc.flip_rate, pc.either_invalid, pc.n) == (0.0, 0.0, 1.0, 2)
    empty = position_consistency([], [])
    assert empty.n == 0 and all(math.isnan(x) for x in empty[:3])
    with pytest.raises(ValueError, match="length mismatch"):
        position_consistency([1], [])


def test_pointwise_to_pair_ties_count_half():
    score_a = [7, 3, 5, None, 2.0, float("nan")]
    score_b = [2, 8, 5, 4, 9.0, 1]
    gold = [1, 1, 2, 1, 2, 1]
    # right, wrong, tie, invalid, right, invalid
    assert pointwise_pair_credit(score_a, score_b, gold).tolist() == [1.0, 0.0, 0.5, 0.0, 1.0, 0.0]
    assert pointwise_to_pair_accuracy(score_a, score_b, gold) == pytest.approx(2.5 / 6)
    assert pointwise_to_pair_accuracy(score_a, score_b, gold, tie_credit=0.0) == pytest.approx(2 / 6)
    assert pointwise_to_pair_accuracy([None], [None], [1]) == 0.0
    assert math.isnan(pointwise_to_pair_accuracy([], [], []))
    with pytest.raises(ValueError, match=r"score_a\[0\]: score must be a number"):
        pointwise_to_pair_accuracy(["7"], [1], [1])


def test_human_human_alpha_closed_form():
    # coincidence matrix o11=2, o12=o21=1, o22=2, n=6: alpha = 1 - (n-1) * 2 / (2 * 3 * 3) = 4/9
    assert human_human_alpha([[1, 1], [1, 2], [2, 2]]) == pytest.approx(4 / 9)
    # ties (None) and single-label rows drop out
    assert human_human_alpha([[1, 1, None], [1, 2], [2, 2], [1], [None, 2], []]) == pytest.approx(4 / 9)
    # three annotators on one pair: [1,1,2] adds o11=1, o12=o21=1; with [2,2]: n=5, n1=2, n2=3
    # alpha = 1 - (n-1) * (o12+o21) / (2 * n1 * n2) = 1 - 4 * 2 / 12 = 1/3
    assert human_human_alpha([[1, 1, 2], [2, 2]]) == pytest.approx(1 / 3)
    assert human_human_alpha([[1, 1], [2, 2]]) == pytest.approx(1.0)


def test_human_human_alpha_undefined_is_nan():
    assert math.isnan(human_human_alpha([]))
    assert math.isnan(human_human_alpha([[1], [2, None]]))
    assert math.isnan(human_human_alpha([[1, 1], [1, 1]]))  # no variance
    with pytest.raises(ValueError, match=r"annotator_labels\[0\]\[1\]|annotator_labels\[0\]"):
        human_human_alpha([[1, 5]])


def test_accuracy_ci():
    flags = correct_flags([1] * 30 + [2] * 10, [1] * 40)
    est, lo, hi = accuracy_ci(flags, resamples=300, level=0.9, seed=1)
    assert est == 0.75 and lo < est < hi
    assert accuracy_ci(flags, resamples=300, level=0.9, seed=1) == (est, lo, hi)  # deterministic
    assert accuracy_ci([1, 1, 1], resamples=50) == (1.0, 1.0, 1.0)
    assert all(math.isnan(x) for x in accuracy_ci([]))
    with pytest.raises(ValueError, match="None"):
        accuracy_ci([1, None])
