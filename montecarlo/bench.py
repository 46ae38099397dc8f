"""Time the jitted engine against the numpy reference and against drawing its random numbers alone.

    python -m montecarlo.bench [--quick] [--trials T]

Default sweep (the target): d = 8..12, k = 2, m = 5, n = 1..4, the three cases, 200 trials.
Throughput is counted in sample-evaluations per second: R * m * n * trials / seconds, one
expert's feedback sample in one state per unit. The RNG-only bound times the same chunks,
threads and draw calls with nothing but the draws (their sum is kept so nothing is skipped).
Each timing is the best of --repeat runs (default 2), the same for all three.
It also prints the cost of one normal draw from montecarlo.rng and from numba's np.random, and
the end-to-end figure: the wall time of the same sweep as `sgbp explore expert` in a fresh
process (imports, instances, exact values, kernel loading, sampling, output), beside the
engine's sampling of that sweep timed in alternation with it (the same machine load), so that
the fixed cost a user pays shows.
JIT time is the first call of each kernel in this process: a compile on the first run, a load
from numba's cache (montecarlo.jit) afterwards; the cache hits and misses are printed.
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import time

import numba
import numpy as np
from numba import prange

from montecarlo import expert as engine
from montecarlo.jit import kernel
from montecarlo.reference import reference_trials
from montecarlo.rng import chunk_states, fill_normal, fill_uniform
from theory.feedback import FeedbackModel
from theory.instance import make_expert_instance
from theory.params import CASES


@kernel(parallel=True)
def _draws_only(states, sizes, R, n, per_sample, uniform):
    """The engine's draw pattern (same chunks, slabs and generator calls) and nothing else."""
    slab_states = max(1, engine.SLAB // (n * per_sample))
    sums = np.zeros(states.shape[0])
    for c in prange(states.shape[0]):
        st = states[c].copy()
        buf = np.empty(slab_states * n * per_sample)
        acc = 0.0
        for t in range(sizes[c]):
            r0 = 0
            while r0 < R:
                r1 = min(R, r0 + slab_states)
                count = (r1 - r0) * n * per_sample
                if uniform:
                    fill_uniform(st, buf, 0, count)
                else:
                    fill_normal(st, buf, 0, count)
                for i in range(count):
                    acc += buf[i]
                r0 = r1
        sums[c] = acc
    return sums


@kernel()
def _numba_normals(seed, count):
    """numba's own np.random (MT19937, polar method), for comparison with montecarlo.rng."""
    np.random.seed(seed)
    acc = 0.0
    for _ in range(count):
        acc += np.random.standard_normal()
    return acc


def per_draw_ns(count: int = 2_000_000) -> tuple[float, float]:
    """Nanoseconds per normal draw, one thread: (montecarlo.rng, numba's np.random)."""
    buf = np.empty(count)
    state = chunk_states(0, 1)[0].copy()
    fill_normal(state, buf, 0, 10)
    _numba_normals(0, 10)
    ours = _timed(lambda: fill_normal(state, buf, 0, count), 3)
    theirs = _timed(lambda: _numba_normals(1, count), 3)
    return ours / count * 1e9, theirs / count * 1e9


def draws_only(inst, fb: FeedbackModel, n: int, trials: int, seed: int) -> float:
    n_chunks = -(-trials // engine.CHUNK)
    sizes = np.full(n_chunks, engine.CHUNK, dtype=np.int64)
    sizes[-1] = trials - engine.CHUNK * (n_chunks - 1)
    states = chunk_states(seed, n_chunks)
    per_sample = 1 if fb.shared else inst.m
    return float(_draws_only(states, sizes, inst.R, n, per_sample, fb.case == "activation").sum())


def _timed(fn, repeat: int = 1) -> float:
    """Best of `repeat` wall-clock timings."""
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _cache_stats(dispatcher) -> str:
    stats = dispatcher.stats
    return f"cache hits {sum(stats.cache_hits.values())}, misses {sum(stats.cache_misses.values())}"


def warm_up() -> dict:
    """First calls (compile or cache load) on a tiny instance; returns seconds per kernel."""
    inst = make_expert_instance(3, 2, 2, 0)
    times = {}
    for case in CASES:
        fb = FeedbackModel(case=case)
        times[f"engine/{case}"] = _timed(lambda: engine.simulate_expert(inst, fb, 1, 2, 0, lam=0.5))
        times[f"draws/{case}"] = _timed(lambda: draws_only(inst, fb, 1, 2, 0))
    return times


def explore_command(ds, ns, trials: int, k: int, m: int, seed: int) -> list[str]:
    """`sgbp explore expert` for the benchmark's sweep."""
    return [sys.executable, "-m", "sgbp.cli", "explore", "expert", "--case", "all",
            "--d", ",".join(map(str, ds)), "--k", str(k), "--m", str(m), "--n", ",".join(map(str, ns)),
            "--seed", str(seed), "--trials", str(trials)]


def end_to_end(ds, ns, trials: int, k: int, m: int, seed: int, repeat: int) -> tuple[float, float]:
    """Best wall times of (the sweep as a command in a fresh process, the engine's sampling of the
    same sweep in this process), taken in alternation so that both see the same machine load.
    One untimed run first fills the caches a user's first run fills."""
    command = explore_command(ds, ns, trials, k, m, seed)
    engines = {d: engine.ExpertEngine(make_expert_instance(d, k, m, seed)) for d in ds}
    runs = [(engines[d], n, FeedbackModel(case=case)) for d in ds for n in ns for case in CASES]

    def command_once():
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)

    def sampling_once():
        for eng, n, fb in runs:
            eng.simulate(fb, n, trials, seed, lam=0.5)

    command_once()
    wall, sampling = math.inf, math.inf
    for _ in range(repeat):
        wall = min(wall, _timed(command_once))
        sampling = min(sampling, _timed(sampling_once))
    return wall, sampling


def run(ds, ns, trials: int, repeat: int = 2, k: int = 2, m: int = 5, seed: int = 0) -> None:
    t_first = warm_up()
    jit_s = sum(t_first.values())
    print(f"numba {numba.__version__}, {numba.get_num_threads()} threads, chunk {engine.CHUNK} trials, "
          f"best of {repeat} timings each")
    print(f"JIT (first calls; compile on a cold cache): {jit_s:.2f} s "
          f"[engine {_cache_stats(engine._run_chunks)}; draws {_cache_stats(_draws_only)}]")
    ours, theirs = per_draw_ns()
    print(f"one normal draw, one thread: {ours:.1f} ns (montecarlo.rng), {theirs:.1f} ns (numba np.random)")
    print(f"{'d':>3} {'n':>2} {'case':<10} {'engine s':>9} {'numpy s':>9} {'speed-up':>8} {'Msamp/s':>8} "
          f"{'RNG s':>8} {'of bound':>8}")
    tot = {"engine": 0.0, "numpy": 0.0, "draws": 0.0, "samples": 0}
    for d in ds:
        inst = make_expert_instance(d, k, m, seed)
        for n in ns:
            for case in CASES:
                fb = FeedbackModel(case=case)
                t_eng = _timed(lambda: engine.simulate_expert(inst, fb, n, trials, seed, lam=0.5), repeat)
                t_np = _timed(lambda: reference_trials(inst, fb, n, trials, seed, lam=0.5), repeat)
                t_rng = _timed(lambda: draws_only(inst, fb, n, trials, seed), repeat)
                samples = inst.R * m * n * trials
                tot["engine"] += t_eng
                tot["numpy"] += t_np
                tot["draws"] += t_rng
                tot["samples"] += samples
                print(f"{d:>3} {n:>2} {case:<10} {t_eng:>9.4f} {t_np:>9.3f} {t_np / t_eng:>8.1f} "
                      f"{samples / t_eng / 1e6:>8.1f} {t_rng:>8.4f} {t_rng / t_eng:>8.2f}")
    print(f"total: engine {tot['engine']:.3f} s, numpy {tot['numpy']:.3f} s, "
          f"speed-up {tot['numpy'] / tot['engine']:.1f}x")
    print(f"throughput (sample-evaluations R*m*n*trials per second): engine "
          f"{tot['samples'] / tot['engine'] / 1e6:.1f} M/s, numpy {tot['samples'] / tot['numpy'] / 1e6:.2f} M/s, "
          f"RNG-only bound {tot['samples'] / tot['draws'] / 1e6:.1f} M/s")
    print(f"engine at {tot['draws'] / tot['engine']:.2f} of the RNG-only bound; "
          f"JIT first calls {jit_s:.2f} s (not in the totals)")
    wall, sampling = end_to_end(ds, ns, trials, k, m, seed, repeat)
    print(f"end to end (`sgbp explore expert` on this sweep, fresh process, best of {repeat}): {wall:.2f} s; "
          f"the engine's sampling of the same sweep, timed in alternation: {sampling:.2f} s; "
          f"fixed cost {wall - sampling:.2f} s")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m montecarlo.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="d = 6..8, n = 1..2, 50 trials")
    parser.add_argument("--trials", type=int, default=None, help="trials per configuration (default 200)")
    parser.add_argument("--repeat", type=int, default=2, help="timings per measurement, best kept (default 2)")
    args = parser.parse_args(argv)
    if args.quick:
        run(range(6, 9), (1, 2), args.trials or 50, args.repeat)
    else:
        run(range(8, 13), (1, 2, 3, 4), args.trials or 200, args.repeat)


if __name__ == "__main__":
    main()
