"""The ratio's paired delta-method interval (montecarlo.stats.ratio_interval), by hand and by its
coverage over many independent runs of the engine."""

import math

import numpy as np
import pytest

from montecarlo.expert import ExpertEngine
from montecarlo.stats import Z95, log_ratio_z, ratio_interval
from theory.feedback import FeedbackModel
from theory.instance import make_expert_instance


def test_ratio_interval_by_hand():
    # a = 2, b = 1, Var a = 4, Var b = 1, Cov = 1, 100 trials:
    # se^2 = (4/4 + 1/1 - 2 * 1/(2 * 1)) / 100 = 0.01, so se = 0.1 on the log scale.
    r, lo, hi = ratio_interval(2.0, 1.0, 4.0, 1.0, 1.0, 100)
    assert r == 2.0
    assert lo == pytest.approx(2.0 * math.exp(-Z95 * 0.1), rel=1e-12)
    assert hi == pytest.approx(2.0 * math.exp(Z95 * 0.1), rel=1e-12)
    # a negative covariance widens it: se^2 = (1 + 1 + 1) / 100
    _, lo, hi = ratio_interval(2.0, 1.0, 4.0, 1.0, -1.0, 100)
    assert math.log(hi / lo) == pytest.approx(2 * Z95 * math.sqrt(0.03), rel=1e-12)
    # the z of a target read off that interval: log(2 / 1.5) / sqrt(0.03)
    assert log_ratio_z(2.0, (lo, hi), 1.5) == pytest.approx(math.log(2 / 1.5) / math.sqrt(0.03), rel=1e-12)


# d = 4, k = 2, m = 3, n = 1, noisy: the per-trial squared errors of BP and SG correlate (about 0.4),
# so the covariance term matters: with its sign flipped the interval is 1.46 times wider.
RUNS, TRIALS = 400, 400


@pytest.fixture(scope="module")
def intervals():
    inst = make_expert_instance(4, 2, 3, seed=0)
    engine = ExpertEngine(inst)
    fb = FeedbackModel(case="noisy")
    out = []
    for seed in range(RUNS):
        mc = engine.simulate(fb, 1, TRIALS, 10_000 + seed, lam=1.0)
        out.append((mc.ratio, *mc.ratio_ci))
    return np.array(out), 2.0 ** (4 - 2)  # T4: the exact ratio is the cell size


@pytest.mark.parametrize("z", [Z95, 1.0])
def test_delta_method_interval_has_its_coverage(intervals, z):
    """Share of the RUNS intervals (independent seeds) that contain the exact ratio, at 95% and at
    the narrower z = 1 (68.3%, where a too wide interval shows most). Required: within 3 binomial
    standard deviations of the nominal level (95%: 20 +- 13 misses of 400; 68.3%: 127 +- 28)."""
    runs, exact = intervals
    ratio, lo, hi = runs.T
    se = np.log(hi / lo) / (2 * Z95)  # the log-scale standard error of each run
    covered = np.abs(np.log(ratio / exact)) <= z * se
    nominal = math.erf(z / math.sqrt(2))
    sd = math.sqrt(RUNS * nominal * (1 - nominal))
    misses = RUNS - covered.sum()
    assert abs(misses - RUNS * (1 - nominal)) <= 3 * sd, (misses, RUNS * (1 - nominal), sd)
