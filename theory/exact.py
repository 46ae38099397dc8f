"""Exact MSEs of the BP, SG and mixture gradient estimators on an expert instance.

Both estimators' noise is linear in the per-state feedback averages nu_rj = fhat_j(r) - fbar_j(r),
which are independent across states with covariance Sigma_r / n:

    BP error = sum_r sum_j x_rj nu_rj
    SG error = bias + sum_r sum_j y_rj nu_rj,   y_rj = (1/|C|) sum_{r' in C_j,z_j(r)} x_r'j

(T1, T2). Every second moment is therefore sum_r sum_jj' <., .>_jj' Sigma_r[j, j'] / n, and
V_BP, V_SG and their covariance C follow from three Gram matrices per state.

Contributions may have a private part (R, m, d), one parameter block per state as in the
authors' construction, and a common part (R, m, q) on parameters that all states share.

ExactEvaluator holds what depends on neither n, the leak nor the noise level (the Grams, the bias
vectors); exact_mse builds one per call, the regime maps (theory.regime_map) one per instance.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from functools import lru_cache

import numpy as np

from theory.feedback import FeedbackModel
from theory.instance import ExpertInstance
from theory.mixture import mixture_weights
from theory.params import check_int


@dataclass(frozen=True)
class ExactMSE:
    """The exact values on one instance at n samples per state: MSE_BP (= V_BP, BP is unbiased), MSE_SG =
    ||b||^2 + V_SG, the covariance C of the two errors, lambda* and the mixture's MSE there (T1-T7)."""

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


def ratio(num, den):
    """num / den; inf where only den is 0, nan where both are. Elementwise on arrays."""
    num, den = np.broadcast_arrays(np.asarray(num, dtype=float), np.asarray(den, dtype=float))
    out = np.where(num > 0.0, np.inf, np.nan)
    np.divide(num, den, out=out, where=den > 0.0)
    return _scalar(out)


def mixture_mse(lam, bias_sq, var_bp, var_sg, cov):
    """E||lam e_BP + (1 - lam) e_SG||^2 (T7)."""
    w_bp, w_sg, w_x = mixture_weights(lam)
    return w_bp * var_bp + w_sg * (bias_sq + var_sg) + w_x * cov


def optimal_lambda(bias_sq, var_bp, var_sg, cov):
    """T7's minimiser clipped to [0, 1]; 1 (plain BP) when BP and SG coincide almost surely.

    Elementwise on arrays."""
    den = np.asarray(bias_sq + var_bp + var_sg - 2.0 * cov, dtype=float)
    num = np.asarray(bias_sq + var_sg - cov, dtype=float)
    out = np.ones(np.broadcast(num, den).shape)
    np.divide(num, den, out=out, where=den > 0.0)
    return _scalar(np.clip(out, 0.0, 1.0))


def crossover(bias_sq, var_bp, var_sg):
    """T6's n* = (V_BP - V_SG) / ||b||^2 from the variances at n = 1; inf without bias. Elementwise."""
    bias_sq = np.asarray(bias_sq, dtype=float)
    gap = np.asarray(var_bp - var_sg, dtype=float)
    out = np.full(np.broadcast(gap, bias_sq).shape, np.inf)
    np.divide(gap, bias_sq, out=out, where=bias_sq > 0.0)
    return _scalar(out)


def _scalar(a: np.ndarray):
    return float(a) if np.ndim(a) == 0 else a


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


def cell_sizes(cells: np.ndarray) -> np.ndarray:
    """|C_j,z_j(r)| (R, m): how many states share state r's cell of expert j."""
    out = np.empty(cells.shape, dtype=np.int64)
    for j in range(cells.shape[1]):
        key = np.unique(cells[:, j], return_inverse=True)[1]
        out[:, j] = np.bincount(key)[key]
    return out


def _private_sg_gram(x: np.ndarray, cells: np.ndarray, sizes: np.ndarray, pairs) -> np.ndarray:
    """<y_rj, y_rj'> on the private blocks: sum over C_jz(r) & C_j'z'(r) of <x_j, x_j'> / (|C_jz| |C_j'z'|)."""
    R, m, _ = x.shape
    out = np.zeros((R, m, m))
    for j, jj in pairs:
        inner = np.einsum("rd,rd->r", x[:, j], x[:, jj])
        if j == jj:
            key = cells[:, j]
        else:
            key = np.unique(cells[:, j] * (cells.max() + 1) + cells[:, jj], return_inverse=True)[1]
        key = np.unique(key, return_inverse=True)[1]
        sums = np.bincount(key, weights=inner)
        out[:, j, jj] = out[:, jj, j] = sums[key] / (sizes[:, j] * sizes[:, jj])
    return out


