"""The sweeps' tables in paper_checks.md: hand-computed cells, the grouping of rows into tables, and
which stored runs each table reads."""

import json

import pytest

from learning import sweep_summary as S
from learning.rl.sweeps import TRAIN, sweep_tasks
from sgbp.report import write_report
from theory.checks import PASS, CheckResult


def test_a_cell_is_mean_se_and_the_second_mean():
    # [0.5, 0.7]: mean 0.6, sample sd 0.1414, SE 0.1; second measure's mean 0.3
    assert S.cell([0.5, 0.7], [0.2, 0.4], seeds=2) == "0.600 ± 0.100 / 0.300"
    assert S.cell([0.5, 0.7], [0.2, 0.4], seeds=6) == "0.600 ± 0.100 / 0.300 [2]"
    assert S.cell([0.25], [1.0], seeds=1) == "0.250 / 1.000"  # no SE from one seed
    assert S.cell([0.25], [1.0], seeds=6) == "0.250 / 1.000 [1]"


def test_rows_with_overlapping_settings_share_a_table():
    one = ([0.5, 0.5], [0.5, 0.5])
    rows = {"A": {1e-3: one, 2e-3: one}, "B": {2e-3: one}, "C": {1e-5: one}}
    lines = S.table("cap", rows, "lr")
    assert lines == ["cap, 2 seeds:", "", "| lr | 0.001 | 0.002 |", "|---|---|---|",
                     "| A | 0.500 ± 0.000 / 0.500 | 0.500 ± 0.000 / 0.500 |", "| B | - | 0.500 ± 0.000 / 0.500 |", "",
                     "cap, 2 seeds:", "", "| lr | 1e-05 |", "|---|---|", "| C | 0.500 ± 0.000 / 0.500 |", ""]
    together = S.table("cap", rows, "lr", groups=[["A", "B", "C"]])
    assert together[2] == "| lr | 1e-05 | 0.001 | 0.002 |" and len([x for x in together if x.startswith("| ")]) == 4


def test_the_mlps_learning_rates_get_a_table_of_their_own_even_where_they_meet_bps():
    one = ([0.5], [0.5])
    rows = {"BP": {1e-4: one, 1e-3: one}, "MLP": {1e-5: one, 1e-4: one}}
    assert S._e2_groups("lr", rows) == [["BP"], ["MLP"]]
    assert S._e2_groups("ablation", rows) == [["BP", "MLP"]] and S._e2_groups("p_flip", rows) is None
    assert S._groups(rows) == [["BP", "MLP"]]  # by overlap alone they would share one


def _e2_run(method, p_flip, seed, rewards):
    return {"config": {"method": method, "p_flip": p_flip, "seed": seed},
            "result": {"eval": [{"step": s, "reward": r} for s, r in zip((1, 3, 5), rewards)]}}


def test_e2_rows_hold_final_rewards_and_areas_of_the_sweeps_runs():
    runs = {"a": _e2_run("bp", 0.4, 0, (0.2, 0.6, 0.4)), "b": _e2_run("bp", 0.4, 1, (0.0, 0.0, 0.8)),
            "c": _e2_run("sg", 0.0, 0, (1.0, 1.0, 1.0)), "other": _e2_run("sg", 0.4, 0, (0.0, 0.0, 0.0))}
    data = {"runs": runs, "sweeps": {"p_flip": {"keys": ["a", "b", "c", "missing"]}, "lr": {"keys": ["other"]}}}
    rows = S.e2_rows(data, "p_flip")
    assert list(rows) == ["SG adaptive", "BP"]  # the methods' order, whatever the runs' order
    # areas by the trapezoid over steps 1..5: (0.2+0.6)/2*2 + (0.6+0.4)/2*2 = 1.8 over 4 -> 0.45; 0.8 over 4 -> 0.2
    finals, areas = rows["BP"][0.4]
    assert finals == [0.4, 0.8] and areas == pytest.approx([0.45, 0.2], abs=1e-15)
    assert rows["SG adaptive"] == {0.0: ([1.0], [1.0])}


