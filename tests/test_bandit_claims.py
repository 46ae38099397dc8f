"""C8's criterion on hand-made per-seed results, C3 from its parts, and the t table."""

import math

import pytest

from learning.bandit.claims import c8_check
from learning.tables import area_under_curve
from learning.verdicts import T_CRIT_975, experiments_claim, mean_se, paired_test, t_critical
from theory.checks import FAIL, INCONCLUSIVE, NOT_YET, PASS, CheckResult


def test_t_table_matches_scipy():
    stats = pytest.importorskip("scipy.stats")
    for df, value in enumerate(T_CRIT_975, start=1):
        assert value == pytest.approx(stats.t.ppf(0.975, df), abs=6e-4)
    assert t_critical(100) == 1.96


@pytest.mark.parametrize("diffs, status", [
    # mean 0.1, sd 0.01: t = 0.1 / (0.01 / sqrt 3) = 17.3 > 4.303
    ([0.09, 0.10, 0.11], PASS),
    ([-0.09, -0.10, -0.11], FAIL),
    # mean 0.01, sd 0.1: t = 0.17
    ([0.11, -0.09, 0.01], INCONCLUSIVE),
    # one seed is never enough
    ([0.5], INCONCLUSIVE),
    # all seeds equal and positive: no spread, the sign decides
    ([0.2, 0.2], PASS),
    ([0.0, 0.0, 0.0], INCONCLUSIVE),
])
def test_paired_criterion_three_outcomes(diffs, status):
    assert paired_test(diffs)["status"] == status


def test_criterion_sits_at_the_critical_value():
    # 4 seeds: t = mean / (sd / 2) with df 3, critical 3.182; sd of (-1, 1, -1, 1) + m is 2/sqrt(3)
    sd = 2 / math.sqrt(3)
    below = [m + 3.10 * sd / 2 for m in (-1, 1, -1, 1)]
    above = [m + 3.26 * sd / 2 for m in (-1, 1, -1, 1)]
    assert paired_test(below)["t"] == pytest.approx(3.10)
    assert paired_test(below)["status"] == INCONCLUSIVE
    assert paired_test(above)["status"] == PASS
    assert paired_test([-x for x in above])["status"] == FAIL


def test_mean_se_of_values_and_of_curves_by_hand():
    # [1, 3]: mean 2, sample sd sqrt(2), SE sqrt(2) / sqrt(2) = 1; [2, 6]: mean 4, SE 2
    assert mean_se([1.0, 3.0]) == (2.0, 1.0)
    mean, se = mean_se([[1.0, 2.0], [3.0, 6.0]])
    assert mean.tolist() == [2.0, 4.0] and se.tolist() == [1.0, 2.0]
    assert mean_se([0.25]) == (0.25, 0.0)  # one seed: no spread drawn
    assert mean_se([[0.5, 0.75]])[1].tolist() == [0.0, 0.0]


def test_area_under_curve_is_the_mean_reward_over_steps():
    import numpy as np

    # a straight line from 0 to 1: mean 0.5; a constant: itself; uneven spacing is weighted by steps
    assert area_under_curve(np.array([0, 10.0]), np.array([0, 1.0])) == pytest.approx(0.5)
    assert area_under_curve(np.array([0, 5, 20.0]), np.array([0.3, 0.3, 0.3])) == pytest.approx(0.3)
    assert area_under_curve(np.array([0, 1, 4.0]), np.array([0, 1.0, 1.0])) == pytest.approx((0.5 + 3) / 4)


def _run(method, seed, rewards, p_flip=0.4, steps=None):
    steps = steps or list(range(0, 10 * len(rewards), 10))
    # as in the sweeps, only the SG runs carry probes
    config = {"method": method, "seed": seed, "p_flip": p_flip, "lr": 1e-3 if method == "bp" else 5e-3,
              "lam": 0.9, "steps": steps[-1], "width": 8, "probe_points": 2 if method == "sg" else 0}
    return {"config": config, "result": {"eval": [{"step": s, "reward": r} for s, r in zip(steps, rewards)]}}


