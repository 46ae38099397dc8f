"""Figures of the noisy-digit bandit (docs/experiments.md E2), drawn from a results folder of `sgbp bandit`.

Each figure draws the sweep it needs and returns no paths when that sweep was not run (the quick
profile of `sgbp reproduce` runs only the method comparison). Curves are means over seeds with one
standard error (shaded or as bars).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from figures.style import ADAPT_COLOR, BP_COLOR, MIX_COLOR, SG_COLOR, panels, save
from learning.verdicts import mean_se

METHOD_TITLES = {
    "sg": r"SparseNet, SG adaptive $\lambda$",
    "sg-fixed": r"SparseNet, SG fixed $\lambda$",
    "bp": "SparseNet, BP",
    "mlp": "MLP, BP",
}
METHOD_COLORS = {"sg": ADAPT_COLOR, "sg-fixed": SG_COLOR, "bp": BP_COLOR, "mlp": "0.35"}
CHANCE_NOTE = "chance"
# docs/experiments.md: the authors' code on these digits, p_flip 0.4, seed 0 (sanity anchors, not targets)
AUTHORS_STEPS = (316, 632, 1500)
AUTHORS_SEED0 = {"sg": (0.59, 0.66, 0.90), "bp": (0.24, 0.36, 0.73)}


def _runs_of(data: dict, sweep: str) -> list[dict]:
    runs = data["runs"]
    return [runs[k] for k in data["sweeps"].get(sweep, {}).get("keys", []) if k in runs]


def _groups(runs: list[dict], by: tuple[str, ...]) -> dict:
    """Runs grouped by the configuration keys `by` (seeds pooled), in sorted order."""
    groups: dict = {}
    for run in runs:  # a setting a configuration leaves out (a mechanism control at its default) is None
        groups.setdefault(tuple(run["config"].get(k) for k in by), []).append(run)
    order = {m: i for i, m in enumerate(METHOD_TITLES)}

    def rank(v):
        if v is None:
            return (0, 0.0, "")
        if isinstance(v, str):
            return (1, order.get(v, len(order)), v)
        return (2, float(v), "")

    return dict(sorted(groups.items(), key=lambda kv: tuple(rank(v) for v in kv[0])))


def _eval_matrix(runs: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    steps = np.array([e["step"] for e in runs[0]["result"]["eval"]], dtype=float)
    return steps, np.array([[e["reward"] for e in r["result"]["eval"]] for r in runs], dtype=float)


def _band(ax, x, rows, color, label, marker=None, ls="-"):
    mean, se = mean_se(rows)
    ax.plot(x, mean, color=color, ls=ls, lw=1.6, marker=marker, ms=3, label=f"{label} ({len(rows)} seeds)")
    ax.fill_between(x, mean - se, mean + se, color=color, alpha=0.2, lw=0)


def _chance(ax, runs):
    ax.axhline(1.0 / len(runs[0]["config"]["classes"]), color="0.5", ls=":", lw=1.0, label=CHANCE_NOTE)


def _setting(config: dict, skip=()) -> str:
    parts = {"p_flip": f"p_flip {config['p_flip']:g}", "steps": f"{config['steps']} steps",
             "data": config["data"], "size": f"{config['layers']} x {config['width']}"}
    return ", ".join(v for k, v in parts.items() if k not in skip)


def _reward_axes(ax, title: str) -> None:
    ax.set_xlabel("training step (batch of 64 contexts)")
    ax.set_ylabel("noise-free eval reward")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)


def reward_vs_step(data: dict, outdir: Path) -> list[Path]:
    """Noise-free eval reward against training step for each method variant (sweep 'methods')."""
    runs = _runs_of(data, "methods")
    if not runs:
        return []
    fig, (ax,) = panels(1, width=6.2, height=4.4)
    for (method,), group in _groups(runs, ("method",)).items():
        steps, rows = _eval_matrix(group)
        _band(ax, steps, rows, METHOD_COLORS[method], METHOD_TITLES[method])
    _chance(ax, runs)
    c = runs[0]["config"]
    if c["steps"] == 1500 and c["p_flip"] == 0.4 and c["data"] == "digits":
        for method, values in AUTHORS_SEED0.items():
            ax.plot(AUTHORS_STEPS, values, "x", color=METHOD_COLORS[method], ms=8, mew=2,
                    label=f"authors' code, seed 0: {METHOD_TITLES[method]}")
    _reward_axes(ax, f"E2: {_setting(runs[0]['config'])}")
    return save(fig, outdir, "e2_reward_vs_step")


def controls(data: dict, outdir: Path) -> list[Path]:
    """Reward curves of the controls beside the paper's pair: SG adaptive and BP at one shared learning
    rate, and SG adaptive with its SG started at zero (sweep 'controls')."""
    runs = _runs_of(data, "controls")
    if not runs:
        return []
    fig, (ax,) = panels(1, width=6.6, height=4.6)
    groups = _groups(runs, ("method", "lr", "sg_init", "optimizer"))
    styles = {5e-3: "-", 1e-3: "--"}
    for (method, lr, init, optimizer), group in groups.items():
        steps, rows = _eval_matrix(group)
        color = SG_COLOR if init == "zero" else METHOD_COLORS[method]
        label = (f"{METHOD_TITLES[method]}, lr {lr:g}" + (", SG from zero" if init == "zero" else "")
                 + (", plain SGD" if optimizer == "sgd" else ""))
        mean, se = mean_se(rows)
        ax.plot(steps, mean, color=color, ls=":" if optimizer == "sgd" else styles.get(lr, "-."), lw=1.6,
                label=f"{label} ({len(rows)} seeds)")
        ax.fill_between(steps, mean - se, mean + se, color=color, alpha=0.15, lw=0)
    _chance(ax, runs)
    _reward_axes(ax, f"E2 controls: {_setting(runs[0]['config'])}")
    return save(fig, outdir, "e2_controls")


def _settings(runs: list[dict], key: str) -> int:
    """How many values of the sweep's setting the stored runs cover: a sweep figure needs two."""
    return len({r["config"].get(key) for r in runs})


