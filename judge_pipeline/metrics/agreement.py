"""Agreement between a judge and the gold judge: Krippendorff's alpha (interval) and friends."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def krippendorff_alpha_interval(a: Sequence[float | None], b: Sequence[float | None]) -> float:
    """Krippendorff's alpha, interval level, for two raters over the same units (None = missing).

    Uses the `krippendorff` package; units rated by fewer than two raters drop out, as the
    coefficient defines. Returns NaN when fewer than two units remain or there is no variance.
    """
    import krippendorff

    data = np.array([[np.nan if x is None else float(x) for x in a], [np.nan if x is None else float(x) for x in b]])
    paired = ~np.isnan(data).any(axis=0)
    if paired.sum() < 2 or np.nanvar(data[:, paired]) == 0:
        return float("nan")
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement="interval"))


def alpha_interval_reference(a: Sequence[float], b: Sequence[float]) -> float:
    """Closed form for two raters, complete data, interval metric: 1 - D_o / D_e (used to test the above)."""
    x = np.asarray(a, float)
    y = np.asarray(b, float)
    n = 2 * len(x)
    d_o = np.mean((x - y) ** 2)  # each unit contributes its pair twice over (n-1) = 1 -> mean squared diff
    values = np.concatenate([x, y])
    d_e = np.sum((values[:, None] - values[None, :]) ** 2) / (n * (n - 1))
    return float(1 - d_o / d_e)


def invalid_rate(scores: Sequence[float | None]) -> float:
    return float(np.mean([s is None for s in scores])) if len(scores) else float("nan")
