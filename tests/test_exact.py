"""theory.exact against independent brute force: the estimators are built here from their
definitions (full gradient vectors, cell tables of the per-state means), and their errors are
averaged exactly (activation: enumeration of the Binomial outcomes) or by simulation (Gaussian
cases: tolerances in standard errors).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from theory.exact import crossover_n, exact_mse
from theory.feedback import FeedbackModel
from theory.instance import make_expert_instance
from theory.pooling import exact_pooled, make_pooled_instance

Z = 4.0  # a simulated mean must lie within Z standard errors of the exact value


# ---------------------------------------------------------------- brute-force estimators

class BruteForce:
    """The gradient estimators of one instance, written out from docs/theory.md section 2."""

    def __init__(self, inst, rho=0.0, private=None, common=None):
        self.inst = inst
        R, d, m = inst.R, inst.d, inst.m
        e = np.zeros((m, d))
        for j in range(m):
            for i, coord in enumerate(inst.coords[j]):
                e[j, coord] = inst.a[j, i]
        if private is None:
            private = np.array([[inst.jacobians[r].T @ e[j] / R for j in range(m)] for r in range(R)])
        self.private = private  # (R, m, d): x_rj on block r
        self.common = np.zeros((R, m, 0)) if common is None else common  # (R, m, q): shared parameters
        # cells: states with the same signs on S_j
        self.avg = np.zeros((m, R, R))  # avg[j] @ f averages f over the cell of each state
        self.cell_lists = []
        for j in range(m):
            keys = [tuple(inst.codes[r, inst.coords[j]]) for r in range(R)]
            cells = {}
            for r, key in enumerate(keys):
                cells.setdefault(key, []).append(r)
            self.cell_lists.append(list(cells.values()))
            for members in cells.values():
                for r in members:
                    self.avg[j, r, members] = 1.0 / len(members)
        fbar = np.zeros((R, m))
        for r in range(R):
            for j in range(m):
                u = inst.codes[r, inst.coords[j]]
                fbar[r, j] = u @ (inst.a[j] - inst.beta[j]) + inst.b[j] - inst.gamma[j]
                if rho:
                    fbar[r, j] += rho * inst.leak_c[j] * inst.codes[r, inst.leak_coord[j]]
        self.fbar = fbar
        self.grad = self.bp(fbar[None])[0]
        self.bias = self.sg(fbar[None])[0] - self.grad

    def _gradient(self, f):
        """f (T, R, m) feedback per state and expert -> (T, R*d + q) full gradient vectors."""
        T, R, m = f.shape
        blocks = np.matmul(f.transpose(1, 0, 2), self.private)  # (R, T, d): block r = sum_j f_rj x_rj
        blocks = blocks.transpose(1, 0, 2).reshape(T, -1)
        shared = f.reshape(T, R * m) @ self.common.reshape(R * m, -1)
        return np.concatenate([blocks, shared], axis=1)

    def bp(self, fhat):
        return self._gradient(fhat)

    def sg(self, fhat):
        tables = np.stack([fhat[:, :, j] @ self.avg[j].T for j in range(fhat.shape[2])], axis=2)
        return self._gradient(tables)


def errors(bf, fhat):
    """Per-draw errors of BP and SG for feedback means fhat (T, R, m)."""
    e_bp = bf.bp(fhat) - bf.grad
    e_sg = bf.sg(fhat) - bf.grad
    return e_bp, e_sg


def optimal_mix(bias_sq, var_bp, var_sg, cov):
    """The minimiser over [0, 1] of the quadratic E||l e_BP + (1 - l) e_SG||^2."""
    curvature = var_bp + var_sg + bias_sq - 2 * cov
    lam = min(max((bias_sq + var_sg - cov) / curvature, 0.0), 1.0)
    mse = lam**2 * var_bp + (1 - lam) ** 2 * (bias_sq + var_sg) + 2 * lam * (1 - lam) * cov
    return lam, mse


# ---------------------------------------------------------------- activation: exact enumeration

def binomial_outcomes(n, p, size):
    """All joint outcomes of `size` independent Binomial(n, p) counts, with their probabilities."""
    counts = np.array(list(itertools.product(range(n + 1), repeat=size)), dtype=float)
    pmf = np.array([math.comb(n, c) * p**c * (1 - p) ** (n - c) for c in range(n + 1)])
    prob = np.prod(pmf[counts.astype(int)], axis=1)
    return counts, prob


ENUMERATED = [  # (d, k, m, shared): R * m independent counts (R with a shared latent), <= 8
    (2, 1, 2, False),
    (3, 1, 1, False),
    (3, 2, 1, False),
    (3, 1, 2, True),
    (3, 2, 2, True),
]


@pytest.mark.parametrize("d,k,m,shared", ENUMERATED)
@pytest.mark.parametrize("n", [1, 2])
@pytest.mark.parametrize("rho", [0.0, 0.7])
def test_activation_by_enumeration(d, k, m, shared, n, rho):
    inst = make_expert_instance(d, k, m, seed=5 + d + 7 * k + m)
    check_activation_by_enumeration(inst, n, rho, shared)


def check_activation_by_enumeration(inst, n, rho, shared, common=None):
    """Every exact moment against the errors of the estimators averaged over all outcomes."""
    p = 0.35
    fb = FeedbackModel(case="activation", p=p, rho=rho, shared=shared)
    bf = BruteForce(inst, rho, common=common)
    R, m = inst.R, inst.m
    counts, prob = binomial_outcomes(n, p, R if shared else R * m)
    counts = np.repeat(counts[:, :, None], m, axis=2) if shared else counts.reshape(-1, R, m)
    fhat = bf.fbar[None] * counts / (n * p)  # mean of n samples of fbar b / p
    e_bp, e_sg = errors(bf, fhat)
    assert math.isclose(prob.sum(), 1.0, rel_tol=1e-12)
    def E(values):
        return prob @ values

    fluct = e_sg - bf.bias
    bias_sq = float(bf.bias @ bf.bias)
    var_bp = E(np.sum(e_bp**2, axis=1))
    var_sg = E(np.sum(fluct**2, axis=1))
    cov = E(np.sum(e_bp * fluct, axis=1))
    np.testing.assert_allclose(E(e_bp), 0.0, atol=1e-14)  # BP unbiased
    np.testing.assert_allclose(E(e_sg), bf.bias, atol=1e-14)
    exact = exact_mse(inst, fb, n, common=common)
    np.testing.assert_allclose(exact.mse_bp, var_bp, rtol=1e-10)
    np.testing.assert_allclose(exact.mse_sg, E(np.sum(e_sg**2, axis=1)), rtol=1e-10)
    np.testing.assert_allclose(exact.bias_sq, bias_sq, rtol=1e-10, atol=1e-300)
    np.testing.assert_allclose(exact.var_sg, var_sg, rtol=1e-10)
    np.testing.assert_allclose(exact.cov, cov, rtol=1e-10)
    lam, mse_mix = optimal_mix(bias_sq, var_bp, var_sg, cov)
    np.testing.assert_allclose(exact.lambda_star, lam, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(exact.mse_mix, mse_mix, rtol=1e-10)
    for l in (0.25, 0.6):
        mix = E(np.sum((l * e_bp + (1 - l) * e_sg) ** 2, axis=1))
        np.testing.assert_allclose(exact.mse_at(l), mix, rtol=1e-10)


# ---------------------------------------------------------------- Gaussian cases: simulation

def simulate_means(bf, case, n, shared, sigma, tau, trials, rng):
    """Per-state means of n samples: noisy f = fbar + eps, partial f = fbar - alpha_j zeta."""
    R, m = bf.fbar.shape
    width = 1 if shared else m
    scale = sigma if case == "noisy" else tau
    draws = rng.normal(0.0, scale, size=(trials, R, width, n)).mean(axis=3)
    draws = np.broadcast_to(draws, (trials, R, m))
    if case == "noisy":
        return bf.fbar[None] + draws
    return bf.fbar[None] - bf.inst.alpha[None, None, :] * draws


def mean_and_se(values):
    return float(values.mean()), float(values.std(ddof=1) / math.sqrt(values.size))


GAUSSIAN = [  # (case, shared, rho, n, d, k, m)
    ("noisy", False, 0.8, 1, 3, 1, 2),
    ("partial", False, 0.8, 2, 3, 1, 2),
    ("noisy", True, 0.8, 2, 3, 2, 2),
    ("partial", True, 0.8, 1, 3, 1, 3),
    ("noisy", False, 0.0, 3, 3, 1, 2),
    ("partial", True, 0.0, 2, 3, 2, 2),
]


@pytest.mark.parametrize("case,shared,rho,n,d,k,m", GAUSSIAN)
def test_gaussian_cases_by_simulation(case, shared, rho, n, d, k, m):
    inst = make_expert_instance(d, k, m, seed=17 + m)
    sigma, tau = 0.6, 0.7
    fb = FeedbackModel(case=case, sigma=sigma, tau=tau, rho=rho, shared=shared)
    exact = exact_mse(inst, fb, n)
    bf = BruteForce(inst, rho)
    np.testing.assert_allclose(exact.bias_sq, float(bf.bias @ bf.bias), rtol=1e-10, atol=1e-300)

    rng = np.random.default_rng(2024 + n)
    trials, batches = 200_000, 20
    fhat = simulate_means(bf, case, n, shared, sigma, tau, trials, rng)
    e_bp, e_sg = errors(bf, fhat)
    fluct = e_sg - bf.bias
    per_draw = {
        "mse_bp": np.sum(e_bp**2, axis=1),
        "mse_sg": np.sum(e_sg**2, axis=1),
        "var_sg": np.sum(fluct**2, axis=1),
        "cov": np.sum(e_bp * fluct, axis=1),
        "mse_mix": np.sum((exact.lambda_star * e_bp + (1 - exact.lambda_star) * e_sg) ** 2, axis=1),
    }
    for key, values in per_draw.items():
        mc, se = mean_and_se(values)
        assert abs(mc - getattr(exact, key)) < Z * se, (key, mc, getattr(exact, key), se)

    # lambda* from simulated moments (the bias is known exactly); standard error from batch means
    def lam_hat(sl):
        return optimal_mix(exact.bias_sq, per_draw["mse_bp"][sl].mean(), per_draw["var_sg"][sl].mean(),
                           per_draw["cov"][sl].mean())[0]

    size = trials // batches
    by_batch = np.array([lam_hat(slice(b * size, (b + 1) * size)) for b in range(batches)])
    se = by_batch.std(ddof=1) / math.sqrt(batches)
    if rho == 0.0:
        assert exact.lambda_star < 1e-12 and lam_hat(slice(None)) < Z * se + 1e-12
    else:
        assert 0.0 < exact.lambda_star < 1.0
        assert abs(lam_hat(slice(None)) - exact.lambda_star) < Z * se


# ---------------------------------------------------------------- shared parameters with a shared latent

def latent_coefficients(bf, case, shared, sigma, p, tau):
    """Per-state average fhat_j(r) = fbar_j(r) + coef[r, j, l] xi_rl, with xi_rl independent,
    zero mean, variance 1/n: l runs over one latent per state (shared) or one per expert."""
    R, m = bf.fbar.shape
    if case == "noisy":
        per = np.full((R, m), sigma)
    elif case == "activation":  # fbar (b/p - 1): variance fbar^2 (1 - p) / p
        per = bf.fbar * math.sqrt((1 - p) / p)
    else:
        per = np.broadcast_to(-tau * bf.inst.alpha, (R, m))
    if shared:
        return per[:, :, None]
    return per[:, :, None] * np.eye(m)[None]


def moments_by_propagation(bf, coef, n):
    """V_BP, V_SG and C by pushing each unit latent through the estimators: both errors are
    linear in the latents, so E<a, b> = sum_l <a(e_l), b(e_l)> / n over the unit latents."""
    R, m, L = coef.shape
    fhat = np.zeros((R * L, R, m))
    for r in range(R):
        for l in range(L):
            fhat[r * L + l, r] = coef[r, :, l]
    e_bp = bf.bp(bf.fbar[None] + fhat) - bf.grad
    e_sg = bf.sg(bf.fbar[None] + fhat) - bf.grad - bf.bias
    return (np.sum(e_bp * e_bp) / n, np.sum(e_sg * e_sg) / n, np.sum(e_bp * e_sg) / n)


def mixture_by_propagation(bf, coef, n, lam):
    """E||lam e_BP + (1 - lam) e_SG||^2 formed from the mixed estimator itself: its bias plus its
    response to each unit latent."""
    R, m, L = coef.shape
    fhat = np.zeros((R * L, R, m))
    for r in range(R):
        for l in range(L):
            fhat[r * L + l, r] = coef[r, :, l]
    fluct = lam * bf.bp(bf.fbar[None] + fhat) + (1 - lam) * bf.sg(bf.fbar[None] + fhat)
    fluct -= lam * bf.grad + (1 - lam) * (bf.grad + bf.bias)
    return (1 - lam) ** 2 * float(bf.bias @ bf.bias) + np.sum(fluct * fluct) / n


@pytest.mark.parametrize("case,rho", [("noisy", 0.0), ("activation", 0.7), ("partial", 0.4)])
def test_common_contributions_with_a_shared_latent(case, rho):
    """Parameters shared by all states plus one latent per state feeding every expert: the
    covariance C pairs BP's contribution x with SG's cell average y on the shared parameters.
    (d = 5, k = 2, m = 3, n = 2: a configuration where <y, y> in place of <x, y> once went unnoticed.)"""
    inst = make_expert_instance(5, 2, 3, seed=21)
    common = np.random.default_rng(21).normal(size=(inst.R, inst.m, 4)) / inst.R
    bf = BruteForce(inst, rho, common=common)
    n = 2
    fb = FeedbackModel(case=case, rho=rho, shared=True, sigma=0.5, p=0.4, tau=0.6)
    coef = latent_coefficients(bf, case, True, 0.5, 0.4, 0.6)
    var_bp, var_sg, cov = moments_by_propagation(bf, coef, n)
    exact = exact_mse(inst, fb, n, common=common)
    np.testing.assert_allclose(exact.mse_bp, var_bp, rtol=1e-10)
    np.testing.assert_allclose(exact.var_sg, var_sg, rtol=1e-10)
    np.testing.assert_allclose(exact.cov, cov, rtol=1e-10)
    bias_sq = float(bf.bias @ bf.bias)  # zero under B up to rounding
    np.testing.assert_allclose(exact.bias_sq, bias_sq, rtol=1e-10, atol=1e-12 * var_sg)
    lam, mse_mix = optimal_mix(bias_sq, var_bp, var_sg, cov)
    np.testing.assert_allclose(exact.lambda_star, lam, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(exact.mse_mix, mse_mix, rtol=1e-10)


@pytest.mark.parametrize("n", [1, 2])
def test_common_contributions_with_a_shared_latent_by_enumeration(n):
    """The same with the activation's outcomes enumerated (no noise model used): with a leak the
    per-state variance fbar^2 (1 - p) / p differs inside each cell."""
    inst = make_expert_instance(3, 1, 2, seed=22)
    common = np.random.default_rng(22).normal(size=(inst.R, inst.m, 3)) / inst.R
    check_activation_by_enumeration(inst, n, 0.7, True, common=common)


# ---------------------------------------------------------------- T4, T3, T5, T6 on the evaluator

@pytest.mark.parametrize("case", ["noisy", "activation", "partial"])
@pytest.mark.parametrize("d,k,m,seed", [(3, 1, 1, 0), (4, 2, 3, 1), (5, 3, 5, 2), (6, 2, 2, 3), (4, 4, 2, 4)])
def test_T4_ratio_is_the_cell_size(case, d, k, m, seed):
    inst = make_expert_instance(d, k, m, seed)
    for n in (1, 2, 5):
        fb = FeedbackModel(case=case, sigma=0.3 + seed / 10, p=0.2 + seed / 10, tau=1.1 - seed / 10)
        exact = exact_mse(inst, fb, n)
        assert exact.bias_sq == 0.0  # condition B holds
        np.testing.assert_allclose(exact.ratio, 2 ** (d - k), rtol=1e-12)


def per_sample_variance(case, fbar, alpha, sigma, p, tau):
    """(R, m) per-sample variance of each case, written from its sampling model."""
    if case == "noisy":
        return np.full(fbar.shape, sigma**2)
    if case == "activation":
        return fbar**2 * (1 - p) / p
    return np.broadcast_to(alpha**2 * tau**2, fbar.shape)


@pytest.mark.parametrize("case", ["noisy", "activation", "partial"])
def test_T3_gap_is_Lagranges_sum_of_squares(case):
    inst = make_expert_instance(4, 2, 3, seed=8)
    rng = np.random.default_rng(8)
    R, m, d = inst.R, inst.m, inst.d
    private = rng.normal(size=(R, m, d))
    common = rng.normal(size=(R, m, 2))
    fb = FeedbackModel(case=case, sigma=0.5, p=0.4, tau=0.6)
    n = 3
    exact = exact_mse(inst, fb, n, private=private, common=common)
    bf = BruteForce(inst, private=private, common=common)
    var = per_sample_variance(case, bf.fbar, inst.alpha, 0.5, 0.4, 0.6)
    gap = 0.0
    for j in range(m):
        for cell in bf.cell_lists[j]:
            v = var[cell[0], j]
            assert np.allclose(var[cell, j], v)  # constant within the cell under B
            for r, s in itertools.combinations(cell, 2):
                # full vectors: private blocks r and s are disjoint, the common part is shared
                diff = private[r, j] @ private[r, j] + private[s, j] @ private[s, j]
                diff += np.sum((common[r, j] - common[s, j]) ** 2)
                gap += v / len(cell) * diff
    gap /= n
    assert gap > 0
    np.testing.assert_allclose(exact.mse_bp - exact.mse_sg, gap, rtol=1e-10)


@pytest.mark.parametrize("case", ["noisy", "activation", "partial"])
@pytest.mark.parametrize("shared", [False, True])
def test_T3_no_gap_when_contributions_are_equal_within_cells(case, shared):
    inst = make_expert_instance(4, 1, 2, seed=9)
    rng = np.random.default_rng(9)
    cells = inst.cells()
    per_cell = rng.normal(size=(inst.m, 2**inst.k, 3))
    common = np.stack([per_cell[j, cells[:, j]] for j in range(inst.m)], axis=1)  # (R, m, 3)
    fb = FeedbackModel(case=case, shared=shared)
    exact = exact_mse(inst, fb, 2, private=np.zeros((inst.R, inst.m, inst.d)), common=common)
    assert exact.mse_bp > 0
    np.testing.assert_allclose(exact.mse_sg, exact.mse_bp, rtol=1e-12)
    # and a difference within one cell opens a gap
    common[0, 0] += 1.0
    exact = exact_mse(inst, fb, 2, private=np.zeros((inst.R, inst.m, inst.d)), common=common)
    assert exact.mse_bp - exact.mse_sg > 1e-6 * exact.mse_bp


@pytest.mark.parametrize("case,params", [("noisy", {"sigma": 0.0}), ("activation", {"p": 1.0}),
                                         ("partial", {"tau": 0.0})])
@pytest.mark.parametrize("shared", [False, True])
def test_T5_deterministic_feedback(case, params, shared):
    inst = make_expert_instance(4, 2, 3, seed=10)
    clean = exact_mse(inst, FeedbackModel(case=case, shared=shared, **params), 1)
    assert clean.mse_bp == 0.0
    assert clean.bias_sq == 0.0
    assert clean.mse_sg == 0.0
    leaky = exact_mse(inst, FeedbackModel(case=case, shared=shared, rho=0.5, **params), 1)
    bf = BruteForce(inst, 0.5)
    assert leaky.mse_bp == 0.0
    assert leaky.mse_sg == leaky.bias_sq > 0.0
    np.testing.assert_allclose(leaky.bias_sq, float(bf.bias @ bf.bias), rtol=1e-10)
    assert leaky.lambda_star == 1.0 and leaky.mse_mix == 0.0


@pytest.mark.parametrize("case", ["noisy", "activation", "partial"])
def test_T6_crossover(case):
    inst = make_expert_instance(5, 2, 3, seed=12)
    fb = FeedbackModel(case=case, rho=0.15)
    one = exact_mse(inst, fb, 1)
    n_star = crossover_n(inst, fb)
    assert n_star > 2
    # at n* the two MSE curves, formed from the estimators themselves (n = 1 moments by
    # propagation, scaled by 1/n), meet
    bf = BruteForce(inst, 0.15)
    var_bp, var_sg, _ = moments_by_propagation(bf, latent_coefficients(bf, case, False, 0.5, 0.5, 0.5), 1)
    np.testing.assert_allclose(var_bp / n_star, float(bf.bias @ bf.bias) + var_sg / n_star, rtol=1e-10)
    for n in (1, 2, int(n_star), int(n_star) + 1, 3 * int(n_star)):
        exact = exact_mse(inst, fb, n)
        np.testing.assert_allclose(exact.mse_bp, one.mse_bp / n, rtol=1e-12)
        np.testing.assert_allclose(exact.mse_sg, one.bias_sq + one.var_sg / n, rtol=1e-12)
        assert (exact.mse_sg < exact.mse_bp) == (n < n_star)
    assert crossover_n(inst, FeedbackModel(case=case)) == float("inf")


@pytest.mark.parametrize("rho", [0.0, 0.3, 3.0])
def test_T7_mixture_is_never_worse(rho):
    """MSE(lambda*) against the mixture's MSE formed from the mixed estimator on a grid of lambda."""
    inst = make_expert_instance(4, 2, 3, seed=13)
    exact = exact_mse(inst, FeedbackModel(case="partial", rho=rho), 2)
    bf = BruteForce(inst, rho)
    coef = latent_coefficients(bf, "partial", False, 0.5, 0.5, 0.5)
    grid = np.linspace(0.0, 1.0, 201)
    curve = np.array([mixture_by_propagation(bf, coef, 2, l) for l in grid])
    for l in (0.0, 0.3, 1.0):
        np.testing.assert_allclose(exact.mse_at(l), mixture_by_propagation(bf, coef, 2, l), rtol=1e-10)
    assert np.all(exact.mse_mix <= curve * (1 + 1e-10))
    np.testing.assert_allclose(exact.mse_mix, mixture_by_propagation(bf, coef, 2, exact.lambda_star), rtol=1e-10)
    assert abs(exact.lambda_star - grid[np.argmin(curve)]) <= grid[1]
    np.testing.assert_allclose(curve[0], exact.mse_sg, rtol=1e-10)
    np.testing.assert_allclose(curve[-1], exact.mse_bp, rtol=1e-10)
    if rho == 0.0:  # lambda* = 0 under B, up to rounding (V_SG and C are summed differently)
        assert exact.lambda_star < 1e-12
    else:
        assert 0.0 < exact.lambda_star < 1.0 and exact.mse_mix < min(exact.mse_bp, exact.mse_sg)


