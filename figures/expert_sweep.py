"""The four expert-simulation figures of docs/experiments.md E1, drawn from the sweep's rows.

Each shows the Monte Carlo estimate with a 95% interval and the exact value from theory/
beside it (markers: simulation; thin lines: exact).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from figures.style import BP_COLOR, CASE_TITLES, SG_COLOR, ci95, panels, save


def _select(rows, **match):
    out = [r for r in rows if all(r[key] == value for key, value in match.items())]
    return out


def _cases(rows):
    return [case for case in CASE_TITLES if any(r["case"] == case for r in rows)]


def _ratio_bars(sel):
    ratio = np.array([r["ratio"] for r in sel])
    lo = np.array([r["ratio_lo"] for r in sel])
    hi = np.array([r["ratio_hi"] for r in sel])
    return ratio, np.vstack([ratio - lo, hi - ratio])


def ratio_vs_d(rows, outdir: Path, n: int = 1) -> list[Path]:
    """One figure per case: MSE_BP / MSE_SG against d at n, a curve per k, dashed 2^(d-k)."""
    paths = []
    for case in _cases(rows):
        fig, (ax,) = panels(1, width=5.6, height=4.2)
        for i, k in enumerate(sorted({r["k"] for r in rows})):
            sel = sorted(_select(rows, case=case, k=k, n=n), key=lambda r: r["d"])
            if not sel:
                continue
            d = np.array([r["d"] for r in sel])
            ratio, err = _ratio_bars(sel)
            color = f"C{i}"
            ax.errorbar(d, ratio, yerr=err, fmt="o", color=color, ms=5, capsize=3, label=f"k = {k}: simulation")
            ax.plot(d, [r["exact_ratio"] for r in sel], "-", color=color, lw=1.2, alpha=0.8, label=f"k = {k}: exact")
            ax.plot(d, 2.0 ** (d - k), "--", color="0.3", lw=1.0, label="$2^{d-k}$" if i == 0 else None)
        ax.set_yscale("log", base=2)
        ax.set_xlabel("code dimension d  (R = $2^d$ states)")
        ax.set_ylabel(r"$\mathrm{MSE}_{BP} / \mathrm{MSE}_{SG}$")
        ax.set_title(f"{CASE_TITLES[case]}, n = {n}")
        ax.legend(ncol=2)
        paths += save(fig, outdir, f"ratio_vs_d_{case}")
    return paths


def _mse_panel(ax, sel, x_key):
    x = np.array([r[x_key] for r in sel])
    for name, color, label in (("bp", BP_COLOR, "BP"), ("sg", SG_COLOR, "SG")):
        mse = np.array([r[f"mse_{name}"] for r in sel])
        se = np.array([r[f"se_{name}"] for r in sel])
        ax.errorbar(x, mse, yerr=ci95(se), fmt="o", color=color, ms=5, capsize=3, label=f"{label}: simulation")
        ax.plot(x, [r[f"exact_mse_{name}"] for r in sel], "-", color=color, lw=1.2, alpha=0.8, label=f"{label}: exact")
    ax.set_yscale("log")


def mse_vs_n(rows, outdir: Path, k: int = 2, d: int | None = None) -> list[Path]:
    """BP and SG MSE against n at the largest d, one panel per case, log-log."""
    d = max(r["d"] for r in rows if r["k"] == k) if d is None else d
    cases = _cases(rows)
    fig, axes = panels(len(cases), sharey=True)
    for ax, case in zip(axes, cases):
        sel = sorted(_select(rows, case=case, k=k, d=d), key=lambda r: r["n"])
        _mse_panel(ax, sel, "n")
        ax.set_xscale("log")
        ns = [r["n"] for r in sel]
        ax.set_xticks(ns, [str(v) for v in ns])
        ax.minorticks_off()
        ax.set_xlabel("feedback samples per state n")
        ax.set_title(CASE_TITLES[case])
    axes[0].set_ylabel(f"gradient MSE (d = {d}, k = {k})")
    axes[-1].legend()
    return save(fig, outdir, "mse_vs_n")


def mse_vs_d(rows, outdir: Path, k: int = 2, n: int = 1) -> list[Path]:
    """BP and SG MSE against d at n, one panel per case, log y."""
    cases = _cases(rows)
    fig, axes = panels(len(cases), sharey=True)
    for ax, case in zip(axes, cases):
        sel = sorted(_select(rows, case=case, k=k, n=n), key=lambda r: r["d"])
        _mse_panel(ax, sel, "d")
        ax.set_xlabel("code dimension d")
        ax.set_title(CASE_TITLES[case])
    axes[0].set_ylabel(f"gradient MSE (k = {k}, n = {n})")
    axes[-1].legend()
    return save(fig, outdir, "mse_vs_d")


def ratio_vs_n(rows, outdir: Path, k: int = 2) -> list[Path]:
    """MSE_BP / MSE_SG against n, a curve per d, a line at 1; one panel per case."""
    cases = _cases(rows)
    fig, axes = panels(len(cases), sharey=True)
    ds = sorted({r["d"] for r in rows if r["k"] == k})
    colors = {d: f"C{i % 10}" for i, d in enumerate(ds)}
    for ax, case in zip(axes, cases):
        for d in ds:
            sel = sorted(_select(rows, case=case, k=k, d=d), key=lambda r: r["n"])
            if not sel:
                continue
            n = np.array([r["n"] for r in sel])
            ratio, err = _ratio_bars(sel)
            ax.errorbar(n, ratio, yerr=err, fmt="o", color=colors[d], ms=4, capsize=2, label=f"d = {d}")
            ax.plot(n, [r["exact_ratio"] for r in sel], "-", color=colors[d], lw=1.0, alpha=0.7)
        ax.axhline(1.0, color="0.3", ls="--", lw=1.0)
        ax.set_yscale("log", base=2)
        ax.set_xlabel("feedback samples per state n")
        ax.set_xticks(sorted({r["n"] for r in rows}))
        ax.set_title(CASE_TITLES[case])
    axes[0].set_ylabel(rf"$\mathrm{{MSE}}_{{BP}} / \mathrm{{MSE}}_{{SG}}$ (k = {k})")
    axes[-1].legend(title="markers: simulation, 95% CI\nlines: exact", loc="center left", bbox_to_anchor=(1.02, 0.5))
    return save(fig, outdir, "ratio_vs_n")
