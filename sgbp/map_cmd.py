"""`sgbp map expert`: a regime map of where BP, SG or the mixture wins, and its `sgbp reproduce` stage.

The map is exact (theory.regime_map); a few of its points are simulated (montecarlo.map_points).
A map is saved as NAME.json (what figures.regime_map draws from) and NAME.csv (one row per point),
then drawn as NAME.png and NAME.pdf.
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
from pathlib import Path

import numpy as np

from figures.regime_map import draw_map
from montecarlo.checks import Z_TOL
from montecarlo.map_points import simulate_points
from runner.progress import Progress
from runner.tasks import save_atomic
from sgbp.args import add_expert_args, check_case_arg
from theory.checks import CheckResult, outcome
from theory.exact import crossover_n, exact_mse
from theory.instance import make_expert_instance
from theory.params import check_int
from theory.regime_map import (MAX_MC_POINTS, NOISE_NAME, MapSpec, axis_name, compute_map, default_axis,
                               n_star_curve, parse_axis, pick_points, point_params)

GRID_FIELDS = ("log2_ratio", "lambda_star", "gain", "mse_bp", "mse_sg", "mse_mix", "bias_sq", "n_star")
CSV_FIELDS = ("mse_bp", "mse_sg", "ratio") + GRID_FIELDS[:3] + GRID_FIELDS[5:]


def add_parser(subparsers) -> None:
    top = subparsers.add_parser("map", help="regime maps: where BP, SG or the mixture wins (exact, with MC points)")
    models = top.add_subparsers(dest="model", required=True, parser_class=type(top))
    expert = models.add_parser(
        "expert",
        help="map the expert model over two of n, leak, the noise level and d",
        description="Exact MSEs of BP, SG and the mixture at lambda* over a grid of two parameters: n, leak "
        "(or rho), the case's noise level (sigma, p or tau, or noise) and d (k fixed). Ranges are lo:hi or "
        "lo:hi:count (count default 60; d: every integer); n and d are rounded to integers and repeats "
        "dropped. The other parameters are as in `sgbp theory expert`; an axis overrides its option.",
    )
    add_expert_args(expert)
    for axis in ("x", "y"):
        expert.add_argument(f"--{axis}", required=True, metavar="PARAM",
                            help="n, leak (rho), noise (or the case's sigma, p, tau), d")
        expert.add_argument(f"--{axis}-range", metavar="LO:HI[:COUNT]", help="values of the axis (default per axis)")
        expert.add_argument(f"--{axis}-scale", metavar="log|lin", help="geometric or even spacing (default per axis)")
    expert.add_argument("--mc-points", type=int, default=3, help="grid points to simulate, 0 to 10 (default 3)")
    expert.add_argument("--mc-trials", type=int, default=2000, help="trials per simulated point (default 2000)")
    expert.add_argument("--out", default="results/maps", metavar="DIR", help="where the map goes (default results/maps)")
    expert.add_argument("--name", metavar="NAME", help="file name stem (default map_CASE_X_Y)")
    expert.set_defaults(run=run_map)


def spec_from_args(args) -> MapSpec:
    case = check_case_arg(args.case)[0]
    axes = []
    for label in ("x", "y"):
        name = axis_name(getattr(args, label), case, label)
        text, scale = default_axis(name, case, args.k)
        text = getattr(args, f"{label}_range") or text
        scale = getattr(args, f"{label}_scale") or scale
        axes.append(parse_axis(name, text, scale, case, args.k, f"{label}-range"))
    return MapSpec(case=case, x=axes[0], y=axes[1], d=args.d, k=args.k, m=args.m, n=args.n, seed=args.seed,
                   sigma=args.sigma, p=args.p, tau=args.tau, rho=args.leak, shared=args.shared_latent)


def build_map(spec: MapSpec, name: str, mc_points: int, mc_trials: int, seed: int) -> tuple[dict, dict, dict]:
    """Compute the exact grid and simulate mc_points of it: the grid, the record that is saved (the
    same for the same seed) and the seconds each part took."""
    start = time.perf_counter()
    grid = compute_map(spec)
    seconds = {"exact": time.perf_counter() - start}
    points = pick_points(len(grid["ys"]), len(grid["xs"]), mc_points)
    start = time.perf_counter()
    bar = Progress(f"{name}: Monte Carlo points", unit="point")
    mc = simulate_points(spec, grid, points, mc_trials, seed, bar) if points else []
    seconds["monte_carlo"] = time.perf_counter() - start
    return grid, map_record(spec, grid, name, mc), seconds


def _json(value):
    if isinstance(value, np.ndarray):
        return [_json(v) for v in value.tolist()]
    if isinstance(value, list):
        return [_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def derived_fields(grid: dict) -> dict:
    """log2 of the ratio and the mixture's relative gain over the better of BP and SG."""
    best = np.minimum(grid["mse_bp"], grid["mse_sg"])
    with np.errstate(divide="ignore", invalid="ignore"):
        return {"log2_ratio": np.log2(grid["ratio"]),
                "gain": np.where(best > 0.0, 1.0 - grid["mse_mix"] / np.where(best > 0.0, best, 1.0), np.nan)}