# ---------------------------------------------------------------- T9: pooled least-squares SG

def simulate_pooled(inst, sigma, n, trials, rng):
    """Per-context squared errors of BP and of the least-squares SG over all K n samples."""
    K, w = inst.K, 1.0 / inst.K
    X = np.repeat(inst.features, n, axis=0)  # (K n, p): context k's features, n times
    y = np.repeat(inst.clean_feedback(), n)[None] + rng.normal(0.0, sigma, size=(trials, K * n))
    fhat = y.reshape(trials, K, n).mean(axis=2)
    beta_hat = y @ np.linalg.pinv(X).T  # least squares
    jn2 = np.sum(inst.jacobians**2, axis=1)
    err_bp = w**2 * jn2 * (fhat - inst.clean_feedback()) ** 2
    err_sg = w**2 * jn2 * ((beta_hat - inst.beta) @ inst.features.T) ** 2
    return err_bp, err_sg


@pytest.mark.parametrize("K,p,n", [(6, 2, 2), (5, 3, 1)])
def test_pooled_against_simulation(K, p, n):
    inst = make_pooled_instance(K, p, q=3, seed=K + p)
    sigma = 0.7
    exact = exact_pooled(inst, sigma, n)
    err_bp, err_sg = simulate_pooled(inst, sigma, n, 200_000, np.random.default_rng(K * p))
    for k in range(K):
        for values, target in ((err_bp[:, k], exact.mse_bp[k]), (err_sg[:, k], exact.mse_sg[k])):
            mc, se = mean_and_se(values)
            assert abs(mc - target) < Z * se, (k, mc, target, se)


