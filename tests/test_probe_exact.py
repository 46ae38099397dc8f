"""The bandit's gradient probe held to computations that do not use it, on a tiny network.

- the expected gradient: finite differences of the expected reward itself;
- BP's MSE: every joint (action, reward flip) outcome of a batch of 3 contexts enumerated (8^3);
- the SG-mixed gradient: the mixture rebuilt layer by layer from finite-difference Jacobians of
  each layer's map (its parameters and the state below), with the SG's predictions mixed in;
- and the mixed gradient the probe evaluates is the one the training step applies, to the bit.
"""

import itertools

import numpy as np
import pytest

from learning.bandit import probes
from learning.bandit.policy import reinforce_feedback, softmax
from learning.bandit.train import Learner, full_config
from learning.nets.mixing import LayerLambdas
from learning.nets.sparsenet import SparseNet, flat_grads
from learning.nets.synthetic import SyntheticGradients
from tests.test_learning_routed import finite_difference

P_FLIP, ACTIONS, B = 0.3, 4, 3


def tiny(seed=0, layers=2, adaptive=False, lam=0.6):
    rng = np.random.default_rng(seed)
    net = SparseNet.init(rng, in_dim=10, n_actions=ACTIONS, layers=layers, width=4, neuron=3, slots=2, parents=2,
                         first_inputs=5, dtype=np.float64)
    for layer in net.layers:  # routing and tanh far from linear
        layer.weights *= 2.0
    net.action_keys *= 3.0
    x = rng.normal(size=(B, 10))
    y = rng.integers(0, ACTIONS, size=B)
    sg = SyntheticGradients.init(rng, net, np.float64)
    lambdas = LayerLambdas(layers, net.width, lam, 0.9, adaptive, np.float64)
    return net, sg, lambdas, x, y


def vec(g: dict) -> np.ndarray:
    return np.concatenate([g["weights"].ravel(), g["bias"].ravel()])


def expected_reward(net, x, y) -> float:
    pi = softmax(net.forward(x)[0])
    q = np.full_like(pi, P_FLIP)
    q[np.arange(len(y)), y] = 1.0 - P_FLIP
    return float(np.mean(np.sum(pi * q, axis=1)))


def fd_gradient(f, arr) -> np.ndarray:
    """Central differences of f over every entry of arr."""
    return finite_difference(f, arr, list(np.ndindex(arr.shape))).reshape(arr.shape)


def test_the_expected_gradient_is_minus_the_gradient_of_the_expected_reward():
    """The REINFORCE loss is -reward: its expected gradient is -grad E[r], computed here without the
    network's backward. A wrong expected feedback (p_flip ignored, a sign, the batch mean) fails it."""
    net, _, _, x, y = tiny()
    logits, cache = net.forward(x)
    exact = probes.expected_gradient(net, cache, softmax(logits), y, P_FLIP)
    for l, layer in enumerate(net.layers):
        for name, arr in layer.params().items():
            numeric = -fd_gradient(lambda: expected_reward(net, x, y), arr)
            np.testing.assert_allclose(exact[l][name], numeric, rtol=1e-6, atol=1e-10)


def outcomes(pi, y):
    """Every joint (actions, rewards) of the batch with its probability."""
    per = []
    for b in range(len(y)):
        opts = []
        for a in range(ACTIONS):
            r = float(a == y[b])
            opts += [(a, r, pi[b, a] * (1 - P_FLIP)), (a, 1.0 - r, pi[b, a] * P_FLIP)]
        per.append(opts)
    for combo in itertools.product(*per):
        yield np.array([c[0] for c in combo]), np.array([c[1] for c in combo]), float(np.prod([c[2] for c in combo]))


def test_the_probed_bp_mse_is_the_exact_one_within_4_standard_errors():
    """BP's MSE per layer, exactly, by enumerating the 8^3 joint outcomes; the probe's estimate from
    K draws must lie within 4 standard errors (the SE from the exact spread of the squared error),
    and 4 SE is far below half the MSE, so a factor of 2 (a missing 1/B, a doubled feedback) fails."""
    net, sg, lambdas, x, y = tiny(1)
    logits, cache = net.forward(x)
    pi = softmax(logits)
    exact = probes.expected_gradient(net, cache, pi, y, P_FLIP)
    m1 = np.zeros(net.n_layers)
    m2 = np.zeros(net.n_layers)
    total = 0.0
    for actions, rewards, prob in outcomes(pi, y):
        grads = net.backward(cache, reinforce_feedback(pi, actions, rewards))[0]
        for l in range(net.n_layers):
            e = np.sum((vec(grads[l]) - vec(exact[l])) ** 2)
            m1[l] += prob * e
            m2[l] += prob * e * e
        total += prob
    assert total == pytest.approx(1.0, abs=1e-12)
    draws = 4000
    rows = probes.probe_sparsenet(net, sg, lambdas, x, y, P_FLIP, draws, np.random.default_rng(5))
    for l, row in enumerate(rows):
        se = np.sqrt((m2[l] - m1[l] ** 2) / draws)
        assert 4 * se < 0.5 * m1[l]
        assert abs(row["mse_bp"] - m1[l]) < 4 * se, (l, row["mse_bp"], m1[l], se)
        assert row["norm_g"] == pytest.approx(np.linalg.norm(vec(exact[l])), rel=1e-12)


