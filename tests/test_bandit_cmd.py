"""`sgbp bandit`: bad input, resuming an interrupted sweep, and results that ignore the worker count."""

import json

import pytest

import learning.bandit.train
from learning.bandit.sweeps import run_sweep, sweep_tasks
from learning.tables import load_manifest
from sgbp.cli import main

TINY = {"steps": 12, "eval_points": 3, "eval_size": 64, "layers": 2, "width": 8, "neuron": 3, "slots": 2,
        "parents": 2, "batch": 16, "mlp_width": 16}
TINY_ARGS = [a for k, v in TINY.items() for a in (f"--{k.replace('_', '-')}", str(v))]


@pytest.mark.parametrize("argv, words", [
    (["--method", "adam"], "method must be one of"),
    (["--p-flip", "1.5"], "p_flip must be a number in [0, 1]"),
    (["--lr", "0"], "lr must be"),
    (["--lam", "-0.1"], "lam must be"),
    (["--steps", "0"], "steps must be an integer >= 1"),
    (["--parents", "9", "--width", "8"], "parents must be in [1, width=8]"),
    (["--eval-points", "30", "--steps", "20"], "eval_points"),
    (["--seeds", "3-1"], "--seeds"),
    (["--seeds", "x"], "--seeds"),
    (["--sweep", "temperature"], "sweep must be one of"),
    (["--optimizer", "rmsprop"], "optimizer must be 'adam' or 'sgd'"),
    (["--sg-init", "small"], "sg_init must be 'policy', 'zero' or 'matched'"),
    (["--lr", "2"], "lr must be a number in (0, 1]"),
    (["--lr", "2e4", "--optimizer", "sgd"], "lr must be a number in (0, 10000]"),
    (["--sweep", "p_flip", "--p-flip", "0.1"], "--p-flip: sweep p_flip sets it"),
    (["--sweep", "lr", "--lr", "0.1"], "--lr: sweep lr sets it"),
    (["--sweep", "methods", "--method", "bp"], "--method: sweep methods sets it"),
    (["--sweep", "parents", "--methods", "mlp"], "methods: sweep parents concerns"),
    (["--sweep", "methods", "--methods", "sg,rmsprop"], "methods must be"),
    (["--methods", "sg,bp"], "--methods is for sweeps"),
    (["--data", "cifar"], "data must be one of"),
    (["--data", "mnist"], "mnist-dir is required"),
    (["--mnist-dir", "/nonexistent/mnist"], "mnist-dir must be an existing folder"),
    (["--classes", "0,12"], "classes must be"),
    (["--classes", "4"], "at least 2"),
    (["--first-inputs", "900"], "first-inputs"),
    (["--dtype", "float16"], "dtype must be"),
    (["--workers", "0"], "workers must be"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, argv, words):
    out = tmp_path / "out"
    try:
        status = main(["bandit", "--out", str(out)] + argv)
    except SystemExit as stop:  # argparse's own errors
        status = stop.code
    assert status == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1, err
    assert not out.exists()


def test_interrupted_sweep_resumes_without_rerunning_finished_runs(tmp_path, monkeypatch):
    real = learning.bandit.train.train
    calls = []

    def interrupted(config, progress=None):
        if len(calls) == 2:
            raise KeyboardInterrupt  # as if the user stopped the sweep during its third run
        calls.append((config["method"], config["seed"]))
        return real(config, progress)

    monkeypatch.setattr(learning.bandit.train, "train", interrupted)
    base = dict(learning.bandit.train.DEFAULTS) | TINY
    with pytest.raises(KeyboardInterrupt):
        run_sweep("methods", base, [0, 1], tmp_path, methods=("sg", "bp"))
    done = {p.name: (p.stat().st_mtime_ns, p.read_text()) for p in (tmp_path / "runs").glob("*.json")}
    assert len(done) == 2 and not list((tmp_path / "runs").glob(".*"))
    # the interrupted sweep is recorded and its finished runs are in the tables already
    assert len(load_manifest(tmp_path)["methods"]["keys"]) == 4
    assert (tmp_path / "runs.csv").read_text().count("\n") == 1 + 2

    calls.clear()
    monkeypatch.setattr(learning.bandit.train, "train", lambda config, progress=None: calls.append(1) or real(config))
    results = run_sweep("methods", base, [0, 1], tmp_path, methods=("sg", "bp"))
    assert len(calls) == 2 and len(results) == 4
    for name, (mtime, text) in done.items():
        path = tmp_path / "runs" / name
        assert path.stat().st_mtime_ns == mtime and path.read_text() == text
    # a third seed later adds its runs only
    calls.clear()
    run_sweep("methods", base, [0, 1, 2], tmp_path, methods=("sg", "bp"))
    assert len(calls) == 2
    assert (tmp_path / "runs.csv").read_text().count("\n") == 1 + 6


def test_a_run_on_mnist_files(tmp_path, capsys):
    import numpy as np

    from learning.bandit.data import MNIST_FILES
    from learning.bandit.idx import write_idx

    folder = tmp_path / "mnist"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for part, n in (("train", 40), ("test", 20)):
        write_idx(folder / (MNIST_FILES[f"x_{part}"] + ".gz"), rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        write_idx(folder / (MNIST_FILES[f"y_{part}"] + ".gz"), (np.arange(n) % 10).astype(np.uint8))
    out = tmp_path / "out"
    assert main(["bandit", "--mnist-dir", str(folder), "--out", str(out)] + TINY_ARGS) == 0
    record = json.loads(next((out / "runs").glob("*.json")).read_text())
    assert record["config"]["data"] == "mnist" and record["config"]["mnist_dir"] == str(folder.resolve())
    assert "(18 test images)" in capsys.readouterr().err  # the 20 test images less the two of digit 2


def test_single_runs_add_up_in_the_tables(tmp_path, capsys):
    args = ["bandit", "--out", str(tmp_path)] + TINY_ARGS
    assert main(args + ["--method", "bp", "--seeds", "0-1"]) == 0
    assert main(args + ["--method", "mlp", "--seeds", "1"]) == 0
    text = (tmp_path / "runs.csv").read_text()
    assert text.count("\nbp_") == 2 and text.count("\nmlp_") == 1
    assert "mlp " in capsys.readouterr().out


def test_saved_run_of_another_configuration_is_refused(tmp_path, capsys):
    args = ["bandit", "--out", str(tmp_path)] + TINY_ARGS
    assert main(args + ["--seeds", "0"]) == 0
    # the same key with another configuration inside: a hand-edited or foreign file
    task = sweep_tasks("run", dict(learning.bandit.train.DEFAULTS) | TINY, [0])[0]
    path = tmp_path / "runs" / f"{task.key}.json"
    record = json.loads(path.read_text())
    record["config"]["sg_lr"] = 0.5
    path.write_text(json.dumps(record))
    capsys.readouterr()
    assert main(args + ["--seeds", "0"]) == 2
    assert "another configuration" in capsys.readouterr().err


def _numbers(folder):
    """Every run's results without its wall time."""
    runs = {}
    for path in sorted((folder / "runs").glob("*.json")):
        result = json.loads(path.read_text())["result"]
        result.pop("seconds")
        result.pop("cpu_seconds")
        runs[path.name] = result
    return runs


def test_results_do_not_depend_on_the_worker_count(tmp_path, capsys):
    args = ["bandit", "--sweep", "methods", "--methods", "sg,bp,mlp", "--seeds", "0-1", "--probe-points", "1",
            "--probe-draws", "4", "--probe-batch", "4"] + TINY_ARGS
    assert main(args + ["--out", str(tmp_path / "one"), "--workers", "1"]) == 0
    assert main(args + ["--out", str(tmp_path / "two"), "--workers", "2"]) == 0
    one, two = _numbers(tmp_path / "one"), _numbers(tmp_path / "two")
    assert len(one) == 6 and one == two
    # seeds differ, and the SG runs carry lambda and probes, the MLP none
    sg = [v for k, v in one.items() if k.startswith("sg_")]
    assert sg[0]["eval"] != sg[1]["eval"] or sg[0]["lambda"] != sg[1]["lambda"]
    assert all(v["lambda"] and len(v["probes"]) == 1 for v in sg)
    assert all(not v["probes"] for k, v in one.items() if not k.startswith("sg_"))
    text = capsys.readouterr().out
    assert "final reward" in text and "sg " in text and "mlp " in text


def test_a_run_shorter_than_the_default_evaluations_evaluates_every_step(tmp_path, capsys):
    """The default of 20 evaluations adapts to a shorter run (one per step at most); only an explicit
    value above the steps is refused (the case above)."""
    args = [a for k, v in TINY.items() if k not in ("steps", "eval_points") for a in (f"--{k.replace('_', '-')}", str(v))]
    assert main(["bandit", "--method", "bp", "--steps", "3", "--out", str(tmp_path), *args]) == 0
    (record,) = [json.loads(p.read_text()) for p in (tmp_path / "runs").glob("*.json")]
    assert record["config"]["eval_points"] == 3 and [e["step"] for e in record["result"]["eval"]] == [1, 2, 3]
    assert record["result"]["target"]["cpu"] and record["result"]["cpu_seconds"] > 0