@pytest.mark.parametrize("case,n", [("noisy", 3), ("activation", 7)])
def test_with_samples_is_the_exact_mse_at_n(case, n):
    """T6: from the n = 1 values, every noise term divided by n; the same as evaluating at n (rel 1e-12)."""
    from theory.exact import with_samples
    inst, fb = make_expert_instance(4, 2, 3, seed=2), FeedbackModel(case=case, rho=0.3)
    scaled, direct = with_samples(exact_mse(inst, fb, 1), n), exact_mse(inst, fb, n)
    for key, value in direct.as_dict().items():
        assert getattr(scaled, key) == pytest.approx(value, rel=1e-12), key
    assert scaled.var_sg == pytest.approx(exact_mse(inst, fb, 1).var_sg / n, rel=1e-12)
    assert with_samples(direct, 1) == direct
    with pytest.raises(ValueError, match="n must be"):
        with_samples(direct, 0)


def test_ratio_lambda_and_crossover_at_their_edges():
    """By hand: a ratio's zero denominator gives inf (positive numerator) or nan (zero or negative); lambda* is 1
    when BP and SG coincide (zero denominator); T6's n* is inf without bias, even at a zero gap; scalars come
    back as floats, arrays as arrays."""
    from theory.exact import crossover, optimal_lambda, ratio
    assert ratio(1.0, 4.0) == 0.25 and ratio(1.0, 0.0) == math.inf and ratio(0.5, 0.0) == math.inf
    assert math.isnan(ratio(0.0, 0.0)) and math.isnan(ratio(-1.0, 0.0))
    assert ratio(1.0, 0.5) == 2.0 and type(ratio(1.0, 4.0)) is float
    out = ratio(np.array([1.0, 0.0, 3.0]), np.array([2.0, 0.0, 0.0]))
    assert isinstance(out, np.ndarray) and out[0] == 0.5 and math.isnan(out[1]) and out[2] == math.inf
    assert optimal_lambda(0.0, 1.0, 1.0, 1.0) == 1.0  # e_BP = e_SG: den = 0
    assert optimal_lambda(0.0, 2.0, 1.0, 0.0) == pytest.approx(1 / 3, rel=1e-15)
    assert optimal_lambda(0.0, 1.0, 3.0, 0.0) == 0.75 and optimal_lambda(1.0, 0.0, 0.0, 0.0) == 1.0
    assert optimal_lambda(0.0, 1.0, 4.0, 2.0) == 1.0  # the minimiser 2 clipped to 1
    assert optimal_lambda(0.0, 4.0, 1.0, 2.0) == 0.0  # the minimiser -1 clipped to 0
    assert type(optimal_lambda(0.0, 1.0, 1.0, 1.0)) is float
    assert crossover(0.0, 1.0, 1.0) == math.inf and crossover(0.0, 1.0, 2.0) == math.inf
    assert crossover(0.5, 2.0, 1.0) == 2.0 and crossover(0.25, 1.0, 2.0) == -4.0
    np.testing.assert_array_equal(crossover(np.array([0.0, 2.0]), 3.0, 1.0), [math.inf, 1.0])