def _final(group):
    return np.array([[r["result"]["eval"][-1]["reward"]] for r in group])


def _final_against(ax, runs, key, methods):
    for method in methods:
        own = [r for r in runs if r["config"]["method"] == method]
        if not own:
            continue
        groups = _groups(own, (key,))
        x = np.array([k[0] for k in groups], dtype=float)
        stats = [mean_se(_final(g)) for g in groups.values()]
        mean = np.array([m[0] for m, _ in stats])
        se = np.array([s[0] for _, s in stats])
        n = min(len(g) for g in groups.values())
        ax.errorbar(x, mean, yerr=se, fmt="o-", color=METHOD_COLORS[method], ms=4, capsize=3,
                    label=f"{METHOD_TITLES[method]} ({n} seeds)")


def final_reward_vs_p_flip(data: dict, outdir: Path) -> list[Path]:
    """Final eval reward against the reward-flip probability (sweep 'p_flip')."""
    runs = _runs_of(data, "p_flip")
    if _settings(runs, "p_flip") < 2:
        return []
    fig, (ax,) = panels(1, width=6.0, height=4.4)
    _final_against(ax, runs, "p_flip", METHOD_TITLES)
    _chance(ax, runs)
    ax.set_xlabel("reward flip probability p_flip")
    ax.set_ylabel("final noise-free eval reward")
    ax.set_title(f"E2: {_setting(runs[0]['config'], skip=('p_flip',))}", fontsize=10)
    ax.legend(fontsize=8)
    return save(fig, outdir, "e2_final_vs_p_flip")


