"""Regime maps: the exact MSEs of BP, SG and the mixture over a grid of two parameters.

The axes are two of n (samples per state), leak (rho, how far condition B fails), noise (the
case's noise level: sigma, p or tau, how strongly condition A holds) and d (k fixed).

Nothing is re-evaluated per point that does not change across the grid: one ExactEvaluator
(Gram matrices, bias vectors) per d, one rho expansion (ExactEvaluator.rho_quadratic) per
(d, noise level); then every point is ||b||^2 = c0 + c1 rho + c2 rho^2 and the variances are the
same quadratics divided by n, assembled by theory.exact.assemble like exact_mse itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from theory.exact import ExactEvaluator, assemble, crossover, ratio
from theory.feedback import FeedbackModel
from theory.instance import make_expert_instance
from theory.params import check_case, check_instance_shape, check_int

AXES = ("n", "leak", "noise", "d")
NOISE_NAME = {"noisy": "sigma", "activation": "p", "partial": "tau"}
SCALES = ("log", "lin")
MAX_COUNT = 1000  # values on one axis
MAX_POINTS = 250_000  # grid points in all (500 x 500)
MAX_MAP_D = 16  # a d axis builds one instance per d: 2^d Jacobians of d x d, 134 MB and 0.4 s at d = 16
MAX_MC_POINTS = 10
DEFAULT_COUNT = 60
FIELDS = ("mse_bp", "mse_sg", "bias_sq", "var_sg", "cov", "lambda_star", "mse_mix", "ratio", "n_star")


def axis_name(name: str, case: str, label: str) -> str:
    """The canonical axis (n, leak, noise, d) of a command-line name; rho and the case's noise name
    (sigma, p or tau) are accepted too."""
    if name == "rho":
        return "leak"
    if name in NOISE_NAME.values():
        if name != NOISE_NAME[case]:
            raise ValueError(f"{label}: {name} is not the noise level of case {case}; use "
                             f"{NOISE_NAME[case]} or noise")
        return "noise"
    if name not in AXES:
        raise ValueError(f"{label} must be one of n, leak (rho), noise ({NOISE_NAME[case]} for case {case}), "
                         f"d; got {name!r}")
    return name


def display_name(axis: str, case: str) -> str:
    """An axis's name in tables and figures: the case's noise parameter for "noise", rho for "leak"."""
    return NOISE_NAME[case] if axis == "noise" else ("rho" if axis == "leak" else axis)


@dataclass(frozen=True)
class Axis:
    """name: n, leak, noise or d; values spaced evenly (scale lin) or geometrically (scale log)
    from lo to hi; n and d are integers: the spaced values are rounded and repeats dropped."""

    name: str
    lo: float
    hi: float
    count: int
    scale: str

    def values(self) -> np.ndarray:
        space = np.geomspace if self.scale == "log" else np.linspace
        v = space(self.lo, self.hi, self.count)
        v[0], v[-1] = self.lo, self.hi  # geomspace may round the ends
        if self.name in ("n", "d"):
            v = np.unique(np.rint(v)).astype(np.int64)
        return v


def default_axis(name: str, case: str, k: int) -> tuple[str, str]:
    """(range text, scale) used when --x-range / --x-scale are not given."""
    if name == "n":
        return f"1:1024:{DEFAULT_COUNT}", "log"
    if name == "leak":
        return f"0.01:3:{DEFAULT_COUNT}", "log"
    if name == "d":
        return f"{k + 1}:{min(k + 8, 16)}", "lin"
    if case == "activation":
        return f"0.05:0.95:{DEFAULT_COUNT}", "lin"
    return f"0.05:5:{DEFAULT_COUNT}", "log"


def parse_axis(name: str, text: str, scale: str, case: str, k: int, label: str) -> Axis:
    """`lo:hi[:count]` for axis `name`; label names the option in errors (e.g. x-range).

    count defaults to 60 (for d: one value per integer). Refuses count < 2 or > MAX_COUNT,
    lo >= hi, a log scale with lo <= 0, n < 1, d outside [k, MAX_MAP_D], p outside (0, 1],
    sigma or tau < 0.
    """
    if scale not in SCALES:
        raise ValueError(f"{label.replace('range', 'scale')} must be log or lin, got {scale!r}")
    parts = text.split(":")
    if len(parts) not in (2, 3):
        raise ValueError(f"{label} must be lo:hi or lo:hi:count, got {text!r}")
    try:
        lo, hi = float(parts[0]), float(parts[1])
    except ValueError:
        raise ValueError(f"{label}: lo and hi must be numbers, got {text!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo >= hi:
        raise ValueError(f"{label}: needs finite lo < hi, got {text!r}")
    if len(parts) == 3:
        try:
            count = int(parts[2])
        except ValueError:
            raise ValueError(f"{label}: count must be an integer, got {parts[2]!r}") from None
    else:
        count = int(hi - lo) + 1 if name == "d" else DEFAULT_COUNT
    if count < 2 or count > MAX_COUNT:
        raise ValueError(f"{label}: count must be between 2 and {MAX_COUNT}, got {count}")
    if scale == "log" and lo <= 0.0:
        raise ValueError(f"{label}: a log scale needs lo > 0, got lo = {parts[0]} (use a lin scale)")
    if name in ("n", "d") and (lo != int(lo) or hi != int(hi)):
        raise ValueError(f"{label}: {name} takes integers, got {text!r}")
    if name == "n" and lo < 1:
        raise ValueError(f"{label}: n must be >= 1, got lo = {parts[0]}")
    if name == "d" and (lo < k or hi > MAX_MAP_D):
        raise ValueError(f"{label}: d must be between k = {k} and {MAX_MAP_D} (one instance per d), got {text!r}")
    if name == "noise":
        noise = NOISE_NAME[case]
        if noise == "p" and (lo <= 0.0 or hi > 1.0):
            raise ValueError(f"{label}: p must be in (0, 1], got {text!r}")
        if noise != "p" and lo < 0.0:
            raise ValueError(f"{label}: {noise} must be >= 0, got {text!r}")
    return Axis(name, lo, hi, count, scale)


@dataclass(frozen=True)
class MapSpec:
    """A regime map: axes x, y and the fixed parameters (those of `sgbp theory expert`)."""

    case: str
    x: Axis
    y: Axis
    d: int = 6
    k: int = 2
    m: int = 5
    n: int = 1
    seed: int = 0
    sigma: float = 0.5
    p: float = 0.5
    tau: float = 0.5
    rho: float = 0.0
    shared: bool = False

    def __post_init__(self):
        check_case(self.case)
        if self.x.name == self.y.name:
            raise ValueError(f"y: must differ from x, both are {display_name(self.x.name, self.case)}")
        axes = {self.x.name, self.y.name}
        ds = self.axis("d").values() if "d" in axes else [self.d]
        for d in (int(min(ds)), int(max(ds))):
            check_instance_shape(d, self.k, self.m)
        check_int("n", self.n, 1)
        check_int("seed", self.seed, 0)
        FeedbackModel(case=self.case, sigma=self.sigma, p=self.p, tau=self.tau, rho=self.rho, shared=self.shared)
        leaks = self.axis("leak").values() if "leak" in axes else [self.rho]
        if any(r != 0.0 for r in leaks) and self.k >= int(min(ds)):
            raise ValueError(f"leak needs k < d (a coordinate outside S_j), got k = {self.k}, d = {int(min(ds))}")
        points = len(self.x.values()) * len(self.y.values())
        if points > MAX_POINTS:
            raise ValueError(f"x-range, y-range: at most {MAX_POINTS} grid points, got {points}")

    def axis(self, name: str) -> Axis:
        return self.x if self.x.name == name else self.y

    def fixed(self, name: str) -> float:
        if name == "noise":
            return getattr(self, NOISE_NAME[self.case])
        return {"n": self.n, "leak": self.rho, "d": self.d}[name]

    def feedback(self, noise: float, rho: float) -> FeedbackModel:
        levels = {"sigma": self.sigma, "p": self.p, "tau": self.tau} | {NOISE_NAME[self.case]: float(noise)}
        return FeedbackModel(case=self.case, rho=float(rho), shared=self.shared, **levels)

    def config(self) -> dict:
        return {"case": self.case, "d": self.d, "k": self.k, "m": self.m, "n": self.n, "seed": self.seed,
                "sigma": self.sigma, "p": self.p, "tau": self.tau, "rho": self.rho, "shared_latent": self.shared}


def compute_map(spec: MapSpec) -> dict:
    """The exact map: 'xs', 'ys' and, per field of FIELDS, an array (len(ys), len(xs));
    'params': the arrays of n, leak, noise and d at each point; n_star is T6's crossover there."""
    xs, ys = spec.x.values(), spec.y.values()
    params = {}
    for name in AXES:
        if name == spec.x.name:
            params[name] = np.broadcast_to(xs[None, :], (len(ys), len(xs)))
        elif name == spec.y.name:
            params[name] = np.broadcast_to(ys[:, None], (len(ys), len(xs)))
        else:
            params[name] = np.full((len(ys), len(xs)), spec.fixed(name))
    coef = np.empty((4, 3) + params["n"].shape)
    for d in np.unique(params["d"]):
        evaluator = ExactEvaluator(make_expert_instance(int(d), spec.k, spec.m, spec.seed), spec.shared)
        at_d = params["d"] == d
        for noise in np.unique(params["noise"][at_d]):
            where = at_d & (params["noise"] == noise)
            coef[:, :, where] = evaluator.rho_quadratic(spec.feedback(noise, 0.0))[:, :, None]
    rho = params["leak"]
    bias_sq, var_bp, var_sg, cov = coef[:, 0] + coef[:, 1] * rho + coef[:, 2] * rho**2  # at n = 1
    n = params["n"]
    out = assemble(bias_sq, var_bp / n, var_sg / n, cov / n)
    out["ratio"] = ratio(out["mse_bp"], out["mse_sg"])
    out["n_star"] = crossover(bias_sq, var_bp, var_sg)
    result = {key: np.asarray(out[key], dtype=float) for key in FIELDS}
    return result | {"xs": xs, "ys": ys, "params": {k: np.array(v) for k, v in params.items()}}