def test_pooled_instance_defaults_are_three_jacobian_columns_and_seed_0():
    """The T9 study draws its instances with the defaults: a changed default would silently change them."""
    inst, ref = make_pooled_instance(4, 2), make_pooled_instance(4, 2, q=3, seed=0)
    assert inst.jacobians.shape == (4, 3)
    for a, b in ((inst.features, ref.features), (inst.jacobians, ref.jacobians), (inst.beta, ref.beta)):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(make_pooled_instance(4, 2, seed=1).beta, ref.beta)


def test_pooled_mse_by_hand_with_unequal_jacobians():
    """K = 2 contexts, one constant feature, |j_1|^2 = 4, |j_2|^2 = 1, sigma = n = 1: w^2 = 1/4, BP's MSE is
    w^2 |j_k|^2 = (1, 1/4); the fit's leverage is 1/2 in both contexts, so SG's is (1/2, 1/8)."""
    from theory.pooling import PooledInstance
    inst = PooledInstance(features=np.ones((2, 1)), jacobians=np.array([[2.0, 0.0], [0.0, 1.0]]), beta=np.ones(1))
    mse = exact_pooled(inst, 1.0, 1)
    np.testing.assert_allclose(mse.mse_bp, [1.0, 0.25], rtol=1e-15)
    np.testing.assert_allclose(mse.mse_sg, [0.5, 0.125], rtol=1e-15)


