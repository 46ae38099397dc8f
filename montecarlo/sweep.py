"""Sweeps of the expert model: one row per configuration with the exact and the Monte Carlo values.

A configuration is (case, d, k, m, n, instance seed, sigma, p, tau, rho, shared latent). Its
instance is make_expert_instance(d, k, m, seed), the one `sgbp theory expert --seed S` uses,
built once per (d, k, m, seed). Its noise stream is SeedSequence([seed, d, k, n, case index])
of the sweep's seed, so a row does not depend on which other rows the sweep holds or on their
order, nor on which process or cluster worker computes it: run_sweep_tasks makes each
configuration one runner task (config_row) whose row equals run_sweep's.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
from pathlib import Path

import numpy as np

from montecarlo.expert import ExpertEngine
from montecarlo.stats import z_score
from runner import Task, run_tasks
from theory.exact import ExactMSE, exact_mse, with_samples
from theory.feedback import FeedbackModel
from theory.instance import make_expert_instance
from theory.params import CASES, check_case, check_instance_shape, check_int, check_leak

CONFIG_KEYS = ("case", "d", "k", "m", "n", "seed", "sigma", "p", "tau", "rho", "shared_latent")
ROW_KEYS = CONFIG_KEYS[:6] + ("trials",) + CONFIG_KEYS[6:] + (
    "exact_mse_bp", "exact_mse_sg", "exact_ratio", "exact_bias_sq", "exact_lambda_star", "exact_mse_mix",
    "mse_bp", "se_bp", "mse_sg", "se_sg", "mse_mix", "se_mix", "ratio", "ratio_lo", "ratio_hi",
    "z_bp", "z_sg", "z_mix", "lambda_adaptive", "lambda_adaptive_se",
)
_INT_KEYS = {"d", "k", "m", "n", "seed", "trials"}


def expert_configs(cases, ds, ks, ns, m: int = 5, seed: int = 0, sigma: float = 0.5, p: float = 0.5,
                   tau: float = 0.5, rho: float = 0.0, shared: bool = False) -> list[dict]:
    """All configurations of the grid, pairs with k > d left out; checks every parameter.

    Raises ValueError (one line naming the parameter) on a bad value, and when no (d, k) pair
    has k <= d.
    """
    cases = [check_case(c) for c in cases]
    ds, ks, ns = list(ds), list(ks), list(ns)
    for name, values in (("case", cases), ("d", ds), ("k", ks), ("n", ns)):
        if not values:
            raise ValueError(f"{name}: needs at least one value")
    for n in ns:
        check_int("n", n, 1)
    check_int("seed", seed, 0)
    pairs = [(d, k) for d in ds for k in ks if k <= d]
    if not pairs:
        raise ValueError(f"k must be <= d for at least one (d, k) pair, got d in {ds}, k in {ks}")
    for d, k in pairs:
        check_instance_shape(d, k, m)
        check_leak(rho, k, d)
    # Builds the model once to check sigma, p, tau and rho.
    FeedbackModel(case=cases[0], sigma=sigma, p=p, tau=tau, rho=rho, shared=shared)
    return [
        {"case": case, "d": d, "k": k, "m": m, "n": n, "seed": seed, "sigma": float(sigma), "p": float(p),
         "tau": float(tau), "rho": float(rho), "shared_latent": bool(shared)}
        for d, k in pairs for n in ns for case in cases
    ]


def noise_seed(seed: int, d: int, k: int, n: int, case: str) -> int:
    """The noise stream of one configuration, independent of the sweep around it."""
    words = np.random.SeedSequence([seed, d, k, n, CASES.index(case)]).generate_state(2, dtype=np.uint32)
    return int(words[0]) << 32 | int(words[1])


def feedback_of(config: dict) -> FeedbackModel:
    return FeedbackModel(case=config["case"], sigma=config["sigma"], p=config["p"], tau=config["tau"],
                         rho=config["rho"], shared=config["shared_latent"])


def run_config(engine: ExpertEngine, config: dict, trials: int, seed: int, exact_one: ExactMSE | None = None) -> dict:
    """One flat row: the configuration, the exact values and the Monte Carlo estimates.

    exact_one: the exact values of this instance and feedback model at n = 1, when known.
    """
    fb = feedback_of(config)
    n = config["n"]
    exact = with_samples(exact_one if exact_one is not None else exact_mse(engine.inst, fb, 1), n)
    mc = engine.simulate(fb, n, trials, noise_seed(seed, config["d"], config["k"], n, config["case"]),
                         lam=exact.lambda_star)
    row = {key: config[key] for key in CONFIG_KEYS} | {"trials": trials}
    row |= {
        "exact_mse_bp": exact.mse_bp, "exact_mse_sg": exact.mse_sg, "exact_ratio": exact.ratio,
        "exact_bias_sq": exact.bias_sq, "exact_lambda_star": exact.lambda_star, "exact_mse_mix": exact.mse_mix,
        "mse_bp": mc.mse_bp, "se_bp": mc.se_bp, "mse_sg": mc.mse_sg, "se_sg": mc.se_sg,
        "mse_mix": mc.mse_mix, "se_mix": mc.se_mix, "ratio": mc.ratio,
        "ratio_lo": mc.ratio_ci[0], "ratio_hi": mc.ratio_ci[1],
        "z_bp": z_score(mc.mse_bp, mc.se_bp, exact.mse_bp),
        "z_sg": z_score(mc.mse_sg, mc.se_sg, exact.mse_sg),
        "z_mix": z_score(mc.mse_mix, mc.se_mix, exact.mse_mix),
        "lambda_adaptive": mc.lambda_adaptive, "lambda_adaptive_se": mc.lambda_adaptive_se,
    }
    return {key: row[key] for key in ROW_KEYS}


def instance_key(config: dict) -> tuple[int, int, int, int]:
    """(d, k, m, seed): the arguments of make_expert_instance for a configuration."""
    return config["d"], config["k"], config["m"], config["seed"]


def run_sweep(configs: list[dict], trials: int, seed: int, progress=None, instances: dict | None = None) -> list[dict]:
    """Rows in the order of `configs`. progress(done, total) is called after each row.

    Each instance is drawn once (or taken from `instances`, keyed by instance_key), and its exact
    values computed once per feedback model (at n = 1, then scaled to each n).
    """
    check_int("trials", trials, 1)
    check_int("seed", seed, 0)
    instances = instances or {}
    by_instance: dict[tuple, list[int]] = {}
    for i, config in enumerate(configs):
        by_instance.setdefault(instance_key(config), []).append(i)
    rows: list[dict | None] = [None] * len(configs)
    done = 0
    for key, indices in by_instance.items():
        engine = ExpertEngine(instances[key] if key in instances else make_expert_instance(*key))
        exact_one: dict[FeedbackModel, ExactMSE] = {}
        for i in indices:
            fb = feedback_of(configs[i])
            if fb not in exact_one:
                exact_one[fb] = exact_mse(engine.inst, fb, 1)
            rows[i] = run_config(engine, configs[i], trials, seed, exact_one[fb])
            done += 1
            if progress is not None:
                progress(done, len(configs))
    return rows


def config_row(task: dict) -> dict:
    """The row of one configuration from {"config", "trials", "seed"}: the runner task of a sweep."""
    config = task["config"]
    engine = ExpertEngine(make_expert_instance(config["d"], config["k"], config["m"], config["seed"]))
    return run_config(engine, config, task["trials"], task["seed"])


def sweep_tasks(configs: list[dict], trials: int, seed: int) -> list[Task]:
    """One runner task per configuration. The key names the configuration and ends in a digest of
    the whole task, so a sweep with other trials or parameters never takes these results for its own."""
    tasks = []
    for config in configs:
        spec = {"config": config, "trials": trials, "seed": seed}
        digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]
        key = f"{config['case']}-d{config['d']}-k{config['k']}-m{config['m']}-n{config['n']}-{digest}"
        tasks.append(Task(key, "montecarlo.sweep:config_row", spec))
    return tasks


def run_sweep_tasks(configs: list[dict], trials: int, seed: int, out: str | Path, progress=None,
                    **runner) -> list[dict]:
    """run_sweep's rows, each configuration one runner task saved under the folder `out` as it
    finishes (a rerun resumes); runner: run_tasks's workers, retries, scheduler."""
    check_int("trials", trials, 1)
    check_int("seed", seed, 0)
    return run_tasks(sweep_tasks(configs, trials, seed), Path(out), progress=progress, **runner)


def write_csv(rows: list[dict], path: str | Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(ROW_KEYS))
        writer.writeheader()
        for row in rows:
            writer.writerow({key: _text(row[key]) for key in ROW_KEYS})


def _text(value) -> str:
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    return str(value)


def read_csv(path: str | Path) -> list[dict]:
    rows = []
    with open(path, newline="", encoding="utf-8") as f:
        for raw in csv.DictReader(f):
            row = {}
            for key, text in raw.items():
                if key == "case":
                    row[key] = text
                elif key == "shared_latent":
                    row[key] = text == "True"
                elif key in _INT_KEYS:
                    row[key] = int(text)
                else:
                    row[key] = float(text)
            rows.append(row)
    return rows
