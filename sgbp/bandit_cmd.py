"""`sgbp bandit`: the noisy-digit contextual bandit of docs/experiments.md E2, one configuration or a sweep."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from learning.bandit.train import DEFAULTS, METHODS, full_config
from learning.bandit.data import DATASETS, load_bandit_data
from learning.bandit.sweeps import SWEEP_HELP, SWEEP_SETS, SWEEPS, reward_curve, run_sweep, sweep_tasks
from learning.tables import area_under_curve
from learning.verdicts import mean_se
from runner import RunFailures, add_runner_args, runner_options
from sgbp.args import int_list
from runner.progress import Progress
from theory.params import check_int

# every configuration key but the seed has an option of the same name (--seeds gives the seeds)
OPTIONS = tuple(key for key in DEFAULTS if key != "seed")


def add_parser(subparsers) -> None:
    sweeps = "; ".join(f"{name}: {text}" for name, text in SWEEP_HELP.items())
    p = subparsers.add_parser(
        "bandit",
        help="train policies on the noisy-digit contextual bandit (docs/experiments.md E2)",
        description="Train the SparseNet policy with SG and adaptive lambda (sg), SG and fixed lambda (sg-fixed), "
        "BP (bp), or the MLP with BP (mlp) on the bandit whose reward 1[action = digit] is flipped with "
        "probability p_flip. Every option left out takes the paper's value. Each seed is one run; each "
        "finished run is saved at once under OUT/runs, and a rerun with the same options resumes. "
        f"Sweeps (--sweep): {sweeps}. A sweep sets its own settings (e.g. p_flip for --sweep p_flip); the "
        "other options apply to all its runs.",
    )
    p.add_argument("--sweep", default="run", metavar="NAME", help=f"one of {', '.join(SWEEPS)} (default run)")
    p.add_argument("--method", help=f"one of {', '.join(METHODS)} (default sg)")
    p.add_argument("--methods", type=lambda s: [m.strip() for m in s.split(",")], metavar="LIST",
                   help="with --sweep: the method variants to run, a comma list (default: all the sweep concerns)")
    p.add_argument("--seeds", type=int_list, default=[0], metavar="LIST", help="seeds: 0-5, 1,4 ... (default 0)")
    p.add_argument("--p-flip", type=float, help="probability in [0, 1] that the reward is flipped (default 0.4)")
    p.add_argument("--lr", type=float, help="policy learning rate (default sg 5e-3, bp 1e-3, mlp 2e-5)")
    p.add_argument("--lam", type=float, help="sg: initial lambda; sg-fixed: the fixed lambda; in [0, 1] (default 0.9)")
    p.add_argument("--lam-momentum", type=float, help="momentum of the adaptive lambda in [0, 1) (default 0.9)")
    p.add_argument("--sg-lr", type=float, help="learning rate of the SG predictors (default 5e-3)")
    p.add_argument("--parents", type=int, help="neurons of the previous layer each neuron reads (default 5)")
    p.add_argument("--layers", type=int, help="hidden layers (default 5)")
    p.add_argument("--width", type=int, help="neurons per layer (default 200)")
    p.add_argument("--neuron", type=int, help="numbers each neuron outputs (default 10)")
    p.add_argument("--slots", type=int, help="slots per neuron (default 5)")
    p.add_argument("--first-inputs", type=int,
                   help="pixels each first-layer neuron reads (default neuron x parents: 50)")
    p.add_argument("--mlp-width", type=int, help="width of the MLP's tanh layers, --layers of them (default 745)")
    p.add_argument("--batch", type=int, help="contexts per step (default 64)")
    p.add_argument("--steps", type=int, help="training steps (default 1500)")
    p.add_argument("--eval-points", type=int, help="evenly spaced evaluations of the noise-free reward (default 20)")
    p.add_argument("--eval-size", type=int, help="test images per evaluation, at most the test set (default 4000)")
    p.add_argument("--probe-points", type=int,
                   help="steps at which the gradient-MSE probes measure BP, SG and the mixture (default 0: none; "
                        "in a sweep, the SG runs only)")
    p.add_argument("--probe-draws", type=int, help="action and reward draws per probe (default 64)")
    p.add_argument("--probe-batch", type=int, help="contexts in a probe's batch (default 64)")
    p.add_argument("--data", help=f"one of {', '.join(DATASETS)} (default digits: scikit-learn's, no download)")
    p.add_argument("--mnist-dir", metavar="DIR", help="with --data mnist: the folder of the four MNIST IDX files")
    p.add_argument("--classes", type=int_list, metavar="LIST", help="digits kept as actions (default 0,1,3-9)")
    p.add_argument("--dtype", help="float32 or float64 (default float32)")
    p.add_argument("--sg-init", help="the SG predictors' initial weights: policy (N(0, 1/q), the authors'), zero, "
                   "or matched (the authors' scaled per layer so that the first predictions' rms equals BP's "
                   "feedback's on the first batch) (default policy)")
    p.add_argument("--optimizer", help="the policy's optimiser: adam (the paper's) or sgd (default adam)")
    p.add_argument("--baseline", help="mechanism control: REINFORCE's baseline, none (the paper's) or batch (the "
                   "batch's mean reward subtracted from each reward) (default none)")
    p.add_argument("--train", help="mechanism control: all, or readout (method bp: the hidden layers frozen at "
                   "their start, the logits' keys trained) (default all)")
    p.add_argument("--sg-noise", action="store_const", const=True, default=None,
                   help="mechanism control (sg, sg-fixed): the SG term replaced by Gaussian noise with the SG "
                   "prediction's rms per neuron and step")
    p.add_argument("--sg-frozen", action="store_const", const=True, default=None,
                   help="mechanism control (sg, sg-fixed): the SG predictors never updated, kept at their start")
    p.add_argument("--feature-rms", type=float, help="mechanism control (with --train readout): the frozen last "
                   "hidden layer's output rescaled to this rms")
    p.add_argument("--out", default="results/bandit", metavar="DIR",
                   help="results folder (default results/bandit; `sgbp figures` draws the stored paper-scale "
                   "runs of results/paper/e2)")
    add_runner_args(p)
    p.set_defaults(run=run_bandit)


def base_config(args) -> dict:
    """DEFAULTS overridden by the options given; a sweep's own settings may not be given."""
    if args.sweep not in SWEEPS:
        raise ValueError(f"sweep must be one of {', '.join(SWEEPS)}, got {args.sweep!r}")
    given = {key: getattr(args, key) for key in OPTIONS if getattr(args, key) is not None}
    clash = [key for key in SWEEP_SETS[args.sweep] if key in given]
    if clash:
        raise ValueError(f"--{clash[0].replace('_', '-')}: sweep {args.sweep} sets it; leave the option out")
    if args.methods is not None and args.sweep == "run":
        raise ValueError("--methods is for sweeps; a single run takes --method")
    if given.get("mnist_dir") is not None and "data" not in given:
        given["data"] = "mnist"
    if given.get("mnist_dir") is not None:
        given["mnist_dir"] = str(Path(given["mnist_dir"]).resolve())
    return dict(DEFAULTS) | given


