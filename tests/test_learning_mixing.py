"""The adaptive lambda: the authors' plug-in (docs/theory.md T8), as training computes it per neuron."""

import numpy as np
import pytest
import sympy as sp

from learning.nets.mixing import LayerLambdas, lambda_from_moments, plugin_from_samples, unit_rows
from learning.nets.synthetic import SyntheticGradients, adaptive_mix
from theory.symbolic import mixture

from tests.test_learning_networks import tiny_net


def exact_sample(rng, n, cov):
    """n rows with sample mean exactly 0 and unbiased sample covariance exactly `cov`."""
    z = rng.normal(size=(n, cov.shape[0]))
    z -= z.mean(axis=0)
    s = z.T @ z / (n - 1)
    z = z @ np.linalg.inv(np.linalg.cholesky(s)).T
    return z @ np.linalg.cholesky(cov).T


def test_plugin_on_constructed_inputs_is_t7_lambda_star():
    """Per-sample vectors whose sample moments are exactly V_BP, V_SG, C and B (T8's population moments):
    the plug-in must return T7's lambda* as theory/symbolic/mixture.py states it. Catches a wrong
    divisor (B vs B - 1), a sign error in c, or b2 without the variance removed."""
    rng = np.random.default_rng(0)
    n, d = 40, 3
    a = rng.normal(size=(2 * d, 2 * d))
    cov = a @ a.T / d + 0.1 * np.eye(2 * d)  # joint per-sample covariance of (e, s)
    es = exact_sample(rng, n, cov)
    e, s = es[:, :d], es[:, d:]
    V_BP = np.trace(cov[:d, :d]) / n  # moments of the batch means
    V_SG = np.trace(cov[d:, d:]) / n
    C = np.trace(cov[:d, d:]) / n
    g = rng.normal(size=d)
    for B in (0.0, 0.05, 0.7):
        beta = rng.normal(size=d)
        beta *= np.sqrt(B + V_BP + V_SG - 2 * C) / np.linalg.norm(beta)  # so that E||ubar||^2 - Var(ubar) = B
        w = g + e
        what = g + beta + s
        v, c, b2 = plugin_from_samples(w, what)
        assert v == pytest.approx(V_BP + V_SG - 2 * C, rel=1e-10)
        assert c == pytest.approx(C - V_BP, rel=1e-10)
        assert b2 == pytest.approx(B, abs=1e-10)
        star = mixture.mixture_mse()["lambda_star"]
        expected = float(star.subs({mixture.B: B, mixture.VB: V_BP, mixture.VS: V_SG, mixture.C: C}))
        expected = min(max(expected, 0.0), 1.0)
        plug = mixture.t8_plugin().exprs["lambda"]
        assert float(plug.subs({mixture.B: B, mixture.VB: V_BP, mixture.VS: V_SG, mixture.C: C})) == pytest.approx(
            float(star.subs({mixture.B: B, mixture.VB: V_BP, mixture.VS: V_SG, mixture.C: C})), rel=1e-12)
        assert float(lambda_from_moments(v, c, b2, 0.5)) == pytest.approx(expected, abs=1e-10)


def test_lambda_from_moments_clips_and_keeps_the_old_value_when_undefined():
    assert float(lambda_from_moments(1.0, 0.5, 0.0, 0.3)) == 1.0  # 1 + c/(v + b2) = 1.5, clipped
    assert float(lambda_from_moments(1.0, -3.0, 0.0, 0.3)) == 0.0
    assert float(lambda_from_moments(1.0, -0.25, 1.0, 0.3)) == pytest.approx(0.875)
    assert float(lambda_from_moments(0.0, 0.0, 0.0, 0.3)) == pytest.approx(0.3)


def per_sample_vectors(layer, lc, e, w):
    """Neuron w's per-sample parameter gradients for upstream e (width, batch, n), one backward per sample."""
    rows = []
    for i in range(e.shape[1]):
        ei = np.zeros_like(e)
        ei[w, i] = e[w, i]
        _, g = layer.backward(lc, ei, input_grad=False)
        rows.append(np.concatenate([g["weights"][w].ravel(), g["bias"][w].ravel()]))
    return np.array(rows)


