"""The Monte Carlo engine: its random numbers, its arithmetic and its reproducibility."""

import math

import numba
import numpy as np
import pytest

from montecarlo import rng
from montecarlo.expert import CHUNK, ExpertEngine, simulate_expert, stream_to_samples
from montecarlo.reference import reference_trials
from montecarlo.stats import Moments
from theory.exact import exact_mse
from theory.feedback import FeedbackModel
from theory.instance import make_expert_instance

CASES = ("noisy", "activation", "partial")


def test_normal_draws_have_the_normal_moments_tail_and_cdf():
    N = 200_000
    z = rng.draw(11, N)
    # mean, variance and the ziggurat's tail mass, each within 4 standard errors
    assert abs(z.mean()) < 4 / math.sqrt(N)
    assert abs(z.var() - 1.0) < 4 * math.sqrt(2.0 / N)
    tail = math.erfc(rng.ZIG_R / math.sqrt(2.0))
    assert abs(np.mean(np.abs(z) > rng.ZIG_R) - tail) < 4 * math.sqrt(tail / N)
    # Kolmogorov-Smirnov: sqrt(N) D < 1.95 is the 0.1% critical value
    zs = np.sort(z)
    cdf = 0.5 * (1.0 + np.array([math.erf(v / math.sqrt(2.0)) for v in zs]))
    d_plus = np.max(np.arange(1, N + 1) / N - cdf)
    d_minus = np.max(cdf - np.arange(N) / N)
    assert math.sqrt(N) * max(d_plus, d_minus) < 1.95


def test_uniform_draws_lie_in_the_unit_interval_with_the_right_mean():
    N = 200_000
    u = rng.draw(12, N, normal=False)
    assert u.min() >= 0.0 and u.max() < 1.0
    assert abs(u.mean() - 0.5) < 4 * math.sqrt(1.0 / (12 * N))


def test_chunk_streams_differ_and_do_not_depend_on_how_many_chunks_exist():
    states = rng.chunk_states(5, 3)
    assert np.array_equal(rng.chunk_states(5, 1)[0], states[0])
    assert not np.array_equal(rng.draw(5, 50, chunk=0), rng.draw(5, 50, chunk=1))


@pytest.mark.parametrize("d, n", [(4, 3), (5, 1)])
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("shared", [False, True])
def test_engine_matches_the_numpy_reference_on_the_same_draws(d, n, case, shared):
    # The engine's per-sample sums go through Gram matrices; the reference materialises every
    # per-sample vector, so agreement to rounding checks the engine's algebra, common part included.
    inst = make_expert_instance(d, 2, 3, 0)
    common = np.random.default_rng(5).normal(size=(inst.R, inst.m, 2)) / inst.R
    fb = FeedbackModel(case=case, rho=0.7, shared=shared)
    mc = simulate_expert(inst, fb, n, CHUNK, 9, lam=0.3, common=common, keep_rows=True)
    per_sample = 1 if shared else inst.m
    per_trial = n * inst.R * per_sample
    raw = rng.draw(9, per_trial * CHUNK, normal=case != "activation")

    def draws(t):
        return stream_to_samples(raw[t * per_trial:(t + 1) * per_trial], inst.R, n, per_sample)

    ref = reference_trials(inst, fb, n, CHUNK, lam=0.3, common=common, draws=draws, per_sample="vectors")
    scale = np.abs(ref).max(axis=0) + 1e-300
    assert np.max(np.abs(ref - mc.rows) / scale) < 1e-12


def test_thread_count_does_not_change_a_single_bit():
    inst = make_expert_instance(6, 2, 5, 0)
    common = np.random.default_rng(1).normal(size=(inst.R, inst.m, 2)) / inst.R
    engine = ExpertEngine(inst, common)
    before = numba.get_num_threads()
    results = {}
    try:
        for threads in (1, 2):
            numba.set_num_threads(threads)
            out = []
            for case in CASES:
                mc = engine.simulate(FeedbackModel(case=case, rho=0.3), 2, 203, 7, mean_groups=5)
                out.append(np.concatenate([mc.mean, mc.cov.ravel(), [mc.bias_sq_bp, mc.bias_sq_sg]]))
            results[threads] = np.array(out)
    finally:
        numba.set_num_threads(before)
    assert np.array_equal(results[1], results[2])


def test_same_seed_same_numbers_other_seed_other_numbers():
    inst = make_expert_instance(5, 2, 5, 0)
    fb = FeedbackModel(case="partial")
    a = simulate_expert(inst, fb, 2, 100, 3)
    b = simulate_expert(inst, fb, 2, 100, 3)
    c = simulate_expert(inst, fb, 2, 100, 4)
    assert np.array_equal(a.mean, b.mean) and np.array_equal(a.cov, b.cov)
    assert not np.array_equal(a.mean, c.mean)


