"""`sgbp diagnose expert`: detect conditions A and B from simulated batches and choose BP, SG or a mixture.

The batches are drawn on a seeded instance (the parameters of `sgbp theory expert`); each is
diagnosed from its samples and the structure alone (theory.diagnose), and set beside the exact
values the estimators aim at.
"""

from __future__ import annotations

import json

import numpy as np

from montecarlo.diagnose import mean_se, mix_error, run_trials, sample_batches
from montecarlo.rng import derived_seed
from sgbp.args import add_expert_args, check_case_arg
from sgbp.theory_cmd import feedback_from_args, json_number
from theory.diagnose import LEVEL, Structure, authors_lambda_limit, diagnose_instance
from theory.exact import exact_mse
from theory.instance import make_expert_instance
from theory.params import check_instance_shape, check_int, check_leak


def add_parser(subparsers) -> None:
    diag = subparsers.add_parser("diagnose", help="detect conditions A and B from batches; recommend BP, SG or a mixture")
    models = diag.add_subparsers(dest="model", required=True, parser_class=type(diag))
    expert = models.add_parser("expert", help="the finite-partition expert model (docs/experiments.md E1)")
    add_expert_args(expert)
    expert.set_defaults(n=2)
    expert.add_argument("--trials", type=int, default=200, help="batches to diagnose (default 200)")
    expert.set_defaults(run=run_expert)


def _recommended_lambda(run: dict) -> np.ndarray:
    """Per batch: 1 (BP) without A, 0 (SG) when B is not rejected, else lambda_rep."""
    lam = np.where(run["b_rejected"], run["lambda_rep"], 0.0)
    return np.where(run["a_detected"], lam, 1.0)


def diagnose_expert(inst, fb, n: int, trials: int, seed: int) -> dict:
    """One batch's full diagnosis, the exact values, and a summary over `trials` further batches."""
    st = Structure.of(inst)
    run = run_trials(inst, fb, n, trials, derived_seed(seed, 15, n), st=st)
    # a label of its own: (seed, 15, n, 0) would be (seed, 15, n), the summary's first batch (derived_seed)
    batch = sample_batches(inst, fb, n, 1, np.random.default_rng(derived_seed(seed, 15, n, 1)))[0]
    one = diagnose_instance(inst, fb, batch)
    ex = exact_mse(inst, fb, n)
    sq = (run["sq_bp"], run["sq_sg"], run["sq_x"])
    choices = {"BP": np.ones(trials), "SG": np.zeros(trials), "lambda_rep": run["lambda_rep"],
               "lambda_authors": run["lambda_authors"], "recommended": _recommended_lambda(run)}
    excess = {}
    for name, lam in choices.items():
        mean, se = mean_se(mix_error(sq, lam)) if trials > 1 else (float(mix_error(sq, lam)[0]), float("nan"))
        excess[name] = {"mean": mean - ex.mse_mix, "se": se}
    summary = {
        "trials": trials,
        "a_detected_rate": float(np.mean(run["a_detected"])),
        "b_rejected_rate": float(np.mean(run["b_rejected"])),
        "lambda_rep": dict(zip(("mean", "se"), mean_se(run["lambda_rep"]) if trials > 1 else (float(run["lambda_rep"][0]), float("nan")))),
        "lambda_authors": dict(zip(("mean", "se"), mean_se(run["lambda_authors"]) if trials > 1 else (float(run["lambda_authors"][0]), float("nan")))),
        "excess_mse_realised": excess,
        "recommended": {k: float(np.mean(_kind(run) == k)) for k in ("BP", "SG", "mixture")},
    }
    return {"exact": one.exact | {"lambda_authors_limit_R_inf": authors_lambda_limit(inst, fb, n, states=float("inf"))},
            "batch": one.diagnosis.as_dict() | {"excess_mse": one.excess}, "summary": summary}


def _kind(run: dict) -> np.ndarray:
    lam = _recommended_lambda(run)
    return np.where(lam >= 1.0, "BP", np.where(lam <= 0.0, "SG", "mixture"))


def _clean(obj):
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (float, np.floating)):
        return json_number(float(obj))
    return obj


def run_expert(args) -> int:
    case = check_case_arg(args.case)[0]
    check_instance_shape(args.d, args.k, args.m)
    check_int("n", args.n, 2, why=" (the within-state covariance needs two samples per state)")
    check_int("trials", args.trials, 1)
    check_int("seed", args.seed, 0)
    fb = feedback_from_args(args, case)
    check_leak(fb.rho, args.k, args.d)
    inst = make_expert_instance(args.d, args.k, args.m, args.seed)
    config = {"case": case, "d": args.d, "k": args.k, "m": args.m, "n": args.n, "seed": args.seed, "trials": args.trials,
              "sigma": fb.sigma, "p": fb.p, "tau": fb.tau, "rho": fb.rho, "shared_latent": fb.shared, "level": LEVEL}
    result = _clean(diagnose_expert(inst, fb, args.n, args.trials, args.seed))
    if args.json:
        print(json.dumps(config | result))
        return 0
    _print(config, result)
    return 0


def _f(x) -> str:
    return "nan" if x is None else f"{x:.4g}"


def _print(config: dict, res: dict) -> None:
    ex, b, s = res["exact"], res["batch"], res["summary"]
    print("diagnose expert, " + ", ".join(f"{k}={v}" for k, v in config.items()))
    print("one batch (estimate ± SE | exact):")
    for key, se, label in (("v_bp", "se_v_bp", "V_BP"), ("v_sg", "se_v_sg", "V_SG"), ("c", "se_c", "C"), ("B", "se_B", "||b||^2")):
        print(f"  {label:<8} {_f(b[key]):>11} ± {_f(b[se]):<10} | {_f(ex[key])}")
    print(f"  A (feedback noisy where it matters): {'holds' if b['a_holds'] else 'fails'}")
    print(f"  B (local sufficiency): {'rejected' if b['b_rejected'] else 'not rejected'} "
          f"(z = {_f(b['z_B'])} against its SE under B, level {config['level']})")
    print(f"  recommended: {b['recommended']} (lambda = {_f(b['lambda_recommended'])})")
    print(f"  lambda_rep {_f(b['lambda_rep'])}, authors' lambda {_f(b['lambda_authors'])}, lambda* {_f(ex['lambda_star'])} "
          f"(authors' large-batch limit {_f(ex['lambda_authors_limit'])})")
    print("  excess MSE over MSE(lambda*) at each weight: " + ", ".join(f"{k} {_f(v)}" for k, v in b["excess_mse"].items()))
    print(f"over {s['trials']} batches: A declared {s['a_detected_rate']:.3f}, B rejected {s['b_rejected_rate']:.3f}; "
          f"mean lambda_rep {_f(s['lambda_rep']['mean'])} ± {_f(s['lambda_rep']['se'])}, "
          f"authors' {_f(s['lambda_authors']['mean'])} ± {_f(s['lambda_authors']['se'])}")
    print("  realised excess MSE over MSE(lambda*): " + ", ".join(
        f"{k} {_f(v['mean'])} ± {_f(v['se'])}" for k, v in s["excess_mse_realised"].items()))
