"""Time one E3 update per model, split into stepping POPGym and the model's own work.

    python -m learning.rl.bench [--env escape] [--num-envs 20] [--updates 3] [--models gru,lstm,...]

Each model runs one untimed update (numba compilation), then `updates` timed ones from the same
seed, on one BLAS thread. `env` is the time inside POPGym's step and reset calls (with the one-hot
encoding); `act` the policy while acting (forward, sampling); `learn` the returns, the backward
through time, the clipping and Adam (and, for sparsenet-sg, the SG fit and lambda). The target is
model work (act + learn) no more than env for every model at num_envs = 20. `products` is, from one
more update, the time of the model's numpy.matmul calls alone (the per-neuron products of SparseNet;
the GRU's, LSTM's and heads' `@` products are not counted), and that time over env: where it is
above 1 the products alone already take longer than POPGym, whatever the rest of the model costs.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

from learning.nets.products import timed_products
from learning.rl.train import Run, rl_config
from learning.rl.models import MODELS


def bench(env: str, num_envs: int, updates: int, models=MODELS, seed: int = 0) -> list[dict]:
    rows = []
    with threadpool_limits(limits=1):
        for model in models:
            run = Run(rl_config(env=env, model=model, num_envs=num_envs, seed=seed))
            run.update()
            start = time.perf_counter()
            outs = [run.update() for _ in range(updates)]
            wall = (time.perf_counter() - start) / updates
            mean = {k: float(np.mean([o[k] for o in outs])) for k in ("env_s", "act_s", "learn_s", "env_steps")}
            with timed_products() as products:
                run.update()
            rows.append({"model": model, "update_s": wall, **mean, "model_s": mean["act_s"] + mean["learn_s"],
                         "products_s": products["seconds"]})
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="escape", choices=("escape", "explore"))
    parser.add_argument("--num-envs", type=int, default=20)
    parser.add_argument("--updates", type=int, default=3)
    parser.add_argument("--models", default=",".join(MODELS))
    args = parser.parse_args(argv)
    rows = bench(args.env, args.num_envs, args.updates, args.models.split(","))
    print(f"env={args.env} num_envs={args.num_envs}, mean of {args.updates} updates, seconds per update")
    print(f"{'model':15s} {'steps':>6s} {'update':>7s} {'env':>7s} {'act':>7s} {'learn':>7s} {'model':>7s} {'model/env':>9s} "
          f"{'products':>9s} {'products/env':>12s}")
    for r in rows:
        print(f"{r['model']:15s} {r['env_steps']:6.0f} {r['update_s']:7.3f} {r['env_s']:7.3f} {r['act_s']:7.3f} "
              f"{r['learn_s']:7.3f} {r['model_s']:7.3f} {r['model_s'] / r['env_s']:9.2f} "
              + (f"{r['products_s']:9.3f} {r['products_s'] / r['env_s']:12.2f}" if r["products_s"] else f"{'-':>9s} {'-':>12s}"))


if __name__ == "__main__":
    main()