def n_star_curve(spec: MapSpec, grid: dict) -> dict | None:
    """T6's boundary n*(other axis) when n is an axis, else None.

    n* does not depend on n, so it is read off the first n value of every row or column."""
    if "n" not in (spec.x.name, spec.y.name):
        return None
    other = spec.y if spec.x.name == "n" else spec.x
    values = grid["ys"] if spec.x.name == "n" else grid["xs"]
    n_star = grid["n_star"][:, 0] if spec.x.name == "n" else grid["n_star"][0, :]
    return {"axis": other.name, "values": np.asarray(values, dtype=float), "n_star": np.asarray(n_star)}


def pick_points(ny: int, nx: int, count: int) -> list[tuple[int, int]]:
    """count grid points (row, column) spread along the diagonal, at fractions (i + 1/2) / count."""
    check_int("mc-points", count, 0, MAX_MC_POINTS)
    picks = []
    for i in range(count):
        f = (i + 0.5) / count
        picks.append((int(f * ny), int(f * nx)))  # f < 1: inside the grid
    return list(dict.fromkeys(picks))


def point_params(grid: dict, iy: int, ix: int) -> dict:
    """n, leak, noise and d at one grid point, as Python numbers (n, d integers)."""
    p = grid["params"]
    return {"n": int(p["n"][iy, ix]), "leak": float(p["leak"][iy, ix]), "noise": float(p["noise"][iy, ix]),
            "d": int(p["d"][iy, ix])}