def _store_e3(folder, runs):
    keys = []
    for env, model, lr, n, seed, level in runs:
        (task,) = sweep_tasks((env,), (model,), (lr,), (n,), (seed,), 5)
        result = {k: [level] * 5 for k in ("success", "return", "length", "steps", "policy_loss", "entropy", "grad_norm")}
        result["success"] = [0.0] * 4 + [level]  # area: the trapezoid's last half step, level / 8
        path = folder / "runs" / f"{task.key}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"fn": TRAIN, "key": task.key, "config": task.config, "result": result}))
        keys.append(task.key)
    (folder / "sweeps.json").write_text(json.dumps({"paper": {"keys": keys, "points": []}}))


def test_e3_tables_come_per_environment_and_num_envs(tmp_path):
    _store_e3(tmp_path / "e3", [("explore", "gru", 1e-3, 20, 0, 0.8), ("escape", "gru", 1e-3, 40, 0, 0.8),
                                ("escape", "gru", 1e-3, 20, 0, 0.8), ("escape", "sparsenet-sg", 1e-3, 20, 0, 0.4),
                                ("escape", "sparsenet-sg", 1e-3, 20, 1, 0.0)])
    lines = S.section(tmp_path)
    captions = [x for x in lines if x.startswith("E3")]
    assert captions == ["E3 escape, `num_envs` 20: success area ± SE / success over the last 5 updates, 2 seeds:",
                        "E3 escape, `num_envs` 40: success area ± SE / success over the last 5 updates, 1 seed:",
                        "E3 explore, `num_envs` 20: success area ± SE / success over the last 5 updates, 1 seed:"]
    # SparseNet SG before the GRU; areas 0.05 and 0 (mean 0.025, SE 0.025), last-5 means 0.08 and 0
    assert lines[4] == "| SparseNet SG | 0.025 ± 0.025 / 0.040 |"
    assert lines[5] == "| GRU | 0.100 / 0.160 [1] |"


def test_the_report_holds_the_sweeps_section_only_when_given(tmp_path):
    row = CheckResult(id="T1-sym", statement="s", method="symbolic", numbers="n", status=PASS)
    write_report([row], tmp_path / "a.md", profile="quick", seed=0, sweeps=["TABLE LINE"])
    text = (tmp_path / "a.md").read_text()
    assert "## The paper-scale sweeps in numbers" in text and "TABLE LINE" in text
    write_report([row], tmp_path / "b.md", profile="quick", seed=0)
    assert "sweeps in numbers" not in (tmp_path / "b.md").read_text()


def test_an_e2_sweep_gets_a_table_once_it_has_two_settings(tmp_path):
    folder = tmp_path / "e2"
    (folder / "runs").mkdir(parents=True)

    def store(runs):
        for key, run in runs.items():
            (folder / "runs" / f"{key}.json").write_text(json.dumps({"key": key, **run}))
        (folder / "sweeps.json").write_text(json.dumps({"parents": {"keys": list(runs)}}))

    store({"a": _e2_run("bp", 0.4, 0, (0.1, 0.1, 0.1)) | {"config": {"method": "bp", "parents": 5}}})
    assert S.section(tmp_path) == []
    store({"a": {"config": {"method": "bp", "parents": 5}, "result": _e2_run("bp", 0, 0, (0.1, 0.1, 0.1))["result"]},
           "b": {"config": {"method": "bp", "parents": 8}, "result": _e2_run("bp", 0, 0, (0.3, 0.3, 0.3))["result"]}})
    assert S.section(tmp_path)[2:5] == ["| parents per neuron | 5 | 8 |", "|---|---|---|",
                                        "| BP | 0.100 / 0.100 | 0.300 / 0.300 |"]


def _mechanism_run(settings, seed, area, measures=None, lam=None):
    from learning.bandit.train import full_config
    config = full_config({"steps": 1500, "p_flip": 0.4, "seed": seed} | settings)
    result = {"eval": [{"step": 1, "reward": area}, {"step": 1500, "reward": area}]}
    if measures:
        # (entropy, modal share, last rms) at the first evaluation, then at the last; a first layer of rms 9
        result["measures"] = [{"step": step, "entropy": e, "modal_share": m, "layers": [{"rms": 9.0}, {"rms": r}]}
                              for step, (e, m, r) in zip((1, 1500), measures)]
    if lam:
        result["lambda"] = [{"step": 1, "layers": [0.9, 0.9]}, {"step": 1500, "layers": lam}]
    return {"config": config, "result": result}


