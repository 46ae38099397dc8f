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


def test_merged_chunks_give_the_moments_of_all_rows():
    """Chan's pairwise merge: rows added in chunks of 1, 3 and 6 give the mean and the co-moment sum of the
    10 rows at once, whatever the grouping (the cross term of each merge and both running means count)."""
    from montecarlo.stats import Moments

    rng = np.random.default_rng(4)
    rows = rng.normal(size=(10, 3)) + np.array([5.0, -2.0, 0.5])
    for cuts in ((1, 4), (3, 9), (6,), (2, 5, 7)):
        m = Moments(3)
        for part in np.split(rows, cuts):
            m.add_rows(part)
        assert m.n == 10
        np.testing.assert_allclose(m.mean, rows.mean(axis=0), rtol=1e-13)
        np.testing.assert_allclose(m.cov(), np.cov(rows.T), rtol=1e-12)
    # a chunk of no rows leaves the moments alone, and fewer than two rows have no covariance
    m = Moments(2)
    m.add_chunks(np.array([0, 1]), np.array([[9.0, 9.0], [1.0, 2.0]]), np.zeros((2, 2, 2)))
    assert m.n == 1 and m.mean.tolist() == [1.0, 2.0] and not m.cov().any()


def test_contrast_by_hand():
    from montecarlo.stats import Moments

    # rows (1, 2), (3, 2), (5, 8): the difference of entries is -1, 1, -3: mean -1, variance 4, SE 2/sqrt(3)
    m = Moments(2)
    m.add_rows(np.array([[1.0, 2.0], [3.0, 2.0], [5.0, 8.0]]))
    mean, se = m.contrast([1.0, -1.0])
    assert mean == pytest.approx(-1.0) and se == pytest.approx(2 / math.sqrt(3))


def test_z_score_rounding_tolerance_is_1e_9_of_the_larger_value_with_a_floor():
    """With se = 0, agreement means |diff| <= 1e-9 * max(|estimate|, |exact|, 1e-300), the bound included."""
    from montecarlo.stats import z_score
    assert z_score(1e6 + 1e-4, 0.0, 1e6) == 0.0  # relative 1e-10: a tolerance 1e-9 / scale would refuse it
    assert z_score(1.0 + 1.5e-9, 0.0, 1.0) == math.inf
    at_floor = 1e-9 * 1e-300  # a subnormal, so the difference equals the bound to the bit
    assert z_score(at_floor, 0.0, 0.0) == 0.0
    assert z_score(1.5e-309, 0.0, 0.0) == math.inf and z_score(-1.5e-309, 0.0, 0.0) == -math.inf


def test_log_ratio_z_below_one():
    """An interval with 0 < lo < 1 is an ordinary interval: log(0.8) over log(hi / lo) / (2 z)."""
    from montecarlo.stats import log_ratio_z
    assert log_ratio_z(0.8, (0.5, 2.0), 1.0) == pytest.approx(math.log(0.8) / (math.log(4.0) / (2 * Z95)),
                                                              rel=1e-12)


def test_z_scores_by_hand():
    from montecarlo.stats import Z95, log_ratio_z, z_score

    assert Z95 == pytest.approx(1.959964, abs=1e-6)
    assert z_score(1.5, 0.25, 1.0) == 2.0 and z_score(1.0, 0.0, 1.0) == 0.0
    assert z_score(1.0, 0.0, 2.0) == -math.inf and z_score(1.0 + 1e-12, 0.0, 1.0) == 0.0
    # an interval [r / e^(z s), r e^(z s)] has log-ratio SE s: log(r / target) / s
    r, s = 4.0, 0.1
    ci = (r * math.exp(-Z95 * s), r * math.exp(Z95 * s))
    assert log_ratio_z(r, ci, 2.0) == pytest.approx(math.log(2.0) / s)
    assert log_ratio_z(2.0, (2.0, 2.0), 2.0) == 0.0 and log_ratio_z(3.0, (3.0, 3.0), 2.0) == math.inf


def test_two_rows_have_a_covariance():
    from montecarlo.stats import Moments

    # rows (0, 1) and (2, 5): variances 2 and 8, covariance 4 (ddof 1)
    m = Moments(2)
    m.add_rows(np.array([[0.0, 1.0], [2.0, 5.0]]))
    np.testing.assert_allclose(m.cov(), [[2.0, 4.0], [4.0, 8.0]], rtol=1e-14)


def test_ratio_interval_at_zero_means_collapses():
    """A ratio whose denominator is 0 is inf (or nan for 0 / 0), one whose numerator is 0 is 0, and the
    interval collapses onto the ratio whenever a mean is not positive."""
    inf = float("inf")
    assert ratio_interval(1.0, 0.0, 1.0, 1.0, 0.0, 10) == (inf, inf, inf)
    assert ratio_interval(0.0, 2.0, 1.0, 1.0, 0.0, 10) == (0.0, 0.0, 0.0)
    assert all(math.isnan(v) for v in ratio_interval(0.0, 0.0, 1.0, 1.0, 0.0, 10))
    assert ratio_interval(-1.0, 2.0, 1.0, 1.0, 0.0, 10) == (-0.5, -0.5, -0.5)
    # an interval touching 0 has no log scale: the z is 0 or inf
    assert log_ratio_z(1.0, (0.0, 2.0), 1.0) == 0.0 and log_ratio_z(1.5, (0.0, 2.0), 1.0) == math.inf


def test_contrast_of_a_small_variance():
    from montecarlo.stats import Moments

    # entries differing by 0.1, 0.3: mean 0.2, variance 0.02, SE 0.1
    m = Moments(2)
    m.add_rows(np.array([[1.1, 1.0], [1.3, 1.0]]))
    mean, se = m.contrast([1.0, -1.0])
    assert mean == pytest.approx(0.2) and se == pytest.approx(0.1)