@pytest.mark.parametrize("K,p,seed,q", [(2, 2, 0, 2), (5, 1, 1, 2), (8, 3, 2, 2), (40, 4, 3, 2), (12, 2, 4, 2),
                                        (3, 1, 5, 1)])
def test_pooled_ratio_is_K_over_p(K, p, seed, q):
    inst = make_pooled_instance(K, p, q=q, seed=seed)
    for sigma, n in ((0.5, 1), (2.0, 7)):
        np.testing.assert_allclose(exact_pooled(inst, sigma, n).ratio, K / p, rtol=1e-12)


@pytest.mark.parametrize("bad, name", [({"p": 0.0}, "p"), ({"p": 1.5}, "p"), ({"sigma": -0.1}, "sigma"),
                                       ({"tau": -1.0}, "tau"), ({"case": "loud"}, "case")])
def test_feedback_model_refuses_values_outside_its_ranges(bad, name):
    """p lies in (0, 1]: 0 would divide by zero in the activation case, and p = 1 (no dropout) is allowed."""
    with pytest.raises(ValueError, match=name):
        FeedbackModel(**({"case": "activation"} | bad))
    assert FeedbackModel(case="activation", p=1.0).p == 1.0


def test_bias_is_quadratic_in_rho_as_brute_force():
    """ExactEvaluator's ||b(rho)||^2 and its rho polynomial against the brute-force bias at rho = 0.5 and
    -0.8 (the leak enters with its sign); rho_quadratic's coefficients reproduce the moments at rho
    exactly up to rounding, with and without a leak (k = d: no leak, the rho terms are exactly 0)."""
    from dataclasses import replace

    from theory.exact import ExactEvaluator

    inst = make_expert_instance(4, 2, 3, seed=10)
    ev = ExactEvaluator(inst)
    for rho in (0.5, -0.8):
        bf = BruteForce(inst, rho)
        np.testing.assert_allclose(ev.bias_sq(rho), float(bf.bias @ bf.bias), rtol=1e-12)
    fb = FeedbackModel(case="partial", tau=0.7)
    zeroed = inst.contributions().copy()
    zeroed[0] = 0.0  # state 0 contributes nothing: its block of the bias is 0 at every rho
    for ev in (ev, ExactEvaluator(inst, private=zeroed)):
        coef = ev.rho_quadratic(fb)
        for rho in (0.5, -0.8):
            np.testing.assert_allclose(coef @ [1.0, rho, rho * rho], ev.moments(replace(fb, rho=rho)), rtol=1e-12)
    flat = make_expert_instance(3, 3, 2, seed=1)
    ev_flat = ExactEvaluator(flat)
    coef = ev_flat.rho_quadratic(fb)
    np.testing.assert_array_equal(coef[1:, 1:], 0.0)
    np.testing.assert_array_equal(coef[1:, 0], ev_flat.variances(fb))


