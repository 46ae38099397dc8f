"""Diagnosing conditions A and B from one batch, and the replicate plug-in lambda_rep (docs/theory.md 6).

The learner knows the structure (contributions x_rj on one parameter block per state, the cells)
but neither the clean feedback fbar nor the noise. From n >= 2 feedback samples per state:

- Sigma_hat_r, the within-state sample covariance (ddof 1), is unbiased for Sigma_r;
  V_BP_hat, V_SG_hat, C_hat are T1-T2's formulas (theory.exact.private_grams) with
  Sigma_hat_r / n in place of Cov(nu_r) = Sigma_r / n: linear in it, so unbiased;
- b_hat = SG - BP from the batch (the true gradient cancels): b_hat = sum_r A_r fhat_r with
  A_r = [y_rj - x_rj]_j, so E||b_hat||^2 = ||b||^2 + V_BP + V_SG - 2C and
  B_hat = ||b_hat||^2 - (V_BP_hat + V_SG_hat - 2 C_hat) is unbiased for ||b||^2 = B;
- lambda_rep = clip((B_hat + V_SG_hat - C_hat) / (B_hat + V_BP_hat + V_SG_hat - 2 C_hat), 0, 1);
  its denominator is ||b_hat||^2 (1, plain BP, when SG and BP coincide).

Standard errors. With K_rs = A_r^T A_s, M_r = K_rr and Sigma_r per sample (T11):

    Var(B_hat) = 4 b^T Omega b / n + (2 / n^2) sum_{r != s} tr(K_rs Sigma_s K_sr Sigma_r)
                 + (2 / (n (n - 1))) sum_r tr(M_r Sigma_r M_r Sigma_r),   Omega = sum_r A_r Sigma_r A_r^T,

second moments only. The cross-state sum is estimated without bias (Sigma_hat_r and Sigma_hat_s
are independent); tr(M Sigma M Sigma) by its U-statistic when n >= 4 (unbiased) and by the plug-in
tr(M Sigma_hat M Sigma_hat) when n = 2, 3, which over-estimates it (the map is convex: Jensen),
so the test of B is conservative there. Off B the term 4 b^T Omega b / n is estimated by
b_hat^T Omega_hat b_hat - tr(Omega_hat^2) / n (approximate: simulations put the mean estimated
variance at 0.66-0.95 of the true one at n = 4 with a leak). V_BP_hat, V_SG_hat, C_hat are sums of
independent per-state terms; their SEs are the spread of those terms (conservative when their
means differ).

Tests (T12), verdicts at LEVEL:
- A: A fails exactly when every state's samples coincide, and then V_BP_hat = 0; A is declared
  when V_BP_hat exceeds rounding (false-alarm rate 0);
- B: B is rejected when B_hat / SE_0 > z_(1 - LEVEL) + (z^2 - 1) g / 6 (one-sided: B >= 0), SE_0 its
  standard error under B and g the skewness of B_hat under B for Gaussian noise of covariance
  Sigma_hat_r (Cornish-Fisher): B_hat is a quadratic form, skewed to the right, and the plain
  normal critical value gave false-alarm rates of 7-10% at level 5% in simulation.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from statistics import NormalDist

import numpy as np
from threadpoolctl import threadpool_limits

from theory.exact import cell_sizes, exact_mse, private_grams
from theory.feedback import FeedbackModel
from theory.instance import ExpertInstance
from theory.params import check_int

LEVEL = 0.05
ROUNDING = 1e-20  # V_BP_hat below this fraction of its noise-free scale is rounding, not noise
K_BLOCK = 1 << 22  # entries of K computed at once
USTAT_MIN_N = 4


@dataclass(frozen=True)
class Structure:
    """What the learner knows: contributions x (R, m, d) and dense cell keys (R, m)."""

    x: np.ndarray
    cells: np.ndarray
    sizes: np.ndarray
    gxx: np.ndarray
    gyy: np.ndarray
    gxy: np.ndarray
    n_cells: tuple

    @property
    def R(self) -> int:
        return self.x.shape[0]

    @property
    def m(self) -> int:
        return self.x.shape[1]

    @classmethod
    def build(cls, x, cells) -> "Structure":
        x = np.asarray(x, dtype=np.float64)
        cells = np.asarray(cells)
        if x.ndim != 3:
            raise ValueError(f"x must have shape (R, m, d), got {x.shape}")
        if cells.shape != x.shape[:2]:
            raise ValueError(f"cells must have shape (R, m) = {x.shape[:2]}, got {cells.shape}")
        if not np.issubdtype(cells.dtype, np.integer):
            raise ValueError(f"cells must hold integer keys, got dtype {cells.dtype}")
        if not np.all(np.isfinite(x)):
            raise ValueError("x must be finite (no NaN or inf)")
        if x.shape[0] < 2:
            raise ValueError(f"x: needs R >= 2 states, got {x.shape[0]}")
        dense = np.empty(cells.shape, dtype=np.int64)
        counts = []
        for j in range(cells.shape[1]):
            keys, dense[:, j] = np.unique(cells[:, j], return_inverse=True)
            counts.append(len(keys))
        gxx, gyy, gxy = private_grams(x, dense, full=True)
        return cls(x=x, cells=dense, sizes=cell_sizes(dense), gxx=gxx, gyy=gyy, gxy=gxy, n_cells=tuple(counts))

    @classmethod
    def of(cls, inst: ExpertInstance) -> "Structure":
        return cls.build(inst.contributions(), inst.cells())

    def cell_means(self, f: np.ndarray) -> np.ndarray:
        """For f (..., R, m): at (r, j) the mean of f[..., :, j] over the cell C_j,z_j(r)."""
        out = np.empty_like(f)
        for j in range(self.m):
            onehot = np.zeros((self.R, self.n_cells[j]))
            onehot[np.arange(self.R), self.cells[:, j]] = 1.0
            sums = f[..., :, j] @ onehot  # (..., cells)
            out[..., :, j] = (sums / onehot.sum(axis=0))[..., self.cells[:, j]]
        return out

    def k_rows(self, r0: int, r1: int) -> np.ndarray:
        """K[r, j, s, k] = <a_rj, a_sk>, a_rj = y_rj - x_rj, for r in [r0, r1): (r1 - r0, m, R, m)."""
        R, m = self.R, self.m
        rows = np.arange(r0, r1)
        out = np.zeros((r1 - r0, m, R, m))
        # <x_rj, x_sk> = [r = s] gxx_r[j, k]
        out[np.arange(r1 - r0), :, rows, :] += self.gxx[rows]
        for j in range(m):
            for k in range(m):
                g = self.gxx[:, j, k]
                # r in C_k(s): z_k(r) = z_k(s); s in C_j(r): z_j(s) = z_j(r)
                r_in_s = self.cells[rows, k][:, None] == self.cells[None, :, k]  # (S, R)
                s_in_r = self.cells[rows, j][:, None] == self.cells[None, :, j]
                out[:, j, :, k] -= r_in_s * (g[rows][:, None] / self.sizes[None, :, k])
                out[:, j, :, k] -= s_in_r * (g[None, :] / self.sizes[rows, j][:, None])
                # <y_rj, y_sk> = sum over C_j(r) & C_k(s) of gxx_t[j, k] / (|C_j(r)| |C_k(s)|)
                w = np.zeros((self.n_cells[j], self.n_cells[k]))
                np.add.at(w, (self.cells[:, j], self.cells[:, k]), g)
                out[:, j, :, k] += (w[self.cells[rows, j]][:, self.cells[:, k]]
                                    / (self.sizes[rows, j][:, None] * self.sizes[None, :, k]))
        return out


def check_samples(samples, R: int | None = None, m: int | None = None) -> np.ndarray:
    """samples as float64 (R, m, n), n >= 2; R and m, if given, must match (ValueError naming the shape)."""
    samples = np.asarray(samples, dtype=np.float64)
    if samples.ndim != 3:
        raise ValueError(f"samples must have shape (R, m, n), got {samples.shape}")
    if R is not None and samples.shape[:2] != (R, m):
        raise ValueError(f"samples must have shape (R, m, n) = ({R}, {m}, n) to match x, got {samples.shape}")
    if samples.shape[2] < 2:
        raise ValueError(f"n (samples per state, the last axis of samples) must be >= 2: the within-state "
                         f"covariance is not estimable from one sample, got {samples.shape[2]}")
    if not np.all(np.isfinite(samples)):
        raise ValueError("samples must be finite (no NaN or inf)")
    return samples


def _tr_quad_ustat(samples: np.ndarray, M: np.ndarray) -> np.ndarray:
    """Unbiased tr(M Sigma M Sigma) per state from its n >= 4 samples, mean unknown.

    With Q_il = f_i^T M f_l: S2 / P2 - 2 S3 / P3 + S4 / P4 over distinct indices, where
    S2 = sum_{i != l} Q_il^2, S3 = sum_{i, l, t distinct} Q_il Q_lt, S4 = sum_{i, l, t, u distinct} Q_il Q_tu.
    """
    n = samples.shape[-1]
    Q = np.einsum("...rji,...rjk,...rkl->...ril", samples, M, samples)
    diag = np.einsum("...ii->...i", Q)
    s2 = np.sum(Q * Q, axis=(-2, -1)) - np.sum(diag * diag, axis=-1)
    off_rows = Q.sum(axis=-1) - diag
    s3 = np.sum(off_rows * off_rows, axis=-1) - s2
    total = off_rows.sum(axis=-1)
    s4 = total * total - 2.0 * s2 - 4.0 * s3
    p2 = n * (n - 1)
    p3 = p2 * (n - 2)
    p4 = p3 * (n - 3)
    return s2 / p2 - 2.0 * s3 / p3 + s4 / p4


def _per_state_se(terms: np.ndarray) -> np.ndarray:
    """SE of a sum of independent per-state terms (..., R) from their spread."""
    R = terms.shape[-1]
    dev = terms - terms.mean(axis=-1, keepdims=True)
    return np.sqrt(R / (R - 1) * np.sum(dev * dev, axis=-1))


def estimate(st: Structure, samples: np.ndarray, with_se: bool = True, with_test: bool = True) -> dict:
    """The estimators on a batch samples (..., R, m, n); each entry has the leading shape (...).

    with_se: the standard errors; with_test (needs with_se): the test of B, whose critical value
    needs the third cumulant (the costliest part)."""
    n = samples.shape[-1]
    fhat = samples.mean(axis=-1)  # (..., R, m)
    dev = samples - fhat[..., None]
    sig = np.matmul(dev, dev.swapaxes(-1, -2)) / (n - 1)  # Sigma_hat_r, per sample
    t_bp = np.einsum("rjk,...rjk->...r", st.gxx, sig) / n
    t_sg = np.einsum("rjk,...rjk->...r", st.gyy, sig) / n
    t_c = np.einsum("rjk,...rjk->...r", st.gxy, sig) / n
    v_bp, v_sg, c = t_bp.sum(-1), t_sg.sum(-1), t_c.sum(-1)
    shat = st.cell_means(fhat)
    u = shat - fhat  # b_hat's block r is X_r u_r
    ub2 = np.sum(u * np.matmul(st.gxx, u[..., None])[..., 0], axis=(-2, -1))
    B = ub2 - (v_bp + v_sg - 2.0 * c)
    num = B + v_sg - c
    lam_rep = np.where(ub2 > 0.0, np.clip(num / np.where(ub2 > 0.0, ub2, 1.0), 0.0, 1.0), 1.0)
    out = {"v_bp": v_bp, "v_sg": v_sg, "c": c, "b_hat_sq": ub2, "B": B, "lambda_rep": lam_rep,
           "lambda_authors": authors_lambda(st, samples, fhat, shat)}
    scale = np.sum(np.einsum("rjj->rj", st.gxx)[..., None] * samples * samples, axis=(-3, -2, -1)) / n**2
    out["a_detected"] = v_bp > ROUNDING * scale
    if with_se:
        out["se_v_bp"], out["se_v_sg"], out["se_c"] = (_per_state_se(t) for t in (t_bp, t_sg, t_c))
        var0, b_term, kappa3 = b_hat_variance(st, samples, sig, fhat, with_test)
        out["se_B_null"] = np.sqrt(np.maximum(var0, 0.0))
        out["se_B"] = np.sqrt(np.maximum(var0 + b_term, 0.0))
    if with_se and with_test:
        z = NormalDist().inv_cdf(1.0 - LEVEL)
        # Cornish-Fisher: B_hat under B is a quadratic form, skewed to the right
        skew = np.where(var0 > 0.0, kappa3 / np.where(var0 > 0.0, var0, 1.0) ** 1.5, 0.0)
        out["z_crit"] = z + (z * z - 1.0) * skew / 6.0
        out["z_B"] = np.where(out["se_B_null"] > 0.0, B / np.where(out["se_B_null"] > 0, out["se_B_null"], 1.0),
                              np.where(B > 0, np.inf, 0.0))
        out["b_rejected"] = out["z_B"] > out["z_crit"]
    return out


def b_hat_variance(st: Structure, samples: np.ndarray, sig: np.ndarray, fhat: np.ndarray, skew: bool = True):
    """(Var(B_hat) under B, the extra 4 b^T Omega b / n off B), estimated from the batch (T11).

    tr(Omega_hat^2) = sum_{r,s} tr(K_rs S_s K_sr S_r) = sum K_rs[j,k] K_rs[i,l] S_r[i,j] S_s[k,l]:
    a quadratic form in the stacked S_r, whose matrix is formed a block of states at a time.
    """
    n = samples.shape[-1]
    R, m = st.R, st.m
    lead = sig.shape[:-3]
    flat = sig.reshape(lead + (R * m * m,))
    total = np.zeros(lead)  # tr(Omega_hat^2)
    bob = np.zeros(lead)  # b_hat^T Omega_hat b_hat = sum_r (K fhat)_r^T S_r (K fhat)_r
    M = np.empty((R, m, m))
    step = max(1, K_BLOCK // (R * m**4))
    for r0 in range(0, R, step):
        r1 = min(R, r0 + step)
        S = r1 - r0
        K = st.k_rows(r0, r1)  # (S, m, R, m)
        idx = np.arange(S)
        M[r0:r1] = K[idx, :, r0 + idx, :]
        W = np.einsum("rjsk,risl->rijskl", K, K).reshape(S * m * m, R * m * m)
        total += np.sum((flat[..., r0 * m * m:r1 * m * m] @ W) * flat, axis=-1)
        Kf = (fhat.reshape(lead + (R * m,)) @ K.reshape(S * m, R * m).T).reshape(lead + (S, m))
        bob += np.sum(Kf * np.matmul(sig[..., r0:r1, :, :], Kf[..., None])[..., 0], axis=(-2, -1))
    MS = np.matmul(M, sig)
    within_plug = np.einsum("...rjk,...rkj->...r", MS, MS)
    cross = total - within_plug.sum(-1)
    within = _tr_quad_ustat(samples, M) if n >= USTAT_MIN_N else within_plug
    var0 = 2.0 * cross / n**2 + 2.0 * within.sum(-1) / (n * (n - 1))
    b_term = 4.0 * np.maximum(bob - total / n, 0.0) / n
    kappa3 = _third_cumulant(st, samples, M) if skew else None
    return var0, b_term, kappa3


def _third_cumulant(st: Structure, samples: np.ndarray, M: np.ndarray) -> np.ndarray:
    """kappa_3 of B_hat under B for Gaussian noise of covariance Sigma_hat_r (0 when R m is too large).

    B_hat - E B_hat = eps^T A eps over the per-sample noise; in the basis of each state's sample mean
    and its n - 1 contrasts, A Sigma is K Sigma / n on the means and -M_r Sigma_r / (n (n - 1)) on
    each contrast, so kappa_3 = 8 tr((A Sigma)^3) = 8 [tr((K S)^3) / n^3 - (n - 1) sum_r tr((M_r S_r)^3) / (n (n - 1))^3].
    tr((K S)^3) = tr((F^T K F)^3) with S_r = F_r F_r^T, F_r the centred samples / sqrt(n - 1) (m x n)
    when n <= m, else the symmetric square root of S_r.
    """
    R, m, n = samples.shape[-3:]
    lead = samples.shape[:-3]
    if (R * m) ** 2 > K_BLOCK:
        return np.zeros(lead)
    dev = samples - samples.mean(axis=-1, keepdims=True)
    sig = np.matmul(dev, dev.swapaxes(-1, -2)) / (n - 1)
    if n <= m:
        F = dev / math.sqrt(n - 1)
    else:
        w, V = np.linalg.eigh(sig)
        F = V * np.sqrt(np.maximum(w, 0.0))[..., None, :]
    q = F.shape[-1]
    K = st.k_rows(0, R).reshape(R * m, R, m).transpose(1, 0, 2)  # (R_s, R m, m)
    X = np.matmul(K, F)  # (..., R_s, R m, q): K[:, s, :] F_s
    X = X.reshape(lead + (R, R, m, q))  # (..., s, r, j, b)
    X = np.moveaxis(X, -4, -2).reshape(lead + (R, m, R * q))  # (..., r, j, (s, b))
    H = np.matmul(F.swapaxes(-1, -2), X).reshape(lead + (R * q, R * q))  # F^T K F
    full = np.sum(np.matmul(H, H) * H, axis=(-2, -1))
    MS = np.matmul(M, sig)
    own = np.einsum("...rij,...rjk,...rki->...", MS, MS, MS)
    return 8.0 * (full / n**3 - (n - 1) * own / (n * (n - 1)) ** 3)


def plugin_moments(st: Structure, samples: np.ndarray, fhat=None, shat=None) -> tuple:
    """(v, c, ||ubar||^2) of the authors' plug-in (T8) from the per-sample signals of the batch.

    Sample i of state r gives w_i = R X_r f_i and u_i = R X_r (s_r - f_i) on block r (uniform state
    weights: x_rj carries w_r = 1/R), N = R n; v and c are the summed coordinate-wise sample
    variance of u_i and covariance of (w_i, u_i), divided by N; ubar = SG - BP.
    """
    n = samples.shape[-1]
    R = st.R
    N = R * n
    fhat = samples.mean(axis=-1) if fhat is None else fhat
    shat = st.cell_means(fhat) if shat is None else shat
    d_i = shat[..., None] - samples  # (..., R, m, n): s_r - f_i
    g_d = np.matmul(st.gxx, d_i)  # G_r (s_r - f_i)
    uu = R * R * np.sum(d_i * g_d, axis=(-3, -2, -1))  # sum_i ||u_i||^2
    wu = R * R * np.sum(samples * g_d, axis=(-3, -2, -1))  # sum_i <w_i, u_i>
    ubar = shat - fhat
    g_u = np.matmul(st.gxx, ubar[..., None])[..., 0]
    ubar2 = np.sum(ubar * g_u, axis=(-2, -1))
    wbar_ubar = np.sum(fhat * g_u, axis=(-2, -1))
    v = (uu - N * ubar2) / (N * (N - 1))
    c = (wu - N * wbar_ubar) / (N * (N - 1))
    return v, c, ubar2


def plugin_lambda(v, c, ubar2):
    """The authors' plug-in from its moments: b2 = max(||ubar||^2 - v, 0), lambda = clip(1 + c / (v + b2),
    0, 1), 1 when v + b2 = 0. Elementwise."""
    den = np.asarray(v + np.maximum(ubar2 - v, 0.0), dtype=float)
    safe = np.where(den > 0.0, den, 1.0)
    return np.where(den > 0.0, np.clip(1.0 + c / safe, 0.0, 1.0), 1.0)


def authors_lambda(st: Structure, samples: np.ndarray, fhat=None, shat=None) -> np.ndarray:
    """The authors' plug-in (plugin_lambda) on the moments of a batch."""
    return plugin_lambda(*plugin_moments(st, samples, fhat, shat))


