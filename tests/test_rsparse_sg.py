"""BPTT mixed with SG at every time step for the recurrent SparseNet."""

import numpy as np

from learning.rl import sg as rsparse_sg
from learning.rl.models import build_policy
from learning.rl.sg import RecurrentSG, child_counts, temporal_schedule

SIZES = {"embed": 7, "sparse": {"width": 6, "size": 3, "parents": 2, "slots": 3, "input_neurons": 2}}
STEPS, BATCH, OBS, ACTIONS = 5, 4, 10, 4


def setup(seed=0, dtype=np.float64, sizes=SIZES):
    rng = np.random.default_rng(seed)
    policy = build_policy("sparsenet-sg", OBS, ACTIONS, rng, dtype=dtype, sizes=sizes)
    xs = rng.normal(size=(STEPS, BATCH, OBS)).astype(dtype)
    dz = rng.normal(size=(STEPS, BATCH, ACTIONS)).astype(dtype)
    valid = np.ones((STEPS, BATCH), bool)
    valid[3:, 1] = False  # episode 1 ended after 3 steps
    valid[4, 2] = False
    dz[~valid] = 0.0  # the loss has no terms after an episode's end
    sg = RecurrentSG(policy.parts["core"])
    for p in sg.sg.params():  # a nonzero SG, so that mixing is not trivially BPTT
        p += rng.normal(size=p.shape)
    return policy, sg, xs, dz, valid


def test_mixed_backward_at_lambda_one_is_bptt_exactly():
    """Catches a mixture that leaks SG into BPTT at lambda = 1 (e.g. shat added, not mixed)."""
    for dtype in (np.float64, np.float32):
        policy, sg, xs, dz, valid = setup(dtype=dtype)
        _, trace = policy.forward(xs)
        bptt = policy.backward(trace, dz)
        mixed, _ = RecurrentSG.backward(sg, policy, trace, dz, valid)
        for k in bptt:
            assert mixed[k].dtype == dtype and np.array_equal(bptt[k], mixed[k]), k


def test_mixed_backward_at_lambda_zero_feeds_the_sg_at_each_step(monkeypatch):
    """lambda = 0 at every step (temporal schedule off): each step's neurons receive their SG
    (zero after an episode's end) and nothing from later steps; the parameter gradients are the
    sum of the per-step routed backwards. Catches mixing at one step only, or a mixture that
    still carries BPTT's feedback."""
    monkeypatch.setattr(rsparse_sg, "SCHEDULE_RATE", 0.0)
    policy, sg, xs, dz, valid = setup(1)
    sg.lam[:] = 0.0
    sg.adaptive = False
    _, trace = policy.forward(xs)
    core = policy.parts["core"]
    expected = {k: np.zeros_like(v) for k, v in core.params.items()}
    for t, (_, caches, _) in enumerate(trace):
        for i, name in enumerate(("in", "rest")):
            shat = sg.sg.predict(i, caches[i]) * valid[t][None, :, None]
            _, g = core.layers[i].backward(caches[i], shat)
            expected[f"{name}.weights"] += g["weights"]
            expected[f"{name}.bias"] += g["bias"]
    grads, _ = sg.backward(policy, trace, dz, valid)
    for k, v in expected.items():
        np.testing.assert_allclose(grads[f"core.{k}"], v, rtol=1e-10, atol=1e-12)
    # the actor still gets its own gradient; lambda = 1 gives another core gradient
    policy2, sg2, *_ = setup(1)
    bptt = policy2.backward(policy2.forward(xs)[1], dz)
    np.testing.assert_allclose(grads["head.weights"], bptt["head.weights"], rtol=1e-10)
    assert not np.allclose(grads["core.rest.weights"], bptt["core.rest.weights"])


def test_temporal_schedule_by_hand():
    """Neuron 0 is the parent of neurons 1 and 2 (twice of 2); neuron 1 is nobody's parent.
    One step back: lambda_0 rises by 0.1 * mean child deficit, counted per parent slot."""
    parents = np.array([[1, 2], [0, 2], [0, 0]])
    counts = child_counts(parents, 3)
    assert np.array_equal(counts, [[0, 1, 2], [1, 0, 0], [1, 1, 0]])
    lam = np.array([0.5, 0.2, 0.8])
    s = temporal_schedule(lam, counts, 3)
    assert np.array_equal(s[2], lam)
    d0 = (0.8 + 2 * 0.2) / 3
    assert np.isclose(s[1, 0], 0.5 + 0.1 * d0)
    assert np.isclose(s[1, 1], 0.2 + 0.1 * 0.5)  # its one child: neuron 0
    assert np.isclose(s[1, 2], 0.8 + 0.1 * (0.5 + 0.8) / 2)
    assert np.isclose(s[0, 1], s[1, 1] + 0.1 * (1 - s[1, 0]))
    assert np.all(temporal_schedule(np.ones(3), counts, 4) == 1.0)