def test_the_mechanism_table_by_hand():
    from learning.bandit.hypotheses import CONTROLS, REFERENCES
    runs = {
        # the paper's SG measured on seeds 6 and 7; seed 0 has no measures and stays out of the row
        "sg0": _mechanism_run(REFERENCES["sg"][1], 0, 0.1),
        "sg6": _mechanism_run(REFERENCES["sg"][1], 6, 0.5, ((2.0, 0.1, 0.4), (0.2, 0.1, 1.5)), [0.6, 0.8]),
        "sg7": _mechanism_run(REFERENCES["sg"][1], 7, 0.7, ((2.0, 0.1, 0.6), (0.4, 0.3, 1.7)), [0.8, 1.0]),
        "f0": _mechanism_run(CONTROLS["frozen"][2], 0, 0.1, ((2.0, 0.1, 0.5), (0.0, 1.0, 3.0)), [0.9, 0.9]),
        "f1": _mechanism_run(CONTROLS["frozen"][2], 1, 0.1, ((2.0, 0.1, 0.5), (0.0, 1.0, 3.0)), [0.9, 0.9]),
        "b0": _mechanism_run(CONTROLS["bp-base5e-3"][2], 0, 0.2, ((2.0, 0.1, 0.5), (1.0, 0.5, 2.0))),
        "b1": _mechanism_run(CONTROLS["bp-base5e-3"][2], 1, 0.4, ((2.0, 0.1, 0.5), (1.0, 0.5, 2.0))),
    }
    lines = S.mechanism_table(runs)
    assert lines[0].startswith("E2 `mechanism`: the measures stored with the runs, mean ± SE over seeds 0, 1 unless")
    # area: 0.5 and 0.7 -> 0.600 ± 0.100; entropy 0.2, 0.4 -> 0.300 ± 0.100; modal 0.1, 0.3 -> 0.200 ± 0.100;
    # last rms first 0.4, 0.6 -> 0.500 ± 0.100, last 1.5, 1.7 -> 1.600 ± 0.100; lambda means [0.7, 0.9]
    assert lines[4] == ("| SG adaptive at 5e-3 (the paper's) [seeds 6, 7] | 0.600 ± 0.100 | 0.300 ± 0.100 | "
                        "0.200 ± 0.100 | 0.500 ± 0.100 | 1.600 ± 0.100 | 0.700 to 0.900 |")
    assert lines[5] == ("| BP with the batch-mean baseline at 5e-3 | 0.300 ± 0.100 | 1.000 ± 0.000 | 0.500 ± 0.000 | "
                        "0.500 ± 0.000 | 2.000 ± 0.000 | - |")
    assert lines[6].startswith("| SG adaptive with the SG predictors frozen at their start (5e-3) | 0.100 ± 0.000")
    assert lines[6].endswith("| 3.000 ± 0.000 | 0.900 to 0.900 |") and lines[7] == ""
    assert S.mechanism_table({"sg0": runs["sg0"]}) == []  # no measures, no table


def test_the_seed_list_names_a_range_only_for_three_or_more():
    assert S._seed_list([6, 7, 8, 9, 10, 11]) == "6-11"
    assert S._seed_list([6, 7]) == "6, 7" and S._seed_list([0, 2, 3]) == "0, 2, 3"


def test_the_sgd_pilot_gets_a_table_of_one_seed_without_an_se(tmp_path):
    folder = tmp_path / "e2"
    (folder / "runs").mkdir(parents=True)
    runs = {"a": {"config": {"method": "bp", "lr": 10.0}, "result": _e2_run("bp", 0, 0, (0.2, 0.2, 0.2))["result"]},
            "b": {"config": {"method": "bp", "lr": 1.0}, "result": _e2_run("bp", 0, 0, (0.1, 0.1, 0.1))["result"]}}
    for key, run in runs.items():
        (folder / "runs" / f"{key}.json").write_text(json.dumps({"key": key, **run}))
    (folder / "sweeps.json").write_text(json.dumps({"sgd-pilot": {"keys": list(runs)}}))
    assert S.section(tmp_path)[:5] == [
        "E2 `sgd-pilot`: final noise-free eval reward ± SE / area under the eval curve, 1 seed:", "",
        "| learning rate of plain SGD (300 steps) | 1 | 10 |", "|---|---|---|", "| BP | 0.100 / 0.100 | 0.200 / 0.200 |"]
