"""BPTT of the recurrent policies against central finite differences (float64)."""

import numpy as np
import pytest

from learning.rl.models import build_policy

SMALL = {"embed": 7, "hidden": 6, "actor_hidden": 5}
STEPS, BATCH, OBS, ACTIONS = 4, 3, 10, 4


def sequence(seed):
    rng = np.random.default_rng(seed)
    xs = rng.normal(size=(STEPS, BATCH, OBS))
    weights = rng.normal(size=(STEPS, BATCH, ACTIONS))
    return xs, weights


def finite_difference_check(policy, xs, weights, rng, per_param=6, eps=1e-6):
    """Largest relative error of BPTT against central differences of sum(weights * logits)."""
    logits, trace = policy.forward(xs)
    grads = policy.backward(trace, weights)
    assert set(grads) == set(policy.params)
    worst = 0.0
    for name, p in policy.params.items():
        assert grads[name].shape == p.shape, name
        flat = p.reshape(-1)
        for i in rng.choice(flat.size, size=min(per_param, flat.size), replace=False):
            old = flat[i]
            flat[i] = old + eps
            up = np.sum(weights * policy.forward(xs)[0])
            flat[i] = old - eps
            down = np.sum(weights * policy.forward(xs)[0])
            flat[i] = old
            fd = (up - down) / (2 * eps)
            g = grads[name].reshape(-1)[i]
            worst = max(worst, abs(g - fd) / max(1e-4, abs(g) + abs(fd)))
    return worst


@pytest.mark.parametrize("name", ["gru", "lstm"])
def test_bptt_matches_finite_differences(name):
    """Catches a wrong gate derivative, a missing carry between steps or a transposed weight."""
    rng = np.random.default_rng(1)
    policy = build_policy(name, OBS, ACTIONS, rng, dtype=np.float64, sizes=SMALL)
    for p in policy.params.values():  # biases away from zero so that every term matters
        p += 0.3 * rng.normal(size=p.shape)
    xs, weights = sequence(2)
    assert finite_difference_check(policy, xs, weights, rng) < 1e-5


def test_sparsenet_bptt_matches_finite_differences():
    """The recurrent SparseNet: catches a wrong parent scatter (gradient to the wrong neuron of the
    previous step), an embedding fed to the wrong neurons, or a wrong routed actor."""
    rng = np.random.default_rng(5)
    sizes = {"embed": 7, "sparse": {"width": 6, "size": 3, "parents": 2, "slots": 3, "input_neurons": 2}}
    policy = build_policy("sparsenet-bptt", OBS, ACTIONS, rng, dtype=np.float64, sizes=sizes)
    for p in policy.params.values():
        p += 0.3 * rng.normal(size=p.shape)
    xs, weights = sequence(6)
    assert finite_difference_check(policy, xs, weights, rng, per_param=10) < 1e-5


@pytest.mark.parametrize("name", ["gru", "lstm", "sparsenet-bptt"])
def test_float32_stays_float32(name):
    """A float64 constant in a backward silently doubles memory traffic and breaks the exact
    BPTT-equals-mixture identity in float32; every gradient must keep its parameter's dtype."""
    rng = np.random.default_rng(0)
    policy = build_policy(name, OBS, ACTIONS, rng, dtype=np.float32)
    xs, weights = sequence(7)
    logits, trace = policy.forward(xs.astype(np.float32))
    assert logits.dtype == np.float32
    grads = policy.backward(trace, weights.astype(np.float32))
    assert all(grads[k].dtype == np.float32 for k in policy.params)


def test_acting_copies_are_the_weights_and_are_dropped_after():
    """Inside acting() the recurrent SparseNet multiplies by transposed copies of its weights: the
    logits are the plain forward's (to float64 rounding); after the context a weight change is seen.
    Catches copies transposed the wrong way or kept stale past the rollout."""
    rng = np.random.default_rng(4)
    policy = build_policy("sparsenet-bptt", OBS, ACTIONS, rng, dtype=np.float64,
                          sizes={"embed": 7, "sparse": {"width": 9, "size": 3, "parents": 2, "slots": 2,
                                                        "input_neurons": 3}})
    xs, _ = sequence(5)
    plain, _ = policy.forward(xs)
    with policy.acting():
        acted, _ = policy.forward(xs)
    np.testing.assert_allclose(acted, plain, rtol=1e-12, atol=1e-14)
    policy.params["core.rest.weights"] *= 1.5
    changed, _ = policy.forward(xs)
    assert np.abs(changed - plain).max() > 1e-3
    with policy.acting():
        acted, _ = policy.forward(xs)
    np.testing.assert_allclose(acted, changed, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("capacity", [STEPS, STEPS + 3, STEPS - 2])
def test_rollout_inputs_give_the_plain_forwards_gradients(capacity):
    """Inside acting(steps) each step's neuron inputs are written into arrays for the whole rollout
    and the backward reads them there: logits and every gradient equal the plain forward's exactly,
    also when the rollout is shorter than `steps` or longer (its later steps fall back); and a
    trace from another forward is not read from the rollout's arrays. Catches a block written at
    the wrong column, or the rollout's arrays read for a trace that is not theirs."""
    rng = np.random.default_rng(5)
    policy = build_policy("sparsenet-bptt", OBS, ACTIONS, rng, dtype=np.float32,
                          sizes={"embed": 7, "sparse": {"width": 9, "size": 3, "parents": 2, "slots": 2,
                                                        "input_neurons": 3}})
    xs, weights = (a.astype(np.float32) for a in sequence(6))
    other_xs = xs[::-1].copy()
    plain, trace = policy.forward(xs)
    expected = policy.backward(trace, weights)
    other_logits, other_trace = policy.forward(other_xs)
    with policy.acting(capacity):
        acted, acted_trace = policy.forward(xs)
    assert np.array_equal(acted, plain)
    core = policy.parts["core"]
    assert core.rollout.holds([c[1] for c in acted_trace]) == (capacity >= STEPS)
    got = policy.backward(acted_trace, weights)
    for k in expected:
        assert np.array_equal(got[k], expected[k]), k
    other = policy.backward(other_trace, weights)
    assert not core.rollout.holds([c[1] for c in other_trace])
    fresh = build_policy("sparsenet-bptt", OBS, ACTIONS, np.random.default_rng(5), dtype=np.float32,
                         sizes={"embed": 7, "sparse": {"width": 9, "size": 3, "parents": 2, "slots": 2,
                                                       "input_neurons": 3}})
    fresh_other = fresh.backward(fresh.forward(other_xs)[1], weights)
    for k in other:
        assert np.array_equal(other[k], fresh_other[k]), k