@dataclass(frozen=True)
class Diagnosis:
    """One batch's diagnosis; estimates with standard errors, verdicts at `level`."""

    n: int
    v_bp: float
    se_v_bp: float
    v_sg: float
    se_v_sg: float
    c: float
    se_c: float
    B: float
    se_B: float
    se_B_null: float
    z_B: float
    a_holds: bool
    b_rejected: bool
    lambda_rep: float
    lambda_authors: float
    recommended: str
    lambda_recommended: float
    level: float = LEVEL

    def as_dict(self) -> dict:
        return asdict(self)


def _recommend(a_holds: bool, b_rejected: bool, lam_rep: float) -> tuple[str, float]:
    if not a_holds:
        return "BP", 1.0  # deterministic feedback: BP is exact
    if not b_rejected:
        return "SG", 0.0  # noisy feedback, no evidence against local sufficiency
    if lam_rep >= 1.0:
        return "BP", 1.0
    if lam_rep <= 0.0:
        return "SG", 0.0
    return "mixture", lam_rep


def diagnose(samples, x, cells) -> Diagnosis:
    """Diagnose one batch: samples (R, m, n) of feedback, contributions x (R, m, d), cells (R, m).

    x_rj is state r's contribution through expert j on its own parameter block, weight w_r = 1/R
    included; cells[r, j] is an integer key of state r's cell for expert j (states with equal
    keys share the SG table entry). Needs n >= 2 samples per state.
    """
    st = Structure.build(x, cells)
    samples = check_samples(samples, st.R, st.m)
    with threadpool_limits(limits=1):  # the same numbers whatever the BLAS thread count
        return diagnosis_from(estimate(st, samples), samples.shape[2])


