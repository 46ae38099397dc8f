"""`sgbp explore expert`: Monte Carlo estimates of the expert model beside the exact values."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from montecarlo.sweep import expert_configs, feedback_of, instance_key, run_sweep, run_sweep_tasks, write_csv
from runner import add_runner_args, runner_options
from sgbp.args import add_expert_args, add_save_instance_arg, check_case_arg, check_output_path
from runner.progress import Progress
from sgbp.theory_cmd import exact_row, json_number
from theory.instance import make_expert_instance
from theory.params import check_int

MC_KEYS = ("mse_bp", "se_bp", "mse_sg", "se_sg", "mse_mix", "se_mix", "ratio")


def add_parser(subparsers) -> None:
    explore = subparsers.add_parser("explore", help="Monte Carlo estimates beside the exact values")
    models = explore.add_subparsers(dest="model", required=True, parser_class=type(explore))
    expert = models.add_parser(
        "expert",
        help="simulate BP, SG and the mixture on the expert model (docs/experiments.md E1)",
        description="Simulate the estimators on the seeded instance of `sgbp theory expert`. --d, --k and "
        "--n take a value, a range A-B or a comma list, and --case takes 'all': every combination "
        "is one configuration; (d, k) pairs with k > d are skipped. With --json, one configuration "
        "prints one object (exact and Monte Carlo values), several print a list of rows. With --workers "
        "above 1 or --scheduler, each configuration is one task, saved as it finishes in the folder "
        "CSV.tasks beside --out (a rerun resumes; without --out, a temporary folder); the rows are the same.",
    )
    add_expert_args(expert, sweep=True)
    expert.add_argument("--trials", type=int, default=2000, help="trials per configuration (default 2000)")
    expert.add_argument("--out", metavar="CSV", help="write one row per configuration to this CSV file")
    add_save_instance_arg(expert, " (one d and one k: a sweep over several (d, k) pairs has several instances)")
    add_runner_args(expert)
    expert.set_defaults(run=run_expert)


def run_expert(args) -> int:
    cases = check_case_arg(args.case, sweep=True)
    check_int("trials", args.trials, 1)
    check_output_path("out", args.out)
    check_output_path("save-instance", args.save_instance)
    configs = expert_configs(cases, args.d, args.k, args.n, m=args.m, seed=args.seed, sigma=args.sigma,
                             p=args.p, tau=args.tau, rho=args.leak, shared=args.shared_latent)
    keys = list(dict.fromkeys(instance_key(c) for c in configs))
    if args.save_instance and len(keys) > 1:
        raise ValueError(f"save-instance: saves one instance, got {len(keys)} (d, k) pairs; give one d and one k")
    instances = {}
    if args.save_instance or (len(configs) == 1 and args.json):
        instances[keys[0]] = make_expert_instance(*keys[0])
    if args.save_instance:
        instances[keys[0]].save(args.save_instance)
    progress = Progress("explore expert", unit="config") if len(configs) > 1 else None
    runner = runner_options(args)
    if runner["workers"] == 1 and runner["scheduler"] is None:
        rows = run_sweep(configs, args.trials, args.seed, progress=progress, instances=instances)
    elif args.out:
        rows = run_sweep_tasks(configs, args.trials, args.seed, tasks_folder(args.out), progress, **runner)
    else:
        with tempfile.TemporaryDirectory(prefix="sgbp-explore-") as folder:
            rows = run_sweep_tasks(configs, args.trials, args.seed, folder, progress, **runner)
    if args.out:
        write_csv(rows, args.out)
    if len(rows) == 1 and args.json:
        print(json.dumps(_single_json(configs[0], rows[0], instances[keys[0]])))
    elif args.json:
        print(json.dumps([{key: json_number(value) for key, value in row.items()} for row in rows]))
    else:
        _print_table(rows)
    return 0


def tasks_folder(out: str) -> Path:
    """Where the per-configuration results of a sweep written to `out` are saved: CSV.tasks beside it."""
    return Path(f"{out}.tasks")


def _single_json(config: dict, row: dict, inst) -> dict:
    fb = feedback_of(config)
    mc = {key: json_number(row[key]) for key in MC_KEYS}
    mc["ratio_ci"] = [json_number(row["ratio_lo"]), json_number(row["ratio_hi"])]
    mc |= {"lambda_adaptive": row["lambda_adaptive"], "lambda_adaptive_se": row["lambda_adaptive_se"]}
    return config | {"trials": row["trials"], "exact": exact_row(inst, fb, config["n"]), "mc": mc}


def _print_table(rows: list[dict]) -> None:
    first = rows[0]
    print(f"expert model, m={first['m']}, seed={first['seed']}, trials={first['trials']}, sigma={first['sigma']}, "
          f"p={first['p']}, tau={first['tau']}, rho={first['rho']}, shared_latent={first['shared_latent']}")
    print("z: (MC - exact) / SE; ratio interval: paired delta method, 95%")
    print(f"{'case':<10} {'d':>2} {'k':>2} {'n':>3}  {'MSE_BP':>10} {'SE':>8}  {'MSE_SG':>10} {'SE':>8}  "
          f"{'ratio':>8} {'95% interval':>19}  {'exact':>8}  {'z_bp':>5} {'z_sg':>5}")
    for r in rows:
        interval = f"[{r['ratio_lo']:.4g}, {r['ratio_hi']:.4g}]"
        print(f"{r['case']:<10} {r['d']:>2} {r['k']:>2} {r['n']:>3}  {r['mse_bp']:>10.4g} {r['se_bp']:>8.2g}  "
              f"{r['mse_sg']:>10.4g} {r['se_sg']:>8.2g}  {r['ratio']:>8.4g} {interval:>19}  "
              f"{r['exact_ratio']:>8.4g}  {r['z_bp']:>+5.1f} {r['z_sg']:>+5.1f}")