def final_reward_vs_learning_rate(data: dict, outdir: Path) -> list[Path]:
    """Final eval reward against the policy learning rate (sweep 'lr'): SparseNet and MLP side by side."""
    runs = _runs_of(data, "lr")
    if max([_settings([r for r in runs if r["config"]["method"] == m], "lr") for m in METHOD_TITLES] + [0]) < 2:
        return []
    fig, axes = panels(2, width=5.0, height=4.2)
    for ax, methods, title in ((axes[0], ("sg", "sg-fixed", "bp"), "SparseNet"), (axes[1], ("mlp",), "MLP")):
        _final_against(ax, runs, "lr", methods)
        _chance(ax, runs)
        ax.set_xscale("log")
        ax.set_xlabel("policy learning rate (Adam)")
        ax.set_title(f"{title}: {_setting(runs[0]['config'])}", fontsize=9)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("final noise-free eval reward")
    return save(fig, outdir, "e2_final_vs_lr")


def final_reward_vs_parents(data: dict, outdir: Path) -> list[Path]:
    """Final eval reward against the number of parents each neuron reads (sweep 'parents')."""
    runs = _runs_of(data, "parents")
    if _settings(runs, "parents") < 2:
        return []
    fig, (ax,) = panels(1, width=6.0, height=4.4)
    _final_against(ax, runs, "parents", ("sg", "sg-fixed", "bp"))
    _chance(ax, runs)
    ax.set_xlabel("parents per neuron")
    ax.set_ylabel("final noise-free eval reward")
    ax.set_title(f"E2: {_setting(runs[0]['config'])}", fontsize=10)
    ax.legend(fontsize=8)
    return save(fig, outdir, "e2_final_vs_parents")


def _lambda_rows(group):
    steps = np.array([e["step"] for e in group[0]["result"]["lambda"]], dtype=float)
    # (seed, step, layer)
    cube = np.array([[e["layers"] for e in r["result"]["lambda"]] for r in group], dtype=float)
    return steps, cube


def layer_mean_lambda_vs_step(data: dict, outdir: Path) -> list[Path]:
    """SG adaptive: lambda averaged over layers against step for each p_flip (sweep 'p_flip', else
    'methods'), and per layer at the largest p_flip."""
    runs = [r for r in _runs_of(data, "p_flip") if r["config"]["method"] == "sg"]
    runs = runs or [r for r in _runs_of(data, "methods") if r["config"]["method"] == "sg"]
    runs = [r for r in runs if r["result"].get("lambda")]
    if not runs:
        return []
    fig, (left, right) = panels(2, width=5.2, height=4.2)
    groups = _groups(runs, ("p_flip",))
    for i, ((p_flip,), group) in enumerate(groups.items()):
        steps, cube = _lambda_rows(group)
        _band(left, steps, cube.mean(axis=2), f"C{i}", f"p_flip {p_flip:g}")
    left.set_xlabel("training step")
    left.set_ylabel(r"adaptive $\lambda$, mean over layers")
    left.set_title(r"$\lambda$ = 1: BP, 0: SG", fontsize=10)
    left.legend(fontsize=8)
    (p_top,), group = list(groups.items())[-1]
    steps, cube = _lambda_rows(group)
    for layer in range(cube.shape[2]):
        _band(right, steps, cube[:, :, layer], f"C{layer}", f"layer {layer + 1}")
    right.set_xlabel("training step")
    right.set_title(f"per layer, p_flip {p_top:g}", fontsize=10)
    right.legend(fontsize=7)
    return save(fig, outdir, "e2_lambda_vs_step")