def diagnosis_from(est: dict, n: int) -> Diagnosis:
    """The Diagnosis, with its recommendation, from estimate()'s values of one batch of n samples per state."""
    val = {key: float(np.asarray(v)) for key, v in est.items()}
    a_holds, b_rejected = bool(est["a_detected"]), bool(est["b_rejected"])
    kind, lam = _recommend(a_holds, b_rejected, val["lambda_rep"])
    return Diagnosis(n=n, v_bp=val["v_bp"], se_v_bp=val["se_v_bp"], v_sg=val["v_sg"], se_v_sg=val["se_v_sg"],
                     c=val["c"], se_c=val["se_c"], B=val["B"], se_B=val["se_B"], se_B_null=val["se_B_null"],
                     z_B=val["z_B"], a_holds=a_holds, b_rejected=b_rejected, lambda_rep=val["lambda_rep"],
                     lambda_authors=val["lambda_authors"], recommended=kind, lambda_recommended=lam)


@dataclass(frozen=True)
class InstanceDiagnosis:
    """A batch's diagnosis on an expert instance, beside the exact values it estimates."""

    diagnosis: Diagnosis
    exact: dict  # V_BP, V_SG, C, B, lambda*, MSE(lambda*) at n
    excess: dict  # MSE(lambda) - MSE(lambda*) for BP, SG, lambda_rep, the authors', the recommendation

    def as_dict(self) -> dict:
        return {"diagnosis": self.diagnosis.as_dict(), "exact": self.exact, "excess_mse": self.excess}


