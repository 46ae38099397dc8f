"""The E3 stage of `sgbp reproduce`: run the profile's RL sweep, save it, return C9.

quick: SparseNet with BPTT and with SG on Escape, 2 seeds, 60 updates of 20 episodes at learning
rate 2e-3 (the authors' choice for their SparseNet training curves), within 90 s on 2 cores:
the C9 row and the training-curve figure, but far too short and too few seeds for C9 to be
decided. full: REFERENCE.md E3's sweep (both environments, the four models, five learning rates,
num_envs 20 and 40, seeds 0-5, 300 updates). The runs go to `<out>/e3`, where `sgbp figures`
finds them.
"""

from __future__ import annotations

import sys
from pathlib import Path

from learning.labyrinth import ENVS
from learning.rl_claims import BPTT, SG, c9_check
from learning.rl_models import MODELS
from learning.rl_sweeps import PAPER, RL_DIR, load_runs, run_sweep, sweep_tasks
from sgbp.progress import Progress

PROFILES = {
    "quick": {"envs": ("escape",), "models": (BPTT, SG), "lr": (2e-3,), "num_envs": (20,), "seeds": 2,
              "updates": 60, "workers": 2},
    "full": {"envs": ENVS, "models": MODELS, "lr": PAPER["lr"], "num_envs": PAPER["num_envs"],
             "seeds": len(PAPER["seeds"]), "updates": PAPER["updates"], "workers": 2},
    # the smallest run through every piece, for the test suite
    "test": {"envs": ("escape",), "models": (BPTT, SG), "lr": (2e-3,), "num_envs": (3,), "seeds": 2,
             "updates": 2, "workers": 1},
}


def rl_stage(out: Path, profile: str, seed: int, folder: str = RL_DIR) -> list:
    """Run (or resume) the profile's sweep into out/folder; return [C9] from the saved runs."""
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {', '.join(PROFILES)}, got {profile!r}")
    spec = PROFILES[profile]
    target = Path(out) / folder
    seeds = range(seed, seed + spec["seeds"])
    tasks = sweep_tasks(spec["envs"], spec["models"], spec["lr"], spec["num_envs"], seeds, spec["updates"])
    print(f"E3 RL: {len(tasks)} runs of {spec['updates']} updates", file=sys.stderr, flush=True)
    run_sweep(profile, tasks, target, workers=spec["workers"], progress=Progress("E3 RL"))
    return [c9_check(load_runs(target, profile))]
