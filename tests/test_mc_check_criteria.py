"""What each Monte Carlo check decides by, made to fail in turn.

A check passes when every agreement has |z| < 4 and every ordering clears 3 SE (montecarlo.checks).
Here the decisions themselves are replaced: each z score, log-ratio z and ordering margin a check
computes returns a value just inside its bound, and the check must PASS; then each one in turn
returns the value at its bound (|z| = 4, margin 0), and the check must FAIL. A check that ignored
one of its decisions, joined two with `or`, or let the bound itself pass, fails here. The checks
whose criteria are not z scores (T5's exact zeros, T8's rate, T1's bias) are driven through a
simulation result altered one number at a time.
"""

import dataclasses
import inspect
import math
import re
from pathlib import Path

import pytest

from montecarlo import checks
from montecarlo.expert import ExpertEngine
from sgbp.reproduce_cmd import PROFILES

ROOT = Path(__file__).resolve().parents[1]
INSIDE = {"z": 3.99, "margin": 0.5}  # |z| < 4 passes; a margin above 0 passes, also below 1 SE
AT_BOUND = {"z": 4.0, "margin": 0.0}  # both fail
TRIALS = 200


class Decisions:
    """Stands in for z_score, log_ratio_z and _margin; decision number `fail` returns its bound."""

    def __init__(self, fail: int | None = None):
        self.fail, self.count = fail, 0

    def _next(self, kind):
        value = (AT_BOUND if self.count == self.fail else INSIDE)[kind]
        self.count += 1
        return value

    def z(self, *args, **kwargs):
        return self._next("z")

    def margin(self, *args, **kwargs):
        return self._next("margin")


def decided(monkeypatch, check, fail=None, **kwargs):
    decisions = Decisions(fail)
    monkeypatch.setattr(checks, "z_score", decisions.z)
    monkeypatch.setattr(checks, "log_ratio_z", decisions.z)
    monkeypatch.setattr(checks, "_margin", decisions.margin)
    return check(trials=TRIALS, **kwargs), decisions.count


DECIDED = [checks.check_t1, checks.check_t2, checks.check_t3, checks.check_t4, checks.check_t6,
           checks.check_t7, checks.check_t9, checks.check_shared_latent]


@pytest.mark.parametrize("check", DECIDED, ids=lambda c: c.__name__)
def test_every_decision_of_a_check_can_fail_it(monkeypatch, check):
    kwargs = {} if check is checks.check_t9 else {"d": 4}
    result, count = decided(monkeypatch, check, **kwargs)
    assert result.passed, result.numbers
    assert count >= 3  # at least one decision a case
    for i in range(count):
        result, again = decided(monkeypatch, check, fail=i, **kwargs)
        assert again <= count  # `and` may stop at the failed decision
        assert result.status == "FAIL", f"{check.__name__}: decision {i} at its bound did not fail the check"


def test_t7_requires_lambda_star_strictly_inside(monkeypatch):
    """lambda* at 0 or at 1 is BP or SG itself, not a mixture that beats both: T7 fails on either."""
    real = checks.exact_mse
    for star in (0.0, 1.0):
        monkeypatch.setattr(checks, "exact_mse",
                            lambda *a, s=star, **k: dataclasses.replace(real(*a, **k), lambda_star=s))
        result, _ = decided(monkeypatch, checks.check_t7, d=4)
        assert result.status == "FAIL", star


def altered(monkeypatch, change):
    """Every simulation of a check returns its result with change(result, fb, n, engine) applied."""

    class Altered(ExpertEngine):
        def simulate(self, fb, n, trials, seed, **kwargs):
            return change(super().simulate(fb, n, trials, seed, **kwargs), fb, n, self)

    monkeypatch.setattr(checks, "ExpertEngine", Altered)


@pytest.mark.parametrize("factor, passes", [(3.99, True), (-3.99, True), (4.0, False), (-4.0, False)])
def test_t1_bias_is_judged_in_its_own_standard_errors(monkeypatch, factor, passes):
    """||E e_BP||^2 set to `factor` of its SE: z = factor, which passes only inside 4 (not bias * SE)."""
    monkeypatch.setattr(checks, "z_score", lambda *a: 0.0)
    altered(monkeypatch, lambda mc, fb, n, e: dataclasses.replace(mc, bias_sq_bp=factor * mc.bias_sq_bp_se))
    assert checks.check_t1(trials=TRIALS, d=4).passed is passes