def excess_mses(exact, lambdas: dict) -> dict:
    """name -> MSE(lambda) - MSE(lambda*) for each named lambda, from an ExactMSE."""
    return {name: exact.mse_at(lam) - exact.mse_mix for name, lam in lambdas.items()}


def diagnose_instance(inst: ExpertInstance, fb: FeedbackModel, samples) -> InstanceDiagnosis:
    """diagnose() on an instance's structure, with lambda* and each choice's exact excess MSE."""
    st = Structure.of(inst)
    samples = check_samples(samples, st.R, st.m)
    n = samples.shape[2]
    with threadpool_limits(limits=1):
        diag = diagnosis_from(estimate(st, samples), n)
    ex = exact_mse(inst, fb, n)
    exact = {"v_bp": ex.var_bp, "v_sg": ex.var_sg, "c": ex.cov, "B": ex.bias_sq, "lambda_star": ex.lambda_star,
             "mse_star": ex.mse_mix, "lambda_authors_limit": authors_lambda_limit(inst, fb, n)}
    excess = excess_mses(ex, {"BP": 1.0, "SG": 0.0, "lambda_rep": diag.lambda_rep,
                              "lambda_authors": diag.lambda_authors, "recommended": diag.lambda_recommended})
    return InstanceDiagnosis(diagnosis=diag, exact=exact, excess=excess)


