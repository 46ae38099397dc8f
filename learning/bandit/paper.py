"""E2 at the paper's settings: the blocks of runs committed under results/paper/e2, and their checks.

Blocks, in the order they are run (each a sweep of learning.bandit.sweeps at the paper's settings,
1,500 steps, 6 seeds, probes at 10 steps of every SG run with 32 draws):
    methods        the four variants at p_flip 0.4 (C8, the reward and probe figures);
    p_flip         SG adaptive and BP at p_flip 0 to 0.4 (C8-trend), a seed's ten runs together;
    c8-12          SG adaptive and BP at p_flip 0.4, seeds 0-11 (C8-12; seeds 0-5 are the methods block's);
    p_flip-rest    SG fixed and the MLP at p_flip 0 to 0.4 (the rest of the paper's sweep);
    lr, parents, ablation   the paper's other sweeps;
    lr-low         beyond the paper: BP at 2e-4 and 1e-4, below the paper's grid (C8-tuned-wide);
    mechanism, mechanism-scaled   beyond the paper: the controls of H1-H5 (learning.bandit.hypotheses);
    controls       beyond the paper (the mechanism): SG adaptive and BP at one shared learning rate
                   (1e-3 and 5e-3), and SG adaptive with the SG started at zero.
The quick check recomputes the first PREFIX_STEPS steps of seed 0 of every method of `methods` and of the
first stored run of every other block.
"""

from __future__ import annotations

from dataclasses import replace

from learning.bandit.hypotheses import CONTROLS, FEATURE_RMS
from learning.bandit.claims import C8_12_SWEEP, c8_check, c8_trend_check, c8_tuned_check, paired_areas
from learning.bandit.sweeps import LRS, P_FLIPS, sweep_tasks
from learning.bandit.train import CONTROL_DEFAULTS, DEFAULTS, train
from learning.stored import first_of_each_block, load_plan, missing_text
from runner.target import compile_target, same_target
from theory.checks import NOT_YET, CheckResult

SEEDS = tuple(range(6))
C8_12_SEEDS = tuple(range(12))
# plain SGD (the optimiser control): a pilot of 300 steps at seed 0 over a wide grid of rates (the
# REINFORCE gradient is small, and SG's mixed one far larger), and the rate of each method with the
# largest area under its pilot reward curve
SGD_PILOT_STEPS = 300
SGD_PILOT_LRS = {"sg": (1e-4, 1e-3, 1e-2, 1e-1, 1.0), "bp": (1e-1, 1.0, 10.0, 100.0, 1000.0)}
# the pilot (sgd-pilot block, stored): BP's area is largest at 10 (0.166; 0.111 at 1 and 100); SG
# adaptive stays at chance at every rate from 1e-4 to 1 (areas 0.107 to 0.111), largest at 1
SGD_LR = {"sg": 1.0, "bp": 10.0}
# below the paper's learning-rate grid for BP, whose best of the paper's five is its smallest (C8-tuned-wide)
BP_LOW_LRS = (2e-4, 1e-4)
BASE = DEFAULTS | {"probe_points": 10, "probe_draws": 32}
PREFIX_STEPS = 100
DISCRETE = ("eval",)  # eval rewards: shares of sampled actions that are right
POINT_KEYS = ("method", "p_flip", "lr", "parents", "lam", "sg_init", "optimizer")
CONTROL_KEYS = tuple(CONTROL_DEFAULTS)  # in a point only when set


