"""Figures of the POPGym labyrinths (docs/experiments.md E3), drawn from an E3 results folder.

Means over seeds with one standard error (shaded, or as bars). Environment steps are counted as the
authors count them: updates x num_envs x episode length.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from figures.style import ADAPT_COLOR, BP_COLOR, MIX_COLOR, SG_COLOR, panels, save
from learning.rl.labyrinth import RANDOM_SUCCESS
from learning.rl.sweeps import final_success, nominal_steps, success_area
from learning.verdicts import mean_se

MODEL_TITLES = {"sparsenet-sg": "SparseNet, BPTT + SG", "sparsenet-bptt": "SparseNet, BPTT", "gru": "GRU",
                "lstm": "LSTM"}
MODEL_COLORS = {"sparsenet-sg": ADAPT_COLOR, "sparsenet-bptt": BP_COLOR, "gru": MIX_COLOR, "lstm": SG_COLOR}
ENV_TITLES = {"escape": "LabyrinthEscape", "explore": "LabyrinthExplore"}


def _group(runs: dict, *keys) -> dict:
    groups: dict = {}
    for run in runs.values():
        groups.setdefault(tuple(run["config"][k] for k in keys), []).append(run)
    return groups


def _models(runs: dict) -> list[str]:
    return [m for m in MODEL_TITLES if any(r["config"]["model"] == m for r in runs.values())]


def _random_policy(ax, env: str) -> None:
    ax.axhline(RANDOM_SUCCESS[env], color="0.5", ls=":", lw=1.0, label=f"random policy ({RANDOM_SUCCESS[env]:g})")


def _cells(runs: dict) -> list[tuple[str, int]]:
    """The (environment, num_envs) pairs that have runs, Escape first, then by num_envs."""
    return sorted({(r["config"]["env"], r["config"]["num_envs"]) for r in runs.values()},
                  key=lambda c: (list(ENV_TITLES).index(c[0]), c[1]))


def success_vs_steps(runs: dict, outdir: Path) -> list[Path]:
    """Success rate against environment steps, a panel per environment and num_envs, one curve per
    model at the learning rate with the largest mean area under its success curve."""
    if not runs:
        return []
    cells = _cells(runs)
    fig, axes = panels(len(cells), width=5.6, height=4.2)
    for ax, (env, n) in zip(axes, cells):
        own = {k: r for k, r in runs.items() if r["config"]["env"] == env and r["config"]["num_envs"] == n}
        for model in _models(own):
            groups = _group({k: r for k, r in own.items() if r["config"]["model"] == model}, "lr", "updates")
            (lr, updates), group = max(groups.items(), key=lambda kv: np.mean([success_area(r["result"])
                                                                               for r in kv[1]]))
            rows = np.array([r["result"]["success"] for r in group], dtype=float)
            mean, se = mean_se(rows)
            x = nominal_steps(group[0]["config"], updates)
            color = MODEL_COLORS[model]
            ax.plot(x, mean, color=color, lw=1.6, label=f"{MODEL_TITLES[model]}, lr {lr:g} ({len(rows)} seeds)")
            ax.fill_between(x, mean - se, mean + se, color=color, alpha=0.2, lw=0)
        _random_policy(ax, env)
        ax.set_xlabel("environment steps")
        ax.set_ylabel("success rate")
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(f"{ENV_TITLES[env]}, {n} episodes per update", fontsize=10)
        ax.legend(fontsize=7)
    return save(fig, outdir, "e3_success_vs_steps")


# docs/experiments.md: the authors' code on Escape, 20 episodes per update, lr 1e-3, seed 0 (sanity anchors):
# success over the last 5 updates / mean success over all 300 updates
AUTHORS_ESCAPE = {"final": {"sparsenet-bptt": 0.98, "sparsenet-sg": 0.64, "gru": 0.15},
                  "area": {"sparsenet-bptt": 0.56, "sparsenet-sg": 0.33, "gru": 0.22}}


def _against_lr(runs: dict, outdir: Path, metric, label: str, name: str, anchors: dict | None = None) -> list[Path]:
    # a cell (environment, num_envs) is drawn when it has two learning rates or more
    cells = [c for c in _cells(runs) if len({r["config"]["lr"] for r in runs.values()
                                      if (r["config"]["env"], r["config"]["num_envs"]) == c}) >= 2]
    if not cells:
        return []
    fig, axes = panels(len(cells), width=4.8, height=4.0)
    for ax, (env, n) in zip(axes, cells):
        own = {k: r for k, r in runs.items() if r["config"]["env"] == env and r["config"]["num_envs"] == n}
        for model in _models(own):
            groups = _group({k: r for k, r in own.items() if r["config"]["model"] == model}, "lr")
            lrs = sorted(groups)
            stats = [mean_se(np.array([[metric(r["result"])] for r in groups[(lr,)]])) for (lr,) in lrs]
            seeds = min(len(g) for g in groups.values())
            ax.errorbar([lr for (lr,) in lrs], [m[0] for m, _ in stats], yerr=[s[0] for _, s in stats], fmt="o-",
                        color=MODEL_COLORS[model], ms=4, capsize=3, label=f"{MODEL_TITLES[model]} ({seeds} seeds)")
        if anchors and env == "escape" and n == 20 and all(r["config"]["updates"] == 300 for r in own.values()):
            for model, value in anchors.items():
                if model in _models(own):
                    ax.plot([1e-3], [value], "x", color=MODEL_COLORS[model], ms=9, mew=2,
                            label=f"authors' code, seed 0: {MODEL_TITLES[model]}")
        _random_policy(ax, env)
        ax.set_xscale("log")
        lrs_run = sorted({r["config"]["lr"] for r in own.values()})
        ax.set_xticks(lrs_run, [f"{lr:g}" for lr in lrs_run])
        ax.minorticks_off()
        ax.set_xlabel("learning rate (Adam)")
        ax.set_ylabel(label)
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(f"{ENV_TITLES[env]}, {n} episodes per update", fontsize=10)
        ax.legend(fontsize=7)
    return save(fig, outdir, name)


def final_success_vs_lr(runs: dict, outdir: Path) -> list[Path]:
    """Mean success rate over the last 5 updates against the learning rate."""
    return _against_lr(runs, outdir, final_success, "success rate, last 5 updates", "e3_final_vs_lr",
                       AUTHORS_ESCAPE["final"])


def success_area_vs_lr(runs: dict, outdir: Path) -> list[Path]:
    """Normalised area under the success curve against the learning rate."""
    return _against_lr(runs, outdir, success_area, "normalised area under the success curve", "e3_auc_vs_lr",
                       AUTHORS_ESCAPE["area"])
