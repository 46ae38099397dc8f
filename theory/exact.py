"""Exact MSEs of the BP, SG and mixture gradient estimators on an expert instance.

Both estimators' noise is linear in the per-state feedback averages nu_rj = fhat_j(r) - fbar_j(r),
which are independent across states with covariance Sigma_r / n:

    BP error = sum_r sum_j x_rj nu_rj
    SG error = bias + sum_r sum_j y_rj nu_rj,   y_rj = (1/|C|) sum_{r' in C_j,z_j(r)} x_r'j

(T1, T2). Every second moment is therefore sum_r sum_jj' <., .>_jj' Sigma_r[j, j'] / n, and
V_BP, V_SG and their covariance C follow from three Gram matrices per state.

Contributions may have a private part (R, m, d), one parameter block per state as in the
authors' construction, and a common part (R, m, q) on parameters that all states share.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from theory.feedback import FeedbackModel
from theory.instance import ExpertInstance
from theory.mixture import mixture_weights
from theory.params import check_int


@dataclass(frozen=True)
class ExactMSE:
    mse_bp: float
    mse_sg: float
    bias_sq: float
    var_sg: float
    cov: float
    lambda_star: float
    mse_mix: float

    @property
    def var_bp(self) -> float:
        return self.mse_bp

    @property
    def ratio(self) -> float:
        return ratio(self.mse_bp, self.mse_sg)

    def mse_at(self, lam: float) -> float:
        return mixture_mse(lam, self.bias_sq, self.var_bp, self.var_sg, self.cov)

    def as_dict(self) -> dict:
        return asdict(self) | {"ratio": self.ratio}


def ratio(num: float, den: float) -> float:
    if den > 0.0:
        return num / den
    return float("inf") if num > 0.0 else float("nan")


def mixture_mse(lam, bias_sq, var_bp, var_sg, cov):
    """E||lam e_BP + (1 - lam) e_SG||^2 (T7)."""
    w_bp, w_sg, w_x = mixture_weights(lam)
    return w_bp * var_bp + w_sg * (bias_sq + var_sg) + w_x * cov


def optimal_lambda(bias_sq: float, var_bp: float, var_sg: float, cov: float) -> float:
    """T7's minimiser clipped to [0, 1]; 1 (plain BP) when BP and SG coincide almost surely."""
    den = bias_sq + var_bp + var_sg - 2.0 * cov
    if den <= 0.0:
        return 1.0
    return float(np.clip((bias_sq + var_sg - cov) / den, 0.0, 1.0))


def cell_average(values: np.ndarray, cells: np.ndarray, n_keys: int) -> np.ndarray:
    """For values (R, m, ...) return, at each (r, j), the mean over the cell C_{j, z_j(r)}.

    Deviations from one member of each cell are averaged, so that a cell of equal values
    has exactly that value as its mean (an exact zero bias under condition B).
    """
    R, m = cells.shape
    out = np.empty_like(values)
    for j in range(m):
        flat = values[:, j].reshape(R, -1)
        first = np.full(n_keys, -1)
        first[cells[::-1, j]] = np.arange(R)[::-1]
        ref = flat[first[cells[:, j]]]
        sums = np.zeros((n_keys, flat.shape[1]))
        np.add.at(sums, cells[:, j], flat - ref)
        counts = np.bincount(cells[:, j], minlength=n_keys)[:, None]
        mean_dev = (sums / np.maximum(counts, 1))[cells[:, j]]
        out[:, j] = (ref + mean_dev).reshape(values[:, j].shape)
    return out


