"""C8 and C3 of paper_checks.md from the bandit runs (REFERENCE.md E2), with criteria fixed in advance.

C8 criterion (fixed before any run): at p_flip = 0.4, for each seed run by both SparseNet with SG and
adaptive lambda and SparseNet with BP (same seed, same settings apart from the method and its learning
rate), take the difference of their areas under the noise-free evaluation-reward curve (the mean reward
over training, learning speed and final level together). With n seeds, mean difference D and its
standard error SE (sample standard deviation / sqrt(n)), the paired t statistic t = D / SE is compared
with the two-sided 5% critical value of Student's t with n - 1 degrees of freedom: PASS if t is above
it (SG adaptive learns significantly faster), FAIL if t is below minus it (BP significantly faster),
INCONCLUSIVE otherwise or with fewer than 2 seeds.
"""

from __future__ import annotations

import numpy as np

from learning.bandit.sweeps import reward_curve
from learning.tables import area_under_curve
from learning.verdicts import paired_test
from theory.checks import CheckResult

C8_P_FLIP = 0.4
C8_SWEEP = "methods"
C8_STATEMENT = ("Noisy-digit contextual bandit: SparseNet with adaptive BP/SG mixing learns from fewer samples "
                "than BP as reward noise grows")
# what may differ between the two runs of a pair: the method, its own settings, and the probes (which
# draw from their own random stream and leave training alone)
PAIR_FREE = ("method", "lr", "lam", "probe_points", "probe_draws", "probe_batch")


def _method_free(config: dict) -> tuple:
    """The settings two runs must share to be compared across methods (the seed included)."""
    return tuple(sorted((k, str(v)) for k, v in config.items() if k not in PAIR_FREE))


def paired_areas(data: dict, sweep: str = C8_SWEEP, p_flip: float = C8_P_FLIP) -> list[tuple[int, float, float]]:
    """(seed, area SG adaptive, area BP) for each seed the sweep ran with both methods at p_flip."""
    runs = data["runs"]
    keys = data["sweeps"].get(sweep, {}).get("keys", [])
    areas = {}
    for key in keys:
        if key not in runs:
            continue
        config = runs[key]["config"]
        if config["method"] in ("sg", "bp") and config["p_flip"] == p_flip:
            areas[(config["method"], _method_free(config))] = (config["seed"],
                                                              area_under_curve(*reward_curve(runs[key]["result"])))
    pairs = []
    for (method, shared), (seed, area) in areas.items():
        if method == "sg" and ("bp", shared) in areas:
            pairs.append((seed, area, areas[("bp", shared)][1]))
    return sorted(pairs)


def c8_check(data: dict) -> CheckResult:
    """C8 from the loaded runs of a results folder (learning.bandit.sweeps.load_runs)."""
    pairs = paired_areas(data)
    test = paired_test([sg - bp for _, sg, bp in pairs])
    steps = sorted({data["runs"][k]["config"]["steps"] for k in data["sweeps"].get(C8_SWEEP, {}).get("keys", [])
                    if k in data["runs"]})
    if pairs:
        sg, bp = np.array([p[1] for p in pairs]), np.array([p[2] for p in pairs])
        seeds = f"{test['n']} seed" + ("" if test["n"] == 1 else "s")
        numbers = (f"p_flip {C8_P_FLIP}, {seeds}, {'/'.join(map(str, steps))} steps: area under the eval "
                   f"reward curve SG adaptive {sg.mean():.3f}, BP {bp.mean():.3f}; difference {test['mean']:+.3f} "
                   f"(SE {test['se']:.2g}), paired t = {test['t']:.2f} against +-{test['t_crit']:.2f}")
    else:
        numbers = f"no seed with both SG adaptive and BP at p_flip {C8_P_FLIP} in sweep '{C8_SWEEP}'"
    gaps = p_flip_gaps(data)
    if gaps:
        numbers += "; difference by p_flip: " + ", ".join(f"{p:g}: {g['mean']:+.3f} ({g['se']:.3f})"
                                                          for p, g in gaps.items())
    return CheckResult(
        id="C8",
        statement=C8_STATEMENT + f" (criterion: paired t test at two-sided 5% on the per-seed difference of areas "
        f"under the eval reward curve, SG adaptive minus BP, p_flip {C8_P_FLIP}; PASS above, FAIL below)",
        method="experiment",
        numbers=numbers,
        status=test["status"],
        figure="e2_reward_vs_step",
    )


def p_flip_gaps(data: dict) -> dict:
    """Mean and SE of the SG-adaptive-minus-BP area difference at each p_flip of the p_flip sweep."""
    gaps = {}
    points = data["sweeps"].get("p_flip", {}).get("points", [])
    for p in sorted({point["p_flip"] for point in points}):
        pairs = paired_areas(data, "p_flip", p)
        if len(pairs) >= 2:
            test = paired_test([sg - bp for _, sg, bp in pairs])
            gaps[p] = {"mean": test["mean"], "se": test["se"]}
    return gaps
