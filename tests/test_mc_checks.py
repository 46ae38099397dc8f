"""The Monte Carlo checks of T1-T9, run small: each must pass, and its numbers must say why.

Agreement is required within 4 standard errors; orderings by more than 3 standard errors of
the paired difference, as in montecarlo.checks.
"""

import math

import pytest

from montecarlo import checks
from theory.checks import CheckResult

TRIALS = 3000
Z = 4.0


def run(check, **kwargs):
    details = []
    result = check(details=details, **kwargs)
    assert isinstance(result, CheckResult) and result.method == "Monte Carlo"
    assert result.passed, result.numbers
    return details


def test_t1_bp_is_unbiased_and_its_mse_matches():
    details = run(checks.check_t1, trials=TRIALS, d=5)
    assert [x["case"] for x in details] == ["noisy", "activation", "partial"]
    for x in details:
        assert abs(x["z_mse"]) < Z and abs(x["z_bias"]) < Z


def test_t2_sg_bias_and_variance_match():
    details = run(checks.check_t2, trials=TRIALS, d=5)
    for x in details:
        assert abs(x["z_mse"]) < Z and abs(x["z_bias"]) < Z and abs(x["z_var"]) < Z
        assert x["exact_bias_sq"] > 0.0


def test_t3_sg_beats_bp_with_and_without_shared_parameters():
    details = run(checks.check_t3, trials=TRIALS, d=5)
    assert len({x["layout"] for x in details}) == 2
    for x in details:
        assert x["gap"] - 3 * x["se"] > 0 and abs(x["z"]) < Z


def test_t4_ratio_is_two_to_the_d_minus_k():
    details = run(checks.check_t4, trials=TRIALS, d=6, ns=(1, 2))
    for x in details:
        assert x["target"] == 16.0 and abs(x["z"]) < Z


def test_t5_without_noise_bp_is_exact_and_sg_error_is_the_bias():
    details = run(checks.check_t5, trials=50, d=5)
    for x in details:
        assert x["mse_bp"] == 0.0 and x["se_bp"] == 0.0
        if x["rho"]:
            assert x["mse_sg"] == pytest.approx(x["bias_sq"], rel=1e-9) and x["bias_sq"] > 0
        else:
            assert x["mse_sg"] < 1e-25


def test_t6_sg_wins_below_the_crossover_and_bp_above():
    details = run(checks.check_t6, trials=TRIALS, d=5)
    inst = checks.make_expert_instance(5, 2, 5, 0)
    for x in details:
        # the leak found by bisection puts the crossover at 8: MSE_BP(8) = MSE_SG(8), from the
        # evaluator at n = 8 (not from crossover_n, which the bisection used)
        at8 = checks.exact_mse(inst, checks.FeedbackModel(case=x["case"], rho=x["rho"]), 8)
        assert at8.mse_bp == pytest.approx(at8.mse_sg, rel=1e-6)
        for gap, se in (x["sg_wins"], x["bp_wins"]):
            assert gap - 3 * se > 0


def test_t7_mixture_beats_both():
    details = run(checks.check_t7, trials=TRIALS, d=5)
    for x in details:
        assert 0.0 < x["lambda_star"] < 1.0 and abs(x["z"]) < Z
        for gap, se in (x["beats_bp"], x["beats_sg"]):
            assert gap - 3 * se > 0


def test_t8_adaptive_lambda_approaches_lambda_star_with_a_leak():
    details = run(checks.check_t8, trials=1000, d=5)
    leaky = [x for x in details if x["rho"] > 0]
    plain = [x for x in details if x["rho"] == 0]
    assert len(leaky) == 3 and len(plain) == 3
    for x in leaky:
        # n gap tends to K: its remainder at n = 64 is a quarter of the one at n = 16 (1/n), up to noise
        (n16, star16, hat16, se16), (n64, star64, hat64, se64) = x["points"][-2:]
        rest16, rest64 = abs(n16 * (hat16 - star16) - x["rate"]), abs(n64 * (hat64 - star64) - x["rate"])
        assert rest64 < 0.5 * rest16 + 3 * n64 * se64
        assert x["rate"] < 0 and abs(hat64 - star64) < 0.05
    for x in plain:
        # Without a leak lambda* = 0; the plug-in sits above it (its b2 is clipped at 0 and lambda at
        # [0, 1]) and comes down as n grows.
        (_, star_1, hat_1, se_1), (_, _, hat_64, _) = x["points"][0], x["points"][-1]
        assert star_1 == 0.0 and hat_1 > 3 * se_1 and hat_64 < hat_1


def test_t8_rate_of_a_plugin_stuck_at_bp_is_not_k_over_n():
    """The rate constant tells the plug-in from lambda = 1 (plain BP), whose gap 1 - lambda* also
    closes like 1/n: at seed 0 the two constants have opposite signs."""
    inst = checks.make_expert_instance(5, 2, 5, 0)
    for case in ("noisy", "activation", "partial"):
        fb = checks.FeedbackModel(case=case, rho=1.0)
        exact = checks.exact_mse(inst, fb, 64)
        assert checks.plugin_rate(inst, fb) < 0 < 64 * (1.0 - exact.lambda_star)


def test_t9_pooled_ratio_is_k_over_p():
    details = run(checks.check_t9, trials=4000)
    assert [x["K"] for x in details] == [4, 8, 16]
    for x in details:
        assert abs(x["z"]) < Z and x["z_sg_max"] < Z


def test_shared_latent_matches_exact_and_moves_the_ratio():
    # 20000 trials: enough to see C computed with SG's cell average on both sides (10-24 SE off)
    details = run(checks.check_shared_latent, trials=20000)
    assert len({x["layout"] for x in details}) == 2 and len(details) == 6
    for x in details:
        assert max(abs(x["z_bp"]), abs(x["z_sg"]), abs(x["z_cov"]), abs(x["z_ratio"])) < Z
    # correlated noise: the exact ratio is no longer 2^(d-k) = 16 (noisy case: 17.2)
    noisy = details[0]
    assert not math.isclose(noisy["exact_ratio"], 16.0, rel_tol=0.05)


def test_all_checks_have_their_ids():
    results = checks.monte_carlo_checks(scale=0.02, seed=1)
    assert [r.id for r in results] == [f"T{i}-mc" for i in range(1, 10)] + ["T2-shared"]
    assert all(r.method == "Monte Carlo" and r.numbers for r in results)


def test_margin_by_hand():
    """Guards against the ordering margin with the wrong sign (an ordering passing when it is 3 SE short
    of zero instead of 3 SE clear of it): (mean - 3 SE) / SE."""
    assert checks._margin(5.0, 1.0) == pytest.approx(2.0)
    assert checks._margin(10.0, 2.0) == pytest.approx(2.0)  # in SEs: (10 - 3 * 2) / 2
    assert checks._margin(2.0, 1.0) == pytest.approx(-1.0)  # clear of zero, but not by 3 SE: fails
    assert checks._margin(-2.0, 1.0) < 0  # the wrong way round: fails
    assert checks._margin(1e-9, 0.0) == math.inf and checks._margin(0.0, 0.0) == -math.inf


def test_an_ordering_check_fails_on_a_false_ordering():
    """T6 with its two sample sizes swapped asks SG to win far above the crossover and BP far below it:
    both orderings are false, and the check must FAIL."""
    result = checks.check_t6(trials=TRIALS, d=5, n_low=32, n_high=2)
    assert not result.passed and result.status == "FAIL"
