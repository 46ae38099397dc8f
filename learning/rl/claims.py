"""C9 of paper_checks.md from the E3 runs (docs/experiments.md E3), with its criterion fixed in advance.

C9 criterion (fixed before any run): pair each sparsenet-sg run with the sparsenet-bptt run of the
same environment, learning rate, num_envs, number of updates and seed (same initial weights, same
mazes). A pair's difference is SG minus BPTT in the normalised area under the success-rate curve
(learning speed and final level together). In each environment, each seed's differences are
averaged over the learning rates and num_envs that were run, and the paired t test of the bandit's C8
(two-sided 5%) is applied to these per-seed means: an environment passes if t is above the critical
value and fails if below minus it. C9 is PASS if every environment that was run passes, FAIL if
any fails, INCONCLUSIVE otherwise (and with fewer than 2 seeds).

C9-tuned criterion (fixed after the num_envs 20 runs were stored and before any num_envs 40 run): C9
with each model at its own best learning rate instead of averaged over the rates. In each environment
and num_envs, each of sparsenet-sg and sparsenet-bptt takes the rate of its largest mean success area
over its seeds (on a tie the smaller rate), chosen on the same seeds it is judged on; a seed's
difference is SG at its best rate minus BPTT at its best rate, averaged over the num_envs run, and the
paired t test per environment and the row's PASS / FAIL / INCONCLUSIVE are C9's. Judged once the
paper's whole sweep of both SparseNets is stored (both environments, num_envs 20 and 40, 5 rates, 6
seeds); until then not yet reproduced.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from learning.verdicts import best_rate, edge_note, paired_test
from learning.rl.sweeps import success_area
from theory.checks import FAIL, INCONCLUSIVE, PASS, CheckResult

C9_STATEMENT = "POPGym Labyrinth tasks: recurrent SparseNet with BPTT mixed with SG beats BPTT alone"
SG, BPTT = "sparsenet-sg", "sparsenet-bptt"
CONTEXT = {"gru": "GRU", "lstm": "LSTM"}  # the paper's other recurrent models, reported beside C9


def _shared(config: dict) -> tuple:
    """What a pair shares: everything but the model and the SG-only settings."""
    return tuple(sorted((k, v) for k, v in config.items() if k not in ("model", "sg_lr", "lam", "lam_momentum")))


def per_seed_differences(runs: dict) -> dict:
    """env -> {seed: mean over settings of (area SG - area BPTT)} over the pairs found in runs."""
    areas = {}
    for run in runs.values():
        c = run["config"]
        if c["model"] in (SG, BPTT):
            areas[(c["model"], _shared(c))] = (c, success_area(run["result"]))
    diffs = defaultdict(lambda: defaultdict(list))
    for (model, shared), (c, area) in areas.items():
        if model == SG and (BPTT, shared) in areas:
            diffs[c["env"]][c["seed"]].append(area - areas[(BPTT, shared)][1])
    return {env: {s: float(np.mean(d)) for s, d in sorted(seeds.items())} for env, seeds in sorted(diffs.items())}


def _areas(runs: dict, env: str) -> dict:
    """model -> the success areas of its runs in env."""
    out = {}
    for r in runs.values():
        if r["config"]["env"] == env:
            out.setdefault(r["config"]["model"], []).append(success_area(r["result"]))
    return out


def _context(areas: dict) -> str:
    """The other recurrent models' mean success area over all their runs (beside C9, not judged)."""
    shown = ", ".join(f"{CONTEXT[m]} {np.mean(a):.3f} ({len(a)} run{'s' if len(a) > 1 else ''})"
                      for m, a in sorted(areas.items()) if m in CONTEXT)
    return f" (beside it, not judged: success area {shown})" if shown else ""


def environment_tests(diffs: dict) -> tuple[dict, str]:
    """The paired test of each environment's per-seed differences, and the row's status: PASS if every
    environment passes, FAIL if one fails, INCONCLUSIVE otherwise or with no environment."""
    tests = {env: paired_test(list(by_seed.values())) for env, by_seed in diffs.items()}
    statuses = [t["status"] for t in tests.values()]
    status = (FAIL if FAIL in statuses else PASS if statuses and all(s == PASS for s in statuses)
              else INCONCLUSIVE)
    return tests, status