def _check_data(config: dict) -> int:
    """Load the data once here so that a bad folder or class list fails before any run starts."""
    x_train, _, x_test, _ = load_bandit_data(config["data"], config["mnist_dir"], tuple(config["classes"]))
    pixels = x_train.shape[1]
    first = config["first_inputs"] or config["neuron"] * config["parents"]
    if first > pixels:
        raise ValueError(f"first-inputs (default neuron x parents) must be between 1 and the {pixels} pixels "
                         f"of an image, got {first}")
    return len(x_test)


def run_bandit(args) -> int:
    check_int("workers", args.workers, 1, 256)
    base = base_config(args)
    full_config(base)
    tasks = sweep_tasks(args.sweep, base, args.seeds, args.methods)
    options = runner_options(args)
    n_test = _check_data(base)
    out = Path(args.out)
    print(f"bandit {args.sweep}: {len(tasks)} run(s), data {base['data']} ({n_test} test images), results {out}/",
          file=sys.stderr)
    try:
        results = run_sweep(args.sweep, base, args.seeds, out, methods=args.methods,
                            progress=Progress(f"bandit {args.sweep}", unit="run"), **options)
    except RunFailures as err:
        print(f"sgbp: error: {err}", file=sys.stderr)
        return 1
    print_summary(tasks, results)
    print(f"tables: {out / 'runs.csv'}, {out / 'eval.csv'}, {out / 'lambda.csv'}, {out / 'probes.csv'}")
    return 0


def print_summary(tasks, results) -> None:
    """Mean and standard error over seeds of the final reward and the area under the reward curve."""
    groups: dict = {}
    for task, result in zip(tasks, results):
        c = task.config
        label = (c["method"], c["p_flip"], c["lr"], c["parents"], c["lam"])
        steps, rewards = reward_curve(result)
        groups.setdefault(label, []).append((rewards[-1], area_under_curve(steps, rewards)))
    print(f"{'method':<9} {'p_flip':>6} {'lr':>8} {'parents':>7} {'lam':>4} {'seeds':>5}  "
          f"{'final reward':>15}  {'area (mean reward)':>18}")
    for (method, p_flip, lr, parents, lam), values in groups.items():
        final, auc = np.array(values).T
        lam_text = "-" if method in ("bp", "mlp") else f"{lam:g}"
        parents_text = "-" if method == "mlp" else str(parents)
        print(f"{method:<9} {p_flip:>6g} {lr:>8g} {parents_text:>7} {lam_text:>4} {len(values):>5}  "
              f"{_mean_se(final):>15}  {_mean_se(auc):>18}")


def _mean_se(values: np.ndarray) -> str:
    mean, se = mean_se(values)
    return f"{mean:.3f}" if len(values) < 2 else f"{mean:.3f} +- {se:.3f}"
