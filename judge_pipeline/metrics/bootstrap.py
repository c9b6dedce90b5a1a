"""Percentile bootstrap confidence intervals over units (prompts)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    statistic: Callable[[np.ndarray], float] = np.mean,
    resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(estimate, low, high) of ``statistic`` over ``values`` (rows resampled with replacement).

    ``values`` may be 2-D (units x columns) for statistics over paired columns, such as alpha.
    """
    arr = np.asarray(values, dtype=float)
    if len(arr) == 0:
        return float("nan"), float("nan"), float("nan")
    est = float(statistic(arr))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(arr), size=(resamples, len(arr)))
    stats = np.array([statistic(arr[i]) for i in idx], dtype=float)
    stats = stats[~np.isnan(stats)]
    if len(stats) == 0:
        return est, float("nan"), float("nan")
    lo, hi = np.quantile(stats, [(1 - level) / 2, 1 - (1 - level) / 2])
    return est, float(lo), float(hi)