# ---------------------------------------------------------------- T10: the authors' plug-in, large batch

@dataclass(frozen=True)
class PluginLimit:
    """The authors' plug-in at the expectations of its moments (T10).

    The plug-in is a function of three quadratic forms of the batch, U = ||SG - BP||^2,
    P = <BP, SG - BP> and Q = sum_r tr(G_r Sigma_hat_r) = n V_BP_hat:
    v = alpha U + beta Q, c = alpha P - beta Q, alpha = (R - 1)/(n R - 1), beta = R (n - 1)/(n (n R - 1)).
    Each is a sum over states, so as the batch grows with more states at fixed n they concentrate
    on E U = B + V_BP + V_SG - 2C, E P = <grad, b> + C - V_BP, E Q = n V_BP (V, C, B at n).
    """

    lam: float
    v: float
    c: float
    b2: float
    lambda_star: float
    grad_dot_bias: float  # <grad, b> = sum_r fbar_r^T G_r (cell mean - fbar_r): the dispersion in cells
    c_star: float  # C - V_BP, the c that gives lambda*

    @property
    def extra(self) -> float:
        """c - (C - V_BP) = (<grad, b> - (n - 1) C) / n in the limit (T10)."""
        return self.c - self.c_star


def plugin_coefficients(R: float, n: int) -> tuple[float, float]:
    """(alpha, beta) of v = alpha U + beta Q; R = inf gives the limit (1/n, (n - 1)/n^2)."""
    if math.isinf(R):
        return 1.0 / n, (n - 1) / n**2
    return (R - 1) / (n * R - 1), R * (n - 1) / (n * (n * R - 1))


