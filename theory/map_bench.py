"""Benchmark of the regime maps: `python -m theory.map_bench`.

Times 60 x 60 maps at d = 10 (n x leak and noise x leak, each case) against the baseline of
calling exact_mse at every point, measured in the same run on a sample of the points and scaled
to the whole grid.
"""

from __future__ import annotations

import time

from theory.exact import exact_mse
from theory.instance import make_expert_instance
from theory.regime_map import MapSpec, compute_map, parse_axis, point_params

D, K, M = 10, 2, 5
NOISE = {"noisy": ("0.05:5:60", "log"), "activation": ("0.05:0.95:60", "lin"), "partial": ("0.05:5:60", "log")}
SAMPLE = 40  # points of the baseline


def spec_for(case: str, x: str) -> MapSpec:
    if x == "n":
        xa = parse_axis("n", "10:100000:60", "log", case, K, "x-range")  # 60 distinct integers
    else:
        xa = parse_axis("noise", *NOISE[case], case, K, "x-range")
    ya = parse_axis("leak", "0.01:3:60", "log", case, K, "y-range")
    return MapSpec(case=case, x=xa, y=ya, d=D, k=K, m=M, n=4)


def main() -> None:
    inst = make_expert_instance(D, K, M, 0)
    print(f"regime maps, d={D}, k={K}, m={M}: seconds for the whole grid")
    print(f"{'case':<11} {'axes':<14} {'points':>6} {'map':>7} {'exact_mse each':>15} {'speed-up':>9}")
    for case in NOISE:
        for x in ("n", "noise"):
            spec = spec_for(case, x)
            compute_map(spec)  # first call loads the derived covariance; not what is timed
            start = time.perf_counter()
            grid = compute_map(spec)
            fast = time.perf_counter() - start
            ny, nx = grid["ratio"].shape
            start = time.perf_counter()
            for i in range(SAMPLE):
                at = point_params(grid, (i * 7) % ny, (i * 13) % nx)
                exact_mse(inst, spec.feedback(at["noise"], at["leak"]), at["n"])
            slow = (time.perf_counter() - start) / SAMPLE * nx * ny
            print(f"{case:<11} {x + ' x leak':<14} {nx * ny:>6} {fast:>7.2f} {slow:>15.1f} {slow / fast:>9.0f}")


if __name__ == "__main__":
    main()
