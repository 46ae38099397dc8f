"""T10-T12 (the toolkit's extension): choosing lambda from a batch, and detecting a leak."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from figures.style import ADAPT_COLOR, MIX_COLOR, ci95, panels, save


def diagnosis(study: dict, outdir: Path) -> list[Path]:
    """Excess MSE over the oracle lambda* against n for the authors' plug-in and lambda_rep, with and
    without a leak; and the power of the test of B against the leak rho."""
    series = study["series"]
    fig, axes = panels(len(series) + 1, width=4.6, height=3.9)
    for ax, s in zip(axes, series):
        pts = s["points"]
        n = np.array([p["n"] for p in pts], dtype=float)
        for key, color, label in (("excess_authors", ADAPT_COLOR, "authors' plug-in (T8)"),
                                  ("excess_rep", MIX_COLOR, r"$\lambda_{rep}$ (T11)")):
            mean = np.array([p[key][0] for p in pts])
            se = np.array([p[key][1] for p in pts])
            ax.errorbar(n, mean, yerr=ci95(se), fmt="o-", color=color, ms=4, capsize=3, label=label)
        ax.axhline(0.0, color="0.4", ls=":", lw=1.0)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("feedback samples per state n")
        title = "B holds (no leak)" if s["rho"] == 0 else f"B broken, leak rho = {s['rho']:g}"
        ax.set_title(title)
    axes[0].set_ylabel(r"MSE $-$ MSE($\lambda^*$), 95% CI")
    axes[0].legend(fontsize=8)
    ax = axes[-1]
    for i, curve in enumerate(study["power"]):
        pts = curve["points"]
        rho = np.array([p["rho"] for p in pts])
        power = np.array([p["power"] for p in pts])
        se = np.array([p["se"] for p in pts])
        ax.errorbar(rho, power, yerr=ci95(se), fmt="o-", color=f"C{i}", ms=4, capsize=3, label=f"n = {curve['n']}")
    ax.axhline(study["level"], color="0.4", ls="--", lw=1.0, label=f"level {study['level']:g}")
    ax.set_xlabel("leak rho")
    ax.set_ylabel("rate of rejecting B")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"T12: power of the test of B (d = {study['d']}, {study['case']})")
    ax.legend(fontsize=8)
    return save(fig, outdir, "t10_t12_diagnosis")
