"""The Monte Carlo checks of T1-T9, run small: each must pass, and its numbers must say why.

Agreement is required within 4 standard errors; orderings by more than 3 standard errors of
the paired difference, as in montecarlo.checks.
"""

import math
import re

import pytest

from montecarlo import checks
from theory.checks import CheckResult

TRIALS = 3000
Z = 4.0


def run(check, **kwargs):
    return run_with_text(check, **kwargs)[0]


def run_with_text(check, **kwargs):
    """The check's details and its report text; the check must pass."""
    details = []
    result = check(details=details, **kwargs)
    assert isinstance(result, CheckResult) and result.method == "Monte Carlo"
    assert result.passed, result.numbers
    return details, result.numbers


def se_counts(text, pattern):
    """The 'x.x SE' figures the report's text states, in order, after `pattern`."""
    return [float(v) for v in re.findall(pattern + r" \S+ (?:± \S+ )?\((-?[0-9.]+) SE", text)]


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
    details, text = run_with_text(checks.check_t3, trials=TRIALS, d=5)
    assert len({x["layout"] for x in details}) == 2
    inst = checks.make_expert_instance(5, 2, 5, 0)
    layouts = {"separate blocks": None, "plus 4 shared parameters": checks.common_contributions(inst, 4, 0)}
    for x in details:
        assert x["gap"] - 3 * x["se"] > 0 and abs(x["z"]) < Z
        exact = checks.exact_mse(inst, checks.FeedbackModel(case=x["case"]), 2, common=layouts[x["layout"]])
        assert x["exact_gap"] == exact.mse_bp - exact.mse_sg
    # the text states the SE count the decision used and the exact gap it was compared with
    assert se_counts(text, "MSE_BP - MSE_SG MC") == [round(x["gap"] / x["se"], 1) for x in details]
    stated = re.findall(r"SE above 0\), exact (\S+) \(z", text)
    assert stated == [f"{x['exact_gap']:.4g}" for x in details]


def test_t4_ratio_is_two_to_the_d_minus_k():
    details = run(checks.check_t4, trials=TRIALS, d=6, ns=(1, 2))
    for x in details:
        assert x["target"] == 16.0 and abs(x["z"]) < Z


def test_t5_without_noise_bp_is_exact_and_sg_error_is_the_bias():
    details = run(checks.check_t5, trials=50, d=5)
    assert [(x["case"], x["rho"]) for x in details] == [
        (case, rho) for case in ("noisy", "activation", "partial") for rho in (0.0, 0.5)]
    for x in details:
        assert x["mse_bp"] == 0.0 and x["se_bp"] == 0.0
        if x["rho"]:
            assert x["mse_sg"] == pytest.approx(x["bias_sq"], rel=1e-9) and x["bias_sq"] > 0
        else:
            assert x["mse_sg"] < 1e-25


def test_t6_sg_wins_below_the_crossover_and_bp_above():
    details, text = run_with_text(checks.check_t6, trials=TRIALS, d=5)
    inst = checks.make_expert_instance(5, 2, 5, 0)
    for x in details:
        # the leak found by bisection puts the crossover at 8: MSE_BP(8) = MSE_SG(8), from the
        # evaluator at n = 8 (not from crossover_n, which the bisection used)
        fb = checks.FeedbackModel(case=x["case"], rho=x["rho"])
        at8 = checks.exact_mse(inst, fb, 8)
        assert at8.mse_bp == pytest.approx(at8.mse_sg, rel=1e-6)
        for gap, se in (x["sg_wins"], x["bp_wins"]):
            assert gap - 3 * se > 0
        # each difference is the one named: BP - SG at n = 2, SG - BP at n = 32, within 4 SE of exact
        low, high = checks.exact_mse(inst, fb, 2), checks.exact_mse(inst, fb, 32)
        assert abs(x["sg_wins"][0] - (low.mse_bp - low.mse_sg)) < Z * x["sg_wins"][1]
        assert abs(x["bp_wins"][0] - (high.mse_sg - high.mse_bp)) < Z * x["bp_wins"][1]
    stated = se_counts(text, r"MSE_BP - MSE_SG") + se_counts(text, r"MSE_SG - MSE_BP")
    assert stated == [round(g / s, 1) for key in ("sg_wins", "bp_wins") for g, s in (x[key] for x in details)]


