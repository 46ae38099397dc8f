"""A few points of a regime map simulated with the Monte Carlo engine, beside the map's exact values.

Each point simulates BP, SG and the mixture at the map's lambda* (montecarlo.expert), on its own
noise stream derived from (seed, point row, point column), and reports the agreement
z = (MC - exact) / SE of the log ratio and of the mixture's MSE.
"""

from __future__ import annotations

import math

from montecarlo.expert import ExpertEngine
from montecarlo.rng import derived_seed
from montecarlo.stats import log_ratio_z, z_score
from theory.instance import make_expert_instance
from theory.params import check_int
from theory.regime_map import MapSpec, point_params

MAP_STREAM = 12  # keeps these noise streams apart from the checks' (montecarlo.checks)


def simulate_points(spec: MapSpec, grid: dict, points: list[tuple[int, int]], trials: int, seed: int,
                    progress=None) -> list[dict]:
    """One dict per (row, column) of `points`: the point's parameters, exact and simulated values, z.
    progress: callable (done, total) over the points."""
    check_int("mc-trials", trials, 2)
    check_int("seed", seed, 0)
    engines: dict[int, ExpertEngine] = {}
    out = []
    for iy, ix in points:
        at = point_params(grid, iy, ix)
        d = at["d"]
        if d not in engines:
            engines[d] = ExpertEngine(make_expert_instance(d, spec.k, spec.m, spec.seed))
        fb = spec.feedback(at["noise"], at["leak"])
        exact = {key: float(grid[key][iy, ix]) for key in ("mse_bp", "mse_sg", "ratio", "lambda_star", "mse_mix")}
        mc = engines[d].simulate(fb, at["n"], trials, derived_seed(seed, MAP_STREAM, iy, ix),
                                 lam=exact["lambda_star"])
        out.append(at | {
            "row": iy, "col": ix, "trials": trials, "x": float(grid["xs"][ix]), "y": float(grid["ys"][iy]),
            "exact_ratio": exact["ratio"], "exact_mse_mix": exact["mse_mix"], "lambda_star": exact["lambda_star"],
            "ratio": mc.ratio, "ratio_lo": mc.ratio_ci[0], "ratio_hi": mc.ratio_ci[1],
            "mse_mix": mc.mse_mix, "se_mix": mc.se_mix,
            "z_bp": z_score(mc.mse_bp, mc.se_bp, exact["mse_bp"]),
            "z_sg": z_score(mc.mse_sg, mc.se_sg, exact["mse_sg"]),
            "z_ratio": log_ratio_z(mc.ratio, mc.ratio_ci, exact["ratio"]) if math.isfinite(exact["ratio"]) else math.nan,
            "z_mix": z_score(mc.mse_mix, mc.se_mix, exact["mse_mix"]),
        })
        if progress is not None:
            progress(len(out), len(points))
    return out
