"""`sgbp explore expert`: JSON for one configuration, tables and CSV for sweeps, one-line errors."""

import csv
import json

import pytest

from sgbp.cli import main


def test_single_configuration_json(capsys):
    assert main(["explore", "expert", "--d", "5", "--n", "2", "--trials", "200", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"case", "d", "k", "m", "n", "seed", "trials", "exact", "mc"} <= set(out)
    assert {"mse_bp", "se_bp", "mse_sg", "se_sg", "mse_mix", "se_mix", "ratio", "ratio_ci"} <= set(out["mc"])
    lo, hi = out["mc"]["ratio_ci"]
    assert lo <= out["mc"]["ratio"] <= hi
    # the exact part is what `sgbp theory expert --json` prints for the same configuration
    assert main(["theory", "expert", "--d", "5", "--n", "2", "--json"]) == 0
    theory = json.loads(capsys.readouterr().out)
    assert out["exact"] == {key: theory[key] for key in out["exact"]}
    assert out["exact"]["ratio"] == 8.0


def test_sweep_writes_one_row_per_configuration(tmp_path, capsys):
    path = tmp_path / "sweep.csv"
    code = main(["explore", "expert", "--case", "all", "--d", "3-4", "--k", "2,4", "--n", "1,2",
                 "--trials", "30", "--out", str(path)])
    assert code == 0
    captured = capsys.readouterr()
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    # pairs (3,2), (4,2), (4,4): (3,4) is skipped; 2 values of n, 3 cases
    assert len(rows) == 18
    assert {(r["d"], r["k"]) for r in rows} == {("3", "2"), ("4", "2"), ("4", "4")}
    assert len(captured.out.strip().splitlines()) == 2 + 1 + 18
    assert captured.err == ""  # no progress bar when stderr is not a terminal


def test_sweep_json_is_a_list(capsys):
    assert main(["explore", "expert", "--d", "3,4", "--trials", "20", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["d"] for r in rows] == [3, 4]


@pytest.mark.parametrize("argv, text", [
    (["--d", "3", "--k", "4"], "k must be <= d"),
    (["--n", "0"], "n must be >= 1"),
    (["--trials", "0"], "trials must be >= 1"),
    (["--case", "foo"], "case must be one of"),
    (["--d", "2", "--leak", "0.5"], "leak needs k < d"),
])
def test_bad_input_exits_2_with_one_line(argv, text, capsys):
    assert main(["explore", "expert", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and text in err


def test_save_instance_writes_the_instance_the_sweep_simulates(tmp_path, capsys):
    import numpy as np

    from theory.instance import NPZ_KEYS, ExpertInstance, make_expert_instance

    path = tmp_path / "inst.npz"
    args = ["explore", "expert", "--case", "all", "--d", "4", "--k", "2", "--m", "3", "--seed", "11", "--n", "1,2",
            "--trials", "20", "--json"]
    assert main(args + ["--save-instance", str(path)]) == 0
    rows = json.loads(capsys.readouterr().out)
    saved = ExpertInstance.load(path)
    drawn = make_expert_instance(4, 2, 3, 11)
    for key in NPZ_KEYS:
        np.testing.assert_array_equal(getattr(saved, key), getattr(drawn, key))
    assert main(args) == 0  # saving changes nothing of the sweep
    assert json.loads(capsys.readouterr().out) == rows


@pytest.mark.parametrize("extra, message", [
    (["--d", "4,5"], "sgbp: error: save-instance: saves one instance, got 2 (d, k) pairs; give one d and one k"),
    (["--d", "4", "--k", "2,3"], "sgbp: error: save-instance: saves one instance, got 2 (d, k) pairs; give one d and one k"),
    (["--d", "4", "--save-instance", "/no/such/folder/inst.npz"], "sgbp: error: save-instance: the folder of "
     "/no/such/folder/inst.npz does not exist"),
])
def test_save_instance_refuses_several_instances_and_missing_folders(tmp_path, capsys, extra, message):
    path = tmp_path / "inst.npz"
    args = ["explore", "expert", "--trials", "20", "--save-instance", str(path)] + extra
    assert main(args) == 2
    assert capsys.readouterr().err.strip().splitlines() == [message]
    assert not path.exists()
