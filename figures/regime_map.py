"""Regime maps (sgbp map expert): where BP, SG or the mixture wins over a plane of two parameters.

Left: log2(MSE_BP / MSE_SG) on a diverging scale centred at 0 (blue: SG better, red: BP better),
T6's crossover n* as a curve when n is an axis (otherwise the ratio = 1 contour of the grid, which
is where n* = n), and contours of T7's lambda*. Right: how much the mixture at lambda* lowers the
MSE below the better of BP and SG. Simulated points are marked, each with its agreement z.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from figures.style import CASE_TITLES, pyplot, save

LAMBDA_LEVELS = (0.1, 0.25, 0.5, 0.75, 0.9)
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "h", "p")
AXIS_LABELS = {
    "n": "feedback samples per state n",
    "leak": r"leak $\rho$ (condition B fails more)",
    "d": r"code dimension d (cell size $2^{d-k}$)",
}
NOISE_LABELS = {
    "sigma": r"noise std $\sigma$ (condition A holds more)",
    "p": r"activation probability p (A holds more as p falls)",
    "tau": r"latent std $\tau$ (condition A holds more)",
}
SYMBOLS = {"n": "n", "leak": r"\rho", "sigma": r"\sigma", "p": "p", "tau": r"\tau", "d": "d"}


def _line(*args, **kw):
    """A legend entry; matplotlib is imported on the first figure, not with the package."""
    from matplotlib.lines import Line2D

    return Line2D(*args, **kw)


def array(rows) -> np.ndarray:
    """A JSON 2-d list (null for non-finite) as a float array (nan)."""
    return np.array([[np.nan if v is None else v for v in row] for row in rows], dtype=float)


def _edges(values: np.ndarray, scale: str) -> np.ndarray:
    """Cell edges around each grid value: midpoints, geometric on a log axis."""
    v = np.log(values) if scale == "log" else values.astype(float)
    mid = 0.5 * (v[1:] + v[:-1])
    edges = np.concatenate([[v[0] - (mid[0] - v[0])], mid, [v[-1] + (v[-1] - mid[-1])]])
    return np.exp(edges) if scale == "log" else edges


def _label(axis: dict) -> str:
    return NOISE_LABELS[axis["symbol"]] if axis["axis"] == "noise" else AXIS_LABELS[axis["axis"]]


def _setup(ax, data: dict, xs, ys):
    for axis, setter in ((data["x"], ax.set_xscale), (data["y"], ax.set_yscale)):
        setter("log" if axis["scale"] == "log" else "linear")
    ax.set_xlabel(_label(data["x"]))
    ax.set_ylabel(_label(data["y"]))
    ax.set_xlim(_edges(xs, data["x"]["scale"])[[0, -1]])
    ax.set_ylim(_edges(ys, data["y"]["scale"])[[0, -1]])
    ax.grid(False)


def _boundary(ax, data: dict, xs, ys, log_ratio):
    b = data["boundary"]
    if b is not None:
        values = np.array(b["values"], dtype=float)
        n_star = np.array([np.nan if v is None else v for v in b["n_star"]], dtype=float)
        n_star[~(n_star > 0)] = np.nan  # SG never wins where V_BP <= V_SG
        curve = (n_star, values) if data["x"]["axis"] == "n" else (values, n_star)
        ax.plot(*curve, color="black", lw=2.0, zorder=4)
        return _line([], [], color="black", lw=2.0, label=r"T6: crossover $n^*$ (BP = SG)")
    ax.contour(xs, ys, log_ratio, levels=[0.0], colors="black", linewidths=2.0, zorder=4)
    n = data["config"]["n"]
    return _line([], [], color="black", lw=2.0, label=f"BP = SG (grid contour; T6: $n^* = {n}$)")


def _label_spots(contours) -> list[tuple[float, float]]:
    """One label per lambda* contour, on its longest piece, staggered along it (level i at the
    fraction 0.25 + 0.5 i / (L - 1) of its vertices) so that labels of neighbouring levels part."""
    spots = []
    levels = contours.allsegs
    for i, segs in enumerate(levels):
        if not segs:
            continue
        longest = max(segs, key=len)
        f = 0.25 + 0.5 * i / max(len(levels) - 1, 1)
        x, y = longest[min(len(longest) - 1, int(f * len(longest)))]
        spots.append((float(x), float(y)))
    return spots


def _mc_handles(ax, data: dict) -> list:
    handles = []
    xsym, ysym = SYMBOLS[data["x"]["symbol"]], SYMBOLS[data["y"]["symbol"]]
    for i, pt in enumerate(data["mc"]):
        marker = MARKERS[i % len(MARKERS)]
        ax.plot(pt["x"], pt["y"], marker=marker, ms=9, mfc="white", mec="black", mew=1.5, ls="none", zorder=5)
        z_ratio = "n/a" if pt["z_ratio"] is None else f"{pt['z_ratio']:+.1f}"
        label = (f"MC ${xsym}$={pt['x']:.3g}, ${ysym}$={pt['y']:.3g}: z(ratio) {z_ratio}, "
                 f"z(MSE at $\\lambda^*$) {pt['z_mix']:+.1f}")
        handles.append(_line([], [], marker=marker, ms=8, mfc="white", mec="black", mew=1.5, ls="none",
                              label=label))
    return handles


def draw_map(data: dict, outdir: Path) -> list[Path]:
    """Both panels of one saved map (see sgbp.map_cmd.map_record) as NAME.png and NAME.pdf."""
    xs = np.array(data["x"]["values"], dtype=float)
    ys = np.array(data["y"]["values"], dtype=float)
    log_ratio = array(data["log2_ratio"])
    lam = array(data["lambda_star"])
    gain = 100.0 * array(data["gain"])
    xe, ye = _edges(xs, data["x"]["scale"]), _edges(ys, data["y"]["scale"])

    from matplotlib.colors import TwoSlopeNorm

    fig, (left, right) = pyplot().subplots(1, 2, figsize=(13.0, 5.6))
    finite = np.abs(log_ratio[np.isfinite(log_ratio)])
    span = max(float(finite.max()) if finite.size else 1.0, 0.5)
    mesh = left.pcolormesh(xe, ye, log_ratio, cmap="RdBu", norm=TwoSlopeNorm(0.0, -span, span), shading="flat",
                           rasterized=True)
    bar = fig.colorbar(mesh, ax=left, pad=0.02)
    bar.set_label(r"$\log_2(\mathrm{MSE}_{BP} / \mathrm{MSE}_{SG})$")
    levels = [v for v in LAMBDA_LEVELS if np.nanmin(lam) < v < np.nanmax(lam)]
    if levels:
        cs = left.contour(xs, ys, lam, levels=levels, colors="0.2", linewidths=0.9, linestyles="--", zorder=3)
        left.clabel(cs, fmt=lambda v: rf"$\lambda^*$={v:g}", fontsize=8, inline_spacing=2,
                    manual=_label_spots(cs))
    handles = [_boundary(left, data, xs, ys, log_ratio),
               _line([], [], color="0.2", lw=0.9, ls="--", label=r"T7: contours of $\lambda^*$ (1 = BP)")]
    handles += _mc_handles(left, data)
    _setup(left, data, xs, ys)
    left.set_title("which wins: blue SG, red BP (white: equal)")

    mesh = right.pcolormesh(xe, ye, gain, cmap="Greens", vmin=0.0, shading="flat", rasterized=True)
    bar = fig.colorbar(mesh, ax=right, pad=0.02)
    bar.set_label(r"MSE reduction of the mixture at $\lambda^*$ (%)")
    _boundary(right, data, xs, ys, log_ratio)
    _setup(right, data, xs, ys)
    right.set_title(r"gain of the mixture at $\lambda^*$ over the better of BP and SG")

    c = data["config"]
    fixed = {"n": f"n={c['n']}", "leak": rf"$\rho$={c['rho']:g}", "d": f"d={c['d']}"}
    noise = data["noise_name"]
    fixed["noise"] = rf"${SYMBOLS[noise]}$={c[noise]:g}"
    shown = [text for axis, text in fixed.items() if axis not in (data["x"]["axis"], data["y"]["axis"])]
    fig.suptitle(f"{CASE_TITLES[c['case']]}: exact MSEs, " + ", ".join(shown)
                 + f", k={c['k']}, m={c['m']}, instance seed {c['seed']}"
                 + (", shared latent" if c["shared_latent"] else ""))
    left.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.0, -0.13), frameon=False)
    return save(fig, outdir, data["name"])