def blocks(base: dict = BASE, seeds=SEEDS) -> dict:
    """name -> (sweep name, tasks), in the order they are run."""
    def sweep(name, methods=None, extra=None):
        return name, sweep_tasks(name, base | (extra or {}), seeds, methods)

    # SG at 5e-3 and BP at 1e-3 are the methods block's own runs (same keys: stored once)
    controls = []
    for lr in (1e-3, 5e-3):
        controls += sweep_tasks("methods", base | {"lr": lr}, seeds, ("sg", "bp"))
    controls += sweep_tasks("methods", base | {"sg_init": "zero"}, seeds, ("sg",))
    pilot = [t for method, lrs in SGD_PILOT_LRS.items() for lr in lrs
             for t in sweep_tasks("methods", base | {"optimizer": "sgd", "lr": lr, "steps": SGD_PILOT_STEPS,
                                                     "probe_points": 0}, (min(seeds),), (method,))]
    sgd = [t for method, lr in SGD_LR.items()
           for t in sweep_tasks("methods", base | {"optimizer": "sgd", "lr": lr}, seeds, (method,))]
    # a seed's pairs at every p_flip finish before the next seed's start (C8-trend needs whole seeds)
    p_flip = sorted(sweep_tasks("p_flip", base, seeds, ("sg", "bp")),
                    key=lambda t: (t.config["seed"], t.config["p_flip"], t.config["method"]))
    twelve = sorted(sweep_tasks("methods", base, C8_12_SEEDS, ("sg", "bp")),
                    key=lambda t: (t.config["seed"], t.config["method"]))
    # the mechanism controls (learning.bandit.hypotheses), a seed's runs together
    mechanism = sorted([t for name, (_, _, settings) in CONTROLS.items() if name != "readout-scaled"
                        for t in sweep_tasks("methods", base | _control(settings), seeds, (settings["method"],))],
                       key=lambda t: t.config["seed"])
    scaled = [] if FEATURE_RMS is None else sweep_tasks(
        "methods", base | _control(CONTROLS["readout-scaled"][2] | {"feature_rms": FEATURE_RMS}), seeds, ("bp",))
    return {
        "methods": sweep("methods"),
        "p_flip": ("p_flip", p_flip),
        "c8-12": (C8_12_SWEEP, twelve),
        "p_flip-rest": sweep("p_flip", ("sg-fixed", "mlp")),
        "lr": sweep("lr"),
        "lr-low": ("lr", [t for lr in BP_LOW_LRS for t in sweep_tasks("methods", base | {"lr": lr}, seeds, ("bp",))]),
        "parents": sweep("parents"),
        "ablation": sweep("ablation"),
        "controls": ("controls", controls),
        "sgd-pilot": ("sgd-pilot", pilot),
        "controls-sgd": ("controls", sgd),
        "mechanism": ("mechanism", mechanism),
        "mechanism-scaled": ("mechanism", scaled),
    }


def _control(settings: dict) -> dict:
    """A control group's settings as a sweep base: the method is the sweep's."""
    return {k: v for k, v in settings.items() if k != "method"}


def manifest(plan: dict, stored: dict) -> dict:
    """The sweeps.json of the stored runs: each sweep of the paper with the keys stored so far."""
    out: dict = {}
    for _, (sweep, tasks) in plan.items():
        entry = out.setdefault(sweep, {"keys": [], "seeds": [], "points": []})
        for t in tasks:
            if t.config["seed"] not in entry["seeds"]:
                entry["seeds"] = sorted(entry["seeds"] + [t.config["seed"]])
            if t.key in stored and t.key not in entry["keys"]:
                entry["keys"].append(t.key)
                point = {k: t.config[k] for k in POINT_KEYS} | {k: t.config[k] for k in CONTROL_KEYS
                                                                  if k in t.config}
                if point not in entry["points"]:
                    entry["points"].append(point)
    return out


def prefix_view(result: dict, steps: int) -> dict:
    """Every number of a run's first `steps` steps: eval rewards, lambdas, probes."""
    view = {}
    for e in result["eval"]:
        if e["step"] <= steps:
            view[f"eval[{e['step']}]"] = e["reward"]
    for e in result.get("lambda", []):
        if e["step"] <= steps:
            for layer, value in enumerate(e["layers"]):
                view[f"lambda[{e['step']},{layer + 1}]"] = value
    for e in result.get("probes", []):
        if e["step"] <= steps:
            for layer, row in enumerate(e["layers"]):
                for name, value in row.items():
                    if value is not None:
                        view[f"probe[{e['step']},{layer + 1},{name}]"] = value
    for e in result.get("measures", []):
        if e["step"] <= steps:
            for name in ("entropy", "modal_share", "readout_moved"):
                view[f"measures[{e['step']},{name}]"] = e[name]
            for layer, row in enumerate(e["layers"]):
                for name, value in row.items():
                    view[f"measures[{e['step']},{layer + 1},{name}]"] = value
    view["n_params"] = result["n_params"]
    return view


def recompute(config: dict, steps: int) -> dict:
    return train(config, stop_after=steps)


def prefix_tasks(plan: dict, stored: dict) -> list:
    """Seed 0 of every method of the methods block, then the first stored run of every other block."""
    _, tasks = plan.get("methods", (None, []))
    chosen = [t for t in tasks if t.config["seed"] == min(SEEDS) and t.key in stored]
    return chosen + [t for t in first_of_each_block(plan, stored, {t.key for t in chosen})
                     if not target_bound(t.config) or same_target(stored[t.key]["result"].get("target"), compile_target())]


def target_bound(config: dict) -> bool:
    """A run re-checked only on its own compile target: SG with plain SGD takes steps of the SG term's size
    (1e4 to 1e6 times the gradient's), which carry the targets' rounding differences beyond the stated
    tolerance within 100 steps (measured: the controls-sgd SG run at lr 1, lambda 0.8435 against 0.8396 at
    step 79 between znver4 and znver3)."""
    return config.get("optimizer") == "sgd" and config["method"] in ("sg", "sg-fixed")


