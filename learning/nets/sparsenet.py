"""SparseNet, the authors' policy (docs/experiments.md E2): layers of routed neurons, residual from layer 2.

Layer 1: neuron i reads a fixed random set of `first_inputs` pixels; h_1 = out_1 (no tanh).
Layer l >= 2: neuron i reads `parents` fixed random neurons of layer l-1 (their n outputs each);
h_l = tanh(out_l) + h_{l-1}. Logits: key_a . vec(h_L) / sqrt(width * n).

Hidden values are neuron-major, (width, batch, n), like learning.routed. The backward walks the
layers top-down; at each layer the feedback arriving at h_l (BP's delta_l) may be replaced by a
mixture with the layer's synthetic gradient before it is used: `mix(l, delta_l) -> m_l`. The
parameters of layer l get J_l^T m_l and m_l flows on to layer l-1 (docs/experiments.md E2's recursion).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from learning.nets import kernels
from learning.nets.routed import ParentScatter, RoutedLayer, draw_parents, gather_parents


@dataclass
class SparseNet:
    pixels: np.ndarray  # (width, first_inputs) pixel indices read by layer-1 neurons
    parents: list  # parents[l - 1] (width, parents): layer l's parents in layer l - 1, for l >= 1
    layers: list  # RoutedLayer per hidden layer
    action_keys: np.ndarray  # (n_actions, width, n)
    scatters: list = field(default_factory=list)

    def __post_init__(self):
        self.scatters = [ParentScatter(p, self.width) for p in self.parents]

    @classmethod
    def init(cls, rng: np.random.Generator, in_dim: int, n_actions: int, layers: int = 5, width: int = 200,
             neuron: int = 10, slots: int = 5, parents: int = 5, first_inputs: int | None = None,
             dtype=np.float32) -> "SparseNet":
        """first_inputs defaults to neuron * parents (the authors': every neuron has neuron * parents inputs)."""
        first_inputs = neuron * parents if first_inputs is None else first_inputs
        if not 1 <= first_inputs <= in_dim:
            raise ValueError(f"first_inputs must be in [1, {in_dim}], got {first_inputs}")
        pixels = draw_parents(rng, width, in_dim, first_inputs)
        parent_sets = [draw_parents(rng, width, width, parents) for _ in range(layers - 1)]
        hidden = [RoutedLayer.init(rng, width, first_inputs, neuron, slots, dtype)]
        hidden += [RoutedLayer.init(rng, width, neuron * parents, neuron, slots, dtype) for _ in range(layers - 1)]
        keys = rng.normal(0.0, 1.0 / np.sqrt(neuron * parents), size=(n_actions, width, neuron)).astype(dtype)
        return cls(pixels, parent_sets, hidden, keys)

    @property
    def width(self) -> int:
        return self.pixels.shape[0]

    @property
    def n_layers(self) -> int:
        return len(self.layers)

    @property
    def logit_scale(self) -> float:
        return 1.0 / np.sqrt(self.action_keys.shape[1] * self.action_keys.shape[2])

    def params(self) -> list[np.ndarray]:
        out = []
        for layer in self.layers:
            out += [layer.weights, layer.bias]
        return out + [self.action_keys]

    def n_params(self) -> int:
        return sum(p.size for p in self.params())

    def layer_input(self, l: int, x0: np.ndarray, h_prev: np.ndarray | None) -> np.ndarray:
        if l == 0:
            return kernels.gather_columns(np.ascontiguousarray(x0, dtype=self.action_keys.dtype), self.pixels)
        return gather_parents(h_prev, self.parents[l - 1])

    def forward(self, x0: np.ndarray):
        """x0 (batch, in_dim) -> logits (batch, n_actions), cache for the backward."""
        caches, tanhs = [], []
        h = None
        for l, layer in enumerate(self.layers):
            out, cache = layer.forward(self.layer_input(l, x0, h))
            if l == 0:
                h, t = out, None
            else:
                t, h = kernels.residual_tanh(out, h)
            caches.append(cache)
            tanhs.append(t)
        logits = np.tensordot(h, self.action_keys, axes=([0, 2], [1, 2])) * self.logit_scale
        return logits, {"layers": caches, "tanh": tanhs, "top": h}

    def top_feedback(self, cache, dlogits: np.ndarray):
        """d logits (batch, n_actions) -> (delta at h_L (width, batch, n), gradient of the action keys)."""
        s = self.logit_scale
        h = cache["top"]
        d_keys = np.tensordot(dlogits, h, axes=([0], [1])) * s  # (actions, width, n)
        delta = np.tensordot(self.action_keys, dlogits, axes=([0], [1])).transpose(0, 2, 1) * s
        return np.ascontiguousarray(delta, dtype=h.dtype), d_keys.astype(h.dtype, copy=False)

    def pre_tanh(self, cache, l: int, m: np.ndarray) -> np.ndarray:
        """Feedback m at h_l -> feedback at layer l's routed output (through the residual tanh from layer 2)."""
        t = cache["tanh"][l]
        return m if t is None else m * (1.0 - t * t)

    def layer_down(self, cache, l: int, G: np.ndarray, m: np.ndarray) -> np.ndarray:
        """Feedback arriving at h_{l-1} from layer l, given layer l's slot feedback G and m at h_l."""
        below = self.scatters[l - 1](self.layers[l].input_grad(G))
        return below + m  # the residual path h_l = tanh(.) + h_{l-1}

    def backward(self, cache, dlogits: np.ndarray, mix=None, param_grads: bool = True):
        """Top-down pass. mix(l, delta_l) -> (m_l, G_l, grads_l or None), or None for BP.

        m_l replaces the feedback delta_l that arrived at h_l; G_l is layer l's slot feedback for
        m_l (learning.nets.routed); grads_l, if given, are the layer's parameter gradients already
        computed (else they come from G_l). Returns (grads, deltas): grads is
        [{"weights", "bias"} per layer] + [action-key gradient] (None when param_grads is False);
        deltas[l] is the feedback that arrived at h_l.
        """
        delta, d_keys = self.top_feedback(cache, dlogits)
        grads = [None] * self.n_layers
        deltas = [None] * self.n_layers
        for l in range(self.n_layers - 1, -1, -1):
            deltas[l] = delta
            if l == 0 and not param_grads:
                break  # nothing below layer 1 needs its feedback
            layer, lc = self.layers[l], cache["layers"][l]
            if mix is None:
                m, G, g = delta, layer.slot_feedback(lc, self.pre_tanh(cache, l, delta)), None
            else:
                m, G, g = mix(l, delta)
            if param_grads:
                grads[l] = g if g is not None else layer.grads_from_feedback(lc, G)
            if l > 0:
                delta = self.layer_down(cache, l, G, m)
        return (grads + [d_keys] if param_grads else None), deltas


def flat_grads(grads) -> list[np.ndarray]:
    """SparseNet.backward's grads in the order of SparseNet.params()."""
    out = []
    for g in grads[:-1]:
        out += [g["weights"], g["bias"]]
    return out + [grads[-1]]