def map_record(spec: MapSpec, grid: dict, name: str, mc: list[dict]) -> dict:
    fields = {key: grid[key] for key in GRID_FIELDS if key in grid} | derived_fields(grid)

    def axis(a, values):
        return {"axis": a.name, "symbol": NOISE_NAME[spec.case] if a.name == "noise" else a.name,
                "scale": a.scale, "lo": a.lo, "hi": a.hi, "count": a.count, "values": values}

    curve = n_star_curve(spec, grid)
    return _json({
        "name": name, "config": spec.config(), "noise_name": NOISE_NAME[spec.case],
        "x": axis(spec.x, grid["xs"]), "y": axis(spec.y, grid["ys"]),
        **{key: fields[key] for key in GRID_FIELDS},
        "boundary": curve, "mc": mc,
    })


def map_csv(record: dict) -> str:
    """One row per grid point: n, rho, the noise level, d and the exact values."""
    noise = record["noise_name"]
    names = {"n": "n", "leak": "rho", "noise": noise, "d": "d"}
    cfg = record["config"]
    fixed = {"n": cfg["n"], "leak": cfg["rho"], "noise": cfg[noise], "d": cfg["d"]}
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(list(names.values()) + list(CSV_FIELDS))
    mse_bp, mse_sg = np.array(record["mse_bp"], dtype=float), np.array(record["mse_sg"], dtype=float)
    for iy, yv in enumerate(record["y"]["values"]):
        for ix, xv in enumerate(record["x"]["values"]):
            at = fixed | {record["x"]["axis"]: xv, record["y"]["axis"]: yv}
            values = {key: record[key][iy][ix] for key in GRID_FIELDS}
            values["ratio"] = float(mse_bp[iy, ix] / mse_sg[iy, ix]) if mse_sg[iy, ix] > 0 else None
            writer.writerow([at[a] for a in names] + ["" if values.get(k) is None else repr(values[k])
                                                      for k in CSV_FIELDS])
    return buf.getvalue()


def save_map(record: dict, out: Path) -> list[Path]:
    """NAME.json and NAME.csv, each written atomically."""
    paths = [out / f"{record['name']}.json", out / f"{record['name']}.csv"]
    save_atomic(paths[0], json.dumps(record) + "\n")
    save_atomic(paths[1], map_csv(record))
    return paths


def run_map(args) -> int:
    spec = spec_from_args(args)
    check_int("mc-points", args.mc_points, 0, MAX_MC_POINTS)
    check_int("mc-trials", args.mc_trials, 2)
    name = args.name or f"map_{spec.case}_{spec.x.name}_{spec.y.name}"
    if not name.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"name must hold letters, digits, - and _ only, got {name!r}")
    out = Path(args.out)
    _, record, seconds = build_map(spec, name, args.mc_points, args.mc_trials, args.seed)
    paths = save_map(record, out) + draw_map(record, out)
    if args.json:
        print(json.dumps({"files": [str(p) for p in paths], "seconds": seconds, "mc": record["mc"]}))
        return 0
    ny, nx = len(record["y"]["values"]), len(record["x"]["values"])
    print(f"map {name}: {nx} x {ny} points, exact in {seconds['exact']:.2f} s; "
          f"{len(record['mc'])} points simulated in {seconds['monte_carlo']:.1f} s")
    for pt in record["mc"]:
        z_ratio = "n/a" if pt["z_ratio"] is None else f"{pt['z_ratio']:+.2f}"
        print(f"  MC n={pt['n']}, rho={pt['leak']:.4g}, {record['noise_name']}={pt['noise']:.4g}, d={pt['d']}: "
              f"ratio {pt['ratio']:.4g} [{pt['ratio_lo']:.4g}, {pt['ratio_hi']:.4g}] exact {pt['exact_ratio']:.4g} "
              f"(z {z_ratio}); MSE(lambda*) z {pt['z_mix']:+.2f}")
    for path in paths:
        print(path)
    return 0