def c8_stored(plan: dict, stored: dict) -> CheckResult:
    """C8 from the stored runs, with what they cover and what of the paper's sweep is missing."""
    data = {"sweeps": manifest(plan, stored), "runs": stored}
    row = c8_check(data)
    _, methods = plan["methods"]
    pair = [t for t in methods if t.config["method"] in ("sg", "bp")]
    have = sum(t.key in stored for t in pair)
    if not paired_areas(data):
        return CheckResult(id="C8", statement=row.statement, method=NOT_YET, status=NOT_YET,
                           numbers="no stored paper-scale run of SG adaptive and BP at p_flip 0.4 "
                           "(results/paper/e2; `sgbp reproduce --full` runs them)", figure=None)
    numbers = (f"stored paper-scale runs (1,500 steps, batch 64, the paper's learning rates): {row.numbers}. "
               f"Covers seeds {sorted({stored[t.key]['config']['seed'] for t in pair if t.key in stored})} "
               f"of SG adaptive and BP at p_flip 0.4 ({have} of {len(pair)} runs); {missing_text(plan, stored)}")
    return replace(row, numbers=numbers)


def c8_12_stored(plan: dict, stored: dict) -> CheckResult:
    """C8-12: C8's criterion on the 12 seeds of the c8-12 block, with what they cover."""
    data = {"sweeps": manifest(plan, stored), "runs": stored}
    row = c8_check(data, C8_12_SWEEP, "C8-12")
    tasks = plan.get("c8-12", (None, []))[1]
    have = sum(t.key in stored for t in tasks)
    # until a seed beyond the methods block's is stored, the row would only repeat C8
    return _judged_when(row, len(paired_areas(data, C8_12_SWEEP)) > len(SEEDS),
                        f"Covers {have} of the block's {len(tasks)} runs (seeds 0-11)", figure_if_not=row.figure)


def c8_trend_stored(plan: dict, stored: dict) -> CheckResult:
    """C8-trend from the stored p_flip block, with what it covers."""
    data = {"sweeps": manifest(plan, stored), "runs": stored}
    row = c8_trend_check(data, P_FLIPS)
    tasks = plan.get("p_flip", (None, []))[1]
    have = sum(t.key in stored for t in tasks)
    below_top = any(t.key in stored and t.config["p_flip"] != max(P_FLIPS) for t in tasks)
    return _judged_when(row, below_top, f"Covers {have} of the block's {len(tasks)} runs")


def c8_tuned_stored(plan: dict, stored: dict) -> CheckResult:
    """C8-tuned from the stored lr block (the paper's five rates a method): judged once SG adaptive and BP
    have every rate and seed stored."""
    data = {"sweeps": manifest(plan, stored), "runs": stored}
    tasks = [t for t in plan.get("lr", (None, []))[1] if t.config["method"] in ("sg", "bp")]
    have = sum(t.key in stored for t in tasks)
    paper_rates = {"sg": LRS["sparse"], "bp": LRS["sparse"]}
    return _judged_when(c8_tuned_check(data, paper_rates), bool(tasks) and have == len(tasks),
                        f"Covers {have} of the lr block's {len(tasks)} runs of SG adaptive and BP")


def c8_tuned_wide_stored(plan: dict, stored: dict) -> CheckResult:
    """C8-tuned-wide: C8-tuned over the lr sweep with BP's rates below the paper's (block lr-low) added."""
    data = {"sweeps": manifest(plan, stored), "runs": stored}
    tasks = ([t for t in plan.get("lr", (None, []))[1] if t.config["method"] in ("sg", "bp")]
             + list(plan.get("lr-low", (None, []))[1]))
    have = sum(t.key in stored for t in tasks)
    low = plan.get("lr-low", (None, []))[1]
    return _judged_when(c8_tuned_check(data, row_id="C8-tuned-wide"), bool(low) and have == len(tasks),
                        f"Covers {have} of the {len(tasks)} runs of SG adaptive and BP in blocks lr and lr-low")


def _judged_when(row: CheckResult, judged: bool, coverage: str, figure_if_not: str | None = None) -> CheckResult:
    """The row with its coverage appended; not yet reproduced (with figure_if_not) while `judged` is false."""
    if judged:
        return replace(row, numbers=f"{row.numbers}. {coverage}")
    return replace(row, status=NOT_YET, method=NOT_YET, figure=figure_if_not, numbers=f"{row.numbers}. {coverage}")


def load_stored(folder, plan: dict | None = None) -> tuple[dict, dict]:
    plan = blocks() if plan is None else plan
    return plan, load_plan(folder, plan)

