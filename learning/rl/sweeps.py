"""E3 runs as runner tasks: one task per (environment, model, learning rate, num_envs, seed).

Layout of a results folder (`sgbp rl --out DIR`, or `<reproduce out>/e3`):
  runs/<key>.json   one finished run: its configuration and its per-update results (runner's record)
  sweeps.json       sweep name -> the keys of its runs
  runs.csv          one row per run: settings, success over the last 5 updates, normalised area
                    under the success curve, final lambda (sparsenet-sg), seconds
  updates.csv       one row per run and update: environment steps, success rate, return, length, lambda
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from learning.rl.labyrinth import EPISODE_LENGTH
from learning.rl.train import rl_config
from learning.tables import area_under_curve, csv_text, identifying_fields, load_manifest
from runner import Task, run_tasks
from runner.tasks import save_atomic

TRAIN = "learning.rl.train:train_rl"
# docs/experiments.md E3's sweep, for each environment and model
PAPER = {"lr": (2e-4, 5e-4, 1e-3, 2e-3, 4e-3), "num_envs": (20, 40), "seeds": tuple(range(6)), "updates": 300}
LAST = 5  # updates averaged for the final success rate
RUN_FIELDS = ("key", "env", "model", "lr", "num_envs", "updates", "seed")
UPDATE_FIELDS = ("key", "update", "steps", "env_steps", "success", "return", "length", "lambda_mean")


def run_key(config: dict) -> str:
    """Readable settings and seed, and a hash of the whole configuration."""
    digest = hashlib.sha1(json.dumps(config, sort_keys=True).encode()).hexdigest()[:8]
    return (f"{config['env']}_{config['model']}_lr{config['lr']:g}_n{config['num_envs']}_u{config['updates']}"
            f"_s{config['seed']}_{digest}")


def sweep_tasks(envs, models, lrs, num_envs, seeds, updates: int, extra: dict | None = None) -> list[Task]:
    """The product of the settings, one checked configuration per task."""
    tasks = []
    for env in envs:
        for model in models:
            for lr in lrs:
                for n in num_envs:
                    for seed in seeds:
                        config = rl_config(env=env, model=model, lr=float(lr), num_envs=int(n), seed=int(seed),
                                           updates=int(updates), **(extra or {}))
                        tasks.append(Task(run_key(config), TRAIN, config))
    return tasks


def run_sweep(name: str, tasks: list[Task], out: Path, progress=None, **runner) -> list[dict]:
    """Run (or resume) the tasks into out/runs, record them as sweep `name`, rewrite the tables.

    runner: run_tasks's options (workers, retries, scheduler)."""
    out = Path(out)
    manifest = load_manifest(out)
    manifest[name] = {"keys": [t.key for t in tasks]}
    save_atomic(out / "sweeps.json", json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    try:
        return run_tasks(tasks, out / "runs", progress=progress, **runner)
    finally:
        write_tables(out)


def load_runs(out: Path, sweep: str | None = None) -> dict:
    """{key: {"config", "result"}} for every finished run of the named sweep (default: of all)."""
    out = Path(out)
    manifest = load_manifest(out)
    runs = {}
    for name, entry in manifest.items():
        if sweep is not None and name != sweep:
            continue
        for key in entry["keys"]:
            path = out / "runs" / f"{key}.json"
            if key not in runs and path.exists():
                record = json.loads(path.read_text())
                runs[key] = {"config": record["config"], "result": record["result"]}
    return runs


def nominal_steps(config: dict, updates: int) -> np.ndarray:
    """Environment steps as the authors count them: updates x num_envs x episode length."""
    return np.arange(1, updates + 1) * config["num_envs"] * EPISODE_LENGTH[config["env"]]


def final_success(result: dict, last: int = LAST) -> float:
    """Mean success rate over the last `last` updates."""
    return float(np.mean(result["success"][-last:]))


def success_area(result: dict) -> float:
    """Normalised area under the success-rate curve (trapezoid over updates / their span)."""
    success = np.asarray(result["success"], float)
    return area_under_curve(np.arange(len(success), dtype=float), success)


def write_tables(out: Path) -> None:
    out = Path(out)
    if not (out / "sweeps.json").exists():
        return
    summary, updates = [], []
    runs = load_runs(out)
    fields = identifying_fields([run["config"] for run in runs.values()], RUN_FIELDS[1:])
    for key, run in sorted(runs.items()):
        c, r = run["config"], run["result"]
        lam = r.get("lambda_mean")
        summary.append([key] + [c.get(f) for f in fields]
                       + [final_success(r), success_area(r), lam[-1] if lam else "", r["seconds"], r.get("cpu_seconds")])
        steps = nominal_steps(c, len(r["success"]))
        for u in range(len(r["success"])):
            updates.append([key, u + 1, int(steps[u]), r["steps"][u], r["success"][u], r["return"][u],
                            r["length"][u], lam[u] if lam else ""])
    save_atomic(out / "runs.csv", csv_text(("key",) + fields + ("final_success", "success_auc", "final_lambda",
                                                                 "seconds", "cpu_seconds"), summary))
    save_atomic(out / "updates.csv", csv_text(UPDATE_FIELDS, updates))


def check_choices(name: str, values, allowed) -> list:
    bad = [v for v in values if v not in allowed]
    if bad or not values:
        raise ValueError(f"{name} must be a non-empty list of {', '.join(allowed)}, got {', '.join(map(str, values))}")
    return list(values)

