"""`python -m learning.paper --status`: per block of the paper-scale runs, what is stored and what is left.

Per block: runs planned and stored, the CPU-hours the stored ones took (their recorded cpu_seconds) and
an estimate of the CPU-hours the missing ones will take. A run shared by two blocks (the p_flip
sweep's 0.4 and the methods block, say) counts in both; the totals count it once.

Estimates: E2, each missing run's steps times the mean CPU seconds a step of the stored runs of its
kind (method, probes or not, readout only or not) at its number of parents, else of its kind per parent
times its parents, else ESTIMATE_E2_STEP scaled alike; E3, its updates times the mean CPU
seconds an update of the stored runs of its kind (environment, model, num_envs), else of its
environment and model at another num_envs scaled by the ratio `python -m learning.rl.bench` measures
between the two, else the bench's own (ESTIMATE_E3_UPDATE, compiled labyrinths, both cores busy).
"""

from __future__ import annotations

import numpy as np

# CPU seconds a step, from the stored 1,500-step runs with both cores busy (SG runs with probes)
ESTIMATE_E2_STEP = {"sg": 0.148, "sg-fixed": 0.118, "bp": 0.039, "mlp": 0.018}  # at PAPER_PARENTS
PAPER_PARENTS = 5
# seconds an update with the compiled labyrinths, python -m learning.rl.bench --updates 3, both cores busy;
# Explore at num_envs 40 scaled from Escape's 40 / 20 ratio
ESCAPE_20 = {"gru": 0.158, "lstm": 0.150, "sparsenet-bptt": 0.249, "sparsenet-sg": 0.465}
ESCAPE_40 = {"gru": 0.478, "lstm": 0.491, "sparsenet-bptt": 0.692, "sparsenet-sg": 1.742}
EXPLORE_20 = {"gru": 0.149, "lstm": 0.175, "sparsenet-bptt": 0.230, "sparsenet-sg": 0.387}
ESTIMATE_E3_UPDATE = {("escape", 20): ESCAPE_20, ("escape", 40): ESCAPE_40, ("explore", 20): EXPLORE_20,
                      ("explore", 40): {m: EXPLORE_20[m] * ESCAPE_40[m] / ESCAPE_20[m] for m in ESCAPE_20}}


def _e2_kind(config: dict) -> tuple:
    return config["method"], config.get("probe_points", 0) > 0, config.get("train", "all")


def mean_cost(stored: dict, kind, unit: str, per=None) -> dict:
    """Mean CPU seconds a `unit` ("steps", "updates") of the stored runs, per kind(config); with `per`, a
    function of the config, the seconds a unit divided by it too."""
    out: dict = {}
    for record in stored.values():
        cpu = record["result"].get("cpu_seconds")
        if cpu is not None:
            c = record["config"]
            out.setdefault(kind(c), []).append(cpu / c[unit] / (per(c) if per else 1))
    return {k: float(np.mean(v)) for k, v in out.items()}


def e2_estimate(configs: list[dict], stored: dict) -> float:
    """CPU seconds the E2 runs of `configs` should take.

    SparseNet's products grow with a neuron's input, 10 numbers a parent: a kind stored at the run's own
    number of parents gives its mean cost a step; else the kind's cost at the other counts, each scaled
    by parents / 5; else the fallback, scaled alike."""
    per_step = mean_cost(stored, lambda c: (*_e2_kind(c), _parent_scale(c)), "steps")
    at_paper = mean_cost(stored, _e2_kind, "steps", per=_parent_scale)

    def seconds(c: dict) -> float:
        own = per_step.get((*_e2_kind(c), _parent_scale(c)))
        if own is not None:
            return own
        return at_paper.get(_e2_kind(c), ESTIMATE_E2_STEP[c["method"]]) * _parent_scale(c)

    return float(sum(c["steps"] * seconds(c) for c in configs))


def _parent_scale(config: dict) -> float:
    """A SparseNet's cost a step relative to the paper's 5 parents (its products grow with the parents);
    1 for the MLP."""
    return 1.0 if config["method"] == "mlp" else config.get("parents", PAPER_PARENTS) / PAPER_PARENTS


def _e3_kind(config: dict) -> tuple:
    return config["env"], config["model"], config["num_envs"]


def e3_estimate(configs: list[dict], stored: dict) -> float:
    """CPU seconds the E3 runs of `configs` should take.

    Per update: the stored runs of the same environment, model and num_envs; else those at another
    num_envs scaled by the bench's ratio between the two; else the bench's own time. The bench times
    an untrained policy, whose episodes run longest, so the stored runs' mean is the better guide.
    """
    measured = mean_cost(stored, _e3_kind, "updates")

    def seconds(c: dict) -> float:
        env, model, n = _e3_kind(c)
        if (env, model, n) in measured:
            return measured[(env, model, n)]
        bench = ESTIMATE_E3_UPDATE[(env, n)][model]
        for (e, m, other), value in sorted(measured.items()):
            if (e, m) == (env, model) and (env, other) in ESTIMATE_E3_UPDATE:
                return value * bench / ESTIMATE_E3_UPDATE[(env, other)][model]
        return bench

    return float(sum(c["updates"] * seconds(c) for c in configs))


def block_status(plan: dict, stored: dict, estimate) -> list[dict]:
    """One row per block: planned, stored, CPU hours spent and left."""
    rows = []
    for name, (_, tasks) in plan.items():
        keys = list(dict.fromkeys(t.key for t in tasks))
        have = [k for k in keys if k in stored]
        missing = [t.config for t in {t.key: t for t in tasks}.values() if t.key not in stored]
        spent = sum(stored[k]["result"].get("cpu_seconds") or 0.0 for k in have)
        rows.append({"block": name, "planned": len(keys), "stored": len(have), "cpu_hours": spent / 3600,
                     "left_hours": estimate(missing, stored) / 3600})
    return rows


def status_text(experiments: dict) -> str:
    """experiments: {name: (plan, stored, estimate)} -> the table."""
    lines = [f"{'block':24s} {'stored':>7s} {'planned':>7s} {'CPU h spent':>11s} {'CPU h left':>10s}"]
    total = {"planned": set(), "stored": set(), "spent": 0.0, "left": 0.0}
    for name, (plan, stored, estimate) in experiments.items():
        for row in block_status(plan, stored, estimate):
            lines.append(f"{name + ':' + row['block']:24s} {row['stored']:7d} {row['planned']:7d} "
                         f"{row['cpu_hours']:11.2f} {row['left_hours']:10.2f}")
        keys = {t.key for _, tasks in plan.values() for t in tasks}
        missing = {t.key: t.config for _, tasks in plan.values() for t in tasks if t.key not in stored}
        total["planned"] |= {(name, k) for k in keys}
        total["stored"] |= {(name, k) for k in keys if k in stored}
        total["spent"] += sum(stored[k]["result"].get("cpu_seconds") or 0.0 for k in keys if k in stored)
        total["left"] += estimate(list(missing.values()), stored)
    lines.append(f"{'total (each run once)':24s} {len(total['stored']):7d} {len(total['planned']):7d} "
                 f"{total['spent'] / 3600:11.2f} {total['left'] / 3600:10.2f}")
    left = len(total["planned"]) - len(total["stored"])
    lines.append(f"{left} run(s) left" if left else "no run left: every block is stored")
    return "\n".join(lines)
