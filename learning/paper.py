"""The learning stage of `sgbp reproduce`: the paper's claims C8 and C9 judged on stored paper-scale runs.

quick (the default): no learning run is judged on a setting the paper did not use. The stored runs
under `<paper>/e2` and `<paper>/e3` are loaded, a prefix of a few of them is recomputed with the
current code and compared (learning.stored), C8, C9 and the mechanism rows are judged from the stored
runs, and the rows C8-stored and C9-stored say whether the stored runs of E2 and E3 still reproduce.
full: every block of both experiments is run (resuming: a stored run is kept), and every stored run
is recomputed whole and compared.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from learning.bandit import paper as bandit_paper
from learning.bandit.hypotheses import hypothesis_rows
from learning.bandit.mechanism import control_rows, mechanism_rows
from learning.bandit.sweeps import write_tables as write_bandit_tables
from learning.rl import paper as rl_paper
from learning.rl.sweeps import write_tables as write_rl_tables
from learning.stored import prefix_check
from runner import run_tasks
from runner.progress import Progress
from runner.tasks import save_atomic
from theory.checks import FAIL, NOT_YET, PASS, CheckResult

PAPER_DIR = "paper"  # inside a reproduce results folder: e2/ and e3/ of the stored runs
# the committed paper-scale runs of this checkout (where `sgbp reproduce --out` elsewhere finds them)
REPOSITORY_RUNS = Path(__file__).resolve().parents[1] / "results" / PAPER_DIR
EXPERIMENTS = {
    "E2": {"module": bandit_paper, "folder": "e2", "unit": "step", "length": bandit_paper.PREFIX_STEPS,
           "tables": write_bandit_tables},
    "E3": {"module": rl_paper, "folder": "e3", "unit": "update", "length": rl_paper.PREFIX_UPDATES,
           "tables": write_rl_tables},
}


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def write_tables(folder: Path, spec: dict, plan: dict, stored: dict) -> None:
    """The sweeps.json and CSV tables of an experiment's stored runs (what the figures read)."""
    folder = Path(folder)
    if not stored:
        return
    save_atomic(folder / "sweeps.json", json.dumps(spec["module"].manifest(plan, stored), indent=1, sort_keys=True) + "\n")
    spec["tables"](folder)


ROW_IDS = {"E2": "C8-stored", "E3": "C9-stored"}


def reproduce_row(name: str, checks: list[dict], whole: bool) -> CheckResult:
    """C8-stored / C9-stored: whether the recomputed runs of the experiment match what is stored."""
    spec = EXPERIMENTS[name]
    what = "whole runs" if whole else f"the first {spec['length']} {spec['unit']}s"
    statement = f"The stored paper-scale {name} runs reproduce with the current code ({what} recomputed)"
    if not checks:
        return CheckResult(id=ROW_IDS[name], statement=statement, method=NOT_YET, status=NOT_YET,
                           numbers="no stored run to recompute", figure=None)
    bad = [c for c in checks if c["mismatches"]]
    exact = sum(c["exact"] for c in checks)
    numbers = (f"{len(checks)} run(s), {sum(c['compared'] for c in checks)} numbers compared; {exact} on the stored "
               f"runs' own compile target (compared to the bit), {len(checks) - exact} on another (within the "
               f"stated tolerance)")
    if bad:
        numbers += "; do not reproduce: " + "; ".join(f"{c['key']}: {c['mismatches'][0]}"
                                                     + (f" (and {len(c['mismatches']) - 1} more)" if len(c["mismatches"]) > 1 else "")
                                                     for c in bad)
    return CheckResult(id=ROW_IDS[name], statement=statement, method="recomputed", numbers=numbers,
                       status=FAIL if bad else PASS, figure=None)


def recheck(module, plan: dict, stored: dict, length: int | None, unit: str) -> list[dict]:
    """Recompute the prefix (length) or the whole (None) of the stored runs the check takes."""
    tasks = module.prefix_tasks(plan, stored) if length is not None else [
        t for _, (_, ts) in plan.items() for t in ts if t.key in stored]
    out, seen = [], set()
    for task in tasks:
        if task.key in seen:
            continue
        seen.add(task.key)
        record = stored[task.key]
        full_length = record["config"].get("steps", record["config"].get("updates"))
        n = min(length, full_length) if length is not None else full_length
        _say(f"recomputing {task.key}: {n} {unit}s")
        check = prefix_check(record, module.recompute, module.prefix_view, n, module.DISCRETE)
        out.append(check | {"key": task.key})
    return out


