"""Pairwise judge metrics against human labels: accuracy, position consistency, human-human alpha.

Conventions shared by every function here:

- A pairwise label is 1 (the first-shown response is better), 2 (the second is better) or
  ``None`` (an invalid verdict: unparseable, refused, out of range). ``float('nan')`` is read
  as ``None``; numpy integers are accepted; anything else (0, 3, True, "1") is a ``ValueError``.
- Gold labels must be valid (1 or 2); a ``None`` gold label is a ``ValueError``.
- Sequences that are compared element-wise must have the same length (else ``ValueError``).
- A rate over no units (empty input, or no valid verdicts where only valid ones count) is NaN,
  as in :func:`judge_pipeline.metrics.agreement.invalid_rate` and ``bootstrap_ci``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from judge_pipeline.metrics.bootstrap import bootstrap_ci

Label = int | None


def _label(x: object, name: str, i: int, allow_none: bool = True) -> Label:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        if allow_none:
            return None
        raise ValueError(f"{name}[{i}]: gold label missing (gold labels must be 1 or 2)")
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, np.integer, float, np.floating)) or x not in (1, 2):
        raise ValueError(f"{name}[{i}]: label must be 1, 2 or None (invalid), got {x!r}")
    return int(x)


def _labels(seq: Sequence[object], name: str, allow_none: bool = True) -> list[Label]:
    return [_label(x, name, i, allow_none) for i, x in enumerate(seq)]


def _same_length(**seqs: Sequence) -> int:
    lengths = {k: len(v) for k, v in seqs.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"length mismatch: {', '.join(f'{k}={n}' for k, n in lengths.items())}")
    return next(iter(lengths.values()))


def _rate(flags: Sequence[float]) -> float:
    return float(np.mean(flags)) if len(flags) else float("nan")


# --- accuracy ---------------------------------------------------------------------------------


def correct_flags(pred: Sequence[Label], gold: Sequence[int]) -> np.ndarray:
    """Per-pair 1.0 if ``pred`` equals ``gold``, else 0.0; an invalid prediction (None) is 0.0.

    The array feeds :func:`accuracy_ci`.
    """
    _same_length(pred=pred, gold=gold)
    p = _labels(pred, "pred")
    g = _labels(gold, "gold", allow_none=False)
    return np.array([1.0 if a is not None and a == b else 0.0 for a, b in zip(p, g)], dtype=float)


def pairwise_accuracy(pred: Sequence[Label], gold: Sequence[int]) -> float:
    """Share of pairs whose predicted label equals the gold label, over **all** pairs.

    An invalid prediction (None) counts as wrong: a judge cannot raise its accuracy by failing to
    answer the hard pairs. NaN for empty input. See :func:`pairwise_accuracy_valid` for the
    accuracy among valid verdicts only.
    """
    return _rate(correct_flags(pred, gold))


def pairwise_accuracy_valid(pred: Sequence[Label], gold: Sequence[int]) -> float:
    """Share of correct predictions among pairs with a **valid** prediction (invalid ones left out).

    NaN when no prediction is valid (including empty input).
    """
    flags = correct_flags(pred, gold)
    valid = np.array([x is not None for x in _labels(pred, "pred")], dtype=bool)
    return _rate(flags[valid])


# --- position consistency ---------------------------------------------------------------------


def consistent_label(label_ab: Label, label_ba: Label) -> Label:
    """The underlying label both orders agree on, or None.

    ``label_ab`` judges (a, b); ``label_ba`` judges the swapped order (b, a), where 1 means b is
    better, i.e. underlying label 2. Returns ``label_ab`` when ``label_ba == 3 - label_ab``,
    otherwise None (the orders disagree, or either verdict is invalid).
    """
    ab = _label(label_ab, "label_ab", 0)
    ba = _label(label_ba, "label_ba", 0)
    if ab is None or ba is None or ab != 3 - ba:
        return None
    return ab


def consistent_labels(label_ab: Sequence[Label], label_ba: Sequence[Label]) -> list[Label]:
    """:func:`consistent_label` element-wise."""
    _same_length(label_ab=label_ab, label_ba=label_ba)
    ab = _labels(label_ab, "label_ab")
    ba = _labels(label_ba, "label_ba")
    return [consistent_label(x, y) for x, y in zip(ab, ba)]


class PositionConsistency(NamedTuple):
    """Shares of all ``n`` pairs; ``consistent + flip_rate + either_invalid == 1`` (when n > 0)."""

    consistent: float  #: both orders valid and pick the same underlying response
    flip_rate: float  #: both orders valid but pick different underlying responses
    either_invalid: float  #: at least one of the two verdicts invalid
    n: int


def position_consistency(label_ab: Sequence[Label], label_ba: Sequence[Label]) -> PositionConsistency:
    """Agreement of a judge with itself when the two responses swap places.

    ``label_ab[i]`` judges pair i as (a, b); ``label_ba[i]`` judges it as (b, a), so there 1 means
    b is better. All three shares are over all pairs (they sum to 1). The consistency among pairs
    with two valid verdicts is ``consistent / (consistent + flip_rate)``. NaN shares for empty input.
    """
    n = _same_length(label_ab=label_ab, label_ba=label_ba)
    ab = _labels(label_ab, "label_ab")
    ba = _labels(label_ba, "label_ba")
    invalid = [x is None or y is None for x, y in zip(ab, ba)]
    agree = [not inv and x == 3 - y for x, y, inv in zip(ab, ba, invalid)]
    flip = [not inv and x != 3 - y for x, y, inv in zip(ab, ba, invalid)]
    return PositionConsistency(_rate(agree), _rate(flip), _rate(invalid), n)


def flip_rate(label_ab: Sequence[Label], label_ba: Sequence[Label]) -> float:
    """Share of all pairs where both verdicts are valid but swapping the order changes the
    underlying choice (see :func:`position_consistency`)."""
    return position_consistency(label_ab, label_ba).flip_rate


# --- pointwise scores turned into pairs -------------------------------------------------------


def _score(x: object, name: str, i: int) -> float | None:
    if x is None:
        return None
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name}[{i}]: score must be a number or None (invalid), got {x!r}")
    return None if math.isnan(x) else float(x)


def pointwise_pair_credit(
    score_a: Sequence[float | None], score_b: Sequence[float | None], gold: Sequence[int], tie_credit: float = 0.5
) -> np.ndarray:
    """Per-pair credit of a pointwise judge (or reward model) that scores each response separately.

    1.0 if the higher-scored response is the gold one, 0.0 if it is the other, ``tie_credit``
    (default 0.5) on equal scores, and 0.0 if either score is invalid (None or NaN), as in
    :func:`pairwise_accuracy`. The default 0.5 is the expected accuracy of breaking the tie by
    a fair coin: ties neither reward nor punish a coarse scale in expectation, and the result
    does not depend on which response is shown first. Pass ``tie_credit=0`` for strict accuracy.
    """
    _same_length(score_a=score_a, score_b=score_b, gold=gold)
    g = _labels(gold, "gold", allow_none=False)
    out = np.empty(len(g), dtype=float)
    for i, lab in enumerate(g):
        a, b = _score(score_a[i], "score_a", i), _score(score_b[i], "score_b", i)
        if a is None or b is None:
            out[i] = 0.0
        elif a == b:
            out[i] = tie_credit
        else:
            out[i] = 1.0 if (1 if a > b else 2) == lab else 0.0
    return out


def pointwise_to_pair_accuracy(
    score_a: Sequence[float | None], score_b: Sequence[float | None], gold: Sequence[int], tie_credit: float = 0.5
) -> float:
    """Mean of :func:`pointwise_pair_credit` over all pairs (ties 0.5, invalid 0); NaN if empty."""
    return _rate(pointwise_pair_credit(score_a, score_b, gold, tie_credit))


# --- human-human agreement --------------------------------------------------------------------


def human_human_alpha(annotator_labels: Sequence[Sequence[Label]]) -> float:
    """Krippendorff's alpha (nominal) among the annotators of each pair.

    ``annotator_labels[i]`` is the list of individual labels for pair i (1, 2, or None for a
    tie/unusable judgment, which is dropped). Annotators are not matched across pairs: alpha is
    computed from per-pair value counts (the coincidence matrix), which needs no rater identity.
    Only pairs with at least two valid labels contribute. Returns NaN when no pair has two valid
    labels, or when every label is the same value (no expected disagreement, alpha undefined).
    """
    import krippendorff

    counts = []
    for i, labels in enumerate(annotator_labels):
        valid = [x for x in _labels(list(labels), f"annotator_labels[{i}]") if x is not None]
        if len(valid) >= 2:
            counts.append([valid.count(1), valid.count(2)])
    if not counts:
        return float("nan")
    vc = np.array(counts, dtype=float)
    if (vc.sum(axis=0) == 0).any():
        return float("nan")
    return float(krippendorff.alpha(value_counts=vc, level_of_measurement="nominal"))


# --- confidence intervals ---------------------------------------------------------------------


def accuracy_ci(
    correct_flags: Sequence[float] | np.ndarray, resamples: int = 1000, level: float = 0.95, seed: int = 0
) -> tuple[float, float, float]:
    """(accuracy, low, high): percentile bootstrap over pairs of per-pair credit.

    ``correct_flags`` are 0/1 (from :func:`correct_flags`, invalid already 0) or fractional credit
    (from :func:`pointwise_pair_credit`); None is a ``ValueError`` (decide how invalid verdicts
    count before calling). Empty input gives (NaN, NaN, NaN), as ``bootstrap_ci`` does.
    """
    values = list(correct_flags)
    if any(v is None for v in values):
        raise ValueError("correct_flags contains None: map invalid verdicts to 0 (see correct_flags())")
    return bootstrap_ci(np.asarray(values, dtype=float), np.mean, resamples=resamples, level=level, seed=seed)