def c9_check(runs: dict) -> CheckResult:
    """C9 from the loaded runs of an E3 results folder (learning.rl.sweeps.load_runs)."""
    diffs = per_seed_differences(runs)
    tests, status = environment_tests(diffs)
    if not tests:
        numbers = "no pair of sparsenet-sg and sparsenet-bptt runs with the same settings and seed"
    else:
        parts = []
        for env, t in tests.items():
            settings = [r["config"] for r in runs.values() if r["config"]["env"] == env and r["config"]["model"] == SG]
            lrs = sorted({c["lr"] for c in settings})
            ns = sorted({c["num_envs"] for c in settings})
            ups = sorted({c["updates"] for c in settings})
            areas = _areas(runs, env)
            sg_area, bp_area = np.mean(areas[SG]), np.mean(areas[BPTT])
            parts.append(f"{env} ({t['n']} seeds; lr {', '.join(f'{x:g}' for x in lrs)}; num_envs "
                         f"{', '.join(map(str, ns))}; {', '.join(map(str, ups))} updates): success area SG "
                         f"{sg_area:.3f}, BPTT {bp_area:.3f}; difference {t['mean']:+.3f} (SE {t['se']:.2g}), "
                         f"t = {t['t']:.2f} against +-{t['t_crit']:.2f}: {t['status']}" + _context(areas))
        numbers = "; ".join(parts)
    return CheckResult(
        id="C9",
        statement=C9_STATEMENT + " (criterion: per environment, paired t test at two-sided 5% over seeds of the "
        "difference SG minus BPTT in the normalised area under the success curve, averaged over the learning "
        "rates and num_envs run; PASS if every environment run passes, FAIL if one fails)",
        method="experiment",
        numbers=numbers,
        status=status,
        figure="e3_success_vs_steps",
    )


TUNED_STATEMENT = ("POPGym Labyrinth tasks: recurrent SparseNet with BPTT mixed with SG beats BPTT alone when each "
                   "runs at its own best learning rate")


def areas_by_rate(runs: dict, model: str, env: str, num_envs: int) -> dict:
    """{lr: {seed: success area}} of a model's runs in one environment and num_envs."""
    out: dict = {}
    for run in runs.values():
        c = run["config"]
        if c["model"] == model and c["env"] == env and c["num_envs"] == num_envs:
            out.setdefault(c["lr"], {})[c["seed"]] = success_area(run["result"])
    return dict(sorted(out.items()))


def tuned_differences(runs: dict) -> tuple[dict, dict]:
    """(env -> {seed: mean over num_envs of SG at its best rate minus BPTT at its best rate},
    env -> {num_envs: (SG's best rate, its mean area, BPTT's best rate, its mean area, edge notes, the number
    of rates run)})."""
    diffs, chosen = defaultdict(lambda: defaultdict(list)), defaultdict(dict)
    cells = sorted({(r["config"]["env"], r["config"]["num_envs"]) for r in runs.values()
                    if r["config"]["model"] in (SG, BPTT)})
    for env, n in cells:
        sg, bp = areas_by_rate(runs, SG, env, n), areas_by_rate(runs, BPTT, env, n)
        if not sg or not bp:
            continue
        bs, bb = best_rate(sg), best_rate(bp)
        for seed in sorted(set(sg[bs]) & set(bp[bb])):
            diffs[env][seed].append(sg[bs][seed] - bp[bb][seed])
        chosen[env][n] = (bs, float(np.mean(list(sg[bs].values()))), bb, float(np.mean(list(bp[bb].values()))),
                          edge_note(sg, bs, "SG") + edge_note(bp, bb, "BPTT"), len(set(sg) | set(bp)))
    per_seed = {env: {s: float(np.mean(d)) for s, d in sorted(seeds.items())} for env, seeds in sorted(diffs.items())}
    return per_seed, dict(chosen)


def c9_tuned_check(runs: dict) -> CheckResult:
    """C9-tuned from the loaded runs of an E3 results folder (criterion in the module docstring)."""
    diffs, chosen = tuned_differences(runs)
    tests, status = environment_tests(diffs)
    if not tests:
        numbers = "no seed with both sparsenet-sg and sparsenet-bptt runs in one environment and num_envs"
    else:
        parts = []
        for env, t in tests.items():
            cells = "; ".join(f"num_envs {n}: SG best at {bs:g} (area {a_s:.3f}), BPTT at {bb:g} ({a_b:.3f}){note}"
                              for n, (bs, a_s, bb, a_b, note, _) in sorted(chosen[env].items()))
            parts.append(f"{env} ({t['n']} seeds; {cells}): difference {t['mean']:+.3f} (SE {t['se']:.2g}), "
                         f"t = {t['t']:.2f} against +-{t['t_crit']:.2f}: {t['status']}")
        numbers = "; ".join(parts)
    # the rates are drawn against each other only where a cell has two or more
    several = any(cell[-1] >= 2 for cells in chosen.values() for cell in cells.values())
    return CheckResult(
        id="C9-tuned",
        statement=TUNED_STATEMENT + " (criterion: per environment and num_envs, each model at the rate of its largest "
        "mean success area over the paper's learning rates, chosen on the same seeds; per environment, paired t "
        "test at two-sided 5% over seeds of SG minus BPTT, averaged over num_envs; PASS if every environment "
        "passes, FAIL if one fails)",
        method="experiment",
        numbers=numbers,
        status=status,
        figure="e3_auc_vs_lr" if several else "e3_success_vs_steps",
    )
