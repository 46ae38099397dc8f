"""Sweeps: the grid, the per-configuration noise seeds, the rows and their CSV form."""

import math

import pytest

from montecarlo.sweep import ROW_KEYS, expert_configs, noise_seed, read_csv, run_sweep, write_csv
from sgbp.theory_cmd import exact_row
from theory.feedback import FeedbackModel
from theory.instance import make_expert_instance


def test_configs_skip_pairs_with_k_above_d():
    configs = expert_configs(["noisy", "partial"], ds=[3, 4], ks=[2, 4], ns=[1, 2])
    pairs = {(c["d"], c["k"]) for c in configs}
    assert pairs == {(3, 2), (4, 2), (4, 4)}
    assert len(configs) == 3 * 2 * 2


@pytest.mark.parametrize("kwargs, name", [
    ({"ds": [3], "ks": [4]}, "k must be <= d"), ({"ns": [0]}, "n must"), ({"ds": [21]}, "d must"),
    ({"p": 0.0}, "p must"), ({"rho": 0.5, "ds": [2], "ks": [2]}, "leak needs"), ({"cases": ["foo"]}, "case must"),
])
def test_bad_grids_raise_one_line(kwargs, name):
    args = {"cases": ["noisy"], "ds": [4], "ks": [2], "ns": [1]} | kwargs
    with pytest.raises(ValueError, match=name) as err:
        expert_configs(**args)
    assert "\n" not in str(err.value)


def test_a_row_does_not_depend_on_the_sweep_around_it():
    configs = expert_configs(["noisy", "activation"], ds=[4, 5], ks=[2], ns=[1, 2], seed=3)
    rows = run_sweep(configs, 40, seed=7)
    target = configs[5]
    alone = run_sweep([target], 40, seed=7)[0]
    assert alone == rows[5]
    assert run_sweep(configs[::-1], 40, seed=7)[::-1] == rows
    assert noise_seed(7, 4, 2, 1, "noisy") != noise_seed(7, 4, 2, 2, "noisy")


def test_rows_carry_the_exact_values_of_sgbp_theory_expert():
    # Two cases and three n on one instance, with a leak (a bias that must not shrink with n): the
    # sweep derives each n from its exact values at n = 1, which must match a direct evaluation.
    configs = expert_configs(["partial", "activation"], ds=[5], ks=[2], ns=[1, 2, 3], seed=4, rho=0.3)
    rows = run_sweep(configs, 300, seed=0)
    inst = make_expert_instance(5, 2, 5, 4)
    for config, row in zip(configs, rows):
        assert tuple(row) == ROW_KEYS
        exact = exact_row(inst, FeedbackModel(case=config["case"], rho=0.3), config["n"])
        for key in ("mse_bp", "mse_sg", "ratio", "bias_sq", "lambda_star", "mse_mix"):
            assert row[f"exact_{key}"] == pytest.approx(exact[key], rel=1e-12, abs=1e-300), (config, key)
        assert row["z_bp"] == pytest.approx((row["mse_bp"] - row["exact_mse_bp"]) / row["se_bp"])
        assert abs(row["z_bp"]) < 4 and abs(row["z_sg"]) < 4 and abs(row["z_mix"]) < 4


def test_csv_round_trip(tmp_path):
    configs = expert_configs(["noisy"], ds=[3, 4], ks=[2, 3], ns=[1], shared=True)
    rows = run_sweep(configs, 30, seed=1)
    path = tmp_path / "rows.csv"
    write_csv(rows, path)
    back = read_csv(path)
    assert len(back) == len(rows) == 4
    for a, b in zip(rows, back):
        assert a.keys() == b.keys()
        for key in a:
            same = a[key] == b[key] or (isinstance(a[key], float) and math.isnan(a[key]) and math.isnan(b[key]))
            assert same, key


def test_progress_is_called_once_per_row():
    configs = expert_configs(["noisy"], ds=[3], ks=[2], ns=[1, 2, 3])
    calls = []
    run_sweep(configs, 10, seed=0, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 3), (2, 3), (3, 3)]