def _t5(monkeypatch, **fields):
    """T5 with the leak runs' (`leaky`) or the plain runs' result fields set as given, as functions of
    the exact ||bias||^2."""
    def change(mc, fb, n, engine):
        if bool(fb.rho) != fields["leaky"]:
            return mc
        bias_sq = checks.exact_mse(engine.inst, fb, n).bias_sq
        return dataclasses.replace(mc, **{k: f(bias_sq) for k, f in fields.items() if k != "leaky"})
    altered(monkeypatch, change)
    return checks.check_t5(trials=20, d=4)


@pytest.mark.parametrize("leaky, fields, passes", [
    (True, {"mse_sg": lambda b: b * (1 + 0.5e-9)}, True),
    (True, {"mse_sg": lambda b: b * (1 + 1.5e-9)}, False),  # SG's error off the bias by more than 1e-9
    (True, {"se_sg": lambda b: 1e-9 * b}, True),  # at the bound, which is allowed
    (True, {"se_sg": lambda b: 1.5e-9 * b}, False),  # SG's error varies between trials
    (False, {"mse_sg": lambda b: 1e-25}, True),
    (False, {"mse_sg": lambda b: 1.5e-25}, False),
    (False, {"se_bp": lambda b: 1e-12}, False),  # BP not exact in every trial
    (True, {"mse_bp": lambda b: 1e-12}, False),
])
def test_t5_requires_each_exact_value(monkeypatch, leaky, fields, passes):
    assert _t5(monkeypatch, leaky=leaky, **fields).passed is passes


def _t8(monkeypatch, rate, gap_at, se=0.0):
    """T8 with the plug-in's K replaced by `rate` and each leak run's mean lambda_hat put at
    lambda* + gap_at(n) / n with standard error `se`."""
    def change(mc, fb, n, engine):
        if not fb.rho:
            return mc
        star = checks.exact_mse(engine.inst, fb, n).lambda_star
        return dataclasses.replace(mc, lambda_adaptive=star + gap_at(n) / n, lambda_adaptive_se=se)
    altered(monkeypatch, change)
    monkeypatch.setattr(checks, "plugin_rate", lambda inst, fb: rate)
    return checks.check_t8(trials=20, d=4)


def test_t8_judges_n_gap_at_the_largest_n_against_k(monkeypatch):
    """|n gap - K| <= 0.25 |K| + 3 n SE at n = 64, with K = -2: the remainder allowed is 0.5."""
    last = lambda g: (lambda n: g if n == 64 else -10.0)  # noqa: E731 (the other n are not judged)
    assert _t8(monkeypatch, -2.0, last(-2.4)).passed
    assert not _t8(monkeypatch, -2.0, last(-2.6)).passed
    # exactly at 0.25 |K|, allowed: exact in floats, as 2.5 / 64 is a dyadic fraction and lambda* and
    # lambda* - 2.5 / 64 both lie in [0.5, 1), so the difference and n times it round to nothing
    assert _t8(monkeypatch, -2.0, last(-2.5)).passed
    # the SE's share: 3 * 64 * SE = 0.15 makes 0.6 pass, not 1.5
    assert _t8(monkeypatch, -2.0, last(-2.6), se=0.15 / 192).passed
    assert not _t8(monkeypatch, -2.0, last(-3.5), se=0.15 / 192).passed


