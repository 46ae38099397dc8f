"""E3's figures drawn from hand-made stored runs: which panels, which curves, at which learning rate."""

import json

import numpy as np
import pytest

import figures
from figures import RL_DIR
from learning.rl.sweeps import TRAIN, sweep_tasks

UPDATES = 4


def _store(folder, runs):
    """runs: [(env, model, lr, num_envs, seed, success level)]; constant success curves."""
    keys = []
    for env, model, lr, n, seed, level in runs:
        (task,) = sweep_tasks((env,), (model,), (lr,), (n,), (seed,), UPDATES)
        result = {k: [level] * UPDATES for k in ("success", "return", "length", "steps", "policy_loss", "entropy",
                                                  "grad_norm")}
        path = folder / "runs" / f"{task.key}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"fn": TRAIN, "key": task.key, "config": task.config, "result": result}))
        keys.append(task.key)
    (folder / "sweeps.json").write_text(json.dumps({"paper": {"keys": keys, "points": []}}))


@pytest.fixture
def drawn(tmp_path, monkeypatch):
    """Draws e3_success_vs_steps; returns [(title, legend texts, x of the first curve)] per panel."""
    from figures import rl

    panels = []
    real = rl.save

    def save(fig, out, name):
        for ax in fig.axes:
            if ax.get_title():
                panels.append((ax.get_title(), [t.get_text() for t in ax.get_legend().get_texts()],
                               ax.get_lines()[0].get_xdata()))
        return real(fig, out, name)

    monkeypatch.setattr(rl, "save", save)

    def draw(runs):
        _store(tmp_path / RL_DIR, runs)
        paths = figures.draw(tmp_path, ["e3_success_vs_steps"])
        assert [p.stem for p in paths] == ["e3_success_vs_steps"] * 2
        return panels

    return draw


def test_success_vs_steps_has_a_panel_per_environment_and_num_envs(drawn):
    runs = [("escape", m, lr, 20, s, level) for m, by_lr in (("gru", {1e-3: 0.2, 2e-3: 0.5}),
                                                               ("sparsenet-sg", {1e-3: 0.7, 2e-3: 0.1}))
            for lr, level in by_lr.items() for s in (0, 1)]
    runs += [("escape", "gru", 1e-3, 40, s, 0.3) for s in (0, 1)]
    runs += [("explore", "sparsenet-bptt", 4e-3, 20, 0, 0.05)]
    panels = drawn(runs)
    assert [t for t, _, _ in panels] == ["LabyrinthEscape, 20 episodes per update",
                                         "LabyrinthEscape, 40 episodes per update",
                                         "LabyrinthExplore, 20 episodes per update"]
    escape20, escape40, explore20 = (legend for _, legend, _ in panels)
    # each model at the learning rate of its larger area, in the order GRU after the SparseNets
    assert escape20[:2] == ["SparseNet, BPTT + SG, lr 0.001 (2 seeds)", "GRU, lr 0.002 (2 seeds)"]
    assert escape40[0] == "GRU, lr 0.001 (2 seeds)" and explore20[0] == "SparseNet, BPTT, lr 0.004 (1 seeds)"
    # environment steps: updates x num_envs x episode length (Escape 80, Explore 40)
    np.testing.assert_array_equal(panels[1][2], np.arange(1, UPDATES + 1) * 40 * 80)
    np.testing.assert_array_equal(panels[2][2], np.arange(1, UPDATES + 1) * 20 * 40)
