"""Stored paper-scale runs: a block of them, what it covers, and whether they still reproduce.

The paper's learning claims are judged only on runs at the paper's settings, which take hours; they
are run once (resumably, by the runner) and committed as one JSON record per run under
`results/paper/<experiment>/runs/`, each with the compile target it ran on (runner.target). The quick
profile of `sgbp reproduce` does not run them again: it recomputes the first steps of a few of them
with the current code and compares every number of that prefix with the stored one, exactly when the
target is the same, else within ACROSS_TARGETS. A run that no longer reproduces fails its own row,
not the paper's claim.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from runner.target import compile_target, same_target
from runner.task import Task
from runner.tasks import load_done

# across compile targets the float32 sums round differently, and a sampled action can flip where its
# uniform draw lies within rounding of a boundary: numbers of a prefix agree to ACROSS_TARGETS
# relative (plus ACROSS_ATOL, for moments that are zero up to sampling noise, about 1e-17), and
# discrete rates (a share of sampled actions or episodes) within DISCRETE_ATOL. Measured: the first
# 100 steps of E2's SG adaptive seed 0, stored on znver4 with OpenBLAS's SkylakeX kernels and
# recomputed for Haswell (AVX2), differ by at most 9e-5 relative, eval rewards not at all; the first
# 10 updates of E3's SparseNet runs by at most 1e-6, successes and returns not at all.
ACROSS_TARGETS = 1e-3
ACROSS_ATOL = 1e-12
DISCRETE_ATOL = 0.05


def load_block(folder: Path, tasks: list[Task]) -> dict:
    """{key: {"config", "result"}} of the tasks stored under folder/runs (the missing ones left out);
    a file holding another configuration under a task's key is an error (the runner's own check)."""
    out = {}
    for task in tasks:
        result = load_done(task, Path(folder) / "runs")
        if result is not None:
            out[task.key] = {"config": json.loads(json.dumps(task.config)), "result": result}
    return out


def _close(a: float, b: float, rtol: float, atol: float) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return abs(a - b) <= atol + rtol * max(abs(a), abs(b))


def compare_numbers(stored: dict, fresh: dict, exact: bool, discrete=()) -> list[str]:
    """Mismatches between two flat {name: number} views of a prefix (the stored one's names).

    exact: same compile target, every number equal to the bit; else relative ACROSS_TARGETS, and
    DISCRETE_ATOL absolute for the names in `discrete` (rates of sampled outcomes)."""
    bad = []
    for name, a in stored.items():
        if name not in fresh:
            bad.append(f"{name}: stored {a!r}, not recomputed")
            continue
        b = fresh[name]
        if exact:
            ok = a == b or (a != a and b != b)
        else:
            atol = DISCRETE_ATOL if name.split("[")[0] in discrete else ACROSS_ATOL
            ok = _close(float(a), float(b), ACROSS_TARGETS, atol)
        if not ok:
            bad.append(f"{name}: stored {a!r}, recomputed {b!r}")
    return bad


def prefix_check(record: dict, recompute, view, length: int, discrete=()) -> dict:
    """Recompute a stored run's first `length` steps (recompute(config, length) -> result) and compare
    view(result, length) with the stored view. Returns {"key", "exact", "mismatches", "compared"}."""
    fresh = recompute(record["config"], length)
    stored_view, fresh_view = view(record["result"], length), view(fresh, length)
    exact = same_target(record["result"].get("target"), compile_target())
    return {"exact": exact, "compared": len(stored_view),
            "mismatches": compare_numbers(stored_view, fresh_view, exact, discrete)}


def load_plan(folder: Path, plan: dict) -> dict:
    """{key: record} of every run of a plan ({block: (sweep name, tasks)}) stored under folder."""
    stored = {}
    for _, (_, tasks) in plan.items():
        stored |= load_block(folder, tasks)
    return stored


def missing_text(plan: dict, stored: dict) -> str:
    """What of the plan is not stored yet, block by block."""
    missing = [f"{name} {sum(t.key not in stored for t in tasks)} of {len(tasks)}"
               for name, (_, tasks) in plan.items() if any(t.key not in stored for t in tasks)]
    return f"not yet run: {', '.join(missing)}" if missing else "every block of the plan is stored"


def first_of_each_block(plan: dict, stored: dict, taken: set) -> list:
    """The first stored run of each block that is not already taken (so each block's prefix is re-checked)."""
    out = []
    for _, (_, tasks) in plan.items():
        first = next((t for t in tasks if t.key in stored), None)
        if first is not None and first.key not in taken:
            out.append(first)
            taken = taken | {first.key}
    return out
