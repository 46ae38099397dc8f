"""The paper's E2 sweeps as runner tasks: one task per configuration and seed, saved as it finishes.

A run's key is its readable settings, its seed and a hash of its whole configuration, so a run shared
by two sweeps (the p_flip sweep's 0.4 and the method comparison, say) is computed once, and runs of
other settings in the same folder never collide. `<out>/sweeps.json` records which runs make up each
sweep; the tables and figures read that.

Layout of a results folder:
  runs/<key>.json   one finished run: its task (configuration) and its result (runner's record)
  sweeps.json       sweep name -> {"keys", "points", "seeds"}
  runs.csv          one row per run: settings, final reward, area under the reward curve, seconds
  eval.csv          key, step, reward (noise-free evaluation)
  lambda.csv        key, step, layer, lambda (SparseNet with SG)
  probes.csv        key, step, layer, the gradient-MSE probe's moments
  measures.csv      key, step, the policy's entropy and modal share, per layer its movement and output rms
  (runs.csv's settings are TABLE_FIELDS and every other setting that differs between its runs)
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from learning.bandit.train import DEFAULTS, METHODS, full_config
from learning.tables import area_under_curve, csv_text, identifying_fields, load_manifest
from runner import Task, run_tasks
from runner.tasks import save_atomic

TRAIN = "learning.bandit.train:train"
SPARSE = ("sg", "sg-fixed", "bp")
P_FLIPS = (0.0, 0.1, 0.2, 0.3, 0.4)
LRS = {"sparse": (5e-4, 1e-3, 2e-3, 5e-3, 1e-2), "mlp": (5e-6, 1e-5, 2e-5, 5e-5, 1e-4)}
PARENTS = (2, 5, 8, 11, 14)
ABLATION_LAMS = (0.0, 0.5, 1.0)
SWEEP_HELP = {
    "run": "one configuration (the command's options)",
    "methods": "the method variants at the options' settings",
    "p_flip": "p_flip in {0, 0.1, 0.2, 0.3, 0.4} for each method variant",
    "lr": "policy learning rate: SparseNet {5e-4 .. 1e-2}, MLP {5e-6 .. 1e-4}",
    "parents": "parents in {2, 5, 8, 11, 14} for the SparseNet variants",
    "ablation": "lambda fixed at 0, 0.5, 1 in every layer, beside adaptive lambda",
}
SWEEPS = tuple(SWEEP_HELP)
# the settings each sweep chooses itself (the command refuses them as options)
SWEEP_SETS = {"run": (), "methods": ("method",), "p_flip": ("method", "p_flip"), "lr": ("method", "lr"),
              "parents": ("method", "parents"), "ablation": ("method", "lam")}
TABLE_FIELDS = ("key", "method", "p_flip", "lr", "parents", "lam", "seed", "steps")
PROBE_FIELDS = ("mse_bp", "mse_sg", "mse_mix", "bias_sq_sg", "var_bp", "var_sg", "cov", "lambda_star",
                "lambda_adaptive", "norm_g", "scale_bp", "scale_sg", "scale_mix", "cos_bp", "cos_sg", "cos_mix",
                "mcos_star", "mse_star", "mse_rescaled_bp", "mse_rescaled_sg", "mse_rescaled_mix", "adam_mse_bp",
                "adam_mse_sg", "adam_mse_mix", "adam_cos_bp", "adam_cos_sg", "adam_cos_mix")


def sweep_points(name: str, base: dict, methods=None) -> list[dict]:
    """The settings (without seed) of each configuration of sweep `name` around `base`.

    methods: the variants to include (default: all those the sweep concerns). A configuration whose
    learning rate the sweep does not set takes base's, or its method's default when base's is None.
    """
    if name not in SWEEPS:
        raise ValueError(f"sweep must be one of {', '.join(SWEEPS)}, got {name!r}")
    default = {"run": (base["method"],), "parents": SPARSE, "ablation": ("sg",)}.get(name, METHODS)
    methods = tuple(default if methods is None else methods)
    bad = [m for m in methods if m not in METHODS]
    if bad or not methods:
        raise ValueError(f"methods must be a non-empty list of {', '.join(METHODS)}, got {methods!r}")
    points = []
    for method in methods:
        if name in ("run", "methods"):
            points.append({"method": method})
        elif name == "p_flip":
            points += [{"method": method, "p_flip": p} for p in P_FLIPS]
        elif name == "lr":
            points += [{"method": method, "lr": r} for r in LRS["mlp" if method == "mlp" else "sparse"]]
        elif name == "parents" and method in SPARSE:
            points += [{"method": method, "parents": k} for k in PARENTS]
        elif name == "ablation" and method == "sg":
            # the adaptive reference, then lambda fixed in every layer
            points.append({"method": "sg"})
            points += [{"method": "sg-fixed", "lam": lam} for lam in ABLATION_LAMS]
    if not points:
        concerns = {"parents": SPARSE, "ablation": ("sg",)}[name]
        raise ValueError(f"methods: sweep {name} concerns {', '.join(concerns)}, got {', '.join(methods)}")
    return points


def run_key(config: dict) -> str:
    """Readable settings, seed, and a hash of the rest of the configuration."""
    rest = {k: v for k, v in config.items() if k != "seed"}
    digest = hashlib.sha1(json.dumps(rest, sort_keys=True).encode()).hexdigest()[:8]
    # the mechanism controls, when set, name themselves (the keys of the runs without them are unchanged)
    controls = "".join(f"_{name}-{config[name]}" for name in ("baseline", "train") if name in config)
    controls += "_sg-noise" if config.get("sg_noise") else ""
    controls += "_sg-frozen" if config.get("sg_frozen") else ""
    controls += "_sg-matched" if config.get("sg_init") == "matched" else ""
    controls += f"_rms{config['feature_rms']:g}" if config.get("feature_rms") is not None else ""
    return (f"{config['method']}_p{config['p_flip']:g}_lr{config['lr']:g}_k{config['parents']}"
            f"_lam{config['lam']:g}{controls}_s{config['seed']}_{digest}")


def sweep_tasks(name: str, base: dict, seeds, methods=None) -> list[Task]:
    """One task per configuration of the sweep and seed; base: configuration keys other than the sweep's.

    The probes compare BP, SG and the mixture inside SparseNet trained with SG: in a sweep of several
    methods only the SG runs get them (a single run takes base's probe_points as it is).
    """
    tasks = []
    for point in sweep_points(name, base, methods):
        if name != "run" and point["method"] not in ("sg", "sg-fixed"):
            point = point | {"probe_points": 0}
        for seed in seeds:
            config = full_config(base | point | {"seed": int(seed)})
            tasks.append(Task(run_key(config), TRAIN, config))
    return tasks


def run_sweep(name: str, base: dict, seeds, out: Path, methods=None, progress=None, **runner) -> list[dict]:
    """Run (or resume) sweep `name`; record it in sweeps.json; rewrite the tables; return its results.

    runner: run_tasks's options (workers, retries, scheduler)."""
    out = Path(out)
    tasks = sweep_tasks(name, base, seeds, methods)
    manifest = load_manifest(out)
    entry = {"keys": [t.key for t in tasks], "seeds": [int(s) for s in seeds],
             "points": sweep_points(name, base, methods)}
    if name == "run" and name in manifest:
        # single runs accumulate: each command adds its runs to the tables
        old = manifest[name]
        entry = {"keys": list(dict.fromkeys(old["keys"] + entry["keys"])),
                 "seeds": sorted(set(old["seeds"]) | set(entry["seeds"])), "points": old["points"] + entry["points"]}
    manifest[name] = entry
    # recorded first, so the tables of an interrupted sweep still list the runs it finished
    save_atomic(out / "sweeps.json", json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    try:
        results = run_tasks(tasks, out / "runs", progress=progress, **runner)
    finally:
        write_tables(out)
    return results


def load_runs(out: Path) -> dict:
    """{"sweeps": manifest, "runs": {key: {"config", "result"}}} for every finished run of every sweep."""
    out = Path(out)
    manifest = json.loads((out / "sweeps.json").read_text())
    runs = {}
    for sweep in manifest.values():
        for key in sweep["keys"]:
            path = out / "runs" / f"{key}.json"
            if key not in runs and path.exists():
                record = json.loads(path.read_text())
                runs[key] = {"config": record["config"], "result": record["result"]}
    return {"sweeps": manifest, "runs": runs}


def reward_curve(result: dict) -> tuple[np.ndarray, np.ndarray]:
    steps = np.array([e["step"] for e in result["eval"]], dtype=float)
    rewards = np.array([e["reward"] for e in result["eval"]], dtype=float)
    return steps, rewards


def write_tables(out: Path) -> None:
    """runs.csv, eval.csv, lambda.csv, probes.csv from the finished runs of every recorded sweep."""
    out = Path(out)
    if not (out / "sweeps.json").exists():
        return
    runs = load_runs(out)["runs"]
    summary, evals, lams, probes, measures = [], [], [], [], []
    fields = identifying_fields([run["config"] for run in runs.values()], TABLE_FIELDS[1:], DEFAULTS)
    for key, run in sorted(runs.items()):
        config, result = run["config"], run["result"]
        steps, rewards = reward_curve(result)
        summary.append([key] + [config.get(f, DEFAULTS.get(f)) for f in fields]
                       + [rewards[-1], area_under_curve(steps, rewards), result.get("seconds"), result.get("cpu_seconds")])
        evals += [[key, int(s), r] for s, r in zip(steps, rewards)]
        for entry in result.get("lambda", []):
            lams += [[key, entry["step"], layer + 1, value] for layer, value in enumerate(entry["layers"])]
        for entry in result.get("probes", []):
            probes += [[key, entry["step"], layer + 1] + [m.get(f) for f in PROBE_FIELDS]
                       for layer, m in enumerate(entry["layers"])]
        for m in result.get("measures", []):
            measures += [[key, m["step"], m["entropy"], m["modal_share"], m["readout_moved"], layer + 1, row["moved"],
                          row["rms"]] for layer, row in enumerate(m["layers"])]
    save_atomic(out / "runs.csv", csv_text(("key",) + fields + ("final_reward", "auc", "seconds", "cpu_seconds"),
                                           summary))
    save_atomic(out / "measures.csv", csv_text(("key", "step", "entropy", "modal_share", "readout_moved", "layer",
                                                "moved", "rms"), measures))
    save_atomic(out / "eval.csv", csv_text(("key", "step", "reward"), evals))
    save_atomic(out / "lambda.csv", csv_text(("key", "step", "layer", "lambda"), lams))
    save_atomic(out / "probes.csv", csv_text(("key", "step", "layer") + PROBE_FIELDS, probes))
