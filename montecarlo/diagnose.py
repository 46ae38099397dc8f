"""Monte Carlo verification of T10-T12 (docs/theory.md section 6): the diagnosis on simulated batches.

Each trial draws a batch the way montecarlo.expert does (n feedback samples of every state and
expert: noisy f = fbar + sigma eps, activation f = fbar b / p, partial f = fbar - alpha_j zeta, one
latent per state sample for all experts when shared), then runs the real estimators of
theory.diagnose on it: sample covariances, cell tables, the gradients' difference, the authors'
per-sample plug-in. The true gradient is known here, so each trial also gives the realised
squared error of the mixture at a weight chosen from that same batch.

Tolerances in standard errors: agreement |MC - exact| / SE < Z_TOL (4); orderings on common random
numbers clear zero by MARGIN (3) SEs; a false-alarm rate lies within 3 binomial SEs (at the level)
plus RATE_SLACK of the level: the Cornish-Fisher critical value is exact only to the skewness term.
Noise seeds are derived from (seed, 10..12, point) with SeedSequence; numpy's PCG64 draws them.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from montecarlo.rng import derived_seed
from montecarlo.stats import z_score
from theory.checks import CheckResult, outcome
from theory.diagnose import LEVEL, Structure, authors_plugin_limit, estimate, plugin_coefficients, plugin_lambda, plugin_moments
from theory.exact import exact_mse
from theory.feedback import FeedbackModel
from theory.files import save_atomic
from theory.instance import ExpertInstance, make_expert_instance
from theory.params import CASES

Z_TOL = 4.0
MARGIN = 3.0
RATE_SE = 3.0
RATE_SLACK = 0.015
METHOD = "Monte Carlo"
BATCH = 500  # trials per vectorised block
FIGURE = "t10_t12_diagnosis"
STUDY_FILE = "t10_t12_diagnosis.json"


def sample_batches(inst: ExpertInstance, fb: FeedbackModel, n: int, trials: int, rng: np.random.Generator) -> np.ndarray:
    """trials batches of feedback samples (trials, R, m, n), drawn sample by sample."""
    fbar = inst.clean_feedback(fb.rho)[None, :, :, None]
    R, m = inst.R, inst.m
    per = 1 if fb.shared else m
    if fb.case == "noisy":
        return fbar + fb.sigma * rng.standard_normal((trials, R, per, n))
    if fb.case == "activation":
        return fbar * (rng.random((trials, R, per, n)) < fb.p) / fb.p
    return fbar - inst.alpha[None, None, :, None] * fb.tau * rng.standard_normal((trials, R, per, n))


def squared_errors(st: Structure, inst: ExpertInstance, fb: FeedbackModel, samples: np.ndarray) -> tuple:
    """Per trial ||e_BP||^2, ||e_SG||^2, <e_BP, e_SG>: block r of e_BP is X_r (fhat_r - fbar_r), of
    e_SG X_r (s_r - fbar_r)."""
    fbar = inst.clean_feedback(fb.rho)
    fhat = samples.mean(axis=-1)
    a = fhat - fbar
    b = st.cell_means(fhat) - fbar
    ga = np.matmul(st.gxx, a[..., None])[..., 0]
    gb = np.matmul(st.gxx, b[..., None])[..., 0]
    return np.sum(a * ga, axis=(-2, -1)), np.sum(b * gb, axis=(-2, -1)), np.sum(b * ga, axis=(-2, -1))


def mix_error(sq, lam):
    aa, bb, ab = sq
    return lam * lam * aa + (1 - lam) ** 2 * bb + 2 * lam * (1 - lam) * ab


def run_trials(inst: ExpertInstance, fb: FeedbackModel, n: int, trials: int, seed: int, with_se: bool = True,
               st: Structure | None = None, with_test: bool = True) -> dict:
    """The estimators and realised squared errors of `trials` batches; arrays of length trials."""
    st = Structure.of(inst) if st is None else st
    rng = np.random.default_rng(seed)
    parts = []
    with threadpool_limits(limits=1):  # many small products: one BLAS thread is faster, and reproducible
        for t0 in range(0, trials, BATCH):
            parts.append(_block(st, inst, fb, n, sample_batches(inst, fb, n, min(BATCH, trials - t0), rng),
                                with_se, with_test))
    return {key: np.concatenate([np.atleast_1d(p[key]) for p in parts]) for key in parts[0]}


def _block(st, inst, fb, n, samples, with_se, with_test) -> dict:
    """The estimators and realised squared errors of one block of batches."""
    est = estimate(st, samples, with_se=with_se, with_test=with_test) if n >= 2 else {}
    v, c, u = plugin_moments(st, samples)
    sq = squared_errors(st, inst, fb, samples)
    est |= {"plug_v": v, "plug_c": c, "plug_U": u, "sq_bp": sq[0], "sq_sg": sq[1], "sq_x": sq[2]}
    if n >= 2:
        est["sq_rep"] = mix_error(sq, est["lambda_rep"])
        est["sq_authors"] = mix_error(sq, est["lambda_authors"])
    return est


def mean_se(x) -> tuple[float, float]:
    x = np.asarray(x, dtype=float)
    return float(x.mean()), float(x.std(ddof=1) / math.sqrt(len(x)))


def replicate(inst: ExpertInstance, copies: int) -> ExpertInstance:
    """`copies` independent copies of the instance's states side by side (cells kept apart)."""
    if copies == 1:
        return inst
    return _Replicated(inst, copies)