def layer_map(net, l, x0, h_prev):
    """h_l from h_{l-1} (or the image), written out: the routed layer, then tanh and the residual."""
    out, _ = net.layers[l].forward(net.layer_input(l, x0, h_prev))
    return out if l == 0 else np.tanh(out) + h_prev


def test_the_probed_mixture_is_the_mixture_rebuilt_from_finite_difference_jacobians(monkeypatch):
    """m_L = lam delta_L + (1 - lam) shat_L at the top, then feedback at h_{l-1} = (dh_l/dh_{l-1})^T m_l
    and m_{l-1} its mixture with shat_{l-1}; each layer's gradient is (dh_l/dtheta_l)^T m_l. The
    Jacobian products come from finite differences of layer_map. Catches a mixture applied before
    the tanh instead of at h_l, an SG share that is not 1 - lambda, or the residual path left out."""
    net, sg, lambdas, x, y = tiny(2, layers=3)
    lambdas.values[:] = np.array([[0.2], [0.5], [0.8]]) + 0.05 * np.arange(net.width)[None, :]
    seen = []
    real = probes.mixed_backward
    monkeypatch.setattr(probes, "mixed_backward", lambda *a, **k: seen.append((a, k)) or real(*a, **k))
    probes.probe_sparsenet(net, sg, lambdas, x, y, P_FLIP, 2, np.random.default_rng(7))
    (args, kwargs) = seen[0]
    _, _, cache, d, lam = args
    probed = real(*args, **kwargs)[0]
    # the states h_l of the forward, written out
    hs, h = [], None
    for l in range(net.n_layers):
        h = layer_map(net, l, x, h)
        hs.append(h)
    preds = [sg.predict(l, cache["layers"][l]) for l in range(net.n_layers)]
    s = net.logit_scale
    m = None
    delta = np.tensordot(net.action_keys, d, axes=([0], [1])).transpose(0, 2, 1) * s  # logits are linear in h_L
    for l in range(net.n_layers - 1, -1, -1):
        lam_l = lambdas.values[l][:, None, None]
        m = lam_l * delta + (1 - lam_l) * preds[l]
        below = hs[l - 1] if l > 0 else None
        for name, arr in net.layers[l].params().items():
            numeric = fd_gradient(lambda: float(np.sum(m * layer_map(net, l, x, below))), arr)
            np.testing.assert_allclose(probed[l][name], numeric, rtol=1e-6, atol=1e-9)
        if l > 0:
            h_prev = hs[l - 1].copy()
            delta = fd_gradient(lambda: float(np.sum(m * layer_map(net, l, x, h_prev))), h_prev)


@pytest.mark.parametrize("method", ["sg", "sg-fixed"])
def test_the_probed_mixture_is_the_gradient_the_training_step_applies_to_the_bit(monkeypatch, method):
    """Same network, SG, lambdas and batch, the same (action, reward) draw: the probe's mixed gradient
    equals the one the training step hands to Adam, in float32 (the SG's own update, which the step
    makes first, is held back so that both see the same SG)."""
    cfg = full_config({"method": method, "layers": 2, "width": 8, "neuron": 3, "slots": 2, "parents": 2,
                       "first_inputs": 20, "batch": 6, "steps": 2})
    rng = np.random.default_rng(0)
    learner = Learner(cfg, 40, ACTIONS, rng)
    x = rng.normal(size=(6, 40)).astype(np.float32)
    y = rng.integers(0, ACTIONS, size=6)
    learner.lambdas.values[:] = np.float32(0.7) + np.float32(0.02) * np.arange(cfg["width"], dtype=np.float32)
    applied = []
    monkeypatch.setattr(learner.opt, "step", lambda grads: applied.append([g.copy() for g in grads]))
    monkeypatch.setattr(learner.sg_trainer, "update", lambda *a: 0.0)
    seen = []
    real = probes.mixed_backward

    def capture(*args, **kwargs):
        out = real(*args, **kwargs)
        seen.append(out[0])
        return out

    monkeypatch.setattr(probes, "mixed_backward", capture)
    lam_before = learner.lambdas.values.copy()
    probes.probe_sparsenet(learner.net, learner.sg, learner.lambdas, x, y, cfg["p_flip"], 2, np.random.default_rng(9))
    assert np.array_equal(learner.lambdas.values, lam_before)  # the probe leaves the run's lambdas alone
    learner.step(x, y, cfg["p_flip"], np.random.default_rng(9))  # the same first draw as the probe's
    trained = applied[0]
    probed = flat_grads(seen[0])
    assert len(trained) == len(probed)
    for a, b in zip(trained, probed):
        assert a.dtype == np.float32 and np.array_equal(a, b)
