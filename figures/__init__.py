"""One function per figure; `draw` redraws them from saved results without recomputing."""

from __future__ import annotations

import json
from pathlib import Path

from theory.params import CASES
from figures import bandit, diagnosis_figs, expert_sweep, regime_map, rl, theory_figs

SWEEP_FILE = "e1_sweep.csv"
STUDY_FILES = {
    "alignment": "t3_alignment.json",
    "mixture": "t67_mixture.json",
    "adaptive": "t8_adaptive.json",
    "pooling": "t9_pooling.json",
    "map_n_leak": "map_n_leak.json",
    "map_noise_leak": "map_noise_leak.json",
    "diagnosis": "t10_t12_diagnosis.json",
}
# the stored paper-scale runs inside a reproduce results folder (learning.paper)
BANDIT_DIR = "paper/e2"
RL_DIR = "paper/e3"

# figure name -> (data it reads, function)
FIGURES = {
    "ratio_vs_d": ("sweep", expert_sweep.ratio_vs_d),
    "mse_vs_n": ("sweep", expert_sweep.mse_vs_n),
    "mse_vs_d": ("sweep", expert_sweep.mse_vs_d),
    "ratio_vs_n": ("sweep", expert_sweep.ratio_vs_n),
    "t3_gap_vs_alignment": ("alignment", theory_figs.gap_vs_alignment),
    "t67_mse_vs_n": ("mixture", theory_figs.mse_vs_n_mixture),
    "t7_mse_vs_lambda": ("mixture", theory_figs.mse_vs_lambda),
    "t8_adaptive_lambda": ("adaptive", theory_figs.adaptive_lambda_vs_batch),
    "t9_ratio_vs_K": ("pooling", theory_figs.ratio_vs_K),
    "map_n_leak": ("map_n_leak", regime_map.draw_map),
    "map_noise_leak": ("map_noise_leak", regime_map.draw_map),
    "t10_t12_diagnosis": ("diagnosis", diagnosis_figs.diagnosis),
    "e2_reward_vs_step": ("bandit", bandit.reward_vs_step),
    "e2_final_vs_p_flip": ("bandit", bandit.final_reward_vs_p_flip),
    "e2_final_vs_lr": ("bandit", bandit.final_reward_vs_learning_rate),
    "e2_final_vs_parents": ("bandit", bandit.final_reward_vs_parents),
    "e2_lambda_vs_step": ("bandit", bandit.layer_mean_lambda_vs_step),
    "e2_ablation": ("bandit", bandit.ablation_curves),
    "e2_probe_mse": ("bandit", bandit.probe_mse_vs_step),
    "e2_probe_lambda": ("bandit", bandit.adaptive_vs_measured_lambda),
    "e2_probe_scale": ("bandit", bandit.probe_scale_vs_step),
    "e2_probe_cosine": ("bandit", bandit.probe_cosine_vs_step),
    "e2_controls": ("bandit", bandit.controls),
    "e2_mechanism": ("bandit", bandit.mechanism_controls),
    "e3_success_vs_steps": ("rl", rl.success_vs_steps),
    "e3_final_vs_lr": ("rl", rl.final_success_vs_lr),
    "e3_auc_vs_lr": ("rl", rl.success_area_vs_lr),
}


def load(results: Path, source: str, paper: Path | None = None):
    """The data of a figure source; paper: the stored paper-scale runs' folder (default results/paper)."""
    paper = Path(paper) if paper is not None else results / "paper"
    if source == "sweep":
        from montecarlo.sweep import read_csv

        return read_csv(results / SWEEP_FILE)
    if source == "bandit":
        from learning.bandit.sweeps import load_runs

        return load_runs(paper / "e2")
    if source == "rl":
        from learning.rl.sweeps import load_runs as load_rl_runs

        return load_rl_runs(paper / "e3")
    return json.loads((results / STUDY_FILES[source]).read_text())


def draw(results: Path, names=None, paper: Path | None = None) -> list[Path]:
    """Draw the named figures (all by default) from the results folder into results/figures; paper: the
    stored paper-scale runs' folder (default results/paper)."""
    names = list(FIGURES) if not names else names
    unknown = [name for name in names if name not in FIGURES]
    if unknown:
        raise ValueError(f"figure must be one of {', '.join(FIGURES)}, got {', '.join(unknown)}")
    cache: dict = {}
    paths: list[Path] = []
    for name in names:
        source, function = FIGURES[name]
        if source not in cache:
            cache[source] = load(results, source, paper)
        drawn = function(cache[source], results / "figures")
        if not drawn:  # not drawn (a sweep with fewer than two settings stored): no stale picture stays
            for old in _files_of(results / "figures", name):
                old.unlink()
        paths += drawn
    return paths


def _files_of(folder: Path, name: str) -> list[Path]:
    stems = [f"{name}_{case}" for case in CASES] if name == "ratio_vs_d" else [name]
    return [folder / f"{stem}.{ext}" for stem in stems for ext in ("png", "pdf") if (folder / f"{stem}.{ext}").exists()]


def not_drawn(results: Path) -> list[str]:
    """The figures with no picture in results/figures (their data is not stored yet)."""
    return [name for name in FIGURES if not _files_of(Path(results) / "figures", name)]