@pytest.mark.parametrize("l", [0, 2])
def test_adaptive_lambda_update_is_the_plugin_on_per_sample_gradients(l):
    """What training does per neuron (fused kernel + one batched product) against the definition:
    explicit per-sample gradients of BP's and SG's unit-normalised feedback, the plug-in, momentum."""
    rng, net, x = tiny_net(7)
    sg = SyntheticGradients.init(rng, net, np.float64)
    _, cache = net.forward(x)
    preds = [sg.predict(k, cache["layers"][k]) for k in range(net.n_layers)]
    delta = rng.normal(size=preds[l].shape)
    lambdas = LayerLambdas(net.n_layers, net.width, 0.9, 0.6, True, np.float64)
    before = lambdas.values[l].copy()
    adaptive_mix(net, cache, preds, lambdas)(l, delta)
    layer, lc = net.layers[l], cache["layers"][l]
    e_bp = unit_rows(net.pre_tanh(cache, l, delta))
    e_sg = unit_rows(net.pre_tanh(cache, l, preds[l]))
    expected = []
    for w in range(net.width):
        v, c, b2 = plugin_from_samples(per_sample_vectors(layer, lc, e_bp, w), per_sample_vectors(layer, lc, e_sg, w))
        expected.append(0.6 * before[w] + 0.4 * float(lambda_from_moments(v, c, b2, before[w])))
    np.testing.assert_allclose(lambdas.values[l], expected, rtol=1e-9)
    assert np.ptp(lambdas.values[l]) > 1e-3  # per neuron, not one value for the layer


@pytest.mark.parametrize("l", [0, 2])
def test_routed_plugin_moments_are_the_definition(l):
    """(v, c, b2) per neuron from slot feedbacks and inputs, without forming per-sample gradients, against
    plugin_from_samples on the explicit per-sample gradients (weights and bias parts), rel 1e-10; the
    moments themselves, not a lambda that clipping could hide."""
    from learning.nets.mixing import routed_plugin_moments
    rng, net, x = tiny_net(8)
    _, cache = net.forward(x)
    layer, lc = net.layers[l], cache["layers"][l]
    e_bp, e_sg = rng.normal(size=(2,) + lc[0].shape[:2] + (layer.out_dim,))
    G_bp, G_sg = layer.slot_feedback(lc, e_bp), layer.slot_feedback(lc, e_sg)
    v, c, b2 = routed_plugin_moments(G_bp, G_sg, lc[0], layer.slots * layer.out_dim)
    for w in range(net.width):
        expected = plugin_from_samples(per_sample_vectors(layer, lc, e_bp, w), per_sample_vectors(layer, lc, e_sg, w))
        np.testing.assert_allclose([v[w], c[w], b2[w]], expected, rtol=1e-10, atol=1e-14)
    assert np.all(v > 0) and np.ptp(c) > 0 and np.any(b2 > 0)


def test_lambda_thresholds():
    """v + b2 must exceed 1e-6 (at it the old value stays); a feedback of norm 1.5e-12 still becomes a unit
    vector (the floor is 1e-12), a zero one stays zero."""
    assert float(lambda_from_moments(1e-6, -1e-7, 0.0, 0.3)) == 0.3
    assert float(lambda_from_moments(1.5e-6, -0.75e-6, 0.0, 0.3)) == pytest.approx(0.5, rel=1e-12)
    rows = unit_rows(np.array([[1.5e-12, 0.0], [0.0, 0.0], [3.0, 4.0]]))
    np.testing.assert_allclose(rows, [[1.0, 0.0], [0.0, 0.0], [0.6, 0.8]], rtol=1e-15)


def test_fixed_lambda_does_not_move():
    lambdas = LayerLambdas(2, 3, 0.9, 0.9, adaptive=False)
    assert lambdas.layer_means() == pytest.approx([0.9, 0.9])