def _data(pairs, p_flip=0.4, extra=()):
    runs = {}
    for seed, (sg, bp) in enumerate(pairs):
        runs[f"sg{seed}"] = _run("sg", seed, sg, p_flip)
        runs[f"bp{seed}"] = _run("bp", seed, bp, p_flip)
    for key, run in extra:
        runs[key] = run
    return {"sweeps": {"methods": {"keys": list(runs)}}, "runs": runs}


def test_c8_pairs_runs_by_seed_and_applies_the_criterion():
    # SG ahead by 0.2 of area on every seed, BP curves differing by seed
    curves = [([0.1, 0.5, 0.9], [0.1, 0.3, 0.7]), ([0.2, 0.6, 0.8], [0.2, 0.4, 0.6]),
              ([0.1, 0.45, 0.85], [0.1, 0.25, 0.65])]
    row = c8_check(_data(curves))
    assert row.status == PASS and row.id == "C8" and "3 seeds" in row.numbers
    # the same curves with the methods swapped: BP significantly ahead
    assert c8_check(_data([(bp, sg) for sg, bp in curves])).status == FAIL
    mixed = _data([([0.1, 0.5, 0.9], [0.1, 0.3, 0.7]), ([0.1, 0.3, 0.7], [0.1, 0.5, 0.9])])
    assert c8_check(mixed).status == INCONCLUSIVE


def test_c8_pairs_only_runs_of_the_same_network():
    data = _data([([0.1, 0.5, 0.9], [0.1, 0.3, 0.7]), ([0.2, 0.6, 0.8], [0.2, 0.4, 0.6])])
    data["runs"]["bp1"]["config"]["width"] = 16
    assert "1 seed," in c8_check(data).numbers


def test_c8_ignores_other_noise_levels_and_unpaired_seeds():
    # an sg run at p_flip 0 far ahead and an sg seed without its bp twin must not count
    data = _data([([0.1, 0.5, 0.9], [0.1, 0.5, 0.9]), ([0.1, 0.5, 0.9], [0.1, 0.5, 0.9])],
                 extra=[("sg_noise_free", _run("sg", 0, [1, 1, 1], p_flip=0.0)),
                        ("sg_lonely", _run("sg", 7, [1, 1, 1]))])
    row = c8_check(data)
    assert row.status == INCONCLUSIVE and "2 seeds" in row.numbers
    assert c8_check({"sweeps": {}, "runs": {}}).status == INCONCLUSIVE


def _row(cid, status):
    return CheckResult(id=cid, statement="s", method="experiment", numbers="n", status=status)


@pytest.mark.parametrize("c8, c9, status", [
    (PASS, NOT_YET, PASS),
    (INCONCLUSIVE, NOT_YET, INCONCLUSIVE),
    (FAIL, NOT_YET, FAIL),
    (PASS, PASS, PASS),
    (PASS, FAIL, FAIL),
    (PASS, INCONCLUSIVE, INCONCLUSIVE),
    (NOT_YET, NOT_YET, NOT_YET),
])
def test_c3_follows_c8_and_c9(c8, c9, status):
    row = experiments_claim({"C8": _row("C8", c8), "C9": _row("C9", c9)})
    assert row.id == "C3" and row.status == status
    if c9 == NOT_YET and c8 != NOT_YET:
        assert "C9 not yet reproduced" in row.numbers and "E2 bandit only" in row.numbers


def _trend_data(diff_by_seed, p_flips=(0.0, 0.1, 0.2, 0.3, 0.4)):
    """A p_flip sweep whose BP curve is flat at 0.3 and whose SG curve is flat at 0.3 + diff(seed, p):
    each area is its constant, so each pair's difference is diff exactly."""
    runs = {}
    for seed, diff in enumerate(diff_by_seed):
        for p in p_flips:
            runs[f"sg{seed}_{p}"] = _run("sg", seed, [0.3 + diff(p)] * 3, p)
            runs[f"bp{seed}_{p}"] = _run("bp", seed, [0.3] * 3, p)
    points = [{"method": m, "p_flip": p} for m in ("sg", "bp") for p in p_flips]
    return {"sweeps": {"p_flip": {"keys": list(runs), "points": points}}, "runs": runs}


