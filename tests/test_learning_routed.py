"""The routed-neuron layer: its forward against the formula, its backward against finite differences."""

import numpy as np
import pytest

from learning.nets.routed import RoutedLayer, draw_parents, gather_parents, scatter_parents


def finite_difference(f, arr, coords, eps=1e-6):
    out = []
    for c in coords:
        old = arr[c]
        arr[c] = old + eps
        up = f()
        arr[c] = old - eps
        down = f()
        arr[c] = old
        out.append((up - down) / (2 * eps))
    # a NaN on both sides would pass assert_allclose (equal_nan): a broken forward must fail here
    assert np.all(np.isfinite(out)), "the forward gives non-finite values"
    return np.array(out)


def pick(rng, shape, k):
    flat = rng.choice(int(np.prod(shape)), size=min(k, int(np.prod(shape))), replace=False)
    return [np.unravel_index(i, shape) for i in flat]


@pytest.fixture
def layer_and_input():
    rng = np.random.default_rng(3)
    layer = RoutedLayer.init(rng, width=4, in_dim=6, out_dim=3, slots=3, dtype=np.float64, std=0.7)
    x = rng.normal(size=(4, 5, 6))
    return rng, layer, x


def test_forward_is_the_formula(layer_and_input):
    """Catches a wrong key scale, softmax over the wrong axis, a missing bias or tanh."""
    _, layer, x = layer_and_input
    out, (_, route, y) = layer.forward(x)
    A, keys, b = layer.A, layer.keys, layer.bias
    for w in range(layer.width):
        for i in range(x.shape[1]):
            logits = keys[w] @ x[w, i] / np.sqrt(layer.in_dim)
            r = np.exp(logits - logits.max())
            r /= r.sum()
            slots = np.tanh(A[w] @ x[w, i] + b[w])  # (slots, out_dim)
            np.testing.assert_allclose(route[w, i], r, rtol=1e-12)
            np.testing.assert_allclose(out[w, i], r @ slots, rtol=1e-12)


def test_backward_matches_finite_differences(layer_and_input):
    """Every gradient (slot maps, keys = routing, bias, input) against central differences."""
    rng, layer, x = layer_and_input
    upstream = rng.normal(size=(layer.width, x.shape[1], layer.out_dim))

    def loss():
        return float(np.sum(layer.forward(x)[0] * upstream))

    out, cache = layer.forward(x)
    dx, grads = layer.backward(cache, upstream)
    m, n = layer.slots, layer.out_dim
    key_rows = [(w, m * n + s, d) for w in range(layer.width) for s in range(m) for d in range(layer.in_dim)]
    checks = [
        (layer.weights, grads["weights"], pick(rng, layer.weights.shape, 40)),  # slot maps and keys
        (layer.weights, grads["weights"], key_rows[:: 7]),  # the routing keys on their own
        (layer.bias, grads["bias"], pick(rng, layer.bias.shape, 20)),
        (x, dx, pick(rng, x.shape, 30)),
    ]
    for arr, grad, coords in checks:
        numeric = finite_difference(loss, arr, coords)
        analytic = np.array([grad[c] for c in coords])
        np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


def test_backward_without_input_grad_gives_the_same_parameter_grads(layer_and_input):
    rng, layer, x = layer_and_input
    upstream = rng.normal(size=(layer.width, x.shape[1], layer.out_dim))
    _, cache = layer.forward(x)
    dx, full = layer.backward(cache, upstream)
    none, part = layer.backward(cache, upstream, input_grad=False)
    assert none is None
    for k in full:
        np.testing.assert_array_equal(full[k], part[k])


def test_float32_layer_stays_float32():
    rng = np.random.default_rng(0)
    layer = RoutedLayer.init(rng, width=3, in_dim=4, out_dim=2, slots=2)
    x = rng.normal(size=(3, 5, 4)).astype(np.float32)
    out, cache = layer.forward(x)
    dx, grads = layer.backward(cache, np.ones_like(out))
    assert out.dtype == dx.dtype == grads["weights"].dtype == grads["bias"].dtype == np.float32


def test_scatter_is_the_adjoint_of_gather():
    """<gather(h), v> = <h, scatter(v)>: catches a parent gradient dropped or sent to the wrong neuron."""
    rng = np.random.default_rng(1)
    parents = draw_parents(rng, n_children=7, n_pool=9, k=3)
    assert all(len(set(row)) == 3 for row in parents)
    h = rng.normal(size=(9, 4, 2))
    v = rng.normal(size=(7, 4, 6))
    x = gather_parents(h, parents)
    np.testing.assert_array_equal(x[2, 1, 2:4], h[parents[2, 1], 1])
    np.testing.assert_allclose(np.sum(x * v), np.sum(h * scatter_parents(v, parents, 9)), rtol=1e-12)


def test_bad_parents_and_shapes_are_one_line_errors():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"parents must be in \[1, 4\]"):
        draw_parents(rng, 3, 4, 5)
    layer = RoutedLayer.init(rng, width=3, in_dim=4, out_dim=2, slots=2)
    with pytest.raises(ValueError, match="x must have shape"):
        layer.forward(np.zeros((3, 5, 5), np.float32))