# `sgbp reproduce`: two maps of the activation case, whose noise variance fbar^2 (1 - p) / p also
# moves with the leak. Monte Carlo trials per point: MC_TRIALS times the profile's check scale.
REPRODUCE_CASE = "activation"
REPRODUCE_MAPS = {
    "map_n_leak": {"x": ("n", "1:256:60", "log"), "y": ("leak", "0.01:3:60", "log"), "n": 1},
    "map_noise_leak": {"x": ("noise", "0.05:0.95:60", "lin"), "y": ("leak", "0.01:3:60", "log"), "n": 4},
}
MAP_D, MAP_K, MAP_M = 8, 2, 5
MC_TRIALS = 500
EXACT_RTOL = 1e-12


def reproduce_maps(out: Path, scale: float, seed: int) -> list[CheckResult]:
    """Compute, simulate and save the two maps of REPRODUCE_MAPS under `out`; return their checks."""
    trials = max(2, int(round(MC_TRIALS * scale)))
    built = {}
    for name, cfg in REPRODUCE_MAPS.items():
        axes = [parse_axis(a, text, scale_, REPRODUCE_CASE, MAP_K, f"{label}-range")
                for label, (a, text, scale_) in (("x", cfg["x"]), ("y", cfg["y"]))]
        spec = MapSpec(case=REPRODUCE_CASE, x=axes[0], y=axes[1], d=MAP_D, k=MAP_K, m=MAP_M, n=cfg["n"], seed=seed)
        grid, record, _ = build_map(spec, name, 3, trials, seed)
        save_map(record, out)
        built[name] = (spec, grid, record)
    return [boundary_check(*built["map_n_leak"]), mixture_check(*built["map_noise_leak"])]


def sign_mismatches(grid: dict) -> tuple[int, int]:
    """Points where the map's winner disagrees with T6 (SG wins iff n < n*), and the points compared.

    Points within 1e-9 of a tie (n = n*) are left out."""
    n = grid["params"]["n"].astype(float)
    n_star = grid["n_star"]
    log_ratio = np.log(grid["ratio"])
    keep = ~(np.abs(n_star - n) <= 1e-9 * n) & np.isfinite(log_ratio)
    sg_wins = log_ratio > 0.0
    below = n < n_star
    return int(np.sum((sg_wins != below) & keep)), int(np.sum(keep))


def _mc_text(record: dict) -> tuple[str, bool]:
    parts, ok = [], True
    for pt in record["mc"]:
        zr, zm = pt["z_ratio"], pt["z_mix"]
        ok &= zr is not None and zm is not None and abs(zr) < Z_TOL and abs(zm) < Z_TOL
        parts.append(f"n={pt['n']}, rho={pt['leak']:.3g}, {record['noise_name']}={pt['noise']:.3g}: ratio {pt['ratio']:.4g} vs exact "
                     f"{pt['exact_ratio']:.4g} (z {zr if zr is None else format(zr, '+.2f')}), MSE(lambda*) z "
                     f"{zm if zm is None else format(zm, '+.2f')}")
    trials = record["mc"][0]["trials"] if record["mc"] else 0
    return f"Monte Carlo at {len(record['mc'])} points, {trials} trials each: " + "; ".join(parts), ok


