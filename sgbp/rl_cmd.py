"""`sgbp rl`: REINFORCE on POPGym's labyrinths with GRU, LSTM and the recurrent SparseNet (E3)."""

from __future__ import annotations

import argparse
from pathlib import Path

from learning.rl import train as rl
from learning.rl.labyrinth import ENVS
from learning.rl.models import MODELS
from learning.rl.sweeps import PAPER, check_choices, final_success, load_runs, run_sweep, success_area, sweep_tasks
from runner import add_runner_args, runner_options
from sgbp.args import int_list
from runner.progress import Progress


def float_list(text: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, got {text!r}") from None


def name_list(text: str) -> list[str]:
    return [x.strip() for x in text.split(",")]


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("rl", help="REINFORCE on POPGym labyrinths: GRU, LSTM, SparseNet with BPTT or SG (E3)",
                              description="REINFORCE on POPGym's LabyrinthEscape and LabyrinthExplore (docs/experiments.md "
                              "E3): every combination of the listed settings is one run; finished runs are saved "
                              "and skipped when the command is run again.")
    p.add_argument("--env", type=name_list, default=None, help=f"{', '.join(ENVS)} or all (default escape)")
    p.add_argument("--model", type=name_list, default=None,
                   help=f"comma list of {', '.join(MODELS)}, or all (default sparsenet-bptt)")
    p.add_argument("--lr", type=float_list, default=None, help="Adam learning rates, comma list (default 1e-3)")
    p.add_argument("--num-envs", type=int_list, default=None, help="episodes per update, list (default 20)")
    p.add_argument("--updates", type=int, default=None, help="updates per run (default 300)")
    p.add_argument("--seeds", type=int_list, default=None, help="seeds, e.g. 0-5 (default 0)")
    p.add_argument("--sg-lr", type=float, default=rl.DEFAULTS["sg_lr"],
                   help=f"sparsenet-sg: learning rate of the SG predictors (default {rl.DEFAULTS['sg_lr']:g})")
    p.add_argument("--sweep", choices=("paper",), default=None,
                   help="paper: docs/experiments.md E3's sweep (learning rates 2e-4..4e-3, num_envs 20 and 40, seeds 0-5, "
                   "300 updates, all models, both environments) for the settings not given")
    p.add_argument("--out", default="results/rl", metavar="DIR", help="results folder (default results/rl)")
    add_runner_args(p)
    p.set_defaults(run=run_rl)


def settings(args) -> dict:
    """The lists to combine: given options, else the paper's sweep (--sweep paper), else one run."""
    paper = args.sweep == "paper"
    envs = args.env or (list(ENVS) if paper else ["escape"])
    models = args.model or (list(MODELS) if paper else ["sparsenet-bptt"])
    if envs == ["all"]:
        envs = list(ENVS)
    if models == ["all"]:
        models = list(MODELS)
    return {
        "envs": check_choices("env", envs, ENVS),
        "models": check_choices("model", models, MODELS),
        "lrs": args.lr or (list(PAPER["lr"]) if paper else [rl.DEFAULTS["lr"]]),
        "num_envs": args.num_envs or (list(PAPER["num_envs"]) if paper else [rl.DEFAULTS["num_envs"]]),
        "seeds": args.seeds if args.seeds is not None else (list(PAPER["seeds"]) if paper else [0]),
        "updates": args.updates if args.updates is not None else PAPER["updates"],
    }


def run_rl(args) -> int:
    s = settings(args)
    tasks = sweep_tasks(s["envs"], s["models"], s["lrs"], s["num_envs"], s["seeds"], s["updates"],
                        extra={"sg_lr": args.sg_lr})
    out = Path(args.out)
    options = runner_options(args)
    bar = Progress(f"E3 RL, {len(tasks)} run(s)", unit="update")
    total = len(tasks) * s["updates"]
    finished = 0

    def runs_done(done: int, _total: int) -> None:
        nonlocal finished
        finished = done
        bar(done * s["updates"], total)

    if options["workers"] == 1:
        # in this process: the bar moves with every update
        rl.on_update = lambda u: bar(finished * s["updates"] + u, total)
    try:
        run_sweep("rl", tasks, out, progress=runs_done, **options)
    finally:
        rl.on_update = None
    runs = load_runs(out, "rl")
    print(f"{'env':8s} {'model':15s} {'lr':>8s} {'envs':>5s} {'seed':>4s} {'last-5 success':>15s} "
          f"{'success area':>13s} {'seconds':>8s}")
    for task in tasks:
        c, r = task.config, runs[task.key]["result"]
        print(f"{c['env']:8s} {c['model']:15s} {c['lr']:8g} {c['num_envs']:5d} {c['seed']:4d} "
              f"{final_success(r):15.3f} {success_area(r):13.3f} {r['seconds']:8.1f}")
    print(f"per-update results: {out / 'updates.csv'}; per run: {out / 'runs.csv'}")
    return 0
