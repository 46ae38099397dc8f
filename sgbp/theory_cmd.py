"""`sgbp theory expert`: exact MSEs of BP, SG and the mixture on a seeded instance."""

from __future__ import annotations

import json
import math

from sgbp.args import add_expert_args, add_save_instance_arg, check_case_arg, check_output_path
from theory.exact import crossover_n, exact_mse
from theory.feedback import FeedbackModel
from theory.instance import make_expert_instance
from theory.params import check_instance_shape, check_int, check_leak

THEORY_KEYS = ("mse_bp", "mse_sg", "ratio", "bias_sq", "lambda_star", "mse_mix")


def add_parser(subparsers) -> None:
    theory = subparsers.add_parser("theory", help="exact values from the closed forms")
    models = theory.add_subparsers(dest="model", required=True, parser_class=type(theory))
    expert = models.add_parser("expert", help="the finite-partition expert model (docs/experiments.md E1)")
    add_expert_args(expert)
    add_save_instance_arg(expert)
    expert.set_defaults(run=run_expert)


def feedback_from_args(args, case: str) -> FeedbackModel:
    return FeedbackModel(case=case, sigma=args.sigma, p=args.p, tau=args.tau, rho=args.leak,
                         shared=args.shared_latent)


def json_number(value):
    """JSON has no inf or nan: a non-finite float becomes None (null)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def exact_row(inst, fb: FeedbackModel, n: int) -> dict:
    """The exact values of one configuration as a flat dict (non-finite numbers become None)."""
    exact = exact_mse(inst, fb, n)
    row = {key: exact.as_dict()[key] for key in THEORY_KEYS}
    row |= {"var_bp": exact.var_bp, "var_sg": exact.var_sg, "cov": exact.cov,
            "n_star": crossover_n(inst, fb)}
    return {key: json_number(value) for key, value in row.items()}


def run_expert(args) -> int:
    case = check_case_arg(args.case)[0]
    check_instance_shape(args.d, args.k, args.m)
    check_int("n", args.n, 1)
    fb = feedback_from_args(args, case)
    check_leak(fb.rho, args.k, args.d)
    check_output_path("save-instance", args.save_instance)
    inst = make_expert_instance(args.d, args.k, args.m, args.seed)
    if args.save_instance:
        inst.save(args.save_instance)
    config = {"case": case, "d": args.d, "k": args.k, "m": args.m, "n": args.n, "seed": args.seed,
              "sigma": fb.sigma, "p": fb.p, "tau": fb.tau, "rho": fb.rho, "shared_latent": fb.shared}
    row = exact_row(inst, fb, args.n)
    if args.json:
        print(json.dumps(config | row))
        return 0
    print("expert model, " + ", ".join(f"{key}={value}" for key, value in config.items()))
    labels = {
        "mse_bp": "MSE of BP (variance only; BP is unbiased)",
        "mse_sg": "MSE of SG (bias^2 + variance)",
        "ratio": "MSE_BP / MSE_SG",
        "bias_sq": "||bias of SG||^2",
        "var_sg": "variance of SG",
        "cov": "Cov(BP noise, SG noise)",
        "lambda_star": "optimal mixture weight lambda* (1 = BP)",
        "mse_mix": "MSE of the mixture at lambda*",
        "n_star": "crossover n* (SG better below it)",
    }
    for key, label in labels.items():
        value = row[key]
        text = "inf" if value is None else f"{value:.6g}"
        print(f"  {key:<12} {text:>14}   {label}")
    return 0
