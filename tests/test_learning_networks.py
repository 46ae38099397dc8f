"""SparseNet, the SG predictor, the mixture and the MLP: explicit backward passes against finite differences."""

import numpy as np
import pytest

from learning.nets import kernels
from learning.nets.mixing import LayerLambdas
from learning.nets.mlp import MLP
from learning.nets.sparsenet import SparseNet, flat_grads
from learning.nets.synthetic import SGTrainer, SyntheticGradients, mixed_backward, sg_loss_grads

from tests.test_learning_routed import finite_difference, pick


def tiny_net(seed=0, layers=3):
    rng = np.random.default_rng(seed)
    net = SparseNet.init(rng, in_dim=12, n_actions=4, layers=layers, width=6, neuron=3, slots=2, parents=2,
                         first_inputs=5, dtype=np.float64)
    for layer in net.layers:  # larger weights than the init so that routing and tanh are far from linear
        layer.weights *= 2.0
    x = rng.normal(size=(7, 12))
    return rng, net, x


def check_fd(loss, pairs, rng, k=12, rtol=1e-6, atol=1e-9):
    for arr, grad in pairs:
        coords = pick(rng, arr.shape, k)
        numeric = finite_difference(loss, arr, coords)
        analytic = np.array([grad[c] for c in coords])
        np.testing.assert_allclose(analytic, numeric, rtol=rtol, atol=atol)


def test_sparsenet_backward_matches_finite_differences():
    """Every parameter of every layer (slot maps, routing keys, biases), through residuals, parents and logits."""
    rng, net, x = tiny_net()
    upstream = rng.normal(size=(7, 4))

    def loss():
        return float(np.sum(net.forward(x)[0] * upstream))

    logits, cache = net.forward(x)
    grads, _ = net.backward(cache, upstream)
    check_fd(loss, zip(net.params(), flat_grads(grads)), rng)
    assert net.n_params() == sum(p.size for p in flat_grads(grads))


def test_sparsenet_parameter_count_is_the_papers():
    rng = np.random.default_rng(0)
    net = SparseNet.init(rng, in_dim=784, n_actions=9, layers=5, width=200, neuron=10, slots=5, parents=5)
    assert net.n_params() == 2_818_000
    assert MLP.init(rng, 784, 9, layers=5, width=745).n_params() == 2_814_619


def test_sparsenet_defaults_are_the_authors_architecture():
    """5 layers of 200 neurons, 10 outputs and 5 slots each, 5 parents, 50 pixels for layer 1; the action keys
    drawn N(0, 1/50) (mean and std within 5 SE over their 18,000 entries)."""
    net = SparseNet.init(np.random.default_rng(0), in_dim=784, n_actions=9)
    assert net.n_layers == 5 and net.width == 200 and len(net.parents) == 4
    assert net.pixels.shape == (200, 50) and all(p.shape == (200, 5) for p in net.parents)
    assert all((layer.out_dim, layer.slots) == (10, 5) for layer in net.layers)
    keys, sd = net.action_keys.astype(np.float64).ravel(), 1 / np.sqrt(50)
    assert net.action_keys.shape == (9, 200, 10)
    assert abs(keys.mean()) < 5 * sd / np.sqrt(keys.size)
    assert abs(keys.std() - sd) < 5 * sd / np.sqrt(2 * keys.size)


def test_sparsenet_reads_as_few_as_one_pixel_a_neuron():
    net = SparseNet.init(np.random.default_rng(0), in_dim=12, n_actions=3, layers=2, width=4, neuron=2, slots=2,
                         parents=2, first_inputs=1)
    assert net.pixels.shape == (4, 1) and net.layers[0].in_dim == 1
    assert net.forward(np.ones((2, 12)))[0].shape == (2, 3)


def test_sparsenet_forward_is_the_architecture():
    """Layer 1 has no tanh, later layers add tanh(out) to the previous layer (residual), logits scaled by 1/sqrt(width n)."""
    rng, net, x = tiny_net()
    logits, cache = net.forward(x)
    h = None
    for l, layer in enumerate(net.layers):
        out, _ = layer.forward(net.layer_input(l, x, h))
        h = out if l == 0 else np.tanh(out) + h
    flat = h.transpose(1, 0, 2).reshape(7, -1)
    np.testing.assert_allclose(logits, flat @ net.action_keys.reshape(4, -1).T / np.sqrt(6 * 3), rtol=1e-12)


