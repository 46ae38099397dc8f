"""Benchmark: milliseconds per bandit training step for each method at MNIST size, on one core.

    python -m learning.bandit.bench [--steps N] [--repeats R]

Prints, for SparseNet (784 inputs, 5 layers of 200 neurons, batch 64) with adaptive SG, fixed-lambda
SG and BP, and for the MLP: ms per training step (median of R timings of N steps each), the
matrix-product FLOPs of one step (counted from the shapes, elementwise work not counted), the
achieved rate, and that rate as a fraction of the single-core float32 matrix-multiply rate measured
in the same run (numpy.matmul of 1024 x 1024 matrices, best of several); then, from a separate pass,
the wall time of the step's numpy.matmul calls alone (the per-neuron products) and their rate, which
bound what fusing the other work can gain. BLAS is pinned to one
thread and times are the process's CPU time, so other processes on a shared machine do not count;
they still slow it through shared caches and memory, so the ratio to the in-run matmul rate is the
number to compare.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

from learning.bandit.train import Learner, full_config
from learning.nets.products import timed_products

MNIST = {"layers": 5, "width": 200, "neuron": 10, "slots": 5, "parents": 5, "batch": 64}


def matmul_rate(n: int = 1024, repeats: int = 7) -> float:
    """Single-core float32 GFLOP/s of an n x n x n product (best of `repeats`)."""
    rng = np.random.default_rng(0)
    a, b = rng.random((n, n), dtype=np.float32), rng.random((n, n), dtype=np.float32)
    np.matmul(a, b)
    best = min(_timed(lambda: np.matmul(a, b)) for _ in range(repeats))
    return 2.0 * n**3 / best / 1e9


def _timed(f) -> float:
    """CPU seconds of this process spent in f (a single-threaded run: its own work, whatever else the
    machine is running; wall time would count the time other processes hold the core)."""
    t = time.process_time()
    f()
    return time.process_time() - t


def logit_flops(cfg: dict, n_actions: int = 9) -> int:
    """SparseNet's logit layer: forward, then the key gradient and the feedback to h_L in each backward
    pass (one with BP; with SG also the pass that builds the SG targets)."""
    products = 3 if cfg["method"] == "bp" else 5
    return products * 2 * cfg["batch"] * cfg["width"] * cfg["neuron"] * n_actions


def step_flops(cfg: dict, in_dim: int = 784, n_actions: int = 9) -> float:
    """Matrix-product FLOPs of one training step of cfg's method (multiply-adds counted as 2)."""
    B, L = cfg["batch"], cfg["layers"]
    if cfg["method"] == "mlp":
        dims = [in_dim] + [cfg["mlp_width"]] * L + [n_actions]
        fwd = sum(2 * B * a * b for a, b in zip(dims[:-1], dims[1:]))
        return fwd + fwd + (fwd - 2 * B * dims[0] * dims[1])  # forward, weight grads, input grads
    W, n, M = cfg["width"], cfg["neuron"], cfg["slots"]
    first = cfg["first_inputs"] or n * cfg["parents"]
    D = [first] + [n * cfg["parents"]] * (L - 1)
    K, mn = M * n + M, M * n
    per = [2 * W * B * d for d in D]  # one product per row of the neuron's matrix
    forward = sum(p * K for p in per)
    input_grads = sum(p * K for p in per[1:])
    bp = forward + sum(p * K for p in per) + input_grads + logit_flops(cfg, n_actions)
    if cfg["method"] == "bp":
        return bp
    sg = 2 * sum(p * mn for p in per) + input_grads + sum(p * mn for p in per)  # predict twice, targets, SG grads
    stats = 2 * sum(p * K for p in per) if cfg["method"] == "sg" else 0  # the plug-in's two extra row blocks
    return bp + sg + stats


def bench_method(method: str, steps: int, repeats: int, seed: int = 0) -> dict:
    cfg = full_config({**MNIST, "method": method})
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(cfg["batch"], 784)).astype(np.float32)
    y = rng.integers(0, 9, size=cfg["batch"])
    learner = Learner(cfg, 784, 9, rng)
    for _ in range(2):
        learner.step(x, y, cfg["p_flip"], rng)

    def run():
        for _ in range(steps):
            learner.step(x, y, cfg["p_flip"], rng)

    ms = float(np.median([_timed(run) for _ in range(repeats)])) / steps * 1e3
    wall = time.perf_counter()
    run()
    wall_ms = (time.perf_counter() - wall) / steps * 1e3
    with timed_products() as products:
        run()
    flops = step_flops(cfg)
    return {"method": method, "ms_per_step": ms, "wall_ms_per_step": wall_ms, "gflop_per_step": flops / 1e9,
            "gflops": flops / ms / 1e6, "products_ms": products["seconds"] / steps * 1e3,
            "products_gflops": products["flops"] / products["seconds"] / 1e9 if products["seconds"] else 0.0}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m learning.bandit.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10, help="steps per timing (default 10)")
    parser.add_argument("--repeats", type=int, default=3, help="timings per method; the median is kept (default 3)")
    parser.add_argument("--methods", default="sg,sg-fixed,bp,mlp", help="comma-separated methods")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.repeats < 1:
        parser.error("--steps and --repeats must be >= 1")
    with threadpool_limits(limits=1):
        rate_before = matmul_rate()
        rows = [bench_method(m, args.steps, args.repeats) for m in args.methods.split(",")]
        rate_after = matmul_rate()
    rate = max(rate_before, rate_after)
    print(f"single-core float32 matmul (1024^3): {rate:.1f} GFLOP/s "
          f"(before {rate_before:.1f}, after {rate_after:.1f})")
    print(f"{'method':10s} {'ms/step':>9s} {'wall ms':>9s} {'GFLOP/step':>11s} {'GFLOP/s':>9s} {'of matmul':>10s} "
          f"{'1500 steps':>11s} {'products ms':>12s} {'their GFLOP/s':>14s}")
    for r in rows:
        print(f"{r['method']:10s} {r['ms_per_step']:9.1f} {r['wall_ms_per_step']:9.1f} {r['gflop_per_step']:11.3f} "
              f"{r['gflops']:9.1f} {r['gflops'] / rate:10.1%} {r['ms_per_step'] * 1.5:10.0f}s "
              + (f"{r['products_ms']:12.1f} {r['products_gflops']:14.1f}" if r["products_ms"] else f"{'-':>12s} {'-':>14s}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