def boundary_check(spec: MapSpec, grid: dict, record: dict) -> CheckResult:
    """The n x leak map's boundary is T6's crossover: winners agree with n* everywhere, and the drawn
    n*(rho) equals crossover_n at sampled leaks."""
    bad, total = sign_mismatches(grid)
    inst = make_expert_instance(spec.d, spec.k, spec.m, spec.seed)
    curve = record["boundary"]
    rows = np.linspace(0, len(curve["values"]) - 1, 5).astype(int)
    worst = 0.0
    for i in rows:
        fb = spec.feedback(spec.fixed("noise"), curve["values"][i])
        want = crossover_n(inst, fb)
        worst = max(worst, abs(curve["n_star"][i] - want) / abs(want))
    mc, mc_ok = _mc_text(record)
    ok = bad == 0 and worst <= EXACT_RTOL and mc_ok
    return CheckResult(
        id="T6-map",
        statement="On the n x leak regime map, SG wins exactly below T6's crossover n*(rho) and BP above it",
        method="exact + Monte Carlo",
        numbers=f"{spec.case}, d={spec.d}, k={spec.k}, m={spec.m}, {record['noise_name']}={spec.fixed('noise')}; "
                f"{total} grid points, {bad} where "
                f"the winner disagrees with n < n* (0 required: each row's change of sign lies in the grid step "
                f"holding n*); drawn n* vs crossover_n at {len(rows)} leaks: worst relative difference "
                f"{worst:.1e} (<= {EXACT_RTOL:g} required). {mc}; |z| < {Z_TOL:g} required",
        status=outcome(ok),
        figure=record["name"],
    )


def mixture_check(spec: MapSpec, grid: dict, record: dict) -> CheckResult:
    """T7 over the noise x leak map: the mixture at lambda* never loses to the better of BP and SG,
    and lambda* and MSE(lambda*) equal exact_mse at sampled points."""
    best = np.minimum(grid["mse_bp"], grid["mse_sg"])
    loss = np.max((grid["mse_mix"] - best) / best)
    gain = 1.0 - grid["mse_mix"] / best
    iy, ix = np.unravel_index(np.argmax(gain), gain.shape)
    top = point_params(grid, iy, ix)
    inst = make_expert_instance(spec.d, spec.k, spec.m, spec.seed)
    worst = 0.0
    ny, nx = gain.shape
    for r, c in ((0, 0), (ny // 2, nx // 3), (ny - 1, nx - 1), (iy, ix)):
        at = point_params(grid, r, c)
        exact = exact_mse(inst, spec.feedback(at["noise"], at["leak"]), at["n"])
        # lambda* lies in [0, 1] and is a difference of near-equal moments where it is small: absolute
        worst = max(worst, abs(grid["lambda_star"][r, c] - exact.lambda_star),
                    abs(grid["mse_mix"][r, c] - exact.mse_mix) / exact.mse_mix)
    bad, total = sign_mismatches(grid)
    mc, mc_ok = _mc_text(record)
    ok = loss <= EXACT_RTOL and worst <= EXACT_RTOL and bad == 0 and mc_ok
    return CheckResult(
        id="T7-map",
        statement="On the noise x leak regime map, the mixture at lambda* is never worse than the better of BP "
                  "and SG, and gains most along the BP = SG boundary",
        method="exact + Monte Carlo",
        numbers=f"{spec.case}, d={spec.d}, k={spec.k}, m={spec.m}, n={spec.n}; {total} grid points: largest "
                f"relative excess of MSE(lambda*) over min(MSE_BP, MSE_SG) {loss:.1e} (<= {EXACT_RTOL:g} "
                f"required); largest gain {100 * gain[iy, ix]:.1f}% at {record['noise_name']}={top['noise']:.3g}, "
                f"rho={top['leak']:.3g} (lambda*={grid['lambda_star'][iy, ix]:.2f}, n*={grid['n_star'][iy, ix]:.3g} "
                f"against n={spec.n}); lambda* (absolute) and MSE(lambda*) (relative) vs exact_mse at 4 "
                f"points: worst difference {worst:.1e} (<= {EXACT_RTOL:g} required); BP = SG contour: {bad} of {total} points where the winner disagrees "
                f"with n < n* (0 required). {mc}; |z| < {Z_TOL:g} required",
        status=outcome(ok),
        figure=record["name"],
    )