def test_grams_default_to_the_cross_expert_terms_and_the_evaluator_to_private_noise():
    """private_grams keeps the cross-expert terms of <y, y> unless told not to (full=False keeps its
    diagonal only); an evaluator built without them (the default) refuses noise shared across experts."""
    from theory.exact import ExactEvaluator, private_grams

    inst = make_expert_instance(4, 2, 3, seed=10)
    x, cells = inst.contributions(), inst.cells()
    full = private_grams(x, cells)[1]
    diag_only = private_grams(x, cells, full=False)[1]
    off = ~np.eye(inst.m, dtype=bool)
    assert np.all(full[:, off] != 0.0)
    np.testing.assert_array_equal(full[:, ~off], diag_only[:, ~off])
    with pytest.raises(ValueError, match="shared"):
        ExactEvaluator(inst).variances(FeedbackModel(case="noisy", shared=True))


@pytest.mark.parametrize("shared", [False, True])
def test_a_feedback_covariance_above_degree_2_is_refused(monkeypatch, shared):
    """The rho expansion needs a covariance quadratic in the clean feedback: one of degree 3 (planted here
    in the derivation the check reads, for the shared and the per-expert covariance) must be refused."""
    from theory import exact
    from theory.symbolic import noise

    cubic = noise.fbar1 ** 2 * noise.fbar2
    real_cov, real_var = noise.feedback_covariance, noise.feedback_variance
    if shared:
        monkeypatch.setattr(noise, "feedback_covariance", lambda case, s: cubic if s else real_cov(case, s))
    else:
        monkeypatch.setattr(noise, "feedback_variance", lambda case: cubic)
    check = exact._check_quadratic.__wrapped__
    with pytest.raises(ValueError, match="not quadratic"):
        check("noisy", shared)
    monkeypatch.setattr(noise, "feedback_covariance", real_cov)
    monkeypatch.setattr(noise, "feedback_variance", real_var)
    check("noisy", shared)