def test_t7_mixture_beats_both():
    details, text = run_with_text(checks.check_t7, trials=TRIALS, d=5)
    inst = checks.make_expert_instance(5, 2, 5, 0)
    for x in details:
        assert 0.0 < x["lambda_star"] < 1.0 and abs(x["z"]) < Z
        for gap, se in (x["beats_bp"], x["beats_sg"]):
            assert gap - 3 * se > 0
        # each advantage is the one named, within 4 SE of its exact value
        fb = checks.FeedbackModel(case=x["case"], rho=checks.rho_for_crossover(inst, x["case"], 8.0))
        exact = checks.exact_mse(inst, fb, 8)
        assert abs(x["beats_bp"][0] - (exact.mse_bp - exact.mse_mix)) < Z * x["beats_bp"][1]
        assert abs(x["beats_sg"][0] - (exact.mse_sg - exact.mse_mix)) < Z * x["beats_sg"][1]
    stated = se_counts(text, r"MSE_BP - MSE\(lambda\*\)") + se_counts(text, r"MSE_SG - MSE\(lambda\*\)")
    assert stated == [round(g / s, 1) for key in ("beats_bp", "beats_sg") for g, s in (x[key] for x in details)]
    values = re.findall(r"MSE_BP - MSE\(lambda\*\) (\S+) ", text) + re.findall(r"MSE_SG - MSE\(lambda\*\) (\S+) ", text)
    assert values == [f"{x[key][0]:.4g}" for key in ("beats_bp", "beats_sg") for x in details]


def test_t8_adaptive_lambda_approaches_lambda_star_with_a_leak():
    details, text = run_with_text(checks.check_t8, trials=1000, d=5)
    assert "must be K / n at n = 64" in text
    stated = [float(v) for v in re.findall(r"n gap = ([-+][0-9.]+)", text)]
    assert stated == [round(n * (hat - star), 3) for x in details if x["rho"] for n, star, hat, _ in x["points"]]
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


def test_t8_with_eight_cells_a_state():
    """k = 3: the cell average over 2^k = 8 cells enters K (at k = 2, 2^k and 2k agree)."""
    run(checks.check_t8, trials=1000, d=5, k=3)


def test_t8_rate_is_capped_where_lambda_hat_reaches_one():
    """Where the plug-in's spread term exceeds BP's noise (little noise, sigma = 0.05), lambda_hat sits at
    1 and K is the cap (V_BP,1 - C_1) / ||b||^2, which is the limit of n (1 - lambda*) for large n."""
    inst = checks.make_expert_instance(3, 1, 5, 0)
    fb = checks.FeedbackModel(case="noisy", rho=0.2, sigma=0.05)
    rate = checks.plugin_rate(inst, fb)
    gaps = [n * (1.0 - checks.exact_mse(inst, fb, n).lambda_star) for n in (64, 4096)]
    assert abs(gaps[1] - rate) < 0.02 * abs(gaps[0] - rate) and abs(gaps[1] - rate) < 1e-4 * rate


def test_t9_pooled_ratio_is_k_over_p():
    details, text = run_with_text(checks.check_t9, trials=4000)
    assert [x["K"] for x in details] == [4, 8, 16]
    for x in details:
        assert abs(x["z"]) < Z and x["z_sg_max"] < Z
    assert re.findall(r"K/p = (\S+) \(z", text) == ["2", "4", "8"]
    stated = re.findall(r"95% \[(\S+), (\S+)\]", text)
    assert stated == [(f"{x['ratio_ci'][0]:.4g}", f"{x['ratio_ci'][1]:.4g}") for x in details]


def test_shared_latent_matches_exact_and_moves_the_ratio():
    # 20000 trials: enough to see C computed with SG's cell average on both sides (10-24 SE off)
    details, text = run_with_text(checks.check_shared_latent, trials=20000)
    assert len({x["layout"] for x in details}) == 2 and len(details) == 6
    for x in details:
        assert max(abs(x["z_bp"]), abs(x["z_sg"]), abs(x["z_cov"]), abs(x["z_ratio"])) < Z
    # correlated noise: the exact ratio is no longer 2^(d-k) = 16 (noisy case: 17.2)
    noisy = details[0]
    assert not math.isclose(noisy["exact_ratio"], 16.0, rel_tol=0.05)
    # the text says whether 16 lies in each interval
    stated = re.findall(r"2\^\(d-k\) = (\S+) (inside|outside) the interval", text)
    assert stated == [("16", "inside" if x["ratio_ci"][0] <= 16 <= x["ratio_ci"][1] else "outside") for x in details]
    assert {place for _, place in stated} == {"inside", "outside"}
    stated = re.findall(r"ratio exact \S+, MC \S+ 95% \[(\S+), (\S+)\]", text)
    assert stated == [(f"{x['ratio_ci'][0]:.4g}", f"{x['ratio_ci'][1]:.4g}") for x in details]


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
