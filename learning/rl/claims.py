"""C9 of paper_checks.md from the E3 runs (docs/experiments.md E3), with its criterion fixed in advance.

C9 criterion (fixed before any run): pair each sparsenet-sg run with the sparsenet-bptt run of the
same environment, learning rate, num_envs, number of updates and seed (same initial weights, same
mazes). A pair's difference is SG minus BPTT in the normalised area under the success-rate curve
(learning speed and final level together). In each environment, each seed's differences are
averaged over the learning rates and num_envs that were run, and the paired t test of the bandit's C8
(two-sided 5%) is applied to these per-seed means: an environment passes if t is above the critical
value and fails if below minus it. C9 is PASS if every environment that was run passes, FAIL if
any fails, INCONCLUSIVE otherwise (and with fewer than 2 seeds).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from learning.verdicts import paired_test
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


def c9_check(runs: dict) -> CheckResult:
    """C9 from the loaded runs of an E3 results folder (learning.rl.sweeps.load_runs)."""
    diffs = per_seed_differences(runs)
    tests = {env: paired_test(list(by_seed.values())) for env, by_seed in diffs.items()}
    if not tests:
        status = INCONCLUSIVE
        numbers = "no pair of sparsenet-sg and sparsenet-bptt runs with the same settings and seed"
    else:
        statuses = [t["status"] for t in tests.values()]
        status = FAIL if FAIL in statuses else PASS if all(s == PASS for s in statuses) else INCONCLUSIVE
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