def grad_dot_bias(inst: ExpertInstance, fb: FeedbackModel) -> float:
    """<grad, b> = sum_r fbar_r^T G_r (cell mean of fbar - fbar_r), G_r the Gram matrix of X_r."""
    st = Structure.of(inst)
    fbar = inst.clean_feedback(fb.rho)
    return float(np.einsum("rj,rjk,rk->", fbar, st.gxx, st.cell_means(fbar) - fbar))


def authors_lambda_limit(inst: ExpertInstance, fb: FeedbackModel, n: int, states: float | None = None) -> float:
    """The T10 limit of the authors' plug-in lambda on `inst` at n samples per state.

    states: how many states the plug-in's sample moments run over; None takes the instance's R
    (the moments' exact expectations on this instance: what a simulation of it approaches when the
    forms concentrate), math.inf the large-batch limit of the instance replicated many times.
    """
    return authors_plugin_limit(inst, fb, n, states).lam


def authors_plugin_limit(inst: ExpertInstance, fb: FeedbackModel, n: int, states: float | None = None) -> PluginLimit:
    """authors_lambda_limit with the moments behind it (v, c, b^2) beside lambda* and <grad, b>."""
    check_int("n", n, 1)
    if states is None:
        R = float(inst.R)
    elif isinstance(states, (int, float)) and (math.isinf(states) and states > 0 or states >= 2):
        R = float(states)
    else:
        raise ValueError(f"states must be a number >= 2, inf or None (the instance's R), got {states!r}")
    ex = exact_mse(inst, fb, n)
    alpha, beta = plugin_coefficients(R, n)
    gb = grad_dot_bias(inst, fb)
    EU = ex.bias_sq + ex.var_bp + ex.var_sg - 2.0 * ex.cov
    EP = gb + ex.cov - ex.var_bp
    EQ = n * ex.var_bp
    v = alpha * EU + beta * EQ
    c = alpha * EP - beta * EQ
    b2 = max(EU - v, 0.0)
    lam = float(plugin_lambda(v, c, EU))
    return PluginLimit(lam=lam, v=v, c=c, b2=b2, lambda_star=ex.lambda_star, grad_dot_bias=gb,
                       c_star=ex.cov - ex.var_bp)
