"""T9: K contexts feed one shared node; the SG is a least-squares fit pooled over contexts.

Context k has its own parameter theta_k (q coordinates) with Jacobian j_k = d h / d theta_k,
so its gradient block is w j_k E[phi | h_k]. The expected feedback is linear in p features
psi_k = psi(h_k): E[phi | h_k] = beta^T psi_k, and each of the n samples per context adds
N(0, sigma^2) noise. BP uses the context's sample mean; SG uses psi_k^T beta_hat with
beta_hat the least-squares fit over all K n samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from theory.params import check_int, check_real


@dataclass(frozen=True)
class PooledInstance:
    """T9's K contexts feeding one node: features psi_k, Jacobians j_k, the clean feedback's beta."""

    features: np.ndarray  # (K, p): psi_k = (1, h_k, ..., h_k^(p-1))
    jacobians: np.ndarray  # (K, q), rows of equal norm (balanced design)
    beta: np.ndarray  # (p,)

    @property
    def K(self) -> int:
        return self.features.shape[0]

    def clean_feedback(self) -> np.ndarray:
        return self.features @ self.beta


@dataclass(frozen=True)
class PooledMSE:
    """Per-context exact MSEs of BP and of the pooled least-squares SG (weights 1/K)."""

    mse_bp: np.ndarray  # (K,) per-context MSE of BP
    mse_sg: np.ndarray  # (K,) per-context MSE of SG

    @property
    def ratio(self) -> float:
        return float(self.mse_bp.sum() / self.mse_sg.sum())


def make_pooled_instance(K: int, p: int, q: int = 3, seed: int = 0) -> PooledInstance:
    """T9's instance: K contexts with features (1, h_k, ..., h_k^(p-1)), h_k ~ N(0, 1), unit-norm Jacobians
    in R^q and a clean feedback psi_k^T beta, beta ~ N(0, I_p); all drawn from `seed`."""
    check_int("p", p, 1)
    check_int("K", K, p, why=" (K >= p: the least-squares fit needs p distinct contexts)")
    check_int("q", q, 1)
    rng = np.random.default_rng(seed)
    h = rng.normal(size=K)
    features = h[:, None] ** np.arange(p)[None, :]
    jac = rng.normal(size=(K, q))
    jac /= np.linalg.norm(jac, axis=1, keepdims=True)
    return PooledInstance(features=features, jacobians=jac, beta=rng.normal(size=p))


def exact_pooled(inst: PooledInstance, sigma: float, n: int) -> PooledMSE:
    """Per-context MSEs, weights w = 1/K.

    BP error: w j_k epsbar_k, so MSE = w^2 ||j_k||^2 sigma^2 / n.
    SG error: w j_k psi_k^T (beta_hat - beta) with Cov(beta_hat) = sigma^2 (n M)^-1,
    M = sum_k psi_k psi_k^T, so MSE = w^2 ||j_k||^2 (sigma^2 / n) psi_k^T M^-1 psi_k.
    """
    check_real("sigma", sigma, lo=0.0)
    check_int("n", n, 1)
    w2 = 1.0 / inst.K**2
    jn2 = np.sum(inst.jacobians**2, axis=1)
    M = inst.features.T @ inst.features
    leverage = np.einsum("kp,pq,kq->k", inst.features, np.linalg.inv(M), inst.features)
    base = w2 * jn2 * sigma**2 / n
    return PooledMSE(mse_bp=base, mse_sg=base * leverage)