def _private_sg_gram(x: np.ndarray, cells: np.ndarray, C: int, pairs) -> np.ndarray:
    """<y_rj, y_rj'> on the private blocks: (1/C^2) sum over C_jz(r) & C_j'z'(r) of <x_j, x_j'>."""
    R, m, _ = x.shape
    out = np.zeros((R, m, m))
    for j, jj in pairs:
        inner = np.einsum("rd,rd->r", x[:, j], x[:, jj])
        if j == jj:
            key = cells[:, j]
        else:
            key = np.unique(cells[:, j] * (cells.max() + 1) + cells[:, jj], return_inverse=True)[1]
        sums = np.bincount(key, weights=inner)
        out[:, j, jj] = out[:, jj, j] = sums[key] / C**2
    return out


def exact_mse(
    inst: ExpertInstance,
    fb: FeedbackModel,
    n: int,
    private: np.ndarray | None = None,
    common: np.ndarray | None = None,
) -> ExactMSE:
    """Exact MSEs for `inst` under feedback model `fb` with n samples per state.

    private (R, m, d) defaults to the instance's contributions x_rj = w_r J_r^T e_j;
    common (R, m, q), if given, adds parameters shared by all states.
    """
    check_int("n", n, 1)
    x = inst.contributions() if private is None else private
    fbar = inst.clean_feedback(fb.rho)
    cells = inst.cells()
    C = inst.cell_size
    n_keys = 2**inst.k
    sigma = fb.sample_covariance(fbar, inst.alpha) / n
    m = inst.m
    pairs = [(j, jj) for j in range(m) for jj in range(j, m)] if fb.shared else [(j, j) for j in range(m)]

    bias_coef = cell_average(fbar, cells, n_keys) - fbar  # (R, m)
    gxx = np.einsum("rjd,rkd->rjk", x, x)
    gyy = _private_sg_gram(x, cells, C, pairs)
    gxy = gxx / C  # r lies in every one of its own cells
    bias_sq = float(np.sum(np.einsum("rj,rjd->rd", bias_coef, x) ** 2))
    if common is not None:
        y_common = cell_average(common, cells, n_keys)  # (1/C) sum over the cell = cell mean
        gxx = gxx + np.einsum("rjq,rkq->rjk", common, common)
        gyy = gyy + np.einsum("rjq,rkq->rjk", y_common, y_common)
        gxy = gxy + np.einsum("rjq,rkq->rjk", common, y_common)
        bias_sq += float(np.sum(np.einsum("rj,rjq->q", bias_coef, common) ** 2))

    var_bp = float(np.sum(gxx * sigma))
    var_sg = float(np.sum(gyy * sigma))
    cov = float(np.sum(gxy * sigma))
    lam = optimal_lambda(bias_sq, var_bp, var_sg, cov)
    return ExactMSE(
        mse_bp=var_bp,
        mse_sg=bias_sq + var_sg,
        bias_sq=bias_sq,
        var_sg=var_sg,
        cov=cov,
        lambda_star=lam,
        mse_mix=mixture_mse(lam, bias_sq, var_bp, var_sg, cov),
    )


def crossover_n(inst: ExpertInstance, fb: FeedbackModel, **kw) -> float:
    """T6's n* = (V_BP - V_SG) / ||b||^2 with the variances at n = 1 (inf without bias)."""
    one = exact_mse(inst, fb, 1, **kw)
    if one.bias_sq == 0.0:
        return float("inf")
    return (one.var_bp - one.var_sg) / one.bias_sq


def with_samples(one: ExactMSE, n: int) -> ExactMSE:
    """The exact MSEs with n feedback samples per state from those with one: every noise term
    (V_BP, V_SG, C) scales as 1/n and the bias does not (T6); lambda* and the mixture follow."""
    check_int("n", n, 1)
    var_bp, var_sg, cov = one.var_bp / n, one.var_sg / n, one.cov / n
    lam = optimal_lambda(one.bias_sq, var_bp, var_sg, cov)
    return ExactMSE(mse_bp=var_bp, mse_sg=one.bias_sq + var_sg, bias_sq=one.bias_sq, var_sg=var_sg, cov=cov,
                    lambda_star=lam, mse_mix=mixture_mse(lam, one.bias_sq, var_bp, var_sg, cov))
