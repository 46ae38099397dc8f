"""E3 at the paper's settings: the blocks of runs committed under results/paper/e3, and their checks.

Blocks, in the order they are run (300 updates, 6 seeds, the paper's five learning rates):
    escape-sparsenet    SparseNet BPTT and SparseNet SG adaptive on LabyrinthEscape, num_envs 20;
    explore-sparsenet   the same on LabyrinthExplore;
    escape-rnn, explore-rnn   GRU and LSTM, num_envs 20;
    envs-40             every model and environment at num_envs 40 (the rest of the paper's sweep).
The quick check recomputes the first PREFIX_UPDATES updates of seed 0 of both SparseNet models at
learning rate 1e-3 on Escape, and of the first stored run of every other block.
"""

from __future__ import annotations

from dataclasses import replace

from learning.rl.claims import BPTT, SG, c9_check, c9_tuned_check
from learning.rl.sweeps import PAPER, sweep_tasks
from learning.rl.train import PER_UPDATE, SG_PER_UPDATE, train_rl
from learning.stored import first_of_each_block, load_plan, missing_text
from theory.checks import NOT_YET, CheckResult

PREFIX_UPDATES = 10
PREFIX_LR = 1e-3
RNN = ("gru", "lstm")
DISCRETE = ("success",)  # shares of episodes that reached the goal


# the paper's learning rates, the one of the authors' sanity run first (runs go in this order)
LRS = (1e-3,) + tuple(lr for lr in PAPER["lr"] if lr != 1e-3)


def blocks(seeds=PAPER["seeds"], updates: int = PAPER["updates"], lrs=LRS) -> dict:
    """name -> (sweep name, tasks), in the order they are run."""
    def tasks(envs, models, num_envs):
        # a learning rate's pairs (same seed, both models) finish before the next learning rate starts
        ts = sweep_tasks(envs, models, lrs, num_envs, seeds, updates)
        return sorted(ts, key=lambda t: (lrs.index(t.config["lr"]), t.config["env"], t.config["seed"]))

    return {
        "escape-sparsenet": ("paper", tasks(("escape",), (BPTT, SG), (20,))),
        "explore-sparsenet": ("paper", tasks(("explore",), (BPTT, SG), (20,))),
        "escape-rnn": ("paper", tasks(("escape",), RNN, (20,))),
        "explore-rnn": ("paper", tasks(("explore",), RNN, (20,))),
        "envs-40": ("paper", tasks(("escape", "explore"), (BPTT, SG) + RNN, (40,))),
    }


def manifest(plan: dict, stored: dict) -> dict:
    keys = []
    for _, (_, tasks) in plan.items():
        keys += [t.key for t in tasks if t.key in stored and t.key not in keys]
    return {"paper": {"keys": keys}}


def prefix_view(result: dict, updates: int) -> dict:
    """Every per-update number of a run's first `updates` updates."""
    view = {}
    for name in PER_UPDATE + SG_PER_UPDATE:
        for u, value in enumerate(result.get(name, [])[:updates]):
            view[f"{name}[{u + 1}]"] = value
    return view


def recompute(config: dict, updates: int) -> dict:
    return train_rl(config, stop_after=updates)


def prefix_tasks(plan: dict, stored: dict) -> list:
    """Seed 0 of both SparseNet models at lr 1e-3 on Escape, then the first stored run of every other block."""
    _, tasks = plan.get("escape-sparsenet", (None, []))
    chosen = [t for t in tasks if t.config["seed"] == min(PAPER["seeds"]) and t.config["lr"] == PREFIX_LR
              and t.key in stored]
    return chosen + first_of_each_block(plan, stored, {t.key for t in chosen})


def c9_stored(plan: dict, stored: dict) -> CheckResult:
    """C9 from the stored runs, with what they cover and what of the paper's sweep is missing."""
    row = c9_check(stored)
    if not any(r["config"]["model"] == SG for r in stored.values()):
        return CheckResult(id="C9", statement=row.statement, method=NOT_YET, status=NOT_YET,
                           numbers="no stored paper-scale SparseNet run (results/paper/e3; `sgbp reproduce --full` "
                           "runs them)", figure=None)
    envs = sorted({r["config"]["env"] for r in stored.values() if r["config"]["model"] == SG})
    numbers = (f"stored paper-scale runs ({PAPER['updates']} updates): {row.numbers}. Environments judged: "
                   f"{', '.join(envs)}; {missing_text(plan, stored)}")
    return replace(row, numbers=numbers)


def c9_tuned_stored(plan: dict, stored: dict) -> CheckResult:
    """C9-tuned from the stored runs: judged once every SparseNet run of the paper's sweep is stored."""
    keys = {t.key for _, (_, ts) in plan.items() for t in ts if t.config["model"] in (SG, BPTT)}
    have = len(keys & stored.keys())
    row = c9_tuned_check(stored)
    coverage = f"Covers {have} of the {len(keys)} SparseNet runs of the paper's sweep (both environments, num_envs 20 and 40)"
    if keys and have == len(keys):
        return replace(row, numbers=f"{row.numbers}. {coverage}")
    return replace(row, status=NOT_YET, method=NOT_YET, figure=None,
                   numbers=f"judged once the whole sweep is stored. {coverage}")


def load_stored(folder, plan: dict | None = None) -> tuple[dict, dict]:
    plan = blocks() if plan is None else plan
    return plan, load_plan(folder, plan)