def private_grams(x: np.ndarray, cells: np.ndarray, full: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The per-state Gram matrices (R, m, m) of BP's and SG's noise coefficients on private blocks.

    x (R, m, d): contributions, block r for state r; cells (R, m): integer cell keys per expert.
    Returns gxx[r, j, j'] = <x_rj, x_rj'>, gyy = <y_rj, y_rj'> and gxy = <x_rj, y_rj'>, with
    y_rj = (1/|C|) sum over the cell C_j,z_j(r) of x_r'j; then V_BP = sum gxx * Cov(nu_r),
    V_SG = sum gyy * Cov(nu_r), C = sum gxy * Cov(nu_r) (T1, T2).
    full=False fills only the diagonals j = j' of gyy (enough for noise independent across experts).
    """
    m = x.shape[1]
    sizes = cell_sizes(cells)
    pairs = [(j, jj) for j in range(m) for jj in range(j, m)] if full else [(j, j) for j in range(m)]
    gxx = np.einsum("rjd,rkd->rjk", x, x)
    gyy = _private_sg_gram(x, cells, sizes, pairs)
    gxy = gxx / sizes[:, None, :]  # r lies in every one of its own cells; other blocks are orthogonal
    return gxx, gyy, gxy


class ExactEvaluator:
    """The parts of the exact MSEs of one instance that depend on neither n, the leak rho nor the
    noise level: the Gram matrices <x, x>, <y, y>, <x, y> of each state and the SG bias vectors of
    the clean feedback and of the leak. Built once; evaluate() at many (feedback model, n).

    private (R, m, d) defaults to the instance's contributions x_rj = w_r J_r^T e_j;
    common (R, m, q), if given, adds parameters shared by all states.
    shared: also keep the cross-expert Grams that correlated noise (FeedbackModel.shared) needs.
    """

    def __init__(self, inst: ExpertInstance, shared: bool = False, private: np.ndarray | None = None,
                 common: np.ndarray | None = None):
        self.inst = inst
        self.shared = bool(shared)
        x = inst.contributions() if private is None else private
        cells = inst.cells()
        n_keys = 2**inst.k
        gxx, gyy, gxy = private_grams(x, cells, full=self.shared)
        if common is not None:
            y_common = cell_average(common, cells, n_keys)  # (1/C) sum over the cell = cell mean
            gxx = gxx + np.einsum("rjq,rkq->rjk", common, common)
            gyy = gyy + np.einsum("rjq,rkq->rjk", y_common, y_common)
            gxy = gxy + np.einsum("rjq,rkq->rjk", common, y_common)
        self.gxx, self.gyy, self.gxy = gxx, gyy, gxy

        def bias_vector(fbar: np.ndarray) -> np.ndarray:
            coef = cell_average(fbar, cells, n_keys) - fbar  # (R, m)
            parts = [np.einsum("rj,rjd->rd", coef, x).ravel()]
            if common is not None:
                parts.append(np.einsum("rj,rjq->q", coef, common))
            return np.concatenate(parts)

        # fbar(rho) = fbar(0) + rho * leak and the cell average is linear, so b(rho) = b0 + rho * b1.
        self.bias0 = bias_vector(inst.clean_feedback(0.0))
        self.bias1 = np.zeros_like(self.bias0) if inst.leak_coord is None else bias_vector(inst.leak_feedback())
        # ||b(rho)||^2 = c0 + c1 rho + c2 rho^2
        self.bias_coef = np.array([np.sum(self.bias0 * self.bias0), 2.0 * np.sum(self.bias0 * self.bias1),
                                   np.sum(self.bias1 * self.bias1)])

    def bias_sq(self, rho: float) -> float:
        return float(np.sum((self.bias0 + rho * self.bias1) ** 2))

    def variances(self, fb: FeedbackModel) -> tuple[float, float, float]:
        """(V_BP, V_SG, C) of one sample per state (n = 1): sums of the Grams times Sigma_r."""
        if fb.shared and not self.shared:
            raise ValueError("shared: this evaluator was built without the cross-expert Grams (shared=False)")
        sigma = fb.sample_covariance(self.inst.clean_feedback(fb.rho), self.inst.alpha)
        return (float(np.sum(self.gxx * sigma)), float(np.sum(self.gyy * sigma)),
                float(np.sum(self.gxy * sigma)))

    def moments(self, fb: FeedbackModel) -> np.ndarray:
        """[||b||^2, V_BP, V_SG, C] at n = 1."""
        return np.array([self.bias_sq(fb.rho), *self.variances(fb)])

    def rho_quadratic(self, fb: FeedbackModel) -> np.ndarray:
        """(4, 3) coefficients c with moments(fb at rho) = c[:, 0] + c[:, 1] rho + c[:, 2] rho^2.

        The bias is b0 + rho b1; Sigma_r is a polynomial of degree <= 2 in fbar (checked on the
        derived covariance), so the variances are quadratic in rho and three evaluations fix them.
        """
        _check_quadratic(fb.case, fb.shared)
        out = np.zeros((4, 3))  # without a leak the variances' rho terms stay 0
        out[0] = self.bias_coef
        if self.inst.leak_coord is None:
            out[1:, 0] = self.variances(replace(fb, rho=0.0))
            return out
        v0, vp, vm = (np.array(self.variances(replace(fb, rho=r))) for r in (0.0, 1.0, -1.0))
        out[1:, 0] = v0
        out[1:, 1] = 0.5 * (vp - vm)
        out[1:, 2] = 0.5 * (vp + vm) - v0
        return out

    def evaluate(self, fb: FeedbackModel, n: int) -> ExactMSE:
        """Exact MSEs under feedback model `fb` with n samples per state."""
        check_int("n", n, 1)
        bias_sq, var_bp, var_sg, cov = self.moments(fb)
        values = assemble(bias_sq, var_bp / n, var_sg / n, cov / n)
        return ExactMSE(**{key: float(values[key]) for key in EXACT_FIELDS})


EXACT_FIELDS = ("mse_bp", "mse_sg", "bias_sq", "var_sg", "cov", "lambda_star", "mse_mix")


def assemble(bias_sq, var_bp, var_sg, cov) -> dict:
    """Every exact quantity from ||b||^2 and the variances at the given n; elementwise on arrays."""
    lam = optimal_lambda(bias_sq, var_bp, var_sg, cov)
    return {"mse_bp": var_bp, "mse_sg": bias_sq + var_sg, "bias_sq": bias_sq, "var_sg": var_sg, "cov": cov,
            "lambda_star": lam, "mse_mix": mixture_mse(lam, bias_sq, var_bp, var_sg, cov)}


@lru_cache(maxsize=None)
def _check_quadratic(case: str, shared: bool) -> None:
    import sympy as sp  # only the rho expansion of the maps needs the derivation itself

    from theory.symbolic.noise import fbar1, fbar2, feedback_covariance, feedback_variance

    expr = feedback_covariance(case, True) if shared else feedback_variance(case)
    if sp.Poly(expr, fbar1, fbar2).total_degree() > 2:
        raise ValueError(f"case {case}: the feedback covariance is not quadratic in fbar; no rho expansion")


def exact_mse(
    inst: ExpertInstance,
    fb: FeedbackModel,
    n: int,
    private: np.ndarray | None = None,
    common: np.ndarray | None = None,
) -> ExactMSE:
    """Exact MSEs for `inst` under feedback model `fb` with n samples per state.

    private (R, m, d) defaults to the instance's contributions x_rj = w_r J_r^T e_j;
    common (R, m, q), if given, adds parameters shared by all states. For many (fb, n) on one
    instance, build an ExactEvaluator once.
    """
    check_int("n", n, 1)
    return ExactEvaluator(inst, fb.shared, private, common).evaluate(fb, n)


def crossover_n(inst: ExpertInstance, fb: FeedbackModel, **kw) -> float:
    """T6's n* = (V_BP - V_SG) / ||b||^2 with the variances at n = 1 (inf without bias)."""
    bias_sq, var_bp, var_sg, _ = ExactEvaluator(inst, fb.shared, **kw).moments(fb)
    return crossover(bias_sq, var_bp, var_sg)


def with_samples(one: ExactMSE, n: int) -> ExactMSE:
    """The exact MSEs with n feedback samples per state from those with one: every noise term
    (V_BP, V_SG, C) scales as 1/n and the bias does not (T6); lambda* and the mixture follow."""
    check_int("n", n, 1)
    values = assemble(one.bias_sq, one.var_bp / n, one.var_sg / n, one.cov / n)
    return ExactMSE(**{key: float(values[key]) for key in EXACT_FIELDS})
