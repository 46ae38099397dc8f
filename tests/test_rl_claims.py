"""C9 from E3 runs: pairing, the per-seed average over settings, and the three outcomes."""

import numpy as np
import pytest

from learning.rl.train import rl_config
from learning.rl.claims import c9_check, per_seed_differences
from learning.rl.sweeps import success_area
from theory.checks import FAIL, INCONCLUSIVE, PASS


def run(model, seed, success, env="escape", lr=1e-3, num_envs=20):
    config = rl_config(env=env, model=model, seed=seed, lr=lr, num_envs=num_envs, updates=len(success))
    return {"config": config, "result": {"success": list(success)}}


def runs_of(*items):
    return {f"k{i}": r for i, r in enumerate(items)}


def test_success_area_is_the_normalised_trapezoid():
    assert np.isclose(success_area({"success": [0.0, 1.0, 1.0]}), (0.5 + 1.0) / 2)


def test_pairs_share_every_setting_and_seed():
    """An SG run is compared only with the BPTT run of its own seed, learning rate and num_envs;
    each seed's differences are averaged over the settings (catches pairing across seeds)."""
    runs = runs_of(
        run("sparsenet-sg", 0, [0.5, 0.5]), run("sparsenet-bptt", 0, [0.2, 0.2]),
        run("sparsenet-sg", 0, [0.4, 0.4], lr=2e-3), run("sparsenet-bptt", 0, [0.4, 0.4], lr=2e-3),
        run("sparsenet-sg", 1, [0.9, 0.9]),  # no BPTT partner
        run("sparsenet-bptt", 2, [0.1, 0.1]),  # no SG partner
        run("gru", 0, [1.0, 1.0]),
    )
    assert per_seed_differences(runs) == {"escape": {0: (0.3 + 0.0) / 2}}


def test_outcomes():
    """PASS only when every environment run is significantly in favour of SG; one environment
    significantly against makes FAIL; two seeds of noise are INCONCLUSIVE."""
    seeds = range(5)
    ahead = [run("sparsenet-sg", s, [0.6 + 0.01 * s] * 3) for s in seeds] + \
            [run("sparsenet-bptt", s, [0.4 - 0.02 * s] * 3) for s in seeds]
    behind = [run("sparsenet-sg", s, [0.3 + 0.01 * s] * 3, env="explore") for s in seeds] + \
             [run("sparsenet-bptt", s, [0.5] * 3, env="explore") for s in seeds]
    assert c9_check(runs_of(*ahead)).status == PASS
    both = c9_check(runs_of(*ahead, *behind))
    assert both.status == FAIL and "escape" in both.numbers and "explore" in both.numbers
    noisy = [run("sparsenet-sg", 0, [0.6] * 3), run("sparsenet-bptt", 0, [0.4] * 3),
             run("sparsenet-sg", 1, [0.3] * 3), run("sparsenet-bptt", 1, [0.35] * 3)]
    assert c9_check(runs_of(*noisy)).status == INCONCLUSIVE
    assert c9_check({}).status == INCONCLUSIVE


def test_gru_and_lstm_are_reported_beside_c9_not_judged():
    """Per environment, the GRU's and LSTM's mean success area over their runs follow the verdict; they do
    not move it. Escape: GRU areas 0.5 and 0.25 (mean 0.375), LSTM 1.0; Explore has neither."""
    seeds = range(5)
    ahead = [run("sparsenet-sg", s, [0.6 + 0.01 * s] * 3) for s in seeds] + \
            [run("sparsenet-bptt", s, [0.4 - 0.02 * s] * 3) for s in seeds]
    explore = [run("sparsenet-sg", s, [0.6 + 0.01 * s] * 3, env="explore") for s in seeds] + \
              [run("sparsenet-bptt", s, [0.4 - 0.02 * s] * 3, env="explore") for s in seeds]
    others = [run("gru", 0, [0.5] * 3), run("gru", 1, [0.0, 0.5]), run("lstm", 0, [1.0] * 3)]
    alone, beside = c9_check(runs_of(*ahead, *explore)), c9_check(runs_of(*ahead, *explore, *others))
    assert beside.status == alone.status == PASS
    escape, explore_text = beside.numbers.split("; explore")
    assert escape.endswith(": PASS (beside it, not judged: success area GRU 0.375 (2 runs), LSTM 1.000 (1 run))")
    assert "GRU" not in explore_text and "beside" not in alone.numbers


