"""`sgbp reproduce` and `sgbp figures`: the paper's figures and paper_checks.md.

reproduce runs the E1 sweep, the theory studies and every check, re-checks the stored paper-scale
E2 and E3 runs and judges the paper's learning claims from them (learning.paper), saves the results
(CSV/JSON) first, then draws the figures from the saved files and writes the report.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import figures
from learning import sweep_summary
from learning.verdicts import experiments_claim
from learning.paper import PAPER_DIR, REPOSITORY_RUNS, paper_stage
from montecarlo import claims, studies
from montecarlo.checks import monte_carlo_checks
from montecarlo.diagnose import diagnosis_checks
from montecarlo.sweep import expert_configs, run_sweep, run_sweep_tasks, write_csv
from runner import add_runner_args, runner_options
from sgbp import map_cmd
from runner.progress import Progress
from sgbp.report import failed, find_check, load_checks, own_row, rows_of, save_checks, tally, write_report
from theory.checks import CheckResult, outcome
from theory.params import CASES, check_int

# trials per configuration of the E1 sweep, per point of each study, and the scale of the T-checks
PROFILES = {
    "quick": {"sweep": 10000, "study": 20000, "checks": 2},
    "full": {"sweep": 100000, "study": 200000, "checks": 20},
}
E1 = {"ds": range(4, 13), "ks": (2, 3, 4), "ns": (1, 2, 3, 4), "m": 5}
STUDIES = {
    "alignment": studies.alignment_study,
    "mixture": studies.mixture_study,
    "adaptive": studies.adaptive_study,
    "pooling": studies.pooling_study,
}


def add_parser(subparsers) -> None:
    rep = subparsers.add_parser("reproduce", help="run the E1 sweep and every check; write figures and paper_checks.md")
    rep.add_argument("--full", action="store_true",
                     help="ten times the trials of the quick profile; every block of the paper-scale E2 and E3 "
                     "runs under OUT/paper run (resuming: stored runs are kept; the whole sweeps of both papers' "
                     "experiments take days on 2 cores), and every stored run recomputed whole and compared")
    rep.add_argument("--out", default="results", metavar="DIR", help="where results and figures go (default results)")
    rep.add_argument("--report", default="paper_checks.md", metavar="PATH", help="the report to write (default paper_checks.md)")
    rep.add_argument("--seed", type=int, default=0, help="seed of every instance and of the noise (default 0)")
    rep.add_argument("--paper-runs", metavar="DIR", default=None,
                     help="the stored paper-scale runs (e2/, e3/) the learning claims are judged on (default: this "
                     "checkout's results/paper, else OUT/paper)")
    rep.add_argument("--strict", action="store_true",
                     help="exit 1 when any row FAILs, the paper's claims included (default: only the toolkit's own "
                     "rows, T-rows and the stored runs' re-check, make the exit status 1)")
    add_runner_args(rep)
    rep.set_defaults(run=run_reproduce)
    fig = subparsers.add_parser("figures", help="redraw figures from saved results")
    fig.add_argument("names", nargs="*", metavar="NAME", help=f"figures to draw (default all): {', '.join(figures.FIGURES)}")
    fig.add_argument("--out", default="results", metavar="DIR", help="the results folder (default results)")
    fig.add_argument("--paper-runs", metavar="DIR", default=None,
                     help="the stored paper-scale runs (default: this checkout's results/paper, else OUT/paper)")
    fig.set_defaults(run=run_figures)


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def run_reproduce(args) -> int:
    check_int("seed", args.seed, 0)
    profile = "full" if args.full else "quick"
    paper = Path(args.paper_runs) if args.paper_runs else default_paper_runs(Path(args.out))
    if args.paper_runs and not paper.is_dir():
        raise ValueError(f"paper-runs: {paper} is not a folder")
    _say(f"stored paper-scale runs: {paper}")
    checks = reproduce(Path(args.out), Path(args.report), PROFILES[profile], args.seed, profile,
                       runner=runner_options(args), paper_dir=paper)
    return closing_summary(checks, args.report, args.out, args.strict)


def closing_summary(checks: list[CheckResult], report, out, strict: bool) -> int:
    """Print what was found and return the exit status: 1 when one of the toolkit's own rows FAILs
    (a T-row, or stored runs that no longer reproduce), or with strict when any row FAILs; else 0,
    whatever the verdicts on the paper's claims."""
    counts = tally(checks)
    print(f"{len(checks)} checks: " + ", ".join(f"{n} {s}" for s, n in counts.items())
          + f"; report {report}, results {out}/")
    claims_rows = [c for c in checks if not own_row(c)]
    own = [c for c in checks if own_row(c)]
    for label, rows in (("the paper's claims and the toolkit's experiments on them", claims_rows),
                        ("the toolkit's own rows (T-rows, stored runs reproduce)", own)):
        print(f"{label}: " + ", ".join(f"{n} {s}" for s, n in tally(rows).items()))
    for c in failed(claims_rows):
        print(f"FAIL {c.id} (a finding, not an error): {c.numbers}")
    broken = failed(own)
    for c in broken:
        print(f"FAIL {c.id} (the toolkit): {c.statement}: {c.numbers}")
    if broken:
        return 1
    return 1 if strict and failed(checks) else 0


