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
            # max() would skip a NaN: a forward or backward that is not finite fails here
            assert np.isfinite(g) and np.isfinite(fd), (name, g, fd)
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


def test_dense_pieces_by_hand():
    """LeakyReLU's slope 0.01 (and 0.01 at exactly 0, as its forward's max picks LEAK * x there); layer norm
    of a constant row is 0 with inverse std 1/sqrt(1e-5); of (1, 3): (-1, 1) up to the 1e-5 in the variance."""
    from learning.nets.dense import layer_norm, leaky, leaky_grad
    np.testing.assert_array_equal(leaky(np.array([-2.0, 0.0, 3.0])), [-0.02, 0.0, 3.0])
    np.testing.assert_array_equal(leaky_grad(np.array([-2.0, 0.0, 3.0]), np.ones(3)), [0.01, 0.01, 1.0])
    y, inv = layer_norm(np.full((1, 4), 7.0))
    np.testing.assert_array_equal(y, np.zeros((1, 4)))
    np.testing.assert_allclose(inv, [[1 / np.sqrt(1e-5)]], rtol=1e-15)
    y, inv = layer_norm(np.array([[1.0, 3.0]]))
    np.testing.assert_allclose(y, [[-1 / np.sqrt(1 + 1e-5), 1 / np.sqrt(1 + 1e-5)]], rtol=1e-15)


def test_orthogonal_init_and_the_actor_head_scale():
    """orthogonal: the Q of the QR of a Gaussian draw with R's diagonal made positive, transposed when wide
    (the stored E3 runs start from these draws); the head's last layer N(0, 0.01^2), std within 5 SE."""
    from learning.nets.dense import MLPHead, orthogonal
    for rows, cols in ((5, 3), (3, 5), (4, 4)):
        q = orthogonal(np.random.default_rng(0), rows, cols, np.float64)
        a = np.random.default_rng(0).normal(size=(max(rows, cols), min(rows, cols)))
        ref, r = np.linalg.qr(a)
        ref = ref * np.sign(np.diag(r))
        np.testing.assert_array_equal(q, ref if rows >= cols else ref.T)
    w = MLPHead(8, 400, 50, np.random.default_rng(1), np.float64).params["W3"].ravel()
    assert abs(w.mean()) < 5 * 0.01 / np.sqrt(w.size) and abs(w.std() - 0.01) < 5 * 0.01 / np.sqrt(2 * w.size)


SPARSE = {"embed": 7, "sparse": {"width": 6, "size": 3, "parents": 2, "slots": 3, "input_neurons": 2}}


@pytest.mark.parametrize("name", ["gru", "lstm", "sparsenet-bptt"])
def test_a_one_step_sequence(name):
    """T = 1: the caches of a single step stack and BPTT matches finite differences."""
    rng = np.random.default_rng(3)
    policy = build_policy(name, OBS, ACTIONS, rng, dtype=np.float64, sizes=SPARSE if "sparse" in name else SMALL)
    xs, weights = sequence(4)
    assert finite_difference_check(policy, xs[:1], weights[:1], rng) < 1e-5


def test_recurrent_sparsenet_defaults_and_init_are_the_authors():
    """128 neurons of 6 outputs, 6 parents, 6 slots, 16 reading the embedding; the actor's 6 slots. Weights
    N(0, 1/fan_in) with fan_in = parents * size (+ embed for the input neurons) and key scale 1/sqrt(42 + embed)
    for both layers; the actor's weights N(0, 1/features) and key scale 1/sqrt(features). Stds within 5 SE."""
    from learning.nets.recurrent_sparsenet import RecurrentSparseCore, RoutedActor
    core = RecurrentSparseCore(32, np.random.default_rng(0), np.float64)
    assert (core.width, core.size, core.k, core.n_in) == (128, 6, 6, 16)
    assert core.parents.shape == (128, 6) and core.features == 768
    full = 6 * 6 + 32
    a, b = core.layers
    assert (a.width, a.in_dim, a.slots, b.width, b.in_dim, b.slots) == (16, full, 6, 112, 36, 6)
    assert a.scale == b.scale == pytest.approx(1 / np.sqrt(full), rel=1e-15)
    for w in (a.weights.ravel(), b.weights.ravel()):
        sd = 1 / np.sqrt(full)
        assert abs(w.mean()) < 5 * sd / np.sqrt(w.size) and abs(w.std() - sd) < 5 * sd / np.sqrt(2 * w.size)
    actor = RoutedActor(768, 4, np.random.default_rng(1), np.float64)
    w, sd = actor.params["weights"], 1 / np.sqrt(768)
    assert w.shape == (2 * 4 * 6, 768) and actor.scale == pytest.approx(sd, rel=1e-15)
    assert abs(w.std() - sd) < 5 * sd / np.sqrt(2 * w.size) and abs(w.mean()) < 5 * sd / np.sqrt(w.size)


def test_routed_actor_routing_is_stable_for_large_keys():
    """Keys of several hundred: the softmax over slots must not overflow (it subtracts the largest key)."""
    from learning.nets.recurrent_sparsenet import RoutedActor
    actor = RoutedActor(4, 2, np.random.default_rng(2), np.float64, slots=3)
    actor.params["weights"][:] = np.random.default_rng(3).normal(size=actor.params["weights"].shape) * 400.0
    logits, cache = actor.forward(np.random.default_rng(4).normal(size=(5, 4)))
    assert np.all(np.isfinite(logits)) and np.allclose(cache["route"].sum(axis=2), 1.0, rtol=1e-12)


def test_a_one_step_rollout_reads_its_own_arrays():
    """acting(1) and a one-step sequence: the backward reads the rollout's arrays and equals the plain one."""
    sizes = {"embed": 7, "sparse": {"width": 9, "size": 3, "parents": 2, "slots": 2, "input_neurons": 3}}
    policy = build_policy("sparsenet-bptt", OBS, ACTIONS, np.random.default_rng(5), dtype=np.float32, sizes=sizes)
    xs, weights = (a[:1].astype(np.float32) for a in sequence(7))
    expected = policy.backward(policy.forward(xs)[1], weights)
    with policy.acting(1):
        _, trace = policy.forward(xs)
    assert policy.parts["core"].rollout.holds([c[1] for c in trace])
    got = policy.backward(trace, weights)
    for k in expected:
        assert np.array_equal(got[k], expected[k]), k