def test_c9_tuned_takes_each_model_at_its_best_rate_and_averages_over_num_envs():
    """num_envs 20: SG's best is 2e-3 (mean area 0.75 against 0.5), BPTT's 1e-3 (0.5 against 0.25), so the
    seeds' differences are 0.7 - 0.6 and 0.8 - 0.4; num_envs 40 has its own best rates (SG 1e-3, BPTT 4e-3)
    and differences 0.1 and -0.1; each seed averages its two."""
    from learning.rl.claims import tuned_differences

    items = [run("sparsenet-sg", 0, [0.5] * 2), run("sparsenet-sg", 1, [0.5] * 2),
             run("sparsenet-sg", 0, [0.7] * 2, lr=2e-3), run("sparsenet-sg", 1, [0.8] * 2, lr=2e-3),
             run("sparsenet-bptt", 0, [0.6] * 2), run("sparsenet-bptt", 1, [0.4] * 2),
             run("sparsenet-bptt", 0, [0.3] * 2, lr=2e-3), run("sparsenet-bptt", 1, [0.2] * 2, lr=2e-3),
             run("sparsenet-sg", 0, [0.2] * 2, num_envs=40), run("sparsenet-sg", 1, [0.2] * 2, num_envs=40),
             run("sparsenet-sg", 0, [0.0] * 2, lr=4e-3, num_envs=40),
             run("sparsenet-sg", 1, [0.1] * 2, lr=4e-3, num_envs=40),
             run("sparsenet-bptt", 0, [0.0] * 2, num_envs=40), run("sparsenet-bptt", 1, [0.0] * 2, num_envs=40),
             run("sparsenet-bptt", 0, [0.1] * 2, lr=4e-3, num_envs=40),
             run("sparsenet-bptt", 1, [0.3] * 2, lr=4e-3, num_envs=40),
             run("gru", 0, [1.0] * 2)]
    diffs, chosen = tuned_differences(runs_of(*items))
    assert diffs["escape"] == {0: pytest.approx((0.1 + 0.1) / 2), 1: pytest.approx((0.4 - 0.1) / 2)}
    bs, a_s, bb, a_b, note, rates = chosen["escape"][20]
    assert (bs, bb) == (2e-3, 1e-3) and a_s == pytest.approx(0.75) and a_b == pytest.approx(0.5) and rates == 2
    assert "SG's best is the largest rate run" in note and "BPTT's best is the smallest rate run" in note
    assert chosen["escape"][40][0] == 1e-3 and chosen["escape"][40][2] == 4e-3


def test_c9_tuned_differs_from_c9_where_a_rate_fails():
    """SG is far ahead at its best rate and at chance at the other, BPTT middling at both: averaged over the
    rates (C9) SG is not ahead, at each model's best rate (C9-tuned) it is."""
    from learning.rl.claims import c9_tuned_check

    seeds = range(5)
    items = ([run("sparsenet-sg", s, [0.8 + 0.01 * s] * 3) for s in seeds]
             + [run("sparsenet-sg", s, [0.0] * 3, lr=2e-3) for s in seeds]
             + [run("sparsenet-bptt", s, [0.45 - 0.01 * s] * 3) for s in seeds]
             + [run("sparsenet-bptt", s, [0.4] * 3, lr=2e-3) for s in seeds])
    assert c9_check(runs_of(*items)).status == INCONCLUSIVE
    assert c9_tuned_check(runs_of(*items)).status == PASS
    assert c9_tuned_check(runs_of(*items)).figure == "e3_auc_vs_lr"  # two rates: drawn against each other
    behind = [run("sparsenet-sg", s, [0.3 + 0.01 * s] * 3, env="explore") for s in seeds] + \
             [run("sparsenet-bptt", s, [0.5] * 3, env="explore") for s in seeds]
    row = c9_tuned_check(runs_of(*items, *behind))
    assert row.status == FAIL and "explore" in row.numbers and "escape" in row.numbers
    assert c9_tuned_check({}).status == INCONCLUSIVE


def test_c9_tuned_is_judged_only_on_the_whole_sparsenet_sweep():
    from learning.rl import paper
    from theory.checks import NOT_YET

    plan = paper.blocks(seeds=(0, 1, 2), updates=3, lrs=(1e-3, 2e-3))
    tasks = {t.key: t for _, (_, ts) in plan.items() for t in ts if t.config["model"].startswith("sparsenet")}
    assert len(tasks) == 2 * 2 * 2 * 2 * 3  # environments, num_envs, models, rates, seeds
    stored = {key: {"config": t.config, "result": {"success": [0.6 if t.config["model"] == "sparsenet-sg" else 0.3]
                                                   * 3}} for key, t in tasks.items()}
    stored = {k: r | {"result": {"success": [v + 0.01 * r["config"]["seed"] for v in r["result"]["success"]]}}
              if r["config"]["model"] == "sparsenet-sg" else r for k, r in stored.items()}
    row = paper.c9_tuned_stored(plan, stored)
    assert row.status == PASS and "Covers 48 of the 48" in row.numbers
    missing = dict(list(stored.items())[1:])
    assert paper.c9_tuned_stored(plan, missing).status == NOT_YET