def test_float32_forward_agrees_with_float64():
    """The float32 path (its own rational tanh) against the exact float64 path: catches a wrong tanh coefficient."""
    rng = np.random.default_rng(5)
    layer = RoutedLayer.init(rng, width=6, in_dim=8, out_dim=4, slots=3, dtype=np.float64, std=1.5)
    x = rng.normal(size=(6, 40, 8)) * 2.0
    exact, (_, _, y64) = layer.forward(x)
    layer32 = RoutedLayer(layer.weights.astype(np.float32), layer.bias.astype(np.float32))
    approx, (_, _, y32) = layer32.forward(x.astype(np.float32))
    assert np.abs(y64).max() > 0.999  # the clamped tails are exercised
    np.testing.assert_allclose(y32, y64, atol=2e-6)
    np.testing.assert_allclose(approx, exact, atol=2e-6)


def test_exp32_block_is_exp_to_float32_precision():
    """The vectorised float32 exp against float64's: catches a wrong polynomial coefficient, reduction
    constant or exponent shift (each costs far more than 2e-7 relative somewhere in the range)."""
    from learning.nets.kernels import exp32_block

    z = np.concatenate([np.linspace(-87.0, 88.0, 200001), [0.0, -1e-8, 1e-8, -0.5, 0.5]]).astype(np.float32)
    out, bits = np.empty_like(z), np.empty(z.shape, np.int32)
    exp32_block(z, out, bits)
    exact = np.exp(z.astype(np.float64))
    assert np.max(np.abs(out - exact) / exact) < 2e-7
    assert out[-5] == 1.0
    low = np.array([-87.5, -100.0, -1e30], np.float32)  # below the clamp: exp(-87.33654), as documented
    out = np.empty_like(low)
    exp32_block(low, out, np.empty(3, np.int32))
    np.testing.assert_allclose(out, np.exp(np.float64(np.float32(-87.33654))), rtol=2e-7)



def test_init_draws_weights_keys_and_biases_around_zero_with_std_one_over_sqrt_in_dim():
    """The authors' init: N(0, 1/in_dim). Sample mean and std over about 10^5 entries, within 5 SE."""
    layer = RoutedLayer.init(np.random.default_rng(0), width=40, in_dim=25, out_dim=4, slots=3, dtype=np.float64)
    assert (layer.width, layer.in_dim, layer.out_dim, layer.slots) == (40, 25, 4, 3)
    for values in (layer.weights.ravel(), layer.bias.ravel()):
        n, sd = values.size, 1 / np.sqrt(25)
        assert abs(values.mean()) < 5 * sd / np.sqrt(n)
        assert abs(values.std() - sd) < 5 * sd / np.sqrt(2 * n)


def test_one_parent_each_is_allowed():
    parents = draw_parents(np.random.default_rng(1), 6, 4, 1)
    assert parents.shape == (6, 1) and parents.min() >= 0 and parents.max() < 4


@pytest.mark.parametrize("dtype,big", [(np.float64, 1000.0), (np.float32, 100.0)])
def test_routing_softmax_subtracts_the_largest_key(dtype, big):
    """The routing softmax is shifted by the largest scaled key (all M of them, at the keys' columns)
    before exp: with scaled keys far beyond exp's range (1000 in float64, where exp overflows at 710; 100
    in float32, beyond exp32_block's clamp at 88.4) the routing weights and the output must still be the
    softmax and the routed sum of the formula (numpy's stable softmax in float64 here), whichever slot holds
    the largest key."""
    from learning.nets.kernels import routed_forward

    W, B, M, n, scale = 1, 3, 3, 2, 0.5
    rng = np.random.default_rng(0)
    pre = rng.normal(size=(W, B, M * n + M))
    bias = rng.normal(size=(W, M, n))
    keys = np.array([[big, big - 1.0, 0.0], [0.0, big, big - 1.0], [0.0, big, 0.0]])  # scaled keys per sample
    pre[0, :, M * n:] = keys / scale
    out, route, _ = routed_forward(pre.astype(dtype), bias.astype(dtype), scale)
    e = np.exp(keys - keys.max(axis=1, keepdims=True))
    want = e / e.sum(axis=1, keepdims=True)
    slots = np.tanh(pre[0, :, :M * n].reshape(B, M, n) + bias[0])
    tol = 1e-12 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(route[0], want, rtol=0, atol=tol)
    np.testing.assert_allclose(out[0], np.einsum("bm,bmj->bj", want, slots), rtol=0, atol=tol)


def test_exp32_block_saturates_at_the_largest_finite_exp():
    """Above 88.3762626647949 (ln of float32's largest power of two times its mantissa) exp32_block returns
    exp(88.3762626647949), about 2.406e38: finite, never inf or a wrapped exponent."""
    from learning.nets.kernels import exp32_block

    z = np.array([88.3762626647949, 89.0, 100.0, 1e30], np.float32)
    out = np.empty_like(z)
    exp32_block(z, out, np.empty(4, np.int32))
    np.testing.assert_allclose(out, np.exp(np.float64(np.float32(88.3762626647949))), rtol=2e-7)