def test_mc_check_defaults_are_the_settings_the_report_states():
    """paper_checks.md states, in each T*-mc row, the settings the report ran: each check's default
    parameters, its trials times the profile's scale. A default changed without the report being
    regenerated fails here."""
    text = (ROOT / "paper_checks.md").read_text()
    profile = re.search(r"profile (\w+), seed (\d+)", text).group(1)
    scale = PROFILES[profile]["checks"]
    rows = {}
    for line in text.splitlines():
        cells = re.split(r"(?<!\\)\|", line)
        if len(cells) > 5 and cells[1].strip().endswith(("-mc", "-shared")):
            rows[cells[1].strip()] = cells[5].replace("\\|", "|")
    ids = {"check_shared_latent": "T2-shared"}
    for check in checks.CHECKS:
        row = rows[ids.get(check.__name__, f"T{check.__name__[-1]}-mc")]
        settings = row.split(";")[0]
        stated = {key: float(v) for key, v in re.findall(r"\b(d|k|m|n|p|q|rho|sigma)=([0-9.]+)", settings)}
        stated["trials"] = int(re.search(r"(\d+) trials", row).group(1)) / scale
        for key, pattern in (("groups", r"from (\d+) group means"), ("q", r"plus (\d+) shared"),
                             ("n_star", r"n\* = ([0-9.]+)"), ("rho", r"with a leak rho=([0-9.]+)")):
            found = re.search(pattern, row)
            if found:
                stated[key] = float(found.group(1))
        listed = {"ns": r"\bn=(\d+)[: ]", "Ks": r"\bK=(\d+):"}
        defaults = {name: p.default for name, p in inspect.signature(check).parameters.items()}
        for key, pattern in listed.items():
            if key in defaults:
                stated[key] = tuple(dict.fromkeys(int(v) for v in re.findall(pattern, row)))
        if check is checks.check_t5:
            stated["rho"] = max(float(v) for v in re.findall(r"rho=([0-9.]+):", row))
        if check is checks.check_t6:
            stated["n_low"], stated["n_high"] = dict.fromkeys(int(v) for v in re.findall(r"\bn=(\d+):", row))
        for key, value in stated.items():
            assert defaults[key] == value, f"{check.__name__}: {key} default {defaults[key]}, report {value}"
        assert set(stated) >= set(defaults) - {"seed", "details"}, check.__name__


def test_the_report_runs_each_check_at_its_trials_times_the_scale(monkeypatch):
    calls = []

    def first(trials=1000, seed=0, details=None):
        calls.append((trials, seed))
        return "first"

    def second(trials=30, seed=0, d=6, details=None):
        calls.append((trials, seed))
        return "second"

    monkeypatch.setattr(checks, "CHECKS", (first, second))
    assert checks.monte_carlo_checks() == ["first", "second"]
    assert checks.monte_carlo_checks(scale=0.5, seed=7) == ["first", "second"]
    assert checks.monte_carlo_checks(scale=1e-6, seed=1) == ["first", "second"]
    assert calls == [(1000, 0), (30, 0), (500, 7), (15, 7), (2, 1), (2, 1)]


def test_every_simulation_of_the_report_draws_its_own_stream(monkeypatch):
    """No two simulations in the report share a noise stream (T5, which draws no noise, aside)."""
    seeds = []
    real = checks.derived_seed
    monkeypatch.setattr(checks, "derived_seed", lambda *parts: seeds.append(real(*parts)) or seeds[-1])
    monkeypatch.setattr(checks, "CHECKS", tuple(c for c in checks.CHECKS if c is not checks.check_t5))
    results = checks.monte_carlo_checks(scale=0.01)
    assert len(results) == len(checks.CHECKS)
    simulations = 3 + 3 + 6 + 6 + 6 + 3 + 24 + 3 + 6  # T1, T2, T3, T4, T6, T7, T8, T9, T2-shared
    assert len(seeds) == simulations and len(set(seeds)) == simulations


def test_shared_parameters_are_on_the_scale_of_the_private_ones():
    """common_contributions: i.i.d. N(0, 1 / (q R^2)) entries, shape (R, m, q). 1280 entries: the
    mean within 4 SE of 0 and the variance within 4 of its relative SE sqrt(2 / 1280) = 4%."""
    inst = checks.make_expert_instance(6, 2, 5, 0)
    q = 4
    x = checks.common_contributions(inst, q, seed=3)
    assert x.shape == (inst.R, inst.m, q)
    var = 1.0 / (q * inst.R**2)
    assert abs(x.mean()) < 4 * math.sqrt(var / x.size)
    assert abs(x.var() / var - 1) < 4 * math.sqrt(2 / x.size)
