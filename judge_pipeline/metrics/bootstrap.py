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


def crossed_bootstrap_ci(
    matrix: Sequence[Sequence[float]] | np.ndarray,
    resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(mean, low, high) of a seeds x prompts matrix, resampling seeds and prompts independently (a crossed
    design: every seed's run answered the same prompts), so the interval holds both the run-to-run and the
    prompt-to-prompt variance. NaN cells (an invalid verdict) are left out of each mean. One row is the
    ordinary bootstrap over prompts (`bootstrap_ci`)."""
    arr = np.asarray(matrix, dtype=float)
    if arr.ndim != 2 or arr.size == 0 or np.isnan(arr).all():
        return float("nan"), float("nan"), float("nan")
    if arr.shape[0] == 1:
        row = arr[0][~np.isnan(arr[0])]
        return bootstrap_ci(row, np.mean, resamples, level, seed)
    rng = np.random.default_rng(seed)
    n_seeds, n_prompts = arr.shape
    rows = rng.integers(0, n_seeds, size=(resamples, n_seeds))
    cols = rng.integers(0, n_prompts, size=(resamples, n_prompts))
    stats = []
    for r, c in zip(rows, cols):
        resampled = arr[np.ix_(r, c)]
        if not np.isnan(resampled).all():  # a resample of only invalid cells has no mean
            stats.append(np.nanmean(resampled))
    est = float(np.nanmean(arr))
    if len(stats) == 0:
        return est, float("nan"), float("nan")
    lo, hi = np.quantile(stats, [(1 - level) / 2, 1 - (1 - level) / 2])
    return est, float(lo), float(hi)