def default_paper_runs(out: Path) -> Path:
    """This checkout's committed runs when there are some, else OUT/paper."""
    return REPOSITORY_RUNS if REPOSITORY_RUNS.is_dir() else out / PAPER_DIR


def reproduce(out: Path, report: Path, trials: dict, seed: int, profile: str, grid: dict = E1,
              study_options: dict | None = None, runner: dict | None = None,
              paper_dir: Path | None = None) -> list[CheckResult]:
    """Run everything, save the results, then draw the figures and write the report from them.

    trials: {"sweep", "study", "checks"} as in PROFILES; grid: the E1 sweep's ds, ks, ns, m;
    study_options: keyword arguments per study name (smaller grids for tests); runner: run_tasks's
    options (workers, scheduler), with which the E1 configurations become tasks; paper_dir: the stored
    paper-scale runs (default out/paper).
    """
    out.mkdir(parents=True, exist_ok=True)
    study_options = study_options or {}
    timings = {}

    start = time.perf_counter()
    configs = expert_configs(cases=CASES, ds=grid["ds"], ks=grid["ks"], ns=grid["ns"], m=grid["m"], seed=seed,
                             sigma=0.5, p=0.5, tau=0.5, rho=0.0, shared=False)
    _say(f"E1 sweep: {len(configs)} configurations, {trials['sweep']} trials each")
    rows = e1_rows(configs, trials["sweep"], seed, out, runner or {})
    write_csv(rows, out / figures.SWEEP_FILE)
    timings["e1_sweep"] = time.perf_counter() - start

    for name, run in STUDIES.items():
        start = time.perf_counter()
        _say(f"study {name}: {trials['study']} trials a point")
        data = run(trials=trials["study"], seed=seed, **study_options.get(name, {}))
        (out / figures.STUDY_FILES[name]).write_text(json.dumps(data, indent=1) + "\n")
        timings[f"study_{name}"] = time.perf_counter() - start

    from theory.symbolic.results import DERIVATIONS, EXTENSION, latex, symbolic_checks  # sympy: only here

    start = time.perf_counter()
    _say("E2 and E3: the stored paper-scale runs, re-checked" if profile == "quick" else "E2 and E3: every block")
    experiments = paper_stage(out, "quick" if profile == "quick" else "full", workers=(runner or {}).get("workers", 2),
                              plans=learning_plans(profile), paper_dir=paper_dir)
    timings["e2_e3_learning"] = time.perf_counter() - start

    start = time.perf_counter()
    _say("checks: symbolic, exact and Monte Carlo")
    checks = claim_checks(rows) + experiments
    checks += symbolic_checks()
    checks += claims.sweep_matches_exact(rows)
    checks += monte_carlo_checks(scale=trials["checks"], seed=seed)
    checks += map_cmd.reproduce_maps(out, trials["checks"], seed)
    checks += summary_claims(checks)
    timings["checks"] = time.perf_counter() - start

    start = time.perf_counter()
    _say("T10-T12: diagnosing A and B from a batch")
    checks += diagnosis_checks(out, profile, seed)
    timings["t10_t12_diagnosis"] = time.perf_counter() - start
    save_checks(checks, out / "checks.json")
    (out / "timings.json").write_text(json.dumps({"profile": profile, "seconds": timings}, indent=1) + "\n")

    forms = {rid: latex(rid) for rid in (*DERIVATIONS, *EXTENSION)}
    (out / "closed_forms.json").write_text(json.dumps(forms, indent=1) + "\n")

    figures.draw(out, paper=paper_dir)
    write_report(load_checks(out / "checks.json"), report, profile=profile, seed=seed,
                 closed_forms=json.loads((out / "closed_forms.json").read_text()), figures_dir=out / "figures",
                 not_drawn=figures.not_drawn(out),
                 sweeps=sweep_summary.section(paper_dir if paper_dir is not None else out / PAPER_DIR))
    return checks