def reference_mixed_backward(net, cache, dlogits, preds, lam):
    """The mixture recursion written from its definition with the plain layer backward (no fused kernels)."""
    delta, d_keys = net.top_feedback(cache, dlogits)
    grads, deltas = [None] * net.n_layers, [None] * net.n_layers
    for l in range(net.n_layers - 1, -1, -1):
        deltas[l] = delta
        lw = lam[l][:, None, None]
        m = lw * delta + (1 - lw) * preds[l]
        t = cache["tanh"][l]
        dout = m if t is None else m * (1 - t * t)
        dx, grads[l] = net.layers[l].backward(cache["layers"][l], dout)
        if l > 0:
            delta = net.scatters[l - 1](dx) + m
    return grads + [d_keys], deltas


@pytest.mark.parametrize("adaptive", [False, True])
def test_mixed_backward_is_the_mixture_recursion(adaptive):
    """The fused mixture kernels against the definition: m_l = lam delta_l + (1 - lam) shat_l pushed down."""
    rng, net, x = tiny_net(1)
    sg = SyntheticGradients.init(rng, net, np.float64)
    logits, cache = net.forward(x)
    dlogits = rng.normal(size=logits.shape)
    lam0 = rng.uniform(0.2, 0.9, size=(net.n_layers, net.width))
    lambdas = LayerLambdas(net.n_layers, net.width, 0.5, 0.9, adaptive, np.float64)
    lambdas.values[:] = lam0
    grads, deltas, preds = mixed_backward(net, sg, cache, dlogits, lambdas)
    ref_grads, ref_deltas = reference_mixed_backward(net, cache, dlogits, preds, lam0)
    for a, b in zip(flat_grads(grads), flat_grads(ref_grads)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)
    for a, b in zip(deltas, ref_deltas):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)
    assert np.any(lambdas.values != lam0) == adaptive


def test_mixture_at_lambda_one_is_bp():
    rng, net, x = tiny_net(2)
    sg = SyntheticGradients.init(rng, net, np.float64)
    logits, cache = net.forward(x)
    dlogits = rng.normal(size=logits.shape)
    lambdas = LayerLambdas(net.n_layers, net.width, 1.0, 1.0, False, np.float64)
    mixed, _, _ = mixed_backward(net, sg, cache, dlogits, lambdas)
    bp, _ = net.backward(cache, dlogits)
    for a, b in zip(flat_grads(mixed), flat_grads(bp)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


def test_sg_targets_are_built_with_the_mixture():
    """target_L = delta_L (BP); below, the SG of the layer above enters with weight 1 - lambda."""
    rng, net, x = tiny_net(3)
    trainer = SGTrainer(SyntheticGradients.init(rng, net, np.float64), lr=1e-3)
    logits, cache = net.forward(x)
    dlogits = rng.normal(size=logits.shape)
    lam = np.full((net.n_layers, net.width), 0.3)
    preds, targets = trainer.targets(net, cache, dlogits, lam)
    _, ref = reference_mixed_backward(net, cache, dlogits, preds, lam)
    bp_top, _ = net.top_feedback(cache, dlogits)
    np.testing.assert_allclose(targets[-1], bp_top, rtol=1e-12)
    for a, b in zip(targets, ref):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)
    _, all_bp = net.backward(cache, dlogits)
    assert not np.allclose(targets[0], all_bp[0])  # the SG really enters the lower targets


def test_sg_predictor_backward_matches_finite_differences():
    """The SG loss gradient in the SG's maps and biases, routing weights shared (held fixed)."""
    rng, net, x = tiny_net(4)
    sg = SyntheticGradients.init(rng, net, np.float64)
    logits, cache = net.forward(x)
    targets = [rng.normal(size=(net.width, 7, 3)) for _ in net.layers]

    def loss():
        preds = [sg.predict(l, cache["layers"][l]) for l in range(net.n_layers)]
        return sum(float(np.mean((p - t) ** 2)) for p, t in zip(preds, targets))

    preds = [sg.predict(l, cache["layers"][l]) for l in range(net.n_layers)]
    grads, value = sg_loss_grads(sg, cache["layers"], preds, targets)
    assert value == pytest.approx(loss(), rel=1e-12)
    check_fd(loss, zip(sg.params(), grads), rng)