def test_adaptive_lambda_moves_and_sg_learns():
    """One update moves lambda off 1 (momentum 0.9: by a tenth of the batch estimate's gap at
    most) and reduces the SG's error on the same batch."""
    policy, sg, xs, dz, valid = setup(2)
    for p in sg.sg.params():
        p *= 1e-3
    sg.opt.lr = 1e-2
    _, trace = policy.forward(xs)
    _, s1 = sg.backward(policy, trace, dz, valid)
    assert np.all(sg.lam <= 1.0) and np.all(sg.lam >= 0.9) and sg.lam.min() < 1.0
    _, s2 = sg.backward(policy, trace, dz, valid)
    assert s2["sg_loss"] < s1["sg_loss"]


def test_lambda_update_is_the_plug_in_over_valid_samples(monkeypatch):
    """The fused update equals the bandit's plug-in (routed_plugin_moments on unit-scaled BP and SG
    feedbacks) over the valid (step, episode) samples, then momentum 0.9 (catches padding steps
    counted as samples, or BP and SG swapped)."""
    from learning.nets.mixing import lambda_from_moments, routed_plugin_moments, unit_rows

    policy, sg, xs, dz, valid = setup(3)
    for p in sg.sg.params():
        p *= 0.01
    _, trace = policy.forward(xs)
    seen = {}
    update = RecurrentSG._update_lambda

    def spy(self, joined, g_true, shat, valid):
        seen["args"] = (joined, g_true.copy(), shat.copy())
        return update(self, joined, g_true, shat, valid)

    monkeypatch.setattr(RecurrentSG, "_update_lambda", spy)
    before = sg.lam.copy()
    sg.backward(policy, trace, dz, valid)
    joined, g_true, shat = seen["args"]
    rows = np.flatnonzero(valid.reshape(-1))
    moments = []
    for layer, cache, g, s in zip(sg.core.layers, joined, sg._split(g_true), sg._split(shat)):
        kept = tuple(a[:, rows] for a in cache)
        moments.append(routed_plugin_moments(layer.slot_feedback(kept, unit_rows(g[:, rows])),
                                             layer.slot_feedback(kept, unit_rows(s[:, rows])), kept[0],
                                             layer.slots * layer.out_dim))
    v, c, b2 = (np.concatenate(m) for m in zip(*moments))
    expected = 0.9 * before + 0.1 * lambda_from_moments(v, c, b2, before)
    np.testing.assert_allclose(sg.lam, expected, rtol=1e-10, atol=1e-12)
    assert np.all(g_true.transpose(0, 2, 1, 3)[~valid] == 0)  # no feedback after an episode's end


def test_a_rollout_shorter_than_its_arrays_gives_the_same_update(monkeypatch):
    """Acting with room for more steps than the sequence takes leaves each layer's joined inputs a
    strided view of the rollout's arrays; the SG-mixed update (gradients, the plug-in's moments,
    lambda, the SG's step) must equal the one from a plain forward to the bit. Catches a kernel
    whose sums round differently for strided inputs (then a saved run no longer reproduces)."""
    moments = []
    plugin = rsparse_sg.lambda_from_moments
    monkeypatch.setattr(rsparse_sg, "lambda_from_moments", lambda *a: moments.append(a[:3]) or plugin(*a))
    sizes = {"embed": 7, "sparse": {"width": 8, "size": 6, "parents": 6, "slots": 3, "input_neurons": 2}}
    results = []
    for capacity in (None, STEPS + 2):
        policy, sg, xs, dz, valid = setup(2, np.float32, sizes)  # inputs of 36: long enough to vectorise
        if capacity is None:
            _, trace = policy.forward(xs)
        else:
            with policy.acting(capacity):
                _, trace = policy.forward(xs)
            assert not policy.parts["core"].joined_inputs([c[1] for c in trace])[1].flags.c_contiguous
        grads, _ = sg.backward(policy, trace, dz, valid)
        results.append((grads, sg.lam.copy(), [p.copy() for p in sg.sg.params()]))
    (grads0, lam0, sg0), (grads1, lam1, sg1) = results
    assert len(moments) == 2 and all(np.array_equal(a, b) for a, b in zip(*moments))
    assert all(np.array_equal(grads0[k], grads1[k]) for k in grads0)
    assert np.array_equal(lam0, lam1) and not np.array_equal(lam0, np.ones_like(lam0))
    assert all(np.array_equal(a, b) for a, b in zip(sg0, sg1))