def ablation_curves(data: dict, outdir: Path) -> list[Path]:
    """Eval reward against step with lambda fixed at 0, 0.5, 1 in every layer, beside adaptive lambda."""
    runs = _runs_of(data, "ablation")
    if len({(r["config"]["method"], r["config"]["lam"]) for r in runs}) < 2:
        return []
    fig, (ax,) = panels(1, width=6.2, height=4.4)
    for i, ((method, lam), group) in enumerate(_groups(runs, ("method", "lam")).items()):
        steps, rows = _eval_matrix(group)
        label = rf"adaptive $\lambda$ (from {lam:g})" if method == "sg" else rf"fixed $\lambda$ = {lam:g}"
        _band(ax, steps, rows, ADAPT_COLOR if method == "sg" else f"C{i}", label)
    _chance(ax, runs)
    ax.set_xlabel("training step")
    ax.set_ylabel("noise-free eval reward")
    ax.set_title(f"E2 ablation: {_setting(runs[0]['config'])}", fontsize=10)
    ax.legend(fontsize=8)
    return save(fig, outdir, "e2_ablation")


def _probe_runs(data):
    return [r for r in _runs_of(data, "methods") if r["config"]["method"] == "sg" and r["result"].get("probes")]


def _probe_cube(runs, field):
    steps = np.array([p["step"] for p in runs[0]["result"]["probes"]], dtype=float)
    cube = np.array([[[m[field] for m in p["layers"]] for p in r["result"]["probes"]] for r in runs], dtype=float)
    return steps, cube  # (seed, probe, layer)


def probe_mse_vs_step(data: dict, outdir: Path) -> list[Path]:
    """Measured gradient MSE per layer against step for BP, SG and the mixture at the adaptive lambda,
    inside SparseNet trained with SG adaptive (sweep 'methods')."""
    fields = (("mse_bp", BP_COLOR, "BP", "-"), ("mse_sg", SG_COLOR, "SG", "-"),
              ("mse_mix", MIX_COLOR, r"mixture at adaptive $\lambda$", "-"))
    return _probe_panels(data, outdir, fields, "gradient MSE against the exact expectation", "e2_probe_mse", log=True)


def _probe_panels(data, outdir: Path, fields, ylabel: str, name: str, log: bool) -> list[Path]:
    runs = _probe_runs(data)
    if not runs or runs[0]["result"]["probes"][0]["layers"][0].get(fields[0][0]) is None:
        return []
    layers = len(runs[0]["result"]["probes"][0]["layers"])
    fig, axes = panels(layers, width=3.2, height=3.4)
    for field, color, label, style in fields:
        steps, cube = _probe_cube(runs, field)
        for layer, ax in enumerate(axes):
            _band(ax, steps, cube[:, :, layer], color, label, marker="o", ls=style)
    for layer, ax in enumerate(axes):
        if log:
            ax.set_yscale("log")
        ax.set_xlabel("training step")
        ax.set_title(f"layer {layer + 1}", fontsize=10)
    axes[0].set_ylabel(ylabel)
    axes[0].legend(fontsize=6)
    return save(fig, outdir, name)


def probe_scale_vs_step(data: dict, outdir: Path) -> list[Path]:
    """The size of each estimate against the exact expected gradient g, per layer: |SG term| / |g|,
    sqrt(E|mixture|^2) / |g| and sqrt(E|BP|^2) / |g| (sweep 'methods', SG adaptive)."""
    fields = (("scale_sg", SG_COLOR, "SG term", "-"), ("scale_mix", MIX_COLOR, r"mixture at adaptive $\lambda$", "-"),
              ("scale_bp", BP_COLOR, "BP", "-"))
    return _probe_panels(data, outdir, fields, "norm / norm of the expected gradient", "e2_probe_scale", log=True)


def probe_cosine_vs_step(data: dict, outdir: Path) -> list[Path]:
    """Cosine of each estimate with the exact expected gradient, per layer: BP, SG, the mixture at the
    adaptive lambda and at T7's lambda* (moment cosine), and, dashed, Adam's update with each estimate
    against its update with g (sweep 'methods', SG adaptive)."""
    fields = (("cos_bp", BP_COLOR, "BP", "-"), ("cos_sg", SG_COLOR, "SG", "-"),
              ("cos_mix", MIX_COLOR, r"mixture, adaptive $\lambda$", "-"),
              ("mcos_star", ADAPT_COLOR, r"mixture at $\lambda^*$", "-"),
              ("adam_cos_bp", BP_COLOR, "Adam update, BP", "--"),
              ("adam_cos_mix", MIX_COLOR, "Adam update, mixture", "--"))
    return _probe_panels(data, outdir, fields, "cosine with the expected gradient", "e2_probe_cosine", log=False)


