"""Per-neuron synthetic gradients (SG) for SparseNet, sharing the policy's routing weights.

Neuron i of layer l predicts the feedback at its output h_l from its own input x (its local
information): shat = sum_m route_m (C_m x + c_m), with the policy's routing weights route_m
(the keys are not trained by the SG loss). The SG is fitted by least squares on targets built
layer by layer with the same mixture the policy uses (docs/experiments.md E2):
    target_L = delta_L,   target_{l-1} = (d h_l / d h_{l-1})^T [lambda_l target_l + (1 - lambda_l) shat_l],
i.e. the feedbacks that arrive at each h_l in a backward pass mixed with the current SG.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from learning.nets import kernels
from learning.nets.adam import Adam


@dataclass
class SyntheticGradients:
    maps: list  # per layer (width, slots*n, in_dim): C, row m*n + j is output j of slot m
    bias: list  # per layer (width, slots, n): c

    @classmethod
    def init(cls, rng: np.random.Generator, net, dtype=np.float32) -> "SyntheticGradients":
        """C, c ~ N(0, 1/in_dim) (the authors' init)."""
        maps, bias = [], []
        for layer in net.layers:
            std = 1.0 / np.sqrt(layer.in_dim)
            w, m, n, d = layer.width, layer.slots, layer.out_dim, layer.in_dim
            maps.append(rng.normal(0.0, std, size=(w, m * n, d)).astype(dtype))
            bias.append(rng.normal(0.0, std, size=(w, m, n)).astype(dtype))
        return cls(maps, bias)

    def params(self) -> list[np.ndarray]:
        out = []
        for c, b in zip(self.maps, self.bias):
            out += [c, b]
        return out

    def predict(self, l: int, layer_cache) -> np.ndarray:
        """shat_l (width, batch, n) from the layer's input and routing weights (its forward cache)."""
        x, route, _ = layer_cache
        pre = np.matmul(x, self.maps[l].transpose(0, 2, 1))
        return kernels.route_mix(pre, self.bias[l], route)

    def grads(self, l: int, layer_cache, dpred: np.ndarray) -> list[np.ndarray]:
        """d loss / d shat_l (width, batch, n) -> [d C, d c] of layer l (keys held fixed)."""
        x, route, _ = layer_cache
        H, d_bias = kernels.route_outer(route, dpred)  # (width, batch, slots*n), its sum over the batch
        return [np.matmul(H.transpose(0, 2, 1), x), d_bias.reshape(self.bias[l].shape)]


def sg_loss_grads(sg: SyntheticGradients, caches, preds, targets):
    """Sum over layers of the mean squared error of shat_l against target_l; its gradients and value."""
    grads, loss = [], 0.0
    for l, (p, t) in enumerate(zip(preds, targets)):
        d_pred, squares = kernels.scaled_error(p, t, p.dtype.type(2.0 / p.size))
        loss += squares / p.size
        grads += sg.grads(l, caches[l], d_pred)
    return grads, loss


class SGTrainer:
    """The SG update of one training step, on the policy's own batch, before the policy update."""

    def __init__(self, sg: SyntheticGradients, lr: float):
        self.sg = sg
        self.opt = Adam(sg.params(), lr)

    def targets(self, net, cache, dlogits, lam) -> tuple[list, list]:
        """(preds, targets): the current SG at every layer and the mixture-built targets.

        lam: (layers, width) mixing weights of BP against SG (the same as the policy update's).
        """
        preds = [self.sg.predict(l, cache["layers"][l]) for l in range(net.n_layers)]
        _, deltas = net.backward(cache, dlogits, mix=fixed_mix(net, cache, preds, lam), param_grads=False)
        return preds, deltas

    def update(self, net, cache, dlogits, lam) -> float:
        preds, targets = self.targets(net, cache, dlogits, lam)
        grads, loss = sg_loss_grads(self.sg, cache["layers"], preds, targets)
        self.opt.step(grads)
        return loss


def fixed_mix(net, cache, preds, lam):
    """SparseNet.backward's mix for m_l = lam_l delta_l + (1 - lam_l) shat_l, lam (layers, width) given."""

    def mix(l, delta):
        layer, (x, route, y) = net.layers[l], cache["layers"][l]
        t = cache["tanh"][l]
        m, GT = kernels.mixed_feedback(delta, preds[l], lam[l], _EMPTY if t is None else t, t is not None,
                                       route, y, delta.dtype.type(layer.scale))
        return m, GT.transpose(0, 2, 1), None

    return mix


_EMPTY = np.zeros((0, 0, 0), dtype=np.float32)
NEURON_CHUNK = 16  # neurons per fused block of the adaptive mix: their 3K x batch feedback fits in L2


def adaptive_mix(net, cache, preds, lambdas):
    """The mixture at the current lambdas, then each layer's lambda updated by the plug-in.

    The plug-in uses the per-sample BP and SG feedbacks at the layer's routed output, each scaled
    to unit length (learning.nets.mixing); one batched product gives both the policy gradient of the
    layer's weights and the sums the plug-in needs.
    """
    from learning.nets.mixing import TINY_NORM, routed_moments_from_sums

    def mix(l, delta):
        layer, (x, route, y) = net.layers[l], cache["layers"][l]
        t = cache["tanh"][l]
        W, B, n = delta.shape
        K = layer.weights.shape[1]
        mn = K - layer.slots
        m = np.empty_like(delta)
        GT = np.empty((W, 3 * K, B), dtype=delta.dtype)
        d_weights = np.empty((W, K, x.shape[2]), dtype=x.dtype)
        S = np.empty((W, 3 * K, x.shape[2]), dtype=x.dtype)
        bias_sums = np.empty((W, 3, mn))
        uu, wu = np.empty((W, B)), np.empty((W, B))
        tiny, one, scale = delta.dtype.type(TINY_NORM), delta.dtype.type(1), delta.dtype.type(layer.scale)
        for a in range(0, W, NEURON_CHUNK):
            # a few neurons at a time, so the product reads their feedback blocks while still in cache
            c = slice(a, min(a + NEURON_CHUNK, W))
            kernels.adaptive_feedback(delta[c], preds[l][c], lambdas.values[l][c], _EMPTY if t is None else t[c],
                                      t is not None, route[c], y[c], scale, x[c], tiny, one,
                                      m[c], GT[c], bias_sums[c], uu[c], wu[c])
            np.matmul(GT[c], x[c], out=S[c])  # (chunk, 3K, in_dim)
            d_weights[c] = S[c, :K]  # the policy gradient, contiguous for Adam
        lambdas.update(l, *routed_moments_from_sums(S, K, bias_sums, uu, wu, B))
        grads = {"weights": d_weights, "bias": bias_sums[:, 0].astype(x.dtype).reshape(layer.bias.shape)}
        return m, GT[:, :K].transpose(0, 2, 1), grads

    return mix


def mixed_backward(net, sg: SyntheticGradients, cache, dlogits, lambdas, preds=None):
    """The policy gradient with SG: m_l = lambda_l delta_l + (1 - lambda_l) shat_l at every layer.

    lambdas: learning.nets.mixing.LayerLambdas; when adaptive, each layer's lambda is updated by the
    plug-in from (delta_l, shat_l) after it has been used (the value used is the one from before
    this step). Returns (grads, deltas, preds) like SparseNet.backward plus the SG predictions.
    """
    if preds is None:
        preds = [sg.predict(l, cache["layers"][l]) for l in range(net.n_layers)]
    mix = adaptive_mix(net, cache, preds, lambdas) if lambdas.adaptive else fixed_mix(net, cache, preds, lambdas.values)
    grads, deltas = net.backward(cache, dlogits, mix=mix)
    return grads, deltas, preds
