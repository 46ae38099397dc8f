"""C9 from E3 runs: pairing, the per-seed average over settings, and the three outcomes."""

import numpy as np

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