def test_sg_init_is_the_authors():
    """C and c of each layer N(0, 1/in_dim): mean and std within 5 SE (layer 1 reads 50 pixels, later ones 50
    parent outputs)."""
    rng = np.random.default_rng(0)
    net = SparseNet.init(rng, in_dim=784, n_actions=9, layers=2, width=40, first_inputs=30)
    sg = SyntheticGradients.init(rng, net)
    for l, layer in enumerate(net.layers):
        assert sg.maps[l].shape == (40, 50, layer.in_dim) and sg.bias[l].shape == (40, 5, 10)
        sd = 1 / np.sqrt(layer.in_dim)
        for values in (sg.maps[l].astype(np.float64).ravel(), sg.bias[l].astype(np.float64).ravel()):
            assert abs(values.mean()) < 5 * sd / np.sqrt(values.size)
            assert abs(values.std() - sd) < 5 * sd / np.sqrt(2 * values.size)


def test_sg_prediction_is_the_routed_affine_map():
    rng, net, x = tiny_net(5)
    sg = SyntheticGradients.init(rng, net, np.float64)
    _, cache = net.forward(x)
    xin, route, _ = cache["layers"][1]
    pred = sg.predict(1, cache["layers"][1])
    C = sg.maps[1].reshape(net.width, 2, 3, -1)
    for w in (0, 5):
        for i in (0, 6):
            slots = C[w] @ xin[w, i] + sg.bias[1][w]
            np.testing.assert_allclose(pred[w, i], route[w, i] @ slots, rtol=1e-12)


def test_mlp_backward_matches_finite_differences():
    rng = np.random.default_rng(6)
    mlp = MLP.init(rng, in_dim=9, n_actions=4, layers=3, width=7, dtype=np.float64)
    for b in mlp.biases:
        b += rng.normal(size=b.shape) * 0.3
    x = rng.normal(size=(5, 9))
    upstream = rng.normal(size=(5, 4))

    def loss():
        return float(np.sum(mlp.forward(x)[0] * upstream))

    logits, cache = mlp.forward(x)
    grads = mlp.backward(cache, upstream)
    # zip below would stop at the shorter list: one gradient per parameter, of its shape
    assert [g.shape for g in grads] == [p.shape for p in mlp.params()]
    check_fd(loss, zip(mlp.params(), grads), rng)


def test_mlp_defaults_and_init_are_the_baselines():
    """5 tanh layers of 745 (about SparseNet's parameter count); weights N(0, 2/(fan_in + fan_out)) (Glorot),
    biases 0. Sample mean and std of the first layer's 584,080 weights within 5 SE."""
    mlp = MLP.init(np.random.default_rng(0), 784, 9)
    assert [w.shape for w in mlp.weights] == [(784, 745)] + [(745, 745)] * 4 + [(745, 9)]
    assert all(np.all(b == 0.0) for b in mlp.biases)
    w, sd = mlp.weights[0].astype(np.float64).ravel(), np.sqrt(2.0 / (784 + 745))
    assert abs(w.mean()) < 5 * sd / np.sqrt(w.size)
    assert abs(w.std() - sd) < 5 * sd / np.sqrt(2 * w.size)


def test_adam_matches_the_update_rule():
    """Two steps against the textbook formula (bias-corrected moments)."""
    from learning.nets.adam import Adam

    p = np.array([1.0, -2.0, 0.5])
    opt = Adam([p], lr=0.1)
    g1, g2 = np.array([0.3, -1.0, 0.0]), np.array([0.1, 2.0, -0.5])
    ref = np.array([1.0, -2.0, 0.5])
    m = v = np.zeros(3)
    for t, g in enumerate([g1, g2], start=1):
        opt.step([g])
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        ref = ref - 0.1 * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
        np.testing.assert_allclose(p, ref, rtol=1e-12)


