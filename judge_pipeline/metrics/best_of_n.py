"""Best-of-n from a pool of samples: the cheap overoptimization curve, without RL (Gao et al. 2023).

For one prompt with a pool of N samples, each scored by the proxy (the training judge) and by gold,
best-of-n picks the sample with the highest proxy score among n drawn without replacement. Its
expected gold (and proxy) score is computed exactly over all C(N, n) subsets, not by resampling:
sort the pool by proxy ascending; the i-th sample (1-based) is the maximum of a random n-subset with
probability C(i-1, n-1) / C(N, n). Ties in the proxy score share their weight equally (the argmax of a
tied subset is chosen uniformly). The KL of best-of-n to the sampling policy is the analytic
log n - (n - 1) / n (Stiennon et al. 2020), so d = sqrt(KL) is known without a model call.
"""

from __future__ import annotations

import math

import numpy as np


def best_of_n_kl(n: int) -> float:
    """KL(best-of-n || pi) = log n - (n - 1) / n, in nats."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    return math.log(n) - (n - 1) / n


def best_of_n_weights(proxy: np.ndarray, n: int) -> np.ndarray:
    """Probability that each pool sample is the one best-of-n picks (sums to 1)."""
    proxy = np.asarray(proxy, dtype=float)
    size = len(proxy)
    if not 1 <= n <= size:
        raise ValueError(f"best-of-{n} needs a pool of at least {n} samples, got {size}")
    order = np.argsort(proxy, kind="stable")
    ranked = proxy[order]
    total = math.comb(size, n)
    w_sorted = np.array([math.comb(i, n - 1) / total for i in range(size)])  # i = rank - 1
    # ties: the samples of a tied run of proxy scores share the run's total weight equally
    start = 0
    while start < size:
        end = start
        while end + 1 < size and ranked[end + 1] == ranked[start]:
            end += 1
        if end > start:
            w_sorted[start:end + 1] = w_sorted[start:end + 1].sum() / (end - start + 1)
        start = end + 1
    weights = np.empty(size)
    weights[order] = w_sorted
    return weights


def best_of_n_expectation(proxy, values, n: int) -> float:
    """E[values of the sample best-of-n picks by ``proxy``], exactly over all n-subsets of the pool."""
    values = np.asarray(values, dtype=float)
    return float(best_of_n_weights(proxy, n) @ values)


def default_ns(pool_size: int, largest: int = 64) -> list[int]:
    """n = 1, 2, 4, ... up to min(pool_size, largest), plus the pool size itself when not a power of two."""
    top = min(pool_size, largest)
    ns = [1 << k for k in range(top.bit_length()) if (1 << k) <= top]
    return ns + ([top] if ns[-1] != top else [])
