"""`sgbp theory expert`, run in-process: its JSON and table output, and its errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sgbp.cli import main
from theory.exact import exact_mse
from theory.feedback import FeedbackModel
from theory.instance import ExpertInstance, make_expert_instance

KEYS = ("mse_bp", "mse_sg", "ratio", "bias_sq", "lambda_star", "mse_mix")


def run_json(capsys, *args):
    assert main(["theory", "expert", "--json", *args]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    return json.loads(captured.out)


@pytest.mark.parametrize("case", ["noisy", "activation", "partial"])
@pytest.mark.parametrize("d,k", [(5, 2), (4, 4)])
def test_json_output(capsys, case, d, k):
    row = run_json(capsys, "--case", case, "--d", str(d), "--k", str(k), "--m", "3", "--n", "2", "--seed", "4")
    for key in KEYS:
        assert key in row, key
    assert row["ratio"] == pytest.approx(2 ** (d - k), rel=1e-12)
    assert row["bias_sq"] == 0.0
    exact = exact_mse(make_expert_instance(d, k, 3, 4), FeedbackModel(case=case), 2)
    assert row["mse_bp"] == pytest.approx(exact.mse_bp, rel=1e-12)
    assert row["mse_sg"] == pytest.approx(exact.mse_sg, rel=1e-12)
    assert (row["case"], row["d"], row["k"], row["m"], row["n"]) == (case, d, k, 3, 2)


def test_json_with_leak_and_shared_latent(capsys):
    row = run_json(capsys, "--case", "partial", "--d", "4", "--k", "2", "--leak", "0.5", "--shared-latent")
    assert row["rho"] == 0.5 and row["shared_latent"] is True
    assert row["bias_sq"] > 0 and 0 < row["lambda_star"] < 1
    assert row["mse_mix"] <= min(row["mse_bp"], row["mse_sg"])


def test_json_infinite_crossover_is_null(capsys):
    row = run_json(capsys, "--d", "4", "--k", "2")
    assert row["n_star"] is None  # no bias under B: no crossover


def test_table_output(capsys):
    assert main(["theory", "expert", "--d", "6", "--k", "2", "--m", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("expert model, case=noisy, d=6, k=2, m=2")
    rows = {line.split()[0]: line.split()[1] for line in out[1:]}
    for key in KEYS:
        assert key in rows, key
    assert float(rows["ratio"]) == 16.0
    assert rows["n_star"] == "inf"


def test_save_instance(capsys, tmp_path):
    path = tmp_path / "inst.npz"
    run_json(capsys, "--d", "4", "--k", "2", "--m", "3", "--seed", "11", "--save-instance", str(path))
    loaded = ExpertInstance.load(path)
    fresh = make_expert_instance(4, 2, 3, 11)
    for key in ("jacobians", "coords", "a", "b", "beta", "gamma", "alpha", "leak_coord", "leak_c"):
        np.testing.assert_array_equal(getattr(loaded, key), getattr(fresh, key))


BAD = [
    (["--d", "3", "--k", "4"], "k"),
    (["--n", "0"], "n"),
    (["--m", "0"], "m"),
    (["--case", "activation", "--p", "0"], "p"),
    (["--case", "activation", "--p", "1.5"], "p"),
    (["--sigma", "-0.1"], "sigma"),
    (["--case", "partial", "--tau", "-1"], "tau"),
    (["--case", "bogus"], "case"),
    (["--d", "21"], "d"),
    (["--d", "3", "--k", "3", "--leak", "0.5"], "leak"),
    (["--save-instance", "/no/such/folder/inst.npz"], "save-instance"),
]


@pytest.mark.parametrize("args,name", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_is_one_line_and_status_2(capsys, args, name):
    assert main(["theory", "expert", *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, lines
    assert "Traceback" not in captured.err
    assert lines[0].startswith("sgbp: error: " + name), lines[0]


@pytest.mark.parametrize("args,name", [(["--d", "2.5"], "--d"), (["--n", "one"], "--n"), (["--bogus"], "--bogus")])
def test_argparse_errors_exit_2_with_one_line(capsys, args, name):
    with pytest.raises(SystemExit) as exit_info:
        main(["theory", "expert", *args])
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1, lines
    assert name in lines[0] and "Traceback" not in captured.err
