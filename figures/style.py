"""Shared look of the figures, and saving each one as PNG and PDF."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

CASE_TITLES = {
    "noisy": "Case 1: noisy feedback",
    "activation": "Case 2: stochastic activation",
    "partial": "Case 3: partial observation",
}
BP_COLOR = "#c0392b"
SG_COLOR = "#1f6fb2"
MIX_COLOR = "#2e8b57"
ADAPT_COLOR = "#8e44ad"
EXACT_STYLE = dict(color="0.15", lw=1.0, ls="-", zorder=1)

RC_PARAMS = {
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "legend.fontsize": 9,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "savefig.dpi": 150,
}


@lru_cache(maxsize=None)
def pyplot():
    """matplotlib.pyplot on the Agg backend with this look; imported on the first figure, so that
    commands which draw nothing do not pay for matplotlib."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(RC_PARAMS)
    return plt


def panels(count: int, width: float = 4.6, height: float = 3.8, **kw):
    fig, axes = pyplot().subplots(1, count, figsize=(width * count, height), squeeze=False, **kw)
    return fig, list(axes[0])


def save(fig, outdir: Path, name: str) -> list[Path]:
    """Write NAME.png and NAME.pdf under outdir; return both paths."""
    outdir.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    paths = [outdir / f"{name}.png", outdir / f"{name}.pdf"]
    for path in paths:
        fig.savefig(path, bbox_inches="tight", metadata={"CreationDate": None} if path.suffix == ".pdf" else None)
    pyplot().close(fig)
    return paths


def ci95(se):
    """Half-width of a normal 95% interval from a standard error."""
    return 1.96 * se