def test_sgd_steps_by_the_gradient_and_refuses_bad_input():
    """p <- p - lr g, in the parameter's own dtype; a wrong count or shape of gradients, or lr <= 0, is an
    error naming it (the optimiser control of the bandit's mechanism)."""
    from learning.nets.adam import Adam
    from learning.nets.sgd import SGD

    p = np.array([1.0, -2.0, 0.5], dtype=np.float32)
    q = np.array([[3.0]], dtype=np.float32)
    opt = SGD([p, q], lr=0.5)
    opt.step([np.array([0.2, -1.0, 4.0]), np.array([[2.0]])])
    np.testing.assert_array_equal(p, np.array([0.9, -1.5, -1.5], dtype=np.float32))
    np.testing.assert_array_equal(q, [[2.0]])
    assert p.dtype == np.float32 and opt.t == 1
    with pytest.raises(ValueError, match="expected 2 gradients, got 1"):
        opt.step([np.zeros(3)])
    with pytest.raises(ValueError, match="gradient shape"):
        opt.step([np.zeros(3), np.zeros(2)])
    for cls in (SGD, Adam):
        with pytest.raises(ValueError, match="lr must be > 0"):
            cls([p], lr=0.0)


def test_adam_updates_parameters_of_any_shape_elementwise():
    """A 0-d, a 2-D and a 3-D parameter (the routed layers' weights are 3-D) against the textbook rule."""
    from learning.nets.adam import Adam

    rng = np.random.default_rng(2)
    params = [np.array(0.7), rng.normal(size=(2, 3)), rng.normal(size=(2, 2, 3))]
    refs = [q.copy() for q in params]
    opt = Adam(params, lr=0.05)
    ms = [np.zeros_like(q) for q in refs]
    vs = [np.zeros_like(q) for q in refs]
    for t in (1, 2, 3):
        grads = [rng.normal(size=q.shape) for q in refs]
        opt.step(grads)
        for i, g in enumerate(grads):
            ms[i] = 0.9 * ms[i] + 0.1 * g
            vs[i] = 0.999 * vs[i] + 0.001 * g * g
            refs[i] = refs[i] - 0.05 * (ms[i] / (1 - 0.9**t)) / (np.sqrt(vs[i] / (1 - 0.999**t)) + 1e-8)
    for q, ref in zip(params, refs):
        np.testing.assert_allclose(q, ref, rtol=1e-12)


def test_float32_training_kernels_agree_with_float64():
    """The float32 path (gathers, residual tanh, exp32/tanh32 forward, the sample-inner mixture kernels)
    against the float64 one on the same weights: catches arithmetic or indexing that only the float32
    specialisations use."""
    rng, net64, x = tiny_net(9)
    net32 = SparseNet(net64.pixels, net64.parents,
                      [type(l)(l.weights.astype(np.float32), l.bias.astype(np.float32)) for l in net64.layers],
                      net64.action_keys.astype(np.float32))
    sg64 = SyntheticGradients.init(rng, net64, np.float64)
    sg32 = SyntheticGradients([m.astype(np.float32) for m in sg64.maps], [b.astype(np.float32) for b in sg64.bias])
    logits64, cache64 = net64.forward(x)
    logits32, cache32 = net32.forward(x.astype(np.float32))
    np.testing.assert_allclose(logits32, logits64, rtol=1e-5, atol=1e-6)
    dlogits = rng.normal(size=logits64.shape)
    lam0 = rng.uniform(0.2, 0.9, size=(net64.n_layers, net64.width))
    results = []
    for net, sg, cache, dt in ((net64, sg64, cache64, np.float64), (net32, sg32, cache32, np.float32)):
        lambdas = LayerLambdas(net.n_layers, net.width, 0.5, 0.5, True, dt)
        lambdas.values[:] = lam0
        grads, _, _ = mixed_backward(net, sg, cache, dlogits.astype(dt), lambdas)
        results.append((flat_grads(grads), lambdas.values.astype(np.float64)))
    for a, b in zip(results[1][0], results[0][0]):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5 * np.abs(b).max())
    np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-4)
