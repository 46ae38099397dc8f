"""Figures of the theory results T3, T6-T9, drawn from the studies in montecarlo/studies.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from figures.style import ADAPT_COLOR, BP_COLOR, CASE_TITLES, MIX_COLOR, SG_COLOR, ci95, panels, save


def _col(points, key):
    return np.array([p[key] for p in points], dtype=float)


def gap_vs_alignment(study: dict, outdir: Path) -> list[Path]:
    """T3: the ratio and the gap as the contributions within a cell go from orthogonal to equal."""
    pts = study["points"]
    cos = _col(pts, "cosine")
    fig, (left, right) = panels(2, width=5.0)
    ratio = _col(pts, "ratio")
    err = np.vstack([ratio - _col(pts, "ratio_lo"), _col(pts, "ratio_hi") - ratio])
    left.errorbar(cos, ratio, yerr=err, fmt="o", color=SG_COLOR, ms=5, capsize=3, label="simulation, 95% CI")
    left.plot(cos, _col(pts, "exact_ratio"), "-", color="0.15", lw=1.2, label="exact")
    left.axhline(study["cell_size"], color="0.4", ls="--", lw=1.0, label=f"$|C| = 2^{{d-k}}$ = {study['cell_size']}")
    left.axhline(1.0, color="0.4", ls=":", lw=1.0, label="1 (no gain)")
    left.set_yscale("log", base=2)
    left.set_xlabel("mean cosine of contributions within a cell")
    left.set_ylabel(r"$\mathrm{MSE}_{BP} / \mathrm{MSE}_{SG}$")
    left.set_title("T3: SG gains from specialization")
    left.legend()
    gap_exact = _col(pts, "exact_mse_bp") - _col(pts, "exact_mse_sg")
    gap_mc = _col(pts, "mse_bp") - _col(pts, "mse_sg")
    # BP and SG share their samples, so this interval from the separate SEs is conservative
    gap_se = np.hypot(_col(pts, "se_bp"), _col(pts, "se_sg"))
    right.errorbar(cos, gap_mc, yerr=ci95(gap_se), fmt="o", color=MIX_COLOR, ms=5, capsize=3,
                   label="simulation, 95% CI")
    right.plot(cos, gap_exact, "-", color="0.15", lw=1.2, label="exact (Lagrange's identity)")
    right.axhline(0.0, color="0.4", ls=":", lw=1.0)
    right.set_xlabel("mean cosine of contributions within a cell")
    right.set_ylabel(r"gap $\mathrm{MSE}_{BP} - \mathrm{MSE}_{SG}$")
    right.set_title(f"d = {study['d']}, k = {study['k']}, n = {study['n']}, {study['case']}")
    right.legend()
    return save(fig, outdir, "t3_gap_vs_alignment")


def mse_vs_n_mixture(study: dict, outdir: Path) -> list[Path]:
    """T6/T7: without condition B, SG wins below n*, BP above it, the mixture at lambda* beats both."""
    pts = study["by_n"]
    n = _col(pts, "n")
    fig, (ax,) = panels(1, width=6.0, height=4.4)
    for key, color, label in (("bp", BP_COLOR, "BP"), ("sg", SG_COLOR, "SG"), ("mix", MIX_COLOR, r"mixture at $\lambda^*$")):
        ax.errorbar(n, _col(pts, f"mse_{key}"), yerr=ci95(_col(pts, f"se_{key}")), fmt="o", color=color,
                    ms=5, capsize=3, label=f"{label}: simulation")
        ax.plot(n, _col(pts, f"exact_mse_{key}"), "-", color=color, lw=1.2, alpha=0.8, label=f"{label}: exact")
    ax.axvline(study["n_star"], color="0.3", ls="--", lw=1.0, label=f"crossover $n^*$ = {study['n_star']:.1f}")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("feedback samples per state n")
    ax.set_ylabel("gradient MSE")
    ax.set_title(f"T6/T7: leak rho = {study['rho']} breaks B ({CASE_TITLES[study['case']]})", fontsize=11)
    ax.legend(ncol=2, fontsize=8)
    return save(fig, outdir, "t67_mse_vs_n")


def mse_vs_lambda(study: dict, outdir: Path) -> list[Path]:
    """T7: MSE of the mixture against lambda for a few n, lambda* marked."""
    curves = study["curves"]
    fig, axes = panels(len(curves), width=3.6, height=3.6)
    for ax, curve in zip(axes, curves):
        lam = np.array(curve["lambda"])
        ax.plot(lam, curve["exact"], "-", color="0.15", lw=1.2, label="exact")
        step = max(1, len(lam) // 10)
        ax.errorbar(lam[::step], np.array(curve["mc"])[::step], yerr=ci95(np.array(curve["se"])[::step]),
                    fmt="o", color=MIX_COLOR, ms=4, capsize=2, label="simulation")
        ax.plot([curve["lambda_star"]], [curve["mse_star"]], "*", color=ADAPT_COLOR, ms=12,
                label=rf"$\lambda^*$ = {curve['lambda_star']:.2f}")
        ax.set_xlabel(r"$\lambda$  (0 = SG, 1 = BP)")
        ax.set_title(f"n = {curve['n']}")
        ax.legend(fontsize=8)
    axes[0].set_ylabel("gradient MSE of the mixture")
    return save(fig, outdir, "t7_mse_vs_lambda")


def adaptive_lambda_vs_batch(study: dict, outdir: Path) -> list[Path]:
    """T8: the adaptive plug-in lambda (mean and spread over trials) against the batch, beside lambda*."""
    series = study["series"]
    fig, axes = panels(len(series), width=5.0, sharey=True)
    for ax, s in zip(axes, series):
        pts = s["points"]
        batch = _col(pts, "batch")
        mean = _col(pts, "lambda_adaptive")
        sd = _col(pts, "lambda_adaptive_sd")
        # lambda lives in [0, 1]: the band is clipped there
        ax.fill_between(batch, np.clip(mean - sd, 0, 1), np.clip(mean + sd, 0, 1), color=ADAPT_COLOR, alpha=0.2, label="adaptive: ±1 sd over trials")
        ax.plot(batch, mean, "o-", color=ADAPT_COLOR, ms=4, label="adaptive plug-in (mean)")
        ax.plot(batch, _col(pts, "lambda_star"), "k--", lw=1.2, label=r"exact $\lambda^*$")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("batch: samples N = R n")
        title = "condition B holds" if s["rho"] == 0 else f"B broken, leak rho = {s['rho']}"
        ax.set_title(f"T8: {title}")
        ax.set_ylim(-0.05, 1.05)
    axes[0].set_ylabel(r"$\lambda$")
    axes[0].legend(fontsize=8)
    return save(fig, outdir, "t8_adaptive_lambda")


def ratio_vs_K(study: dict, outdir: Path) -> list[Path]:
    """T9: the pooled-SG gain against the number of contexts K, one curve per feature count p."""
    fig, (ax,) = panels(1, width=5.6, height=4.2)
    for i, s in enumerate(study["series"]):
        pts = s["points"]
        K = _col(pts, "K")
        ratio = _col(pts, "ratio")
        err = np.vstack([ratio - _col(pts, "ratio_lo"), _col(pts, "ratio_hi") - ratio])
        color = f"C{i}"
        ax.errorbar(K, ratio, yerr=err, fmt="o", color=color, ms=5, capsize=3, label=f"p = {s['p']}: simulation")
        ax.plot(K, K / s["p"], "--", color=color, lw=1.0, label=f"K / {s['p']}")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    ax.set_xlabel("contexts K sharing the node")
    ax.set_ylabel(r"$\sum_k \mathrm{MSE}_{BP,k} / \sum_k \mathrm{MSE}_{SG,k}$")
    ax.set_title("T9: a generalising SG gains K / p")
    ax.legend(ncol=2, fontsize=8)
    return save(fig, outdir, "t9_ratio_vs_K")
