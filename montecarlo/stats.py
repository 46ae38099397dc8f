"""Running moments of per-trial vectors, merged in a fixed order, and the intervals built on them."""

from __future__ import annotations

import math

import numpy as np

from montecarlo.jit import kernel

Z95 = 1.959963984540054


@kernel()
def merge_chunks(count, mean, m2, counts, means, m2s):
    """Merge chunk moments into (count, mean, m2) in chunk order (Chan et al.'s pairwise update).

    count: (1,) int64; mean: (p,); m2: (p, p) co-moment sum; counts (c,), means (c, p), m2s (c, p, p).
    Returns nothing; updates in place. Sequential, so the result is the same for any thread count.
    """
    p = mean.shape[0]
    for c in range(counts.shape[0]):
        nb = counts[c]
        if nb == 0:
            continue
        na = count[0]
        tot = na + nb
        for a in range(p):
            da = means[c, a] - mean[a]
            for b in range(p):
                db = means[c, b] - mean[b]
                m2[a, b] += m2s[c, a, b] + da * db * (na * nb / tot)
        for a in range(p):
            mean[a] += (means[c, a] - mean[a]) * (nb / tot)
        count[0] = tot


class Moments:
    """Count, mean and co-moment sum of a stream of p-vectors; memory does not grow with the count."""

    def __init__(self, p: int):
        self.count = np.zeros(1, dtype=np.int64)
        self.mean = np.zeros(p)
        self.m2 = np.zeros((p, p))

    @property
    def n(self) -> int:
        return int(self.count[0])

    def add_chunks(self, counts, means, m2s) -> None:
        merge_chunks(self.count, self.mean, self.m2, np.ascontiguousarray(counts, dtype=np.int64),
                     np.ascontiguousarray(means), np.ascontiguousarray(m2s))

    def add_rows(self, rows: np.ndarray) -> None:
        """Merge a batch of per-trial rows (t, p) as one chunk."""
        rows = np.asarray(rows, dtype=np.float64)
        if rows.shape[0] == 0:
            return
        mu = rows.mean(axis=0)
        dev = rows - mu
        self.add_chunks(np.array([rows.shape[0]]), mu[None, :], (dev.T @ dev)[None, :, :])

    def cov(self) -> np.ndarray:
        """Sample covariance (ddof 1) of one per-trial vector; zeros with fewer than two trials."""
        if self.n < 2:
            return np.zeros_like(self.m2)
        return self.m2 / (self.n - 1)

    def contrast(self, weights) -> tuple[float, float]:
        """Mean and standard error of sum_a weights[a] * (per-trial entry a)."""
        w = np.asarray(weights, dtype=np.float64)
        mean = float(w @ self.mean)
        var = float(w @ self.cov() @ w) / max(self.n, 1)
        return mean, math.sqrt(max(var, 0.0))


def ratio_interval(a: float, b: float, var_a: float, var_b: float, cov_ab: float, trials: int,
                   z: float = Z95) -> tuple[float, float, float]:
    """Ratio a / b of two paired means and its delta-method interval on the log scale.

    se(log(a/b))^2 = (var_a / a^2 + var_b / b^2 - 2 cov_ab / (a b)) / trials with the per-trial
    (co)variances; the interval is (a/b) exp(-+ z se). Returns (ratio, lo, hi); without a
    positive a and b the interval collapses onto the ratio.
    """
    a, b = float(a), float(b)
    if b > 0.0:
        r = a / b
    else:
        r = float("inf") if a > 0.0 else float("nan")
    if not (a > 0.0 and b > 0.0):
        return r, r, r
    se = math.sqrt(max(var_a / a**2 + var_b / b**2 - 2.0 * cov_ab / (a * b), 0.0) / trials)
    return r, r * math.exp(-z * se), r * math.exp(z * se)


def log_ratio_z(ratio: float, ci: tuple[float, float], target: float, z: float = Z95) -> float:
    """log(ratio / target) in units of the log-ratio standard error read off a z-interval.

    A collapsed interval (lo == hi) gives 0 when ratio equals target and inf otherwise.
    """
    lo, hi = ci
    if not (lo > 0.0 and hi > lo):
        return 0.0 if ratio == target else math.inf
    return math.log(ratio / target) / (math.log(hi / lo) / (2.0 * z))


def z_score(estimate: float, se: float, exact: float) -> float:
    """(estimate - exact) / se; 0 when both agree to rounding and se is 0, +-inf otherwise."""
    diff = estimate - exact
    if se > 0.0:
        return diff / se
    scale = max(abs(estimate), abs(exact), 1e-300)
    if abs(diff) <= 1e-9 * scale:
        return 0.0
    return math.copysign(float("inf"), diff)