def learning_plans(profile: str) -> dict | None:
    """The learning runs of the test profile: a tiny E2 and E3 plan, run whole and re-checked whole
    (the quick and full profiles use the paper's plans)."""
    if profile != "test":
        return None
    from learning.bandit.sweeps import sweep_tasks as bandit_tasks
    from learning.bandit.train import DEFAULTS
    from learning.rl.claims import BPTT, SG
    from learning.rl.sweeps import sweep_tasks as rl_tasks

    tiny = DEFAULTS | {"steps": 12, "eval_points": 3, "eval_size": 64, "layers": 2, "width": 8, "neuron": 3,
                       "slots": 2, "parents": 2, "first_inputs": 20, "batch": 16, "probe_points": 2,
                       "probe_draws": 4, "probe_batch": 4}
    return {"E2": {"methods": ("methods", bandit_tasks("methods", tiny, (0, 1), ("sg", "bp")))},
            "E3": {"escape-sparsenet": ("paper", rl_tasks(("escape",), (BPTT, SG), (1e-3,), (3,), (0, 1), 2))}}


def e1_rows(configs: list[dict], trials: int, seed: int, out: Path, runner: dict) -> list[dict]:
    """The E1 sweep in this process; with a scheduler or several workers, one task per configuration,
    each saved under out/tasks/e1 as it finishes, so an interrupted run resumes there. Same rows."""
    progress = Progress("E1 sweep", unit="config")
    if runner.get("scheduler") is None and runner.get("workers", 1) == 1:
        return run_sweep(configs, trials, seed, progress=progress)
    return run_sweep_tasks(configs, trials, seed, out / "tasks" / "e1", progress, **runner)


def claim_checks(rows) -> list:
    return [
        claims.sg_beats_bp_everywhere(rows),
        claims.gap_grows_without_bound(rows),
        claims.sample_efficiency(rows),
        claims.authors_ratio(rows),
    ]


def summary_claims(checks) -> list:
    """C3, C4 and C5 restate the summary's key results through every row of the checks that test them
    (C8 and C9; C1 and each row of T3; each row of T6 and T7); a missing one is an error."""
    sg_rows = [find_check(checks, "C1")] + rows_of(checks, "T3")
    mix_rows = rows_of(checks, "T6") + rows_of(checks, "T7")
    return [
        experiments_claim({rid: find_check(checks, rid) for rid in ("C8", "C9")}),
        CheckResult(
            id="C4",
            statement="With gradient uncertainty (A) and local sufficiency (B), SG yields a smaller "
            "gradient-estimation MSE than BP. (The summary's wording says 'not locally sufficient', "
            "contradicting its own methodology and the abstract; checked with B holding, and T6 shows SG "
            "is biased once B fails.)",
            method="Monte Carlo",
            numbers="via " + ", ".join(f"{c.id} ({c.status})" for c in sg_rows),
            status=outcome(all(c.passed for c in sg_rows)),
            figure="t3_gap_vs_alignment",
        ),
        CheckResult(
            id="C5",
            statement="When A and B do not both hold, a mixture of synthetic and backpropagated gradients "
            "offers a favourable bias-variance tradeoff",
            method="Monte Carlo",
            numbers="via " + ", ".join(f"{c.id} ({c.status})" for c in mix_rows),
            status=outcome(all(c.passed for c in mix_rows)),
            figure="t67_mse_vs_n",
        ),
    ]


def run_figures(args) -> int:
    out = Path(args.out)
    try:
        paths = figures.draw(out, args.names, paper=Path(args.paper_runs) if args.paper_runs else default_paper_runs(out))
    except FileNotFoundError as err:
        raise ValueError(f"out: no saved results at {err.filename}; run `sgbp reproduce --out {out}` first") from None
    for path in paths:
        if path.suffix == ".png":
            print(path)
    return 0
