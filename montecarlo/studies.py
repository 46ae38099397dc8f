"""The data behind the theory figures: exact values from theory/ beside Monte Carlo estimates.

Each study returns a JSON-ready dict; figures/theory_figs.py draws it without recomputing.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from montecarlo.expert import simulate_expert
from montecarlo.pooling import simulate_pooled
from montecarlo.rng import derived_seed
from theory.exact import crossover_n, exact_mse
from theory.feedback import FeedbackModel
from theory.instance import make_expert_instance
from theory.pooling import exact_pooled, make_pooled_instance

MIXTURE_RHO = 0.3  # leak strength that puts the crossover n* near 18 for the default instance



def aligned_contributions(inst, alignment: float):
    """Private blocks scaled by sqrt(1 - c) plus, on shared parameters, sqrt(c) times one common
    contribution per expert (all states use the first state's Jacobian there).

    c = 0 is the authors' construction (orthogonal within a cell), c = 1 makes the
    contributions of every state equal.
    """
    c = float(alignment)
    private_inst = dataclasses.replace(inst, jacobians=inst.jacobians * np.sqrt(1.0 - c))
    first = inst.expert_vectors() @ inst.jacobians[0] / inst.R  # (m, d)
    common = np.broadcast_to(np.sqrt(c) * first, (inst.R,) + first.shape).copy()
    return private_inst, common


def within_cell_cosine(inst, common) -> float:
    """Mean cosine similarity of the contributions of two distinct states of one cell."""
    # private blocks of distinct states are orthogonal: only the common part overlaps
    norms = np.sqrt(np.sum(inst.contributions() ** 2, axis=2) + np.sum(common**2, axis=2))
    unit_common = common / norms[:, :, None]
    cells = inst.cells()
    total, pairs = 0.0, 0
    for j in range(inst.m):
        for z in np.unique(cells[:, j]):
            u = unit_common[cells[:, j] == z, j]
            gram = u @ u.T
            size = len(u)
            total += (gram.sum() - np.trace(gram))
            pairs += size * (size - 1)
    return total / pairs


def alignment_study(trials: int, seed: int, d: int = 6, k: int = 2, m: int = 5, n: int = 1,
                    case: str = "noisy", steps: int = 11) -> dict:
    """T3: the gap MSE_BP - MSE_SG as the contributions within a cell become aligned."""
    inst = make_expert_instance(d, k, m, seed)
    fb = FeedbackModel(case)
    points = []
    for i, c in enumerate(np.linspace(0.0, 1.0, steps)):
        private_inst, common = aligned_contributions(inst, c)
        exact = exact_mse(private_inst, fb, n, common=common)
        mc = simulate_expert(private_inst, fb, n, trials, derived_seed(seed, 3, i), common=common)
        points.append({
            "alignment": float(c),
            "cosine": within_cell_cosine(private_inst, common),
            "exact_mse_bp": exact.mse_bp, "exact_mse_sg": exact.mse_sg, "exact_ratio": exact.ratio,
            "mse_bp": mc.mse_bp, "se_bp": mc.se_bp, "mse_sg": mc.mse_sg, "se_sg": mc.se_sg,
            "ratio": mc.ratio, "ratio_lo": mc.ratio_ci[0], "ratio_hi": mc.ratio_ci[1],
        })
    return {"d": d, "k": k, "m": m, "n": n, "case": case, "trials": trials, "seed": seed,
            "cell_size": inst.cell_size, "points": points}


def mixture_study(trials: int, seed: int, d: int = 6, k: int = 2, m: int = 5, case: str = "noisy",
                  rho: float = MIXTURE_RHO, ns=(1, 2, 4, 8, 16, 32, 64, 128, 256),
                  lambda_ns=(1, 4, 16, 64), lambda_steps: int = 41) -> dict:
    """T6/T7: MSE against n for BP, SG and the mixture at lambda*, and MSE against lambda."""
    inst = make_expert_instance(d, k, m, seed)
    fb = FeedbackModel(case, rho=rho)
    by_n = []
    curves = []
    lams = np.linspace(0.0, 1.0, lambda_steps)
    for n in ns:
        exact = exact_mse(inst, fb, n)
        mc = simulate_expert(inst, fb, n, trials, derived_seed(seed, 6, n))
        by_n.append({
            "n": n, "lambda_star": exact.lambda_star,
            "exact_mse_bp": exact.mse_bp, "exact_mse_sg": exact.mse_sg, "exact_mse_mix": exact.mse_mix,
            "mse_bp": mc.mse_bp, "se_bp": mc.se_bp, "mse_sg": mc.mse_sg, "se_sg": mc.se_sg,
            "mse_mix": mc.mse_mix, "se_mix": mc.se_mix,
        })
        if n in lambda_ns:
            at = [mc.mse_at(float(lam)) for lam in lams]
            curves.append({
                "n": n, "lambda_star": exact.lambda_star, "mse_star": exact.mse_mix,
                "lambda": lams.tolist(),
                "exact": [exact.mse_at(float(lam)) for lam in lams],
                "mc": [a for a, _ in at], "se": [s for _, s in at],
            })
    return {"d": d, "k": k, "m": m, "case": case, "rho": rho, "trials": trials, "seed": seed,
            "n_star": crossover_n(inst, fb), "by_n": by_n, "curves": curves}


def adaptive_study(trials: int, seed: int, d: int = 6, k: int = 2, m: int = 5, case: str = "noisy",
                   rhos=(MIXTURE_RHO, 0.0), ns=(1, 2, 4, 8, 16, 32, 64, 128, 256)) -> dict:
    """T8: the adaptive plug-in lambda against the batch (N = R n samples) beside lambda*."""
    inst = make_expert_instance(d, k, m, seed)
    series = []
    for rho in rhos:
        fb = FeedbackModel(case, rho=rho)
        points = []
        for n in ns:
            exact = exact_mse(inst, fb, n)
            mc = simulate_expert(inst, fb, n, trials, derived_seed(seed, 8, n, int(rho * 1000)))
            points.append({
                "n": n, "batch": inst.R * n, "lambda_star": exact.lambda_star,
                "lambda_adaptive": mc.lambda_adaptive, "lambda_adaptive_se": mc.lambda_adaptive_se,
                "lambda_adaptive_sd": mc.lambda_adaptive_se * np.sqrt(mc.trials),
                "exact_mse_mix": exact.mse_mix, "mse_adaptive": mc.mse_adaptive,
                "se_adaptive": mc.se_adaptive, "exact_mse_bp": exact.mse_bp, "exact_mse_sg": exact.mse_sg,
            })
        series.append({"rho": rho, "points": points})
    return {"d": d, "k": k, "m": m, "case": case, "trials": trials, "seed": seed, "series": series}


def pooling_study(trials: int, seed: int, ps=(1, 2, 3), Ks=(4, 8, 16, 32, 64, 128, 256),
                  sigma: float = 0.5, n: int = 1) -> dict:
    """T9: the pooled-SG gain sum MSE_BP / sum MSE_SG against the number of contexts K."""
    series = []
    for p in ps:
        points = []
        for K in Ks:
            if K < p:
                continue
            inst = make_pooled_instance(K, p, seed=seed)
            exact = exact_pooled(inst, sigma, n)
            mc = simulate_pooled(inst, sigma, n, trials, derived_seed(seed, 9, p, K))
            points.append({"K": K, "exact_ratio": exact.ratio, "ratio": mc.ratio,
                           "ratio_lo": mc.ratio_ci[0], "ratio_hi": mc.ratio_ci[1]})
        series.append({"p": p, "points": points})
    return {"sigma": sigma, "n": n, "trials": trials, "seed": seed, "series": series}