def adaptive_vs_measured_lambda(data: dict, outdir: Path) -> list[Path]:
    """The adaptive lambda of each layer against the lambda* of T7 from the measured moments, every probe."""
    runs = _probe_runs(data)
    if not runs:
        return []
    _, star = _probe_cube(runs, "lambda_star")
    _, adaptive = _probe_cube(runs, "lambda_adaptive")
    fig, (ax,) = panels(1, width=5.0, height=4.6)
    for layer in range(star.shape[2]):
        ax.plot(star[:, :, layer].ravel(), adaptive[:, :, layer].ravel(), "o", color=f"C{layer}", ms=4, alpha=0.7,
                label=f"layer {layer + 1}")
    ax.plot([0, 1], [0, 1], "k--", lw=1.0, label="equal")
    ax.set_xlim(-0.05, 1.05)
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel(r"measured $\lambda^*$ (T7, from the probe's moments)")
    ax.set_ylabel(r"adaptive $\lambda$ (layer mean)")
    ax.set_title(f"{len(runs)} seeds x {star.shape[1]} probes", fontsize=10)
    ax.legend(fontsize=7)
    return save(fig, outdir, "e2_probe_lambda")


def _mechanism_label(config: dict) -> str:
    parts = [f"{METHOD_TITLES[config['method']]}, lr {config['lr']:g}"]
    if config.get("baseline", "none") != "none":
        parts.append("batch-mean baseline")
    if config.get("train", "all") == "readout":
        parts.append("readout only" + (f", features at rms {config['feature_rms']:g}" if config.get("feature_rms") else ""))
    if config.get("sg_noise"):
        parts.append("SG replaced by noise")
    if config.get("sg_init") == "matched":
        parts.append("SG at BP's scale")
    if config.get("sg_frozen"):
        parts.append("SG frozen at its start")
    return "; ".join(parts)


def mechanism_controls(data: dict, outdir: Path) -> list[Path]:
    """The controls of H1-H5 (sweep 'mechanism') beside the paper's pair: the eval reward, the policy's
    entropy and modal share, and the last hidden layer's output rms against step (the measures exist
    for the runs made with them)."""
    runs = _runs_of(data, "mechanism")
    if not runs:
        return []
    pair = [r for r in _runs_of(data, "methods") if r["config"]["method"] in ("sg", "bp")]
    fig, axes = panels(4, width=4.2, height=4.0)
    groups = _groups(runs + pair, ("method", "lr", "baseline", "train", "sg_noise", "sg_frozen", "sg_init", "feature_rms"))
    for i, (_, group) in enumerate(groups.items()):
        color, label = f"C{i % 10}", _mechanism_label(group[0]["config"])
        steps, rows = _eval_matrix(group)
        _band(axes[0], steps, rows, color, label)
        measured = [r for r in group if r["result"].get("measures")]
        if measured:
            x = np.array([m["step"] for m in measured[0]["result"]["measures"]], dtype=float)
            for ax, pick in ((axes[1], lambda m: m["entropy"]), (axes[2], lambda m: m["modal_share"]),
                             (axes[3], lambda m: m["layers"][-1]["rms"])):
                _band(ax, x, np.array([[pick(m) for m in r["result"]["measures"]] for r in measured]), color, label)
    _chance(axes[0], runs)
    for ax, title in zip(axes, ("noise-free eval reward", "policy entropy (nats)", "share on the modal action",
                                "last hidden layer, output rms")):
        ax.set_xlabel("training step")
        ax.set_title(title, fontsize=10)
    axes[0].legend(fontsize=6)
    return save(fig, outdir, "e2_mechanism")
