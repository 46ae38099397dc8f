"""Monte Carlo for T9: K contexts, one shared node, the SG a least-squares fit pooled over contexts.

Each trial draws the K n feedback samples y_ki = fbar_k + sigma eps_ki (fbar_k = psi_k^T beta),
so BP's gradient block of context k is w j_k ybar_k, and SG fits beta_hat by least squares on
all K n pairs (psi_k, y_ki) and uses w j_k psi_k^T beta_hat, w = 1/K. Their errors against
w j_k fbar_k are formed as vectors and squared per context.

The ratio sum_k MSE_BP,k / sum_k MSE_SG,k uses the paired delta method on the log scale
(montecarlo.stats.ratio_interval, 95%) over the per-trial sums.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from montecarlo.stats import Moments, ratio_interval
from theory.params import check_int, check_real
from theory.pooling import PooledInstance

_BATCH = 2048  # trials per vectorised batch


@dataclass(frozen=True)
class PooledMC:
    """Per-context simulated MSEs of BP and the pooled SG with their standard errors, and the ratio of
    their sums with its 95% interval."""

    trials: int
    mse_bp: np.ndarray  # (K,) per-context MSE of BP
    se_bp: np.ndarray
    mse_sg: np.ndarray  # (K,) per-context MSE of the least-squares SG
    se_sg: np.ndarray
    ratio: float  # sum of BP over sum of SG
    ratio_ci: tuple[float, float]


def simulate_pooled(inst: PooledInstance, sigma: float, n: int, trials: int, seed: int) -> PooledMC:
    """`trials` independent draws of the K n feedback samples (see the module docstring)."""
    check_real("sigma", sigma, lo=0.0)
    check_int("n", n, 1)
    check_int("trials", trials, 1)
    check_int("seed", seed, 0)
    K = inst.K
    w = 1.0 / K
    fbar = inst.clean_feedback()
    design = np.repeat(inst.features, n, axis=0)  # (K n, p): one row per sample
    solve = np.linalg.pinv(design)  # least squares on the full design, (p, K n)
    rng = np.random.default_rng(seed)
    # Per trial: K per-context BP errors, K SG errors, then their sums (for the ratio).
    moments = Moments(2 * K + 2)
    done = 0
    while done < trials:
        t = min(_BATCH, trials - done)
        y = fbar.repeat(n)[None, :] + sigma * rng.standard_normal((t, K * n))
        ybar = y.reshape(t, K, n).mean(axis=2)
        beta_hat = y @ solve.T  # (t, p)
        err_bp = (w * (ybar - fbar))[:, :, None] * inst.jacobians[None, :, :]  # (t, K, q)
        err_sg = (w * (beta_hat @ inst.features.T - fbar))[:, :, None] * inst.jacobians[None, :, :]
        sq_bp = np.sum(err_bp**2, axis=2)
        sq_sg = np.sum(err_sg**2, axis=2)
        moments.add_rows(np.hstack([sq_bp, sq_sg, sq_bp.sum(axis=1, keepdims=True),
                                    sq_sg.sum(axis=1, keepdims=True)]))
        done += t
    cov = moments.cov()
    se = np.sqrt(np.maximum(np.diag(cov), 0.0) / trials)
    mean = moments.mean
    a, b = 2 * K, 2 * K + 1
    ratio, lo, hi = ratio_interval(mean[a], mean[b], cov[a, a], cov[b, b], cov[a, b], trials)
    return PooledMC(trials=trials, mse_bp=mean[:K].copy(), se_bp=se[:K], mse_sg=mean[K:2 * K].copy(),
                    se_sg=se[K:2 * K], ratio=ratio, ratio_ci=(lo, hi))