def run_blocks(folder: Path, module, plan: dict, workers: int) -> None:
    """Run (resuming) every block of the plan into folder/runs."""
    for name, (_, tasks) in plan.items():
        _say(f"{folder.name} block {name}: {len(tasks)} runs")
        run_tasks(tasks, folder / "runs", workers=workers, progress=Progress(f"{folder.name} {name}", unit="run"))


def paper_stage(out: Path, profile: str, workers: int = 2, plans: dict | None = None,
                paper_dir: Path | None = None) -> list[CheckResult]:
    """[C8, C9, C8-stored, C9-stored, the mechanism rows C8-mse ...] from the stored runs under paper_dir
    (default out/paper; full: after running every block).

    plans: {"E2": plan, "E3": plan} to use instead of the paper's (tests)."""
    if profile not in ("quick", "full"):
        raise ValueError(f"profile must be quick or full, got {profile!r}")
    rows = {}
    base = Path(paper_dir) if paper_dir is not None else Path(out) / PAPER_DIR
    for name, spec in EXPERIMENTS.items():
        module, folder = spec["module"], base / spec["folder"]
        plan = (plans or {}).get(name) or module.blocks()
        if profile == "full":
            run_blocks(folder, module, plan, workers)
        plan, stored = module.load_stored(folder, plan)
        write_tables(folder, spec, plan, stored)
        checks = recheck(module, plan, stored, spec["length"] if profile == "quick" else None, spec["unit"])
        rows[name] = {"plan": plan, "stored": stored, "checks": checks}
    e2, e3 = rows["E2"], rows["E3"]
    methods = {t.key: e2["stored"][t.key] for t in e2["plan"].get("methods", (None, []))[1] if t.key in e2["stored"]}
    return ([bandit_paper.c8_stored(e2["plan"], e2["stored"]), bandit_paper.c8_12_stored(e2["plan"], e2["stored"]),
             bandit_paper.c8_trend_stored(e2["plan"], e2["stored"]),
             bandit_paper.c8_tuned_stored(e2["plan"], e2["stored"]), bandit_paper.c8_tuned_wide_stored(e2["plan"], e2["stored"]),
             rl_paper.c9_stored(e3["plan"], e3["stored"]), rl_paper.c9_tuned_stored(e3["plan"], e3["stored"]),
             reproduce_row("E2", e2["checks"], profile == "full"), reproduce_row("E3", e3["checks"], profile == "full")]
            + mechanism_rows(methods) + control_rows(e2["stored"]) + hypothesis_rows(e2["stored"]))


def status(paper_dir: Path) -> str:
    """The --status table of the stored paper-scale runs under paper_dir."""
    from learning.status import e2_estimate, e3_estimate, status_text

    experiments = {}
    for name, estimate in (("E2", e2_estimate), ("E3", e3_estimate)):
        spec = EXPERIMENTS[name]
        plan, stored = spec["module"].load_stored(Path(paper_dir) / spec["folder"])
        experiments[name] = (plan, stored, estimate)
    return status_text(experiments)


def run_named_blocks(out: Path, names: list[str], workers: int = 2) -> None:
    """Run (resuming) the named blocks, "E2:methods E3:escape-sparsenet ...", in the order given."""
    for item in names:
        experiment, _, block = item.partition(":")
        if experiment not in EXPERIMENTS:
            raise ValueError(f"block must be E2:NAME or E3:NAME, got {item!r}")
        spec = EXPERIMENTS[experiment]
        module, folder = spec["module"], Path(out) / PAPER_DIR / spec["folder"]
        plan = module.blocks()
        if block not in plan:
            raise ValueError(f"block: {experiment} has {', '.join(plan)}, got {block!r}")
        run_blocks(folder, module, {block: plan[block]}, workers)
        _, stored = module.load_stored(folder, plan)
        write_tables(folder, spec, plan, stored)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Run blocks of the paper-scale runs into OUT/paper (resumable).")
    parser.add_argument("blocks", nargs="*", help="E2:NAME or E3:NAME, in the order to run them")
    parser.add_argument("--out", default="results", help="the results folder (default results)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--status", action="store_true",
                        help="per block: runs stored and planned, CPU-hours spent and the estimate to finish")
    args = parser.parse_args()
    if args.status:
        print(status(Path(args.out) / PAPER_DIR))
    elif not args.blocks:
        parser.error("give blocks to run (E2:NAME or E3:NAME) or --status")
    else:
        try:
            run_named_blocks(Path(args.out), args.blocks, args.workers)
        except ValueError as err:
            parser.error(str(err))