def test_more_trials_extend_the_same_stream():
    inst = make_expert_instance(5, 2, 5, 0)
    fb = FeedbackModel(case="activation")
    short = simulate_expert(inst, fb, 2, 3 * CHUNK, 3, keep_rows=True)
    long = simulate_expert(inst, fb, 2, 10 * CHUNK + 3, 3, keep_rows=True)
    assert np.array_equal(short.rows, long.rows[:3 * CHUNK])


def test_mixture_mse_at_lambda_equals_the_directly_formed_mixture():
    inst = make_expert_instance(5, 2, 5, 0)
    fb = FeedbackModel(case="noisy", rho=0.4)
    mc = simulate_expert(inst, fb, 2, 500, 1, lam=0.37, keep_rows=True)
    mean, se = mc.mse_at(0.37)
    assert mean == pytest.approx(mc.mse_mix, rel=1e-12)
    assert se == pytest.approx(mc.se_mix, rel=1e-6)
    # the running moments equal numpy's on the kept rows
    assert np.allclose(mc.mean, mc.rows.mean(axis=0), rtol=1e-12, atol=0)
    assert np.allclose(mc.cov, np.cov(mc.rows.T), rtol=1e-9, atol=1e-300)


def test_default_mixture_weight_is_the_exact_lambda_star():
    inst = make_expert_instance(5, 2, 5, 0)
    fb = FeedbackModel(case="noisy", rho=0.4)
    assert simulate_expert(inst, fb, 3, 20, 1).lam == exact_mse(inst, fb, 3).lambda_star


def test_moments_merge_in_chunks_equals_one_pass():
    rows = np.random.default_rng(0).normal(size=(1000, 3)) * [1.0, 10.0, 0.1] + [5.0, -2.0, 0.0]
    merged = Moments(3)
    for part in np.array_split(rows, 7):
        merged.add_rows(part)
    assert merged.n == 1000
    assert np.allclose(merged.mean, rows.mean(axis=0), rtol=1e-13)
    assert np.allclose(merged.cov(), np.cov(rows.T), rtol=1e-12)


def test_a_wrong_exact_value_is_detected():
    # Power: the comparison the checks make must fail against the MSE of another n.
    inst = make_expert_instance(5, 2, 5, 0)
    fb = FeedbackModel(case="noisy")
    mc = simulate_expert(inst, fb, 2, 2000, 2)
    assert abs(mc.mse_bp - exact_mse(inst, fb, 2).mse_bp) / mc.se_bp < 4
    assert abs(mc.mse_bp - exact_mse(inst, fb, 3).mse_bp) / mc.se_bp > 20


@pytest.mark.parametrize("kwargs, name", [
    ({"n": 0}, "n"), ({"trials": 0}, "trials"), ({"lam": 1.5}, "lam"), ({"seed": -1}, "seed"),
    ({"common": np.zeros((3, 5, 1))}, "common"),
])
def test_bad_arguments_name_the_parameter(kwargs, name):
    inst = make_expert_instance(4, 2, 5, 0)
    args = {"n": 1, "trials": 10, "seed": 0} | kwargs
    with pytest.raises(ValueError, match=f"^{name}"):
        simulate_expert(inst, FeedbackModel(), **args)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("k", [3, 2])
def test_one_state_cells_at_k_equal_d(case, k):
    """Guards against the SG-table weight of a cell that holds a single state set to 0 (every other test
    instance has k < d, so no one-state cells). At d = k = 3 every cell is one state: SG's table is the
    state's own feedback and SG's gradient is BP's, trial by trial; at k = d - 1 cells hold two states.
    The engine's MSEs within 4 SE of the exact values in both (the bug gives MSE_SG 0.259 against the
    exact 0.036 at d = k = 3)."""
    inst = make_expert_instance(3, k, 2, 5)
    fb = FeedbackModel(case=case, rho=0.0)
    exact = exact_mse(inst, fb, 2)
    mc = simulate_expert(inst, fb, 2, 20000, 13, keep_rows=True)
    if k == 3:
        assert exact.mse_sg == pytest.approx(exact.mse_bp, rel=1e-12)
        np.testing.assert_allclose(mc.rows[:, 1], mc.rows[:, 0], rtol=1e-12, atol=1e-15)
    assert abs(mc.mse_bp - exact.mse_bp) < 4 * mc.se_bp
    assert abs(mc.mse_sg - exact.mse_sg) < 4 * mc.se_sg
