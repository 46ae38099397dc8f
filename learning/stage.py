"""The E2 stage of `sgbp reproduce`: run the profile's bandit sweeps, save them, return C8.

quick: SparseNet with SG adaptive against BP at p_flip 0.4, the paper's network, 3 seeds of 200 steps
(the C8 comparison, the reward, lambda and probe figures); full: the paper's settings (1,500 steps,
6 seeds) and every sweep, about 300 distinct runs (runs shared by two sweeps are computed once).
The runs go to `<out>/e2` (figures.BANDIT_DIR), where `sgbp figures` finds them.
"""

from __future__ import annotations

import sys
from pathlib import Path

from learning.claims import c8_check
from learning.bandit import DEFAULTS
from learning.sweeps import load_runs, run_sweep
from sgbp.progress import Progress

# per profile: seeds, the base configuration's changes, and the sweeps (name -> methods, None: all)
PROFILES = {
    "quick": {
        "seeds": 3,
        # the paper's network and batch; 200 steps: about 195 CPU seconds in all (SG 0.22 s a step, BP
        # 0.07 s, 2 probes of 2.7 s per SG run), under 2 minutes on 2 idle cores
        "base": {"steps": 200, "eval_points": 8, "probe_points": 2, "probe_draws": 32, "probe_batch": 32},
        "sweeps": {"methods": ("sg", "bp")},
        "workers": 2,
    },
    "full": {
        "seeds": 6,
        "base": {"probe_points": 6},
        "sweeps": {"methods": None, "p_flip": None, "lr": None, "parents": None, "ablation": None},
        "workers": 2,
    },
    # the smallest run through every piece, for the test suite
    "test": {
        "seeds": 2,
        "base": {"steps": 12, "eval_points": 3, "eval_size": 64, "layers": 2, "width": 8, "neuron": 3,
                 "slots": 2, "parents": 2, "first_inputs": 20, "batch": 16, "probe_points": 2,
                 "probe_draws": 4, "probe_batch": 4},
        "sweeps": {"methods": ("sg", "bp")},
        "workers": 1,
    },
}


def bandit_stage(out: Path, profile: str, seed: int, folder: str = "e2") -> list:
    """Run (or resume) the profile's sweeps into out/folder; return [C8] from the saved runs."""
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {', '.join(PROFILES)}, got {profile!r}")
    spec = PROFILES[profile]
    target = Path(out) / folder
    base = dict(DEFAULTS) | spec["base"]
    seeds = range(seed, seed + spec["seeds"])
    for name, methods in spec["sweeps"].items():
        print(f"E2 bandit: sweep {name}, {spec['seeds']} seeds, {base['steps']} steps", file=sys.stderr, flush=True)
        run_sweep(name, base, seeds, target, methods=methods, progress=Progress(f"E2 {name}"),
                  workers=spec["workers"])
    return [c8_check(load_runs(target))]
