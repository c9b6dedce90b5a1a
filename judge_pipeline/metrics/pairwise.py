"""Pairwise judge metrics against human labels: accuracy, position consistency, human-human alpha.

Conventions shared by every function here:

- A pairwise label is 1 (the first-shown response is better), 2 (the second is better) or
  ``None`` (an invalid verdict: unparseable, refused, out of range). ``float('nan')`` is read
  as ``None``; numpy integers are accepted; anything else (0, 3, True, "1") is a ``ValueError``.
- Gold labels must be valid (1 or 2); a ``None`` gold label is a ``ValueError``.
- Sequences that are compared element-wise must have the same length (else ``ValueError``).
- Ties: a human label may also be :data:`TIE` (0: neither response is better), and a judge that can
  say so (an external Arena-Hard judge's ``[[A=B]]``) may answer ``TIE``. The 1|2 functions above the
  "ties" section reject 0; the report splits tie pairs off before calling them and measures them with
  the tie-aware functions of that section (:func:`order_credit`, :func:`pair_call`, :func:`pointwise_call`,
  :func:`tie_position_consistency`, :func:`judge_human_alpha`). :func:`human_human_alpha` takes ties
  as a category of their own.
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

#: the label of a tie: neither response is better (a human label, or the verdict of a judge that can say so)
TIE = 0


def _label(x: object, name: str, i: int, allow_none: bool = True, allow_tie: bool = False) -> Label:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        if allow_none:
            return None
        raise ValueError(f"{name}[{i}]: gold label missing (gold labels must be 1 or 2)")
    allowed = (TIE, 1, 2) if allow_tie else (1, 2)
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, np.integer, float, np.floating)) or x not in allowed:
        what = "1, 2, 0 (tie)" if allow_tie else "1, 2"
        raise ValueError(f"{name}[{i}]: label must be {what} or None (invalid), got {x!r}")
    return int(x)


def _labels(seq: Sequence[object], name: str, allow_none: bool = True, allow_tie: bool = False) -> list[Label]:
    return [_label(x, name, i, allow_none, allow_tie) for i, x in enumerate(seq)]


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


def _nominal_alpha(units: Sequence[Sequence[int]]) -> float:
    """Krippendorff's alpha (nominal) from each unit's list of values, via per-unit value counts (the
    coincidence matrix needs no rater identity). Units with fewer than two values drop out. Only the
    categories that occur are counted, so a category nobody used (no ties in tie-free data) changes nothing.
    NaN when no unit has two values or only one category occurs (no expected disagreement)."""
    import krippendorff

    units = [list(u) for u in units if len(u) >= 2]
    categories = sorted({x for u in units for x in u})
    if not units or len(categories) < 2:
        return float("nan")
    vc = np.array([[u.count(c) for c in categories] for u in units], dtype=float)
    return float(krippendorff.alpha(value_counts=vc, level_of_measurement="nominal"))


def human_human_alpha(annotator_labels: Sequence[Sequence[Label]]) -> float:
    """Krippendorff's alpha (nominal) among the annotators of each pair, ties a category of their own.

    ``annotator_labels[i]`` is the list of individual labels for pair i: 1, 2, :data:`TIE` (0: the
    annotator judged the two equal) or None (unusable judgment, dropped). Annotators are not matched
    across pairs: alpha is computed from per-pair value counts (the coincidence matrix), which needs no
    rater identity. Only pairs with at least two usable labels contribute. Returns NaN when no pair has
    two usable labels, or when every label is the same value (no expected disagreement, alpha undefined).
    Without ties the result is the two-category alpha (a category that never occurs adds nothing).
    """
    units = [[x for x in _labels(list(labels), f"annotator_labels[{i}]", allow_tie=True) if x is not None]
             for i, labels in enumerate(annotator_labels)]
    return _nominal_alpha(units)


# --- ties ---------------------------------------------------------------------------------------


def order_credit(pred: Sequence[Label], gold: Sequence[int], tie_credit: float = 0.5) -> np.ndarray:
    """:func:`correct_flags` for a judge that may also answer :data:`TIE`: a tie verdict on a pair with a
    winner earns ``tie_credit`` (0.5, as equal pointwise scores do in :func:`pointwise_pair_credit`),
    an invalid one 0. ``gold`` must be 1 or 2 (tie pairs are measured by :func:`pair_call` instead)."""
    _same_length(pred=pred, gold=gold)
    p = _labels(pred, "pred", allow_tie=True)
    g = _labels(gold, "gold", allow_none=False)
    return np.array([0.0 if a is None else tie_credit if a == TIE else float(a == b) for a, b in zip(p, g)], dtype=float)


def unswap(label_ba: Label) -> Label:
    """A verdict on the swapped order (b, a) in the terms of the shown order (a, b): 1 <-> 2; a tie or an
    invalid verdict stays what it is."""
    x = _label(label_ba, "label_ba", 0, allow_tie=True)
    return x if x in (None, TIE) else 3 - x


def pair_call(label_ab: Label, label_ba: Label) -> Label:
    """A pairwise judge's call on one pair from its verdicts on both orders: 1 or 2 when both orders pick
    the same response, :data:`TIE` when both are valid but do not (they flip with the order, or either
    says tie), None when either is invalid. Inconsistent orders read as a tie, as in MT-Bench (Zheng et
    al. 2023): a choice that follows the position is no preference. (A pair judged in one order only has
    that verdict as its call: ``label_ab``, or ``unswap(label_ba)``.)"""
    ab = _label(label_ab, "label_ab", 0, allow_tie=True)
    ba = unswap(label_ba)
    if ab is None or ba is None:
        return None
    return ab if ab == ba and ab != TIE else TIE


def pointwise_call(score_a: float | None, score_b: float | None) -> Label:
    """A pointwise judge's (or reward model's) call on a pair: which response scores higher, :data:`TIE`
    on equal scores, None when either score is invalid (None or NaN)."""
    a, b = _score(score_a, "score_a", 0), _score(score_b, "score_b", 0)
    if a is None or b is None:
        return None
    return TIE if a == b else 1 if a > b else 2


def tie_position_consistency(label_ab: Sequence[Label], label_ba: Sequence[Label]) -> PositionConsistency:
    """:func:`position_consistency` for a judge that may answer :data:`TIE`: a tie in both orders is
    consistent (a tie does not depend on the order), a tie in one order only is a flip. Equal to
    :func:`position_consistency` on tie-free verdicts."""
    n = _same_length(label_ab=label_ab, label_ba=label_ba)
    ab = _labels(label_ab, "label_ab", allow_tie=True)
    ba = _labels(label_ba, "label_ba", allow_tie=True)
    invalid = [x is None or y is None for x, y in zip(ab, ba)]
    same = [not inv and (x == y == TIE or (TIE not in (x, y) and x == 3 - y)) for x, y, inv in zip(ab, ba, invalid)]
    flip = [not inv and not s for s, inv in zip(same, invalid)]
    return PositionConsistency(_rate(same), _rate(flip), _rate(invalid), n)


def judge_human_alpha(calls: Sequence[Label], gold: Sequence[Label]) -> float:
    """Krippendorff's alpha (nominal) between a judge's calls (:func:`pair_call`, :func:`pointwise_call`)
    and the human labels, with :data:`TIE` a category of its own: every pair is a unit with two values; an
    invalid call (None) leaves the pair with one value, so it drops out (alpha measures agreement where
    the judge answered; the report's invalid rate says how often it did not). NaN as in
    :func:`human_human_alpha`."""
    _same_length(calls=calls, gold=gold)
    c = _labels(calls, "calls", allow_tie=True)
    g = _labels(gold, "gold", allow_none=False, allow_tie=True)
    return _nominal_alpha([[x for x in (a, b) if x is not None] for a, b in zip(c, g)])


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
