"""Time one E3 update per model, with the labyrinths stepped by POPGym and by the compiled batch.

    python -m learning.rl.bench [--env escape] [--num-envs 20] [--updates 3] [--models gru,lstm,...]

For each model the two steppers (POPGym's own `step`, one environment at a time, and
learning.rl.maze_step's compiled batch) run from the same seed, the same numbers, one after the
other in the same process: one untimed update each (numba compilation), then `updates` timed ones
alternating between them, on one BLAS thread. `reset` is POPGym drawing the mazes (both steppers use
its reset), `step` the stepping with the one-hot encoding, `act` the policy while acting (forward,
sampling), `learn` the returns, the backward through time, the clipping and Adam (and, for
sparsenet-sg, the SG fit and lambda). `products` is, from one more update with the compiled
stepper, the time of the model's numpy.matmul calls alone (SparseNet's per-neuron products).
Ratios are POPGym's time over the compiled one's: environment time and whole update.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

from learning.nets.products import timed_products
from learning.rl.train import Run, rl_config
from learning.rl.models import MODELS

STEPPERS = ("popgym", "compiled")
FIELDS = ("env_s", "reset_s", "step_s", "act_s", "learn_s", "env_steps")


def bench(env: str, num_envs: int, updates: int, models=MODELS, seed: int = 0) -> list[dict]:
    rows = []
    with threadpool_limits(limits=1):
        for model in models:
            runs = {s: Run(rl_config(env=env, model=model, num_envs=num_envs, seed=seed), stepper=s) for s in STEPPERS}
            for run in runs.values():
                run.update()
            outs = {s: [] for s in STEPPERS}
            walls = {s: 0.0 for s in STEPPERS}
            for _ in range(updates):
                for s, run in runs.items():  # alternating, so that both see the same machine
                    start = time.perf_counter()
                    outs[s].append(run.update())
                    walls[s] += time.perf_counter() - start
            row = {"model": model}
            for s in STEPPERS:
                mean = {k: float(np.mean([o[k] for o in outs[s]])) for k in FIELDS}
                row[s] = {"update_s": walls[s] / updates, **mean, "model_s": mean["act_s"] + mean["learn_s"]}
            with timed_products() as products:
                runs["compiled"].update()
            row["products_s"] = products["seconds"]
            rows.append(row)
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="escape", choices=("escape", "explore"))
    parser.add_argument("--num-envs", type=int, default=20)
    parser.add_argument("--updates", type=int, default=3)
    parser.add_argument("--models", default=",".join(MODELS))
    args = parser.parse_args(argv)
    rows = bench(args.env, args.num_envs, args.updates, args.models.split(","))
    print(f"env={args.env} num_envs={args.num_envs}, mean of {args.updates} updates, seconds per update; "
          "POPGym's stepping | compiled")
    print(f"{'model':15s} {'steps':>6s} {'reset':>6s} {'step':>13s} {'act':>6s} {'learn':>6s} {'update':>13s} "
          f"{'env ratio':>9s} {'update ratio':>12s} {'products':>8s}")
    for r in rows:
        p, c = r["popgym"], r["compiled"]
        print(f"{r['model']:15s} {c['env_steps']:6.0f} {c['reset_s']:6.3f} {p['step_s']:6.3f} {c['step_s']:6.3f} "
              f"{c['act_s']:6.3f} {c['learn_s']:6.3f} {p['update_s']:6.3f} {c['update_s']:6.3f} "
              f"{p['env_s'] / c['env_s']:9.2f} {p['update_s'] / c['update_s']:12.2f} "
              + (f"{r['products_s']:8.3f}" if r["products_s"] else f"{'-':>8s}"))


if __name__ == "__main__":
    main()
