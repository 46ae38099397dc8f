"""Tables and figures of the bandit from a results folder of hand-made runs (no training here)."""

import csv
import json

import numpy as np
import pytest

import figures
from figures import BANDIT_DIR
from learning.bandit.train import DEFAULTS
from learning.bandit.sweeps import PROBE_FIELDS, sweep_points, sweep_tasks, write_tables
from learning.tables import load_manifest
from runner.tasks import record, result_path, save_atomic

# the controls are a block of the paper-scale runs, not a sweep of `sgbp bandit` (test below)
E2_FIGURES = [name for name in figures.FIGURES if name.startswith("e2_") and name not in ("e2_controls", "e2_mechanism")]
BASE = dict(DEFAULTS) | {"steps": 40, "eval_points": 5, "layers": 3, "probe_points": 2}


def _result(config):
    """A made-up but well-formed result of learning.bandit.train."""
    rng = np.random.default_rng(config["seed"])
    steps = np.linspace(0, config["steps"], config["eval_points"]).astype(int)
    layers = config["layers"]
    probes = [{"step": int(s),
               "layers": [dict.fromkeys(PROBE_FIELDS, float(rng.uniform(0.1, 1))) for _ in range(layers)]}
              for s in (0, config["steps"])]
    return {"config": config, "eval": [{"step": int(s), "reward": float(rng.uniform())} for s in steps],
            "lambda": [{"step": int(s), "layers": rng.uniform(size=layers).tolist()} for s in steps]
            if config["method"] in ("sg", "sg-fixed") else [],
            "probes": probes, "seconds": 1.0}


def _fill(folder, sweeps, seeds=(0, 1)):
    manifest = {}
    for name in sweeps:
        tasks = sweep_tasks(name, BASE, seeds)
        for task in tasks:
            save_atomic(result_path(folder / "runs", task.key), record(task, _result(task.config)))
        manifest[name] = {"keys": [t.key for t in tasks], "seeds": list(seeds), "points": sweep_points(name, BASE)}
    save_atomic(folder / "sweeps.json", json.dumps(manifest))
    write_tables(folder)


def test_every_sweep_gives_its_figure(tmp_path):
    _fill(tmp_path / BANDIT_DIR, ["methods", "p_flip", "lr", "parents", "ablation"])
    paths = figures.draw(tmp_path, E2_FIGURES)
    names = {p.stem for p in paths if p.suffix == ".png"}
    assert names == set(E2_FIGURES)
    for name in names:
        assert (tmp_path / "figures" / f"{name}.png").stat().st_size > 10_000


def test_figures_of_missing_sweeps_are_left_out(tmp_path):
    _fill(tmp_path / BANDIT_DIR, ["methods"])
    # the quick profile's sweep: the method comparison alone gives no figure against p_flip, lr, parents
    absent = ["e2_final_vs_p_flip", "e2_final_vs_lr", "e2_final_vs_parents", "e2_ablation"]
    assert figures.draw(tmp_path, absent) == []
    assert [p.stem for p in figures.draw(tmp_path, ["e2_lambda_vs_step"])] == ["e2_lambda_vs_step"] * 2


def test_tables_hold_every_run_once(tmp_path):
    folder = tmp_path / BANDIT_DIR
    # the methods sweep and the p_flip sweep share their p_flip 0.4 runs: 4 + 20 configurations, 4 shared
    _fill(folder, ["methods", "p_flip"], seeds=(0, 1, 2))
    manifest = load_manifest(folder)
    keys = set(manifest["methods"]["keys"]) | set(manifest["p_flip"]["keys"])
    assert len(keys) == 3 * 20
    with open(folder / "runs.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(r["key"] for r in rows) == sorted(keys)
    with open(folder / "eval.csv") as handle:
        assert sum(1 for _ in csv.DictReader(handle)) == 60 * BASE["eval_points"]
    with open(folder / "probes.csv") as handle:
        probes = list(csv.DictReader(handle))
    assert len(probes) == 60 * 2 * BASE["layers"] and set(PROBE_FIELDS) <= set(probes[0])
    # final reward and area come from the run's own curve
    one = json.loads((folder / "runs" / f"{rows[0]['key']}.json").read_text())["result"]["eval"]
    rewards = [e["reward"] for e in one]
    assert float(rows[0]["final_reward"]) == pytest.approx(rewards[-1], rel=1e-12)
    assert float(rows[0]["auc"]) == pytest.approx(np.mean([(a + b) / 2 for a, b in zip(rewards, rewards[1:])]))


def test_the_controls_figure_draws_each_control_group(tmp_path, monkeypatch):
    """SG adaptive and BP at both shared learning rates, and SG from zero: five curves, each named."""
    folder = tmp_path / BANDIT_DIR
    tasks = []
    for extra, methods in (({"lr": 1e-3}, ("sg", "bp")), ({"lr": 5e-3}, ("sg", "bp")), ({"sg_init": "zero"}, ("sg",))):
        tasks += sweep_tasks("methods", BASE | extra, (0, 1), methods)
    for task in tasks:
        save_atomic(result_path(folder / "runs", task.key), record(task, _result(task.config)))
    save_atomic(folder / "sweeps.json", json.dumps({"controls": {"keys": [t.key for t in tasks], "seeds": [0, 1],
                                                                 "points": []}}))
    from figures import bandit

    legends = []
    real = bandit.save
    monkeypatch.setattr(bandit, "save", lambda fig, out, name: legends.append(
        [t.get_text() for t in fig.axes[0].get_legend().get_texts()]) or real(fig, out, name))
    paths = figures.draw(tmp_path, ["e2_controls"])
    assert [p.stem for p in paths] == ["e2_controls"] * 2
    curves = [t for t in legends[0] if "seeds" in t]
    assert len(curves) == 5 and sum("SG from zero" in t for t in curves) == 1
    assert sum("lr 0.001" in t for t in curves) == 2 and sum("BP, lr 0.005" in t for t in curves) == 1


def test_the_mechanism_figure_draws_the_controls_and_their_measures(tmp_path):
    from learning.bandit.hypotheses import CONTROLS

    folder = tmp_path / BANDIT_DIR
    _fill(folder, ["methods"])
    assert figures.draw(tmp_path, ["e2_mechanism"]) == []  # no control stored: not drawn
    manifest = load_manifest(folder)
    keys = []
    for name in ("noise", "readout5e-3"):
        settings = CONTROLS[name][2]
        for task in sweep_tasks("methods", BASE | {k: v for k, v in settings.items() if k != "method"}, (0, 1),
                                (settings["method"],)):
            result = _result(task.config) | {"measures": [
                {"step": e["step"], "entropy": 1.0, "modal_share": 0.2, "readout_moved": 0.1,
                 "layers": [{"moved": 0.1, "rms": 0.5}] * task.config["layers"]} for e in _result(task.config)["eval"]]}
            save_atomic(result_path(folder / "runs", task.key), record(task, result))
            keys.append(task.key)
    manifest["mechanism"] = {"keys": keys, "seeds": [0, 1], "points": []}
    save_atomic(folder / "sweeps.json", json.dumps(manifest))
    paths = figures.draw(tmp_path, ["e2_mechanism"])
    assert [p.stem for p in paths] == ["e2_mechanism"] * 2
    assert paths[0].stat().st_size > 10_000