class _Replicated:
    """Duck-typed instance: the states of `inst` repeated, each copy with its own cells."""

    def __init__(self, inst, copies):
        self.base, self.copies = inst, copies
        self.R, self.m, self.alpha = inst.R * copies, inst.m, inst.alpha

    def contributions(self):
        return np.concatenate([self.base.contributions()] * self.copies) / self.copies

    def cells(self):
        keys = self.base.cells()
        return np.concatenate([keys + q * (keys.max() + 1) for q in range(self.copies)])

    def clean_feedback(self, rho=0.0):
        return np.concatenate([self.base.clean_feedback(rho)] * self.copies)


def _g(x) -> str:
    return f"{x:.4g}"


# ---------------------------------------------------------------- T10

def check_t10(trials: int = 2000, seed: int = 0, d: int = 5, k: int = 2, m: int = 5, rho: float = 1.0,
              ns=(1, 2), copies: int = 8, details: list | None = None) -> CheckResult:
    """The plug-in's three forms against their exact expectations (T10), and its lambda against the limit."""
    inst = make_expert_instance(d, k, m, seed)
    big = replicate(inst, copies)
    st_big = Structure.build(big.contributions(), big.cells())
    parts, ok = [], True
    for ci, case in enumerate(CASES):
        fb = FeedbackModel(case=case, rho=rho)
        for n in ns:
            lim = authors_plugin_limit(inst, fb, n)
            ex = exact_mse(inst, fb, n)
            alpha, beta = plugin_coefficients(float(inst.R), n)
            EU = ex.bias_sq + ex.var_bp + ex.var_sg - 2 * ex.cov
            expect = {"plug_U": EU, "plug_v": alpha * EU + beta * n * ex.var_bp,
                      "plug_c": alpha * (lim.grad_dot_bias + ex.cov - ex.var_bp) - beta * n * ex.var_bp}
            run = run_trials(inst, fb, n, trials, derived_seed(seed, 10, ci, n), with_se=False)
            zs = {key: z_score(*mean_se(run[key]), value) for key, value in expect.items()}
            # lambda on the replicated instance (copies x R states) against the limit R -> oo
            lim_inf = authors_plugin_limit(inst, fb, n, states=math.inf)
            rb = run_trials(big, fb, n, max(50, trials // copies), derived_seed(seed, 10, ci, n, copies),
                            with_se=False, st=st_big)
            lam_big = mean_se(plugin_lambda(rb["plug_v"], rb["plug_c"], rb["plug_U"]))
            gap = abs(lam_big[0] - lim_inf.lam)
            near = gap < max(Z_TOL * lam_big[1], 0.02)
            ok &= max(abs(z) for z in zs.values()) < Z_TOL and near
            if details is not None:
                details.append({"case": case, "n": n, "z": zs, "lambda_limit": lim_inf.lam, "lambda_star": ex.lambda_star,
                                "lambda_replicated": lam_big})
            parts.append(f"{case}, n={n}: z(U, v, c) = " + ", ".join(f"{zs[k_]:+.2f}" for k_ in ("plug_U", "plug_v", "plug_c"))
                         + f"; lambda* {ex.lambda_star:.3f}, limit {lim_inf.lam:.3f}, plug-in on {copies} copies "
                         f"{lam_big[0]:.3f} ± {lam_big[1]:.3f}")
    return CheckResult(
        id="T10-mc",
        statement="Toolkit extension: the authors' plug-in's moments have the expectations of T10, and on a large "
                  "batch its lambda sits at the T10 limit, not at lambda*",
        method=METHOD,
        numbers=f"d={d}, k={k}, m={m}, rho={rho}, {trials} trials; |z| < {Z_TOL:g} for E||ubar||^2, E v, E c "
                f"against exact; lambda of the plug-in on the instance replicated {copies} times within "
                f"max({Z_TOL:g} SE, 0.02) of the R -> oo limit. " + "; ".join(parts),
        status=outcome(ok),
    )


# ---------------------------------------------------------------- T11

def check_t11(trials: int = 2000, seed: int = 0, d: int = 5, k: int = 2, m: int = 5, rho: float = 0.5,
              ns=(2, 4), copies=(1, 4, 16), details: list | None = None) -> CheckResult:
    inst = make_expert_instance(d, k, m, seed)
    st = Structure.of(inst)
    parts, ok = [], True
    names = {"v_bp": "V_BP", "v_sg": "V_SG", "c": "C", "B": "B"}
    for ci, case in enumerate(CASES):
        fb = FeedbackModel(case=case, rho=rho)
        for n in ns:
            ex = exact_mse(inst, fb, n)
            exact = {"v_bp": ex.var_bp, "v_sg": ex.var_sg, "c": ex.cov, "B": ex.bias_sq}
            run = run_trials(inst, fb, n, trials, derived_seed(seed, 11, ci, n), st=st, with_test=False)
            zs = {key: z_score(*mean_se(run[key]), exact[key]) for key in exact}
            # the SE: mean estimated variance of B_hat against its variance over trials
            var_emp = float(np.var(run["B"], ddof=1))
            var_est = mean_se(run["se_B"] ** 2)
            ratio = var_est[0] / var_emp
            ok &= max(abs(z) for z in zs.values()) < Z_TOL
            if details is not None:
                details.append({"case": case, "n": n, "z": zs, "var_ratio": ratio})
            parts.append(f"{case}, n={n}: z = " + ", ".join(f"{names[key]} {zs[key]:+.2f}" for key in zs)
                         + f"; mean SE(B_hat)^2 / Var(B_hat) = {ratio:.3f}")
    # consistency: lambda_rep - lambda* as the states grow (copies of the instance), n = 2
    fb = FeedbackModel(case="noisy", rho=rho)
    lam_star = exact_mse(inst, fb, 2).lambda_star
    rmse = []
    for K in copies:
        big = replicate(inst, K)
        stb = Structure.build(big.contributions(), big.cells())
        run = run_trials(big, fb, 2, max(100, trials // K), derived_seed(seed, 11, 9, K), with_se=False, st=stb)
        rmse.append(float(np.sqrt(np.mean((run["lambda_rep"] - lam_star) ** 2))))
    shrinks = all(b < a for a, b in zip(rmse, rmse[1:])) and rmse[-1] < 0.5 * rmse[0]
    ok &= shrinks
    return CheckResult(
        id="T11-mc",
        statement="Toolkit extension: V_BP_hat, V_SG_hat, C_hat and B_hat are unbiased on simulated batches, "
                  "and lambda_rep approaches lambda* as the number of states grows",
        method=METHOD,
        numbers=f"d={d}, k={k}, m={m}, rho={rho}, {trials} trials; |z| < {Z_TOL:g} for each estimator against "
                f"the exact value. " + "; ".join(parts) + f". Noisy, n=2, lambda* = {lam_star:.3f}: RMSE of "
                f"lambda_rep on {', '.join(map(str, copies))} copies of the states: "
                + ", ".join(f"{r:.4f}" for r in rmse) + " (must fall at every step and halve overall)",
        status=outcome(ok),
    )


# ---------------------------------------------------------------- T12 and the comparison of the two lambdas

def rate(flags) -> tuple[float, float]:
    flags = np.asarray(flags, dtype=float)
    p = flags.mean()
    return float(p), math.sqrt(max(p * (1 - p), 1e-12) / len(flags))


def check_t12(trials: int = 2000, seed: int = 0, d: int = 5, k: int = 2, m: int = 5, ns=(2, 4),
              details: list | None = None) -> CheckResult:
    inst = make_expert_instance(d, k, m, seed)
    st = Structure.of(inst)
    parts, ok = [], True
    deterministic = {"noisy": {"sigma": 0.0}, "activation": {"p": 1.0}, "partial": {"tau": 0.0}}
    for ci, case in enumerate(CASES):
        # A: never declared without noise, always with it (on the same seeds)
        quiet = run_trials(inst, FeedbackModel(case=case, rho=0.5, **deterministic[case]), 2, 200,
                           derived_seed(seed, 12, ci, 0), with_se=False, st=st)
        noisy = run_trials(inst, FeedbackModel(case=case), 2, 200, derived_seed(seed, 12, ci, 0), with_se=False, st=st)
        a_false, a_power = rate(quiet["a_detected"])[0], rate(noisy["a_detected"])[0]
        ok &= a_false == 0.0 and a_power == 1.0
        texts = [f"A: false alarms {a_false:.3f}, detected {a_power:.3f}"]
        for n in ns:
            run = run_trials(inst, FeedbackModel(case=case), n, trials, derived_seed(seed, 12, ci, n, 1), st=st)
            p, se = rate(run["b_rejected"])
            band = RATE_SE * math.sqrt(LEVEL * (1 - LEVEL) / trials) + RATE_SLACK
            ok &= abs(p - LEVEL) <= band
            if details is not None:
                details.append({"case": case, "n": n, "false_alarm": p, "se": se})
            texts.append(f"B at n={n}: false alarms {p:.4f} ± {se:.4f}")
        parts.append(f"{case}: " + ", ".join(texts))
    return CheckResult(
        id="T12-mc",
        statement="Toolkit extension: the test of A never fires without noise and always with it; the test of "
                  f"B (B_hat against its SE, Cornish-Fisher critical value) keeps its level {LEVEL:g} under B",
        method=METHOD,
        numbers=f"d={d}, k={k}, m={m}, fresh seeds, {trials} trials per point (A: 200); required: A's rates exactly "
                f"0 and 1; B's false-alarm rate within {RATE_SE:g} binomial SE (at the level) + {RATE_SLACK:g} of "
                f"{LEVEL:g}. " + "; ".join(parts),
        status=outcome(ok),
        figure=FIGURE,
    )


def compare_lambdas(inst, fb, n, trials, seed, st=None) -> dict:
    """lambda_rep against the authors' lambda on common random numbers: means, excess MSEs over lambda*."""
    run = run_trials(inst, fb, n, trials, seed, st=st, with_se=False)
    ex = exact_mse(inst, fb, n)
    rep, auth = mean_se(run["sq_rep"]), mean_se(run["sq_authors"])
    diff = mean_se(run["sq_authors"] - run["sq_rep"])
    return {"n": n, "rho": fb.rho, "lambda_star": ex.lambda_star, "mse_star": ex.mse_mix,
            "lambda_rep": mean_se(run["lambda_rep"]), "lambda_authors": mean_se(run["lambda_authors"]),
            "excess_rep": (rep[0] - ex.mse_mix, rep[1]), "excess_authors": (auth[0] - ex.mse_mix, auth[1]),
            "authors_minus_rep": diff}


def check_lambda_rep(trials: int = 2000, seed: int = 0, d: int = 5, k: int = 2, m: int = 5, rho: float = 1.0,
                     n: int = 2, details: list | None = None) -> CheckResult:
    inst = make_expert_instance(d, k, m, seed)
    st = Structure.of(inst)
    parts, ok = [], True
    for ci, case in enumerate(CASES):
        res = compare_lambdas(inst, FeedbackModel(case=case, rho=rho), n, trials, derived_seed(seed, 12, 7, ci), st=st)
        diff, se = res["authors_minus_rep"]
        clears = se > 0 and diff - MARGIN * se > 0
        ok &= clears
        if details is not None:
            details.append({"case": case} | res)
        parts.append(f"{case}: lambda* {res['lambda_star']:.3f}, mean lambda_rep {res['lambda_rep'][0]:.3f}, "
                     f"authors {res['lambda_authors'][0]:.3f}; excess MSE rep {_g(res['excess_rep'][0])} ± "
                     f"{_g(res['excess_rep'][1])}, authors {_g(res['excess_authors'][0])} ± {_g(res['excess_authors'][1])}; "
                     f"authors - rep {_g(diff)} ± {_g(se)} ({diff / se:.1f} SE)")
    return CheckResult(
        id="T11-rep",
        statement=f"Toolkit extension: with a leak at n = {n}, the mixture at lambda_rep has a smaller MSE than at "
                  "the authors' lambda (both chosen from the same batch)",
        method=METHOD,
        numbers=f"d={d}, k={k}, m={m}, rho={rho}, n={n}, {trials} trials on common random numbers; realised "
                f"squared error of each mixture, excess over the exact MSE(lambda*); required: the authors' minus "
                f"lambda_rep's more than {MARGIN:g} SE above 0. " + "; ".join(parts),
        status=outcome(ok),
        figure=FIGURE,
    )


# ---------------------------------------------------------------- the figure's data and the reproduce stage

def diagnosis_study(trials: int, seed: int, d: int = 5, k: int = 2, m: int = 5, case: str = "noisy",
                    rho: float = 1.0, ns=(2, 3, 4, 8, 16), power_ns=(2, 4), power_rhos=(0.0, 0.1, 0.2, 0.3, 0.5)) -> dict:
    inst = make_expert_instance(d, k, m, seed)
    st = Structure.of(inst)
    power_trials = max(100, trials // 3)
    series = []
    for leak in (0.0, rho):
        fb = FeedbackModel(case=case, rho=leak)
        points = [compare_lambdas(inst, fb, n, trials, derived_seed(seed, 13, n, int(leak > 0)), st=st) for n in ns]
        series.append({"rho": leak, "points": points})
    power = []
    for n in power_ns:
        pts = []
        for i, r in enumerate(power_rhos):
            run = run_trials(inst, FeedbackModel(case=case, rho=r), n, power_trials, derived_seed(seed, 14, n, i), st=st)
            p, se = rate(run["b_rejected"])
            pts.append({"rho": r, "power": p, "se": se, "B": exact_mse(inst, FeedbackModel(case=case, rho=r), n).bias_sq})
        power.append({"n": n, "points": pts})
    return {"d": d, "k": k, "m": m, "case": case, "trials": trials, "power_trials": power_trials, "seed": seed, "level": LEVEL,
            "series": series, "power": power}


PROFILE_TRIALS = {"quick": 1000, "full": 10000, "test": 60}  # trials per point


def diagnosis_checks(out: Path, profile: str, seed: int) -> list[CheckResult]:
    """The reproduce stage of T10-T12: symbolic rows, Monte Carlo rows and the figure's study,
    saved under `out` (the study and the rows, atomically) before returning the rows."""
    from theory.symbolic.results import extension_checks

    trials = PROFILE_TRIALS.get(profile, PROFILE_TRIALS["quick"])
    start = time.perf_counter()
    checks = extension_checks()
    checks += [check_t10(trials=trials, seed=seed), check_t11(trials=trials, seed=seed),
               check_lambda_rep(trials=trials, seed=seed), check_t12(trials=trials, seed=seed)]
    study = diagnosis_study(trials=trials, seed=seed)
    study["seconds"] = time.perf_counter() - start
    save_atomic(Path(out) / STUDY_FILE, json.dumps(study, indent=1) + "\n")
    save_atomic(Path(out) / "t10_t12_checks.json",
                  json.dumps([dataclasses.asdict(c) for c in checks], indent=1) + "\n")
    return checks
