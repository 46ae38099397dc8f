"""Monte Carlo simulation of the BP, SG, mixture and adaptive-mixture estimators (docs/theory.md 2, 4).

What one trial does, for a fixed instance (the trials redraw only the feedback noise):

1. draws the n feedback samples of every state r and expert j one by one: noisy
   f = fbar + sigma eps, activation f = fbar b / p with b ~ Bernoulli(p), partial
   f = fbar - alpha_j zeta with zeta ~ N(0, tau^2); with a shared latent one eps, b or zeta per
   (state, sample) feeds every expert, otherwise each expert draws its own. No sufficient
   statistic is used: the adaptive mixture needs the samples themselves;
2. BP: the per-state averages fhat_j(r); SG: each expert's cell table, the mean of fhat_j over
   the cell C_jz (keys from ExpertInstance.cells()), looked up at z_j(r);
3. forms the error of each estimator on the full parameter vector: block r of BP's error is
   sum_j x_rj (fhat_j(r) - fbar_j(r)), of SG's sum_j x_rj (shat_j(z_j(r)) - fbar_j(r)); the
   optional `common` contributions (R, m, q) add sum_r sum_j common_rj (.) on q shared
   coordinates; the mixture's error is lam e_BP + (1 - lam) e_SG;
4. the adaptive weight of T8 from the same samples (the authors' plug-in): per-sample
   contributions w_i = R sum_j x_rj f_ij (block r, plus the common part) and
   u_i = R sum_j x_rj (shat_j(z_j(r)) - f_ij), N = R n, ubar = mean u_i = SG - BP,
   v = sum over coordinates of the sample variance of u_i / N, c likewise the sample
   covariance of w_i and u_i, b2 = max(||ubar||^2 - v, 0), lambda = clip(1 + c / (v + b2), 0, 1)
   (1 when v + b2 = 0). Each u_i lives in block r, so the sums over samples are accumulated per
   state, with the per-sample norms sum_i ||X_r^T dev_i||^2 taken through the Gram matrix
   X_r X_r^T instead of materialising N vectors.

Per trial it records (s_bp, s_sg, s_x, s_fixed, s_adapt, lambda_hat) = (||e_BP||^2, ||e_SG||^2,
<e_BP, e_SG>, ||e_mix(lam)||^2, ||e_mix(lambda_hat)||^2, lambda_hat), and keeps their running
mean and co-moments, so memory does not grow with the number of trials.

Parallelism and reproducibility: trials come in chunks of CHUNK; chunk c draws from its own
generator (montecarlo.rng, state from SeedSequence(seed)), runs whole in one thread, and the
chunks' moments are merged in chunk order afterwards, so the numbers are identical for any
thread count (on one machine: the kernels let the compiler reassociate sums so that they
vectorise, and another vector width may round differently). Inside a trial the numbers are
drawn a slab of states at a time, in the order (expert, sample, state); stream_to_samples
maps them back to (state, sample, expert).

Uncertainty: every MSE is a mean over independent trials with standard error sd / sqrt(T).
MSE(lam) = lam^2 A + (1 - lam)^2 B + 2 lam (1 - lam) X is linear in the means A, B, X of
s_bp, s_sg, s_x, so it has a standard error at any lam. The ratio MSE_BP / MSE_SG uses the
paired delta method on the log scale: se(log A/B)^2 = (Var s_bp / A^2 + Var s_sg / B^2
- 2 Cov(s_bp, s_sg) / (A B)) / T, interval (A/B) exp(-+1.96 se) (95%).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numba import prange

from montecarlo.jit import kernel
from montecarlo.rng import chunk_states, fill_normal, fill_uniform
from montecarlo.stats import Moments, ratio_interval
from theory.exact import exact_mse
from theory.feedback import FeedbackModel
from theory.instance import ExpertInstance
from theory.mixture import mixture_weights
from theory.params import check_int, check_real

CHUNK = 8  # trials per chunk: fixed, so results do not depend on the thread count
BLOCK = 128  # chunks per kernel call: bounds the per-call outputs
SLAB = 4096  # random numbers drawn per generator call inside a trial
TILE = 256  # states per tile of the error pass
FIELDS = ("s_bp", "s_sg", "s_x", "s_fixed", "s_adapt", "lambda_hat")


_mixture_weights = kernel(inline="always")(mixture_weights)


def slab_states(n: int, per_sample: int) -> int:
    """States per generator call: SLAB numbers, at least one state."""
    return max(1, SLAB // (n * per_sample))


@kernel(fastmath={"reassoc", "contract"})
def _draw_pass(st, buf, slab, n, shared, uniform, p, coef, quad, pj, pk, quad_sum, nu, ysum, ysq):
    """Draw one trial's samples, a slab of states per generator call.

    Sample i of state r deviates from fbar by dev_ij = coef_jr * y_ijr, y a standard normal
    (or b/p - 1 for an activation). Within a slab of S states the numbers come in the order
    (expert j, sample i, state s): buf[(j n + i) S + s], one j when the latent is shared.
    Fills nu_jr = mean_i dev_ijr and returns sum_r sum_i dev_ir^T G_r dev_ir, the per-sample
    spread the adaptive weight needs (0 for n = 1 with independent experts: there it equals
    sum_r ||X_r^T nu_r||^2, which the error pass has).
    Arrays are laid out state-last and inner loops run over 1-d views of consecutive states,
    which is what lets them vectorise.
    """
    m, R = coef.shape
    per_sample = 1 if shared else m
    hit = 1.0 / p - 1.0
    spread = 0.0
    r0 = 0
    while r0 < R:
        r1 = min(R, r0 + slab)
        S = r1 - r0
        count = S * n * per_sample
        if uniform:
            fill_uniform(st, buf, 0, count)
            for i in range(count):
                buf[i] = hit if buf[i] < p else -1.0
        else:
            fill_normal(st, buf, 0, count)
        ys = ysum[:S]
        if shared:
            yq = ysq[:S]
            ys[:] = 0.0
            yq[:] = 0.0
            for i in range(n):
                y = buf[i * S:(i + 1) * S]
                for s in range(S):
                    ys[s] += y[s]
                    yq[s] += y[s] * y[s]
            for j in range(m):
                out = nu[j, r0:r1]
                cj = coef[j, r0:r1]
                for s in range(S):
                    out[s] = cj[s] * (ys[s] / n)
            qs = quad_sum[r0:r1]
            for s in range(S):
                spread += qs[s] * yq[s]
        else:
            for j in range(m):
                ys[:] = 0.0
                for i in range(n):
                    y = buf[(j * n + i) * S:(j * n + i + 1) * S]
                    for s in range(S):
                        ys[s] += y[s]
                out = nu[j, r0:r1]
                cj = coef[j, r0:r1]
                for s in range(S):
                    out[s] = cj[s] * (ys[s] / n)
            if n > 1:
                for k in range(pj.shape[0]):
                    qk = quad[k, r0:r1]
                    for i in range(n):
                        yj = buf[(pj[k] * n + i) * S:(pj[k] * n + i + 1) * S]
                        yk = buf[(pk[k] * n + i) * S:(pk[k] * n + i + 1) * S]
                        for s in range(S):
                            spread += qk[s] * yj[s] * yk[s]
        r0 = r1
    return spread


@kernel(fastmath={"reassoc", "contract"})
def _error_pass(xs, cms, nu, spread, spread_is_bp, table, cells, fbar, gpriv, gcom, gcom_total, lam, n,
                eta, a, b, acc_a, acc_b, track, track_bp, track_sg):
    """Error blocks a_r = BP - grad and b_r = SG - grad of every state, TILE states at a time,
    and their sums over the full vector. Also the adaptive weight's per-sample sums over the
    n R samples (each u_i, w_i lives in its state's block and the common coordinates):
    sum_i ||u_i||^2 / R^2 = n sum_r (||b_r||^2 - 2 <a_r, b_r>) + spread and
    sum_i <w_i, u_i> / R^2 = n sum_r (<g_r, b_r> - <g_r, a_r> + <a_r, b_r>) - spread,
    with the state's own share of the common coordinates in each term.
    Returns (s_bp, s_sg, s_x, s_fixed, <grad, e_SG - e_BP>, sum_i ||u_i||^2 / R^2,
    sum_i <w_i, u_i> / R^2)."""
    m, d, R = xs.shape
    q = cms.shape[1]
    lam_c = 1.0 - lam
    # Private blocks (p_*) and each state's share of the common coordinates (c_*).
    p_aa = 0.0
    p_bb = 0.0
    p_ab = 0.0
    p_mix = 0.0
    p_ga = 0.0
    p_gb = 0.0
    c_aa = 0.0
    c_bb = 0.0
    c_ab = 0.0
    c_ga = 0.0
    c_gb = 0.0
    for qq in range(q):
        acc_a[qq] = 0.0
        acc_b[qq] = 0.0
    for t0 in range(0, R, TILE):
        t1 = min(R, t0 + TILE)
        S = t1 - t0
        av = a[:S]
        bv = b[:S]
        for j in range(m):
            ej = eta[j, :S]
            cj = cells[j, t0:t1]
            fj = fbar[j, t0:t1]
            tj = table[j]
            for s in range(S):
                ej[s] = tj[cj[s]] - fj[s]
        for dd in range(d):
            # Experts two at a time: half the passes over av and bv.
            j0 = m % 2
            if j0:
                xr = xs[0, dd, t0:t1]
                nj = nu[0, t0:t1]
                ej = eta[0, :S]
                for s in range(S):
                    av[s] = xr[s] * nj[s]
                    bv[s] = xr[s] * ej[s]
            else:
                av[:] = 0.0
                bv[:] = 0.0
            for j in range(j0, m, 2):
                xr = xs[j, dd, t0:t1]
                nj = nu[j, t0:t1]
                ej = eta[j, :S]
                xr2 = xs[j + 1, dd, t0:t1]
                nj2 = nu[j + 1, t0:t1]
                ej2 = eta[j + 1, :S]
                for s in range(S):
                    av[s] += xr[s] * nj[s] + xr2[s] * nj2[s]
                    bv[s] += xr[s] * ej[s] + xr2[s] * ej2[s]
            g = gpriv[dd, t0:t1]
            for s in range(S):
                p_aa += av[s] * av[s]
                p_bb += bv[s] * bv[s]
                p_ab += av[s] * bv[s]
                mv = lam * av[s] + lam_c * bv[s]
                p_mix += mv * mv
                p_ga += g[s] * av[s]
                p_gb += g[s] * bv[s]
            if track:
                for s in range(S):
                    track_bp[(t0 + s) * d + dd] += av[s]
                    track_sg[(t0 + s) * d + dd] += bv[s]
        for qq in range(q):
            av[:] = 0.0
            bv[:] = 0.0
            for j in range(m):
                cr = cms[j, qq, t0:t1]
                nj = nu[j, t0:t1]
                ej = eta[j, :S]
                for s in range(S):
                    av[s] += cr[s] * nj[s]
                    bv[s] += cr[s] * ej[s]
            g = gcom[qq, t0:t1]
            sa = 0.0
            sb = 0.0
            for s in range(S):
                sa += av[s]
                sb += bv[s]
                c_aa += av[s] * av[s]
                c_bb += bv[s] * bv[s]
                c_ab += av[s] * bv[s]
                c_ga += g[s] * av[s]
                c_gb += g[s] * bv[s]
            acc_a[qq] += sa
            acc_b[qq] += sb
    s_bp = p_aa
    s_sg = p_bb
    s_x = p_ab
    s_fix = p_mix
    g_u = p_gb - p_ga
    for qq in range(q):
        ca = acc_a[qq]
        cb = acc_b[qq]
        s_bp += ca * ca
        s_sg += cb * cb
        s_x += ca * cb
        mv = lam * ca + lam_c * cb
        s_fix += mv * mv
        g_u += gcom_total[qq] * (cb - ca)
        if track:
            track_bp[R * d + qq] += ca
            track_sg[R * d + qq] += cb
    if spread_is_bp:
        spread = p_aa + c_aa
    uu = n * ((p_bb + c_bb) - 2.0 * (p_ab + c_ab)) + spread
    wu = n * ((p_gb + c_gb) - (p_ga + c_ga) + (p_ab + c_ab)) - spread
    return s_bp, s_sg, s_x, s_fix, g_u, uu, wu


@kernel(parallel=True)
def _run_chunks(states, sizes, row_start, xs, cms, fbar, coef, quad, pj, pk, quad_sum, cells, inv_counts,
                gpriv, gcom, gcom_total, n, uniform, shared, p, lam, slab,
                out_count, out_mean, out_m2, rows, track_bp, track_sg):
    m, d, R = xs.shape
    q = cms.shape[1]
    nkeys = inv_counts.shape[1]
    per_sample = 1 if shared else m
    keep_rows = rows.shape[0] > 0
    track = track_bp.shape[1] > 0
    spread_is_bp = n == 1 and not shared
    big_n = R * n
    for c in prange(states.shape[0]):
        st = states[c].copy()
        buf = np.empty(slab * n * per_sample)
        ysum = np.empty(slab)
        ysq = np.empty(slab)
        nu = np.empty((m, R))
        table = np.empty((m, nkeys))
        eta = np.empty((m, TILE))
        a = np.empty(TILE)
        b = np.empty(TILE)
        acc_a = np.empty(q)
        acc_b = np.empty(q)
        vec = np.empty(6)
        mean = np.zeros(6)
        m2 = np.zeros((6, 6))
        for t in range(sizes[c]):
            spread = _draw_pass(st, buf, slab, n, shared, uniform, p, coef, quad, pj, pk, quad_sum, nu,
                                ysum, ysq)
            # SG tables: mean of the per-state averages fhat = fbar + nu over each cell.
            for j in range(m):
                tj = table[j]
                cj = cells[j]
                fj = fbar[j]
                nj = nu[j]
                tj[:] = 0.0
                for r in range(R):
                    tj[cj[r]] += fj[r] + nj[r]
                for key in range(nkeys):
                    tj[key] *= inv_counts[j, key]
            s_bp, s_sg, s_x, s_fix, g_u, uu, wu = _error_pass(
                xs, cms, nu, spread, spread_is_bp, table, cells, fbar, gpriv, gcom, gcom_total, lam, n,
                eta, a, b, acc_a, acc_b, track, track_bp[c], track_sg[c])
            # The plug-in weight: ubar = SG - BP, wbar = BP = grad + e_BP.
            ubar2 = s_bp + s_sg - 2.0 * s_x
            wbar_ubar = g_u + s_x - s_bp
            scale = 1.0 / ((big_n - 1.0) * big_n)
            v_hat = max((R * R * uu - big_n * ubar2) * scale, 0.0)
            c_hat = (R * R * wu - big_n * wbar_ubar) * scale
            b2 = max(ubar2 - v_hat, 0.0)
            den = v_hat + b2
            lam_hat = 1.0 if den <= 0.0 else min(max(1.0 + c_hat / den, 0.0), 1.0)
            w_bp, w_sg, w_x = _mixture_weights(lam_hat)
            s_ad = w_bp * s_bp + w_sg * s_sg + w_x * s_x
            vec[0] = s_bp
            vec[1] = s_sg
            vec[2] = s_x
            vec[3] = s_fix
            vec[4] = s_ad
            vec[5] = lam_hat
            k = t + 1.0
            for u in range(6):
                delta = vec[u] - mean[u]
                for w in range(6):
                    m2[u, w] += delta * (vec[w] - mean[w]) * ((k - 1.0) / k)
            for u in range(6):
                mean[u] += (vec[u] - mean[u]) / k
            if keep_rows:
                for u in range(6):
                    rows[row_start[c] + t, u] = vec[u]
        out_count[c] = sizes[c]
        for u in range(6):
            out_mean[c, u] = mean[u]
            for w in range(6):
                out_m2[c, u, w] = m2[u, w]


def stream_to_samples(stream: np.ndarray, R: int, n: int, per_sample: int) -> np.ndarray:
    """The engine's random numbers of one trial, in stream order, as (R, n, per_sample)."""
    slab = slab_states(n, per_sample)
    out = np.empty((R, n, per_sample))
    pos = 0
    for r0 in range(0, R, slab):
        S = min(R, r0 + slab) - r0
        block = stream[pos:pos + S * n * per_sample].reshape(per_sample, n, S)
        out[r0:r0 + S] = block.transpose(2, 1, 0)
        pos += S * n * per_sample
    return out


@dataclass
class ExpertMC:
    """Monte Carlo estimates for one configuration; see the module docstring for the intervals.

    mean, cov: per-trial means and sample covariance of FIELDS. mse_mix is measured at `lam`.
    bias_sq_bp / bias_sq_sg (with standard errors) estimate ||E e||^2 when the run kept group
    means (mean_groups > 0), NaN otherwise. rows: the per-trial vectors when asked for.
    """

    trials: int
    lam: float
    mean: np.ndarray
    cov: np.ndarray
    mse_bp: float
    se_bp: float
    mse_sg: float
    se_sg: float
    mse_mix: float
    se_mix: float
    mse_adaptive: float
    se_adaptive: float
    lambda_adaptive: float
    lambda_adaptive_se: float
    ratio: float
    ratio_ci: tuple[float, float]
    bias_sq_bp: float = math.nan
    bias_sq_bp_se: float = math.nan
    bias_sq_sg: float = math.nan
    bias_sq_sg_se: float = math.nan
    rows: np.ndarray | None = field(default=None, repr=False)

    def contrast(self, weights) -> tuple[float, float]:
        """Mean and standard error of a linear combination of the per-trial FIELDS."""
        w = np.asarray(weights, dtype=np.float64)
        var = float(w @ self.cov @ w) / self.trials
        return float(w @ self.mean), math.sqrt(max(var, 0.0))

    @staticmethod
    def _weights(lam: float) -> np.ndarray:
        return np.array([*mixture_weights(lam), 0.0, 0.0, 0.0])

    def mse_at(self, lam: float) -> tuple[float, float]:
        """MSE of the mixture lam * BP + (1 - lam) * SG, with its standard error."""
        return self.contrast(self._weights(lam))

    def paired(self, lam_a: float, lam_b: float) -> tuple[float, float]:
        """MSE(lam_a) - MSE(lam_b) on the same trials (common random numbers), with its SE."""
        return self.contrast(self._weights(lam_a) - self._weights(lam_b))


def _check_common(common, inst: ExpertInstance) -> np.ndarray:
    if common is None:
        return np.zeros((inst.R, inst.m, 0))
    common = np.ascontiguousarray(common, dtype=np.float64)
    if common.ndim != 3 or common.shape[:2] != (inst.R, inst.m):
        raise ValueError(f"common must have shape (R, m, q) = ({inst.R}, {inst.m}, q), got {common.shape}")
    return common


class ExpertEngine:
    """The arrays of one instance (and optional common contributions), built once for many runs."""

    def __init__(self, inst: ExpertInstance, common: np.ndarray | None = None):
        self.inst = inst
        self.common = None if common is None else _check_common(common, inst)
        x = inst.contributions()
        cm = _check_common(common, inst)
        self.gram = np.matmul(x, x.transpose(0, 2, 1)) + np.matmul(cm, cm.transpose(0, 2, 1))
        # State-last layouts: the kernels' inner loops run over consecutive states.
        self.xs = np.ascontiguousarray(x.transpose(1, 2, 0))  # (m, d, R)
        self.cms = np.ascontiguousarray(cm.transpose(1, 2, 0))  # (m, q, R)
        self.cells = np.ascontiguousarray(inst.cells().T, dtype=np.int64)  # (m, R)
        self.inv_counts = inst.inverse_cell_counts()
        self.pj, self.pk = (np.ascontiguousarray(v, dtype=np.int64) for v in np.triu_indices(inst.m))

    @property
    def dim(self) -> int:
        return self.inst.R * self.inst.d + self.cms.shape[1]

    def _feedback_arrays(self, fb: FeedbackModel) -> dict:
        inst = self.inst
        fbar = inst.clean_feedback(fb.rho)
        if fb.case == "noisy":
            coef = np.full((inst.R, inst.m), float(fb.sigma))
        elif fb.case == "activation":
            coef = fbar.copy()
        else:
            coef = np.ascontiguousarray(np.broadcast_to(-float(fb.tau) * inst.alpha, (inst.R, inst.m)))
        # dev_i^T G dev_i = y_i^T (coef G coef) y_i: the diagonal plus twice the upper triangle.
        cg = coef[:, :, None] * self.gram * coef[:, None, :]
        quad = (cg * (2.0 - np.eye(inst.m)))[:, self.pj, self.pk]
        gcom = np.einsum("jqr,rj->qr", self.cms, fbar)
        return dict(
            fbar=np.ascontiguousarray(fbar.T), coef=np.ascontiguousarray(coef.T),
            quad=np.ascontiguousarray(quad.T), quad_sum=np.ascontiguousarray(cg.sum(axis=(1, 2))),
            gpriv=np.ascontiguousarray(np.einsum("jdr,rj->dr", self.xs, fbar)),
            gcom=np.ascontiguousarray(gcom), gcom_total=gcom.sum(axis=1),
        )

    def simulate(self, fb: FeedbackModel, n: int, trials: int, seed: int, lam: float | None = None,
                 mean_groups: int = 0, keep_rows: bool = False) -> "ExpertMC":
        """See simulate_expert."""
        check_int("n", n, 1)
        check_int("trials", trials, 1)
        check_int("seed", seed, 0)
        check_int("mean_groups", mean_groups, 0)
        if lam is None:
            lam = exact_mse(self.inst, fb, n, common=self.common).lambda_star
        lam = check_real("lam", lam, lo=0.0, hi=1.0)
        arr = self._feedback_arrays(fb)
        dim = self.dim
        slab = slab_states(n, 1 if fb.shared else self.inst.m)
        n_chunks = -(-trials // CHUNK)
        states = chunk_states(seed, n_chunks)
        sizes = np.full(n_chunks, CHUNK, dtype=np.int64)
        sizes[-1] = trials - CHUNK * (n_chunks - 1)
        moments = Moments(6)
        rows = np.empty((trials, 6)) if keep_rows else None
        groups = np.zeros((mean_groups, 2, dim)) if mean_groups else None
        group_counts = np.zeros(mean_groups)
        # Bound the per-call tracking buffers to about 64 MB.
        block = BLOCK if not mean_groups else max(1, min(BLOCK, (64 << 20) // (16 * dim)))
        for c0 in range(0, n_chunks, block):
            c1 = min(n_chunks, c0 + block)
            nb = c1 - c0
            out_count = np.zeros(nb, dtype=np.int64)
            out_mean = np.zeros((nb, 6))
            out_m2 = np.zeros((nb, 6, 6))
            track = np.zeros((2, nb, dim if mean_groups else 0))
            block_rows = np.empty((int(sizes[c0:c1].sum()) if keep_rows else 0, 6))
            row_start = np.arange(nb, dtype=np.int64) * CHUNK
            _run_chunks(states[c0:c1], sizes[c0:c1], row_start, self.xs, self.cms, arr["fbar"],
                        arr["coef"], arr["quad"], self.pj, self.pk, arr["quad_sum"], self.cells,
                        self.inv_counts, arr["gpriv"], arr["gcom"], arr["gcom_total"], n,
                        fb.case == "activation", fb.shared, float(fb.p), lam, slab,
                        out_count, out_mean, out_m2, block_rows, track[0], track[1])
            moments.add_chunks(out_count, out_mean, out_m2)
            if keep_rows:
                rows[c0 * CHUNK:c0 * CHUNK + block_rows.shape[0]] = block_rows
            if mean_groups:
                for i in range(nb):
                    g = (c0 + i) % mean_groups
                    groups[g] += track[:, i]
                    group_counts[g] += sizes[c0 + i]
        return _summarise(moments, lam, rows, groups, group_counts)


def _bias_sq(group_sums: np.ndarray, group_counts: np.ndarray) -> tuple[float, float]:
    """||E e||^2 from G independent group means m_g: the U-statistic sum_{g != h} <m_g, m_h> / (G (G-1)),
    unbiased, with its leave-one-group-out jackknife standard error."""
    keep = group_counts > 0
    means = group_sums[keep] / group_counts[keep, None]
    G = means.shape[0]
    if G < 3:
        return math.nan, math.nan
    total = means.sum(axis=0)
    sq = np.einsum("gi,gi->g", means, means)
    u = (total @ total - sq.sum()) / (G * (G - 1))
    loo_total2 = total @ total - 2.0 * means @ total + sq
    loo = (loo_total2 - (sq.sum() - sq)) / ((G - 1) * (G - 2))
    se = math.sqrt((G - 1) / G * np.sum((loo - loo.mean()) ** 2))
    return float(u), se


def simulate_expert(inst: ExpertInstance, fb: FeedbackModel, n: int, trials: int, seed: int,
                    lam: float | None = None, common: np.ndarray | None = None,
                    mean_groups: int = 0, keep_rows: bool = False) -> ExpertMC:
    """Simulate `trials` independent batches of n samples per state (see the module docstring).

    lam: the fixed mixture weight (default: the exact lambda* of theory.exact.exact_mse).
    common: (R, m, q) contributions on parameters shared by all states.
    mean_groups: if > 0, also sum the error vectors in that many groups (chunk c goes to group
    c mod G) to estimate ||E e_BP||^2 and ||E e_SG||^2; costs G (R d + q) floats.
    keep_rows: also return the (trials, 6) per-trial vectors.
    For many runs on one instance, build an ExpertEngine once and call its simulate.
    """
    return ExpertEngine(inst, common).simulate(fb, n, trials, seed, lam=lam, mean_groups=mean_groups,
                                               keep_rows=keep_rows)


def _summarise(moments: Moments, lam: float, rows, groups, group_counts) -> ExpertMC:
    T = moments.n
    mean = moments.mean.copy()
    cov = moments.cov()
    se = np.sqrt(np.maximum(np.diag(cov), 0.0) / T)
    ratio, lo, hi = ratio_interval(mean[0], mean[1], cov[0, 0], cov[1, 1], cov[0, 1], T)
    extra = {}
    if groups is not None:
        extra["bias_sq_bp"], extra["bias_sq_bp_se"] = _bias_sq(groups[:, 0], group_counts)
        extra["bias_sq_sg"], extra["bias_sq_sg_se"] = _bias_sq(groups[:, 1], group_counts)
    return ExpertMC(
        trials=T, lam=lam, mean=mean, cov=cov,
        mse_bp=float(mean[0]), se_bp=float(se[0]), mse_sg=float(mean[1]), se_sg=float(se[1]),
        mse_mix=float(mean[3]), se_mix=float(se[3]), mse_adaptive=float(mean[4]), se_adaptive=float(se[4]),
        lambda_adaptive=float(mean[5]), lambda_adaptive_se=float(se[5]),
        ratio=ratio, ratio_ci=(lo, hi), rows=rows, **extra,
    )
