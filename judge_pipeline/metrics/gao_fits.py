"""Gao et al. (2023) scaling-law fits of gold score against d = sqrt(KL(pi || pi_init)), and the curve
landmarks the study reads off a proxy-vs-gold run.

- best-of-n:  R(d) = d (alpha - beta d)         peak at d* = alpha / (2 beta),     R(d*) = alpha^2 / (4 beta)
- RL:         R(d) = d (alpha - beta ln d)      peak at d* = exp(alpha / beta - 1), R(d*) = beta d*

R is the gold score *gain* over the initial policy (gold(d) - gold(0)); both forms pass through the
origin, so each fit is an ordinary least-squares regression on two basis functions without intercept.
A fit with beta <= 0 has no peak inside the measured range (gold still rising): d* is then None.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

FORMS = ("best_of_n", "rl")


@dataclass(frozen=True)
class GaoFit:
    form: str  #: "best_of_n" | "rl"
    alpha: float
    beta: float
    r2: float  #: coefficient of determination of the fit on the points it was fitted on
    n_points: int
    d_peak: float | None  #: d >= 0 at which the fitted gold gain peaks (None: no peak, beta <= 0; 0: falls from the start)
    gain_at_peak: float | None  #: fitted gold gain at d_peak

    def predict(self, d) -> np.ndarray:
        return gao_curve(self.form, np.asarray(d, dtype=float), self.alpha, self.beta)

    def to_dict(self) -> dict:
        return asdict(self)


def _basis(form: str, d: np.ndarray) -> np.ndarray:
    if form == "best_of_n":
        second = d * d
    elif form == "rl":
        second = np.where(d > 0, d * np.log(np.where(d > 0, d, 1.0)), 0.0)  # d ln d -> 0 as d -> 0
    else:
        raise ValueError(f"unknown Gao form {form!r}; expected one of {FORMS}")
    return np.stack([d, -second], axis=1)


def gao_curve(form: str, d: np.ndarray, alpha: float, beta: float) -> np.ndarray:
    """R(d) of the given form."""
    return _basis(form, np.asarray(d, dtype=float)) @ np.array([alpha, beta])


def fit_gao(form: str, d, gain) -> GaoFit:
    """Least-squares fit of ``gain`` (gold minus initial gold) against ``d`` = sqrt(KL), through the origin.

    Needs at least two points with d > 0 (the origin carries no information about alpha and beta).
    """
    d = np.asarray(d, dtype=float)
    y = np.asarray(gain, dtype=float)
    if d.shape != y.shape:
        raise ValueError(f"d and gain differ in shape: {d.shape} vs {y.shape}")
    if np.any(d < 0) or not np.all(np.isfinite(d)) or not np.all(np.isfinite(y)):
        raise ValueError("d must be finite and >= 0, gain finite")
    if int(np.sum(d > 0)) < 2:
        raise ValueError(f"a Gao fit needs at least two points with d > 0, got {int(np.sum(d > 0))}")
    X = _basis(form, d)
    (alpha, beta), *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ np.array([alpha, beta])
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum(resid**2)) / ss_tot if ss_tot > 0 else float("nan")
    d_peak = gain_peak = None
    if beta > 0:
        if form == "best_of_n":  # alpha <= 0: the parabola's top is at d <= 0, so over d >= 0 gold only falls
            d_peak, gain_peak = (alpha / (2 * beta), alpha * alpha / (4 * beta)) if alpha > 0 else (0.0, 0.0)
        else:
            expo = alpha / beta - 1
            if expo < 700:  # beyond that the peak is astronomically far: no peak in any real range
                d_peak = math.exp(expo)
                gain_peak = beta * d_peak
    return GaoFit(form, float(alpha), float(beta), r2, int(len(d)), d_peak, gain_peak)


@dataclass(frozen=True)
class CurveLandmarks:
    """What a proxy-vs-gold curve says, read off its checkpoints (steps in increasing order)."""

    peak_step: int  #: step of the highest gold mean
    peak_gold: float
    final_step: int
    final_proxy: float | None
    final_gold: float
    divergence_step: int | None  #: first step after the gold peak at which gold is below its peak while the
    #: proxy is above its value at the peak (the training judge still rewards what gold now punishes)
    regret: float  #: peak gold - final gold (>= 0): what stopping at the last checkpoint cost
    gold_drop_significant: bool  #: final gold's CI lies wholly below the peak's CI


def curve_landmarks(steps, proxy, gold, gold_low=None, gold_high=None) -> CurveLandmarks:
    """Peak, divergence step and regret of one run's mean curves (``proxy`` may hold None)."""
    steps = [int(s) for s in steps]
    if not steps or len(steps) != len(gold) or len(steps) != len(proxy):
        raise ValueError("steps, proxy and gold must be non-empty and of equal length")
    if steps != sorted(steps):
        raise ValueError("steps must be increasing")
    peak = int(np.argmax(gold))
    divergence = None
    for i in range(peak + 1, len(steps)):
        if gold[i] < gold[peak] and proxy[i] is not None and proxy[peak] is not None and proxy[i] > proxy[peak]:
            divergence = steps[i]
            break
    significant = False
    if gold_low is not None and gold_high is not None and peak != len(steps) - 1:
        significant = bool(gold_high[-1] < gold_low[peak])
    return CurveLandmarks(
        peak_step=steps[peak], peak_gold=float(gold[peak]), final_step=steps[-1],
        final_proxy=None if proxy[-1] is None else float(proxy[-1]), final_gold=float(gold[-1]),
        divergence_step=divergence, regret=float(gold[peak] - gold[-1]), gold_drop_significant=significant,
    )