def test_per_seed_slope_is_the_least_squares_slope():
    from learning.bandit.claims import per_seed_slopes

    # differences 0, 0.1, 0.1, 0.3, 0.3 at p = 0 .. 0.4: slope = sum((p - 0.2) d) / sum((p - 0.2)^2)
    # = (-0.2*0 - 0.1*0.1 + 0 + 0.1*0.3 + 0.2*0.3) / 0.1 = 0.08 / 0.1 = 0.8
    table = {0.0: 0.0, 0.1: 0.1, 0.2: 0.1, 0.3: 0.3, 0.4: 0.3}
    slopes = per_seed_slopes(_trend_data([lambda p: table[p]]))
    assert slopes == {0: pytest.approx(0.8, abs=1e-12)}


@pytest.mark.parametrize("slopes, status", [
    # the advantage grows by about 0.5 area per unit p_flip on every seed: t large
    ((0.5, 0.45, 0.55), PASS),
    ((-0.5, -0.45, -0.55), FAIL),
    # growing on one seed, shrinking on another: t = 0.06
    ((0.5, -0.5, 0.05), INCONCLUSIVE),
])
def test_c8_trend_has_the_known_verdict(slopes, status):
    from learning.bandit.claims import c8_trend_check

    # an offset per seed that the slope must ignore
    data = _trend_data([lambda p, b=b, a=0.1 * i: a + b * p for i, b in enumerate(slopes)])
    row = c8_trend_check(data)
    assert row.id == "C8-trend" and row.status == status
    assert f"{len(slopes)} seed(s)" in row.numbers
    # the mean slope, printed, is the slopes' mean
    assert f"{sum(slopes) / len(slopes):+.3f} per unit p_flip" in row.numbers


def test_c8_trend_leaves_out_a_seed_missing_a_noise_level():
    from learning.bandit.claims import c8_trend_check

    # slopes 0.5, 0.45, 0.55: t = 17.3 against 4.303
    data = _trend_data([lambda p: 0.5 * p, lambda p: 0.45 * p, lambda p: 0.55 * p, lambda p: -3.0 * p])
    assert c8_trend_check(data).status == INCONCLUSIVE
    # seed 3, strongly against the trend, lacks its BP run at p_flip 0.2: then it must not count
    del data["runs"]["bp3_0.2"]
    row = c8_trend_check(data)
    assert "3 seed(s)" in row.numbers and row.status == PASS
    # a constant advantage has no trend: slope 0 on every seed
    assert c8_trend_check(_trend_data([lambda p: 0.2] * 3)).status == INCONCLUSIVE


def test_t_at_exactly_the_critical_value_is_inconclusive():
    # two seeds, differences 12.706 -+ 1: mean 12.706, SE 1, so t equals the critical value exactly;
    # the criterion asks t to be above it (PASS) or below minus it (FAIL)
    assert paired_test([11.706, 13.706])["t"] == 12.706 == paired_test([11.706, 13.706])["t_crit"]
    assert paired_test([11.706, 13.706])["status"] == INCONCLUSIVE
    assert paired_test([-13.706, -11.706])["status"] == INCONCLUSIVE


def test_t_table_ends_at_30_degrees_of_freedom():
    assert t_critical(30) == 2.042 and t_critical(29) == 2.045 and t_critical(31) == 1.96


def test_no_spread_and_no_difference_gives_t_zero():
    assert paired_test([0.0, 0.0, 0.0])["t"] == 0.0
    assert paired_test([0.5, 0.5])["t"] == math.inf and paired_test([-0.5, -0.5])["t"] == -math.inf


def test_c3_says_which_parts_it_is_judged_from():
    row = experiments_claim({"C8": _row("C8", PASS), "C9": _row("C9", INCONCLUSIVE)})
    assert row.numbers == "E2 bandit: C8 PASS; E3 RL: C9 INCONCLUSIVE" and row.figure == "e2_reward_vs_step"
    row = experiments_claim({"C8": _row("C8", NOT_YET), "C9": _row("C9", FAIL)})
    assert row.numbers == "E2 bandit: C8 not yet reproduced; E3 RL: C9 FAIL (status from E3 RL only)"
    assert row.figure is None and row.method == "experiment"
    row = experiments_claim({"C8": _row("C8", NOT_YET), "C9": _row("C9", NOT_YET)})
    assert row.numbers == "E2 bandit: C8 not yet reproduced; E3 RL: C9 not yet reproduced"
    assert row.method == NOT_YET
