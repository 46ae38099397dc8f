"""Regime maps (sgbp map expert): the grid against exact_mse and `sgbp theory expert`, the drawn
boundary against T6's crossover, the saved files, and the refusals."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from sgbp import map_cmd
from sgbp.cli import main
from theory.exact import ExactEvaluator, crossover_n, exact_mse
from theory.feedback import FeedbackModel
from theory.instance import make_expert_instance
from theory.regime_map import MapSpec, compute_map, parse_axis, point_params

RTOL = 1e-12
KEYS = ("mse_bp", "mse_sg", "bias_sq", "var_sg", "cov", "lambda_star", "mse_mix")
NOISE = {"noisy": ("sigma", "0.05:3:7", "log"), "activation": ("p", "0.1:1:7", "lin"),
         "partial": ("tau", "0.05:3:7", "log")}


def spec_of(case, x, y, **fixed):
    axes = [parse_axis(name, text, scale, case, fixed.get("k", 2), f"{label}-range")
            for label, (name, text, scale) in (("x", x), ("y", y))]
    return MapSpec(case=case, x=axes[0], y=axes[1], **fixed)


def close(a, b, key=""):
    """Relative for the MSEs; absolute for lambda* in [0, 1], which is a difference of near-equal
    moments where it is small."""
    if key == "lambda_star":
        return abs(a - b) <= RTOL
    return abs(a - b) <= RTOL * max(abs(a), abs(b)) or a == b


def assert_matches_exact(spec, grid, points):
    insts = {}
    for iy, ix in points:
        at = point_params(grid, iy, ix)
        inst = insts.setdefault(at["d"], make_expert_instance(at["d"], spec.k, spec.m, spec.seed))
        exact = exact_mse(inst, spec.feedback(at["noise"], at["leak"]), at["n"])
        for key in KEYS + ("ratio",):
            assert close(grid[key][iy, ix], getattr(exact, key), key), (key, at, grid[key][iy, ix], getattr(exact, key))


def spread_points(grid):
    ny, nx = grid["ratio"].shape
    return [(0, 0), (ny - 1, nx - 1), (ny // 2, 0), (1, nx // 2), (ny - 2, nx - 3), (ny // 3, 2 * nx // 3)]


# A rho expansion that forgot the activation variance's rho^2 term, a swapped x/y orientation,
# or a 1/n applied to the bias would each break these at the far corners of non-square grids.
@pytest.mark.parametrize("case", ["noisy", "activation", "partial"])
@pytest.mark.parametrize("shared", [False, True])
def test_n_by_leak_equals_exact_mse(case, shared):
    spec = spec_of(case, ("n", "1:64:9", "log"), ("leak", "0.01:3:6", "log"), d=6, k=2, m=4, seed=1,
                   shared=shared)
    grid = compute_map(spec)
    assert grid["ratio"].shape == (6, len(grid["xs"]))
    assert_matches_exact(spec, grid, spread_points(grid))


@pytest.mark.parametrize("case", ["noisy", "activation", "partial"])
def test_noise_by_leak_equals_exact_mse(case):
    spec = spec_of(case, NOISE[case], ("leak", "-1:2.5:5", "lin"), d=5, k=2, m=3, n=3, seed=2)
    grid = compute_map(spec)
    assert_matches_exact(spec, grid, spread_points(grid))


def test_d_axis_equals_exact_mse():
    spec = spec_of("activation", ("noise", "0.2:0.9:4", "lin"), ("d", "3:7", "lin"), k=2, m=3, n=2, rho=0.4, p=0.3)
    grid = compute_map(spec)
    assert list(grid["ys"]) == [3, 4, 5, 6, 7]
    assert_matches_exact(spec, grid, [(r, c) for r in range(5) for c in (0, 3)])


def test_rho_expansion_is_exact():
    inst = make_expert_instance(5, 2, 4, 3)
    for case in ("noisy", "activation", "partial"):
        for shared in (False, True):
            ev = ExactEvaluator(inst, shared)
            coef = ev.rho_quadratic(FeedbackModel(case=case, shared=shared))
            for rho in (-0.7, 0.3, 4.0):
                direct = ev.moments(FeedbackModel(case=case, rho=rho, shared=shared))
                expanded = coef[:, 0] + coef[:, 1] * rho + coef[:, 2] * rho**2
                np.testing.assert_allclose(expanded, direct, rtol=1e-12)


def test_map_equals_sgbp_theory_expert(capsys):
    spec = spec_of("activation", ("n", "1:50:6", "log"), ("leak", "0.05:2:5", "log"), d=6, k=2, m=5, p=0.3)
    grid = compute_map(spec)
    iy, ix = 3, 4
    at = point_params(grid, iy, ix)
    assert main(["theory", "expert", "--case", "activation", "--d", "6", "--k", "2", "--p", "0.3", "--n",
                 str(at["n"]), "--leak", repr(at["leak"]), "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    for key in ("mse_bp", "mse_sg", "ratio", "bias_sq", "lambda_star", "mse_mix", "n_star"):
        assert close(grid[key][iy, ix], row[key], key), key


def test_boundary_is_crossover_n_and_where_the_ratio_crosses_one():
    spec = spec_of("noisy", ("n", "1:512:40", "log"), ("leak", "0.02:3:12", "log"), d=6, k=2, m=4, seed=0)
    grid = compute_map(spec)
    record = map_cmd.map_record(spec, grid, "t", [])
    curve = record["boundary"]
    assert curve["axis"] == "leak"
    inst = make_expert_instance(6, 2, 4, 0)
    ns = np.array(record["x"]["values"], dtype=float)
    crossings = 0
    for i, rho in enumerate(curve["values"]):
        want = crossover_n(inst, spec.feedback(spec.sigma, rho))
        assert close(curve["n_star"][i], want)
        log_ratio = np.array(record["log2_ratio"][i], dtype=float)
        flips = np.nonzero(np.diff(np.sign(log_ratio)) != 0)[0]
        if ns[0] < want <= ns[-1]:
            # one change of sign, SG winning left of it, in the grid step that holds n*
            assert len(flips) == 1 and log_ratio[0] > 0
            assert ns[flips[0]] < want <= ns[flips[0] + 1]
            crossings += 1
        else:
            assert len(flips) == 0
    assert crossings >= 6  # the test grid does cross the boundary


def test_contour_boundary_without_n_axis_brackets_t6():
    """noise x leak at fixed n: along each column the sign changes between the two leaks whose
    crossover n* brackets n."""
    spec = spec_of("activation", ("noise", "0.1:0.95:6", "lin"), ("leak", "0.05:5:30", "log"), d=6, k=2, m=4, n=4)
    grid = compute_map(spec)
    assert map_cmd.map_record(spec, grid, "t", [])["boundary"] is None
    inst = make_expert_instance(6, 2, 4, 0)
    crossings = 0
    for ix, p in enumerate(grid["xs"]):
        column = np.log(grid["ratio"][:, ix])
        flips = np.nonzero(np.diff(np.sign(column)) != 0)[0]
        assert len(flips) <= 1
        if len(flips):
            lo, hi = grid["ys"][flips[0]], grid["ys"][flips[0] + 1]
            assert column[0] > 0 and crossover_n(inst, spec.feedback(p, lo)) > 4 > crossover_n(inst, spec.feedback(p, hi))
            crossings += 1
        else:  # no crossing: the winner and T6 agree at both ends
            for row in (0, -1):
                assert (column[row] > 0) == (crossover_n(inst, spec.feedback(p, grid["ys"][row])) > 4)
    assert crossings >= 3


def test_boundary_check_fails_on_a_shifted_curve():
    spec = spec_of("activation", ("n", "1:128:20", "log"), ("leak", "0.02:3:10", "log"), d=5, k=2, m=3)
    grid = compute_map(spec)
    record = map_cmd.map_record(spec, grid, "t", [])
    assert map_cmd.boundary_check(spec, grid, record).passed
    record["boundary"]["n_star"] = [v * (1 + 1e-9) for v in record["boundary"]["n_star"]]
    assert not map_cmd.boundary_check(spec, grid, record).passed
    flipped = dict(grid, ratio=grid["ratio"].copy())
    flipped["ratio"][4, 7] = 1.0 / flipped["ratio"][4, 7]
    assert map_cmd.sign_mismatches(flipped)[0] == 1


def test_cli_writes_grid_and_figures(tmp_path, capsys):
    argv = ["map", "expert", "--case", "partial", "--d", "5", "--k", "2", "--m", "3", "--x", "leak",
            "--x-range", "0.05:2:7", "--y", "tau", "--y-range", "0.1:2:5", "--n", "2", "--mc-points", "2",
            "--mc-trials", "400", "--out", str(tmp_path), "--name", "small"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "7 x 5 points" in printed
    record = json.loads((tmp_path / "small.json").read_text())
    assert (tmp_path / "small.png").stat().st_size > 20_000 and (tmp_path / "small.pdf").exists()
    with open(tmp_path / "small.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 35
    row = rows[2]  # rows run over x within y: y index 0, x index 2
    assert float(row["rho"]) == record["x"]["values"][2] and float(row["tau"]) == record["y"]["values"][0]
    assert float(row["n"]) == 2 and float(row["d"]) == 5
    assert float(row["mse_sg"]) == record["mse_sg"][0][2]
    # two simulated points, each agreeing with the map within 4 SE
    assert len(record["mc"]) == 2
    for pt in record["mc"]:
        assert pt["trials"] == 400 and abs(pt["z_ratio"]) < 4 and abs(pt["z_mix"]) < 4
        assert pt["exact_ratio"] == pytest.approx(2.0 ** record["log2_ratio"][pt["row"]][pt["col"]], rel=1e-12)


def test_same_seed_same_simulated_points(tmp_path):
    spec = spec_of("noisy", ("n", "1:8:4", "log"), ("leak", "0.1:1:3", "log"), d=4, k=2, m=3)
    _, first, _ = map_cmd.build_map(spec, "a", 2, 200, seed=5)
    _, again, _ = map_cmd.build_map(spec, "a", 2, 200, seed=5)
    _, other, _ = map_cmd.build_map(spec, "a", 2, 200, seed=6)
    assert first == again
    assert [p["ratio"] for p in first["mc"]] != [p["ratio"] for p in other["mc"]]


BAD = [
    ["--x", "n", "--y", "n"],
    ["--x", "rho", "--y", "leak"],
    ["--x", "noise", "--y", "sigma"],
    ["--x", "foo", "--y", "n"],
    ["--case", "activation", "--x", "sigma", "--y", "n"],
    ["--x", "d", "--y", "n", "--k", "4", "--x-range", "3:8"],
    ["--x", "d", "--y", "n", "--x-range", "4:30"],
    ["--x", "n", "--y", "leak", "--x-range", "1:10:1"],
    ["--x", "n", "--y", "leak", "--x-range", "10:1:5"],
    ["--x", "n", "--y", "leak", "--x-range", "1:1"],
    ["--x", "n", "--y", "leak", "--x-range", "1.5:10:5"],
    ["--x", "leak", "--y", "n", "--x-range", "0:1:5"],
    ["--x", "leak", "--y", "n", "--x-range", "-1:1:5", "--x-scale", "log"],
    ["--case", "activation", "--x", "p", "--y", "leak", "--x-range", "0.5:1.5:5", "--x-scale", "lin"],
    ["--case", "activation", "--x", "p", "--y", "leak", "--x-range", "0:1:5", "--x-scale", "lin"],
    ["--x", "sigma", "--y", "leak", "--x-range", "-1:1:5", "--x-scale", "lin"],
    ["--x", "n", "--y", "leak", "--x-range", "1:10000:1000", "--y-range", "0.1:1:1000"],
    ["--x", "n", "--y", "leak", "--x-range", "1:10:5000"],
    ["--x", "n", "--y", "leak", "--x-range", "1-10"],
    ["--x", "n", "--y", "leak", "--x-range", "a:b:3"],
    ["--x", "n", "--y", "leak", "--x-scale", "cubic"],
    ["--x", "n", "--y", "leak", "--d", "2", "--k", "2"],
    ["--x", "n", "--y", "leak", "--mc-points", "11"],
    ["--x", "n", "--y", "leak", "--mc-trials", "1"],
    ["--x", "n", "--y", "leak", "--name", "../x"],
    ["--y", "leak"],
]


def exit_status(argv) -> int:
    try:
        return main(argv)
    except SystemExit as exc:  # argparse's own refusals
        return exc.code


@pytest.mark.parametrize("argv", BAD, ids=lambda a: " ".join(a))
def test_bad_input_is_refused_with_one_line(argv, tmp_path, capsys):
    assert exit_status(["map", "expert", "--out", str(tmp_path)] + argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not list(tmp_path.iterdir())


# (axis, text, scale, case, k): each accepted at its boundary; the same with the boundary crossed is refused
AXIS_BOUNDARIES = [
    (("n", "1:4:2", "lin", "noisy", 2), ("n", "1:4:1", "lin", "noisy", 2), "count must be between 2 and 1000"),
    (("n", "1:4:1000", "lin", "noisy", 2), ("n", "1:4:1001", "lin", "noisy", 2), "count must be between 2 and 1000"),
    (("leak", "0.01:3", "log", "noisy", 2), ("leak", "0:3", "log", "noisy", 2), "a log scale needs lo > 0, got lo = 0 "),
    (("leak", "0:3", "lin", "noisy", 2), ("leak", "3:3", "lin", "noisy", 2), "needs finite lo < hi"),
    (("leak", "0:3", "lin", "noisy", 2), ("leak", "0:inf", "lin", "noisy", 2), "needs finite lo < hi"),
    (("leak", "0:3", "lin", "noisy", 2), ("leak", "nan:3", "lin", "noisy", 2), "needs finite lo < hi"),
    (("n", "1:5", "lin", "noisy", 2), ("n", "0:5", "lin", "noisy", 2), "n must be >= 1, got lo = 0$"),
    (("n", "1:5:4", "lin", "noisy", 2), ("n", "1:5:four", "lin", "noisy", 2), "count must be an integer, got 'four'"),
    (("d", "2:16", "lin", "noisy", 2), ("d", "1:16", "lin", "noisy", 2), "d must be between k = 2 and 16"),
    (("d", "2:16", "lin", "noisy", 2), ("d", "2:17", "lin", "noisy", 2), "d must be between k = 2 and 16"),
    (("noise", "0.1:1", "lin", "activation", 2), ("noise", "0:1", "lin", "activation", 2), "p must be in"),
    (("noise", "0.1:1", "lin", "activation", 2), ("noise", "0.1:1.5", "lin", "activation", 2), "p must be in"),
    (("noise", "0:2", "lin", "noisy", 2), ("noise", "-0.1:2", "lin", "noisy", 2), "sigma must be >= 0"),
    (("noise", "0:2", "lin", "partial", 2), ("noise", "-0.1:2", "lin", "partial", 2), "tau must be >= 0"),
]


@pytest.mark.parametrize("ok,bad,message", AXIS_BOUNDARIES)
def test_parse_axis_boundaries(ok, bad, message):
    parse_axis(*ok, label="x-range")
    with pytest.raises(ValueError, match=message):
        parse_axis(*bad, label="x-range")


def test_axis_counts_and_default_ranges():
    """A d axis without a count has one value per integer; others 60; the defaults per axis and case; the
    names axes are shown under."""
    from theory.regime_map import default_axis, display_name
    assert [display_name(a, "activation") for a in ("n", "leak", "noise", "d")] == ["n", "rho", "p", "d"]
    assert display_name("noise", "partial") == "tau" and display_name("noise", "noisy") == "sigma"
    assert parse_axis("d", "3:9", "lin", "noisy", 2, "x-range").count == 7
    assert parse_axis("leak", "0:1", "lin", "noisy", 2, "x-range").count == 60
    assert default_axis("n", "noisy", 2) == ("1:1024:60", "log")
    assert default_axis("leak", "noisy", 2) == ("0.01:3:60", "log")
    assert default_axis("d", "noisy", 2) == ("3:10", "lin") and default_axis("d", "noisy", 12) == ("13:16", "lin")
    assert default_axis("noise", "activation", 2) == ("0.05:0.95:60", "lin")
    assert default_axis("noise", "noisy", 2) == ("0.05:5:60", "log") == default_axis("noise", "partial", 2)


def test_map_spec_defaults_are_the_expert_commands():
    """The fixed parameters default to those of `sgbp theory expert` (the reproduce map relies on it)."""
    import argparse

    from sgbp.args import add_expert_args
    from theory.regime_map import Axis
    parser = argparse.ArgumentParser()
    add_expert_args(parser)
    args = parser.parse_args([])
    spec = MapSpec("noisy", Axis("n", 1, 4, 4, "lin"), Axis("noise", 0.1, 1.0, 4, "lin"))
    assert (spec.d, spec.k, spec.m, spec.n, spec.seed, spec.sigma, spec.p, spec.tau, spec.rho, spec.shared) == \
        (args.d, args.k, args.m, args.n, args.seed, args.sigma, args.p, args.tau, args.leak, args.shared_latent)


def test_map_spec_refuses_a_leak_without_room_and_too_many_points():
    from theory.regime_map import Axis
    n, leak = Axis("n", 1, 4, 4, "lin"), Axis("leak", 0.0, 1.0, 3, "lin")
    MapSpec("noisy", n, leak, d=3, k=2)
    with pytest.raises(ValueError, match="leak needs k < d"):
        MapSpec("noisy", n, leak, d=2, k=2)
    with pytest.raises(ValueError, match="leak needs k < d"):
        MapSpec("noisy", n, Axis("noise", 0.1, 1.0, 3, "lin"), d=2, k=2, rho=0.1)
    MapSpec("noisy", n, Axis("noise", 0.1, 1.0, 3, "lin"), d=2, k=2, rho=0.0)
    big = Axis("leak", 0.0, 1.0, 500, "lin")
    MapSpec("noisy", Axis("noise", 0.1, 1.0, 500, "lin"), big)  # 250,000 points: the most allowed
    with pytest.raises(ValueError, match="at most 250000 grid points"):
        MapSpec("noisy", Axis("noise", 0.1, 1.0, 501, "lin"), big)
    with pytest.raises(ValueError, match="must differ from x"):
        MapSpec("noisy", n, Axis("n", 1, 5, 5, "lin"))


def test_monte_carlo_points_by_hand():
    """Fractions 1/8, 3/8, 5/8, 7/8 of 10 rows and 20 columns; on a 2 x 2 grid repeats are dropped; none is
    allowed."""
    from theory.regime_map import pick_points
    assert pick_points(10, 20, 4) == [(1, 2), (3, 7), (6, 12), (8, 17)]
    assert pick_points(2, 2, 4) == [(0, 0), (1, 1)] and pick_points(1, 1, 10) == [(0, 0)]
    assert pick_points(5, 5, 0) == []
    with pytest.raises(ValueError, match="mc-points"):
        pick_points(5, 5, -1)
