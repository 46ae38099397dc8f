"""The recurrent SparseNet of docs/experiments.md E3: routed neurons whose parents are neurons of the
previous time step, and its actor head.

128 neurons of 6 numbers; each reads 6 recurrent parents (its cell's local information) and has 6
slots. The observation embedding (128 numbers) feeds the first 16 neurons only. As the authors,
every neuron's input has the length of parents plus embedding (164) for the key scale and the
initial weights; the embedding part of the other 112 neurons is always zero, so they are held in
a second routed layer that reads only their parents (same outputs and gradients, a third of the
work). Both layers are the bandit's RoutedLayer with the key scale fixed at 1 / sqrt(164).

The actor head routes the whole state: for each action a, logit_a = sum_m route_am (A_am . h + b_am),
route_a = softmax_m(key_am . h / sqrt(768)) (linear slots, no tanh).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from learning.nets import kernels
from learning.nets.routed import RoutedLayer, draw_parents, gather_parents

WIDTH, SIZE, PARENTS, SLOTS, INPUT_NEURONS = 128, 6, 6, 6, 16
ACTOR_SLOTS = 6


@dataclass
class FixedScaleRoutedLayer(RoutedLayer):
    """A RoutedLayer whose key scale is set, not 1 / sqrt(its input length)."""

    key_scale: float

    @property
    def scale(self) -> float:
        return self.key_scale


class RecurrentSparseCore:
    """State h: (width, batch, size). Features for the head: (batch, width * size), neuron-major."""

    def __init__(self, embed: int, rng: np.random.Generator, dtype, width=WIDTH, size=SIZE, parents=PARENTS,
                 slots=SLOTS, input_neurons=INPUT_NEURONS):
        self.width, self.size, self.k, self.n_in, self.embed = width, size, parents, input_neurons, embed
        self.dtype = dtype
        self.parents = draw_parents(rng, width, width, parents)
        full = parents * size + embed
        std, scale = 1.0 / np.sqrt(full), 1.0 / np.sqrt(full)
        a = RoutedLayer.init(rng, input_neurons, full, size, slots, dtype, std=std)
        b = RoutedLayer.init(rng, width - input_neurons, parents * size, size, slots, dtype, std=std)
        self.layers = (FixedScaleRoutedLayer(a.weights, a.bias, scale), FixedScaleRoutedLayer(b.weights, b.bias, scale))
        self.params = {"in.weights": a.weights, "in.bias": a.bias, "rest.weights": b.weights, "rest.bias": b.bias}
        self.features = width * size
        self.weights_t = None  # while acting: each layer's weights transposed (learning.nets.routed)
        self.rollout = None  # while acting and after: the rollout's inputs (RolloutInputs)

    @contextmanager
    def acting(self, steps: int | None = None):
        """Steps inside use transposed copies of the weights, taken once: the weights must not change
        meanwhile (they do not during a rollout; the update comes after it). With `steps`, the steps
        inside are one sequence of at most that many steps, and each step's neuron inputs are written
        straight into arrays for the whole sequence (RolloutInputs), which the backward reads."""
        self.weights_t = self.transposed_weights()
        self.rollout = None if steps is None else RolloutInputs(self.layers, steps)
        try:
            yield
        finally:
            self.weights_t = None

    def transposed_weights(self) -> tuple:
        return tuple(np.ascontiguousarray(l.weights.transpose(0, 2, 1)) for l in self.layers)

    def initial_state(self, batch: int):
        return np.zeros((self.width, batch, self.size), self.dtype)

    def inputs(self, u: np.ndarray, h: np.ndarray):
        """Each layer's neuron inputs: parents of h, and the embedding u for the input neurons."""
        xp = gather_parents(h, self.parents)
        kn = xp.shape[2]
        x_in = np.empty((self.n_in, u.shape[0], kn + u.shape[1]), xp.dtype)
        x_in[:, :, :kn] = xp[:self.n_in]
        x_in[:, :, kn:] = u
        return x_in, xp[self.n_in:]

    def step(self, u: np.ndarray, h: np.ndarray):
        written = self.rollout is not None and self.weights_t is not None and self.rollout.write(self, u, h)
        x_in, x_rest = written or self.inputs(u, h)
        # outside a rollout the same contiguous transposed copies: BLAS may round x @ W^T (a view)
        # and x @ W^T (a copy) differently (OpenBLAS's AVX-512 kernels do), and the two must agree
        wt = self.weights_t or self.transposed_weights()
        out_in, c_in = self.layers[0].forward(x_in, wt[0])
        out_rest, c_rest = self.layers[1].forward(x_rest, wt[1])
        h_next = np.concatenate([out_in, out_rest])
        features = h_next.transpose(1, 0, 2).reshape(h.shape[1], self.features)
        return features, h_next, (c_in, c_rest)

    def feedback_at_state(self, dfeat: np.ndarray) -> np.ndarray:
        """(batch, width * size) gradient of the features -> (width, batch, size)."""
        return dfeat.reshape(dfeat.shape[0], self.width, self.size).transpose(1, 0, 2)

    def step_backward(self, cache, g: np.ndarray, G, col: int, bias_sums):
        """Feedback g at h_t (width, batch, size) -> feedback at h_{t-1} through the parents and the
        gradient of the embedding u_t; each layer's slot feedback is written into its G (layer width,
        T * batch, rows) from column col on, and its slot-map part added, summed over the batch, to
        bias_sums (the bias gradients)."""
        kn = self.k * self.size
        g_prev = np.zeros_like(g)
        dx = []
        for i, (layer, rows) in enumerate(zip(self.layers, (slice(0, self.n_in), slice(self.n_in, self.width)))):
            _, route, y = cache[i]
            kernels.routed_feedback_into(g[rows], route, y, layer.scale, G[i], col, bias_sums[i])
            dx.append(layer.input_grad(G[i][:, col:col + g.shape[1]]))
            kernels.scatter_rows_add(dx[i], self.parents[rows], self.size, g_prev)
        return g_prev, dx[0][:, :, kn:].sum(axis=0)

    def joined_inputs(self, caches: list) -> list:
        """Each layer's neuron inputs over all steps, (layer width, T * batch, in): the rollout's own
        arrays when the caches are its steps, else joined."""
        if self.rollout is not None and self.rollout.holds(caches):
            return self.rollout.joined(len(caches))
        return [np.concatenate([c[i][0] for c in caches], axis=1) for i in range(2)]

    def backward(self, caches: list, dfeat: np.ndarray, mix=None, inputs=None):
        """Backpropagation through time. dfeat: (T, batch, width * size) from the head.

        mix: optional (t, g) -> the feedback to pass on in place of g, the feedback that reached
        h_t (from the head at t and from step t + 1); SG mixing at every time step uses it.
        inputs: joined_inputs(caches), when the caller has them already.
        """
        steps, batch = dfeat.shape[:2]
        carry = np.zeros((self.width, batch, self.size), dfeat.dtype)
        # every step's slot feedback side by side, for one weight-gradient product per layer
        G = [np.empty((l.width, steps * batch, l.weights.shape[1]), dfeat.dtype) for l in self.layers]
        bias_sums = [np.zeros((l.width, l.slots * l.out_dim), dfeat.dtype) for l in self.layers]
        du = np.empty((steps, batch, self.embed), dfeat.dtype)
        for t in range(steps - 1, -1, -1):
            g = self.feedback_at_state(dfeat[t]) + carry
            if mix is not None:
                g = mix(t, g)
            carry, du[t] = self.step_backward(caches[t], g, G, t * batch, bias_sums)
        x = inputs if inputs is not None else self.joined_inputs(caches)
        grads = {}
        for i, name in enumerate(("in", "rest")):
            layer = self.layers[i]
            grads[f"{name}.weights"] = np.matmul(G[i].transpose(0, 2, 1), x[i])
            grads[f"{name}.bias"] = bias_sums[i].reshape(layer.bias.shape)
        return grads, du


class RolloutInputs:
    """A rollout's neuron inputs, one array per layer for all its steps, (layer width, steps * batch,
    in): step t in columns [t * batch, (t + 1) * batch). The forward reads each step's block in place
    and the weight-gradient product reads the whole, so nothing is copied or joined."""

    def __init__(self, layers, steps: int):
        self.layers, self.steps = layers, steps
        self.arrays = None
        self.blocks = []  # each written step's blocks (views), in order

    def write(self, core, u: np.ndarray, h: np.ndarray):
        """Gathers step len(blocks)'s inputs into the arrays; returns the two blocks, or None when the
        sequence is longer than `steps` (the caller then builds them itself)."""
        batch, t = h.shape[1], len(self.blocks)
        if self.arrays is None:
            self.arrays = [np.empty((l.width, self.steps * batch, l.in_dim), h.dtype) for l in self.layers]
        if t >= self.steps or self.arrays[0].shape[1] != self.steps * batch:
            return None
        col, kn = t * batch, core.k * core.size
        x_in, x_rest = self.arrays
        kernels.gather_rows_into(h, core.parents[:core.n_in], x_in, col)
        kernels.gather_rows_into(h, core.parents[core.n_in:], x_rest, col)
        x_in[:, col:col + batch, kn:] = u
        self.blocks.append((x_in[:, col:col + batch], x_rest[:, col:col + batch]))
        return self.blocks[-1]

    def holds(self, caches: list) -> bool:
        """Whether caches are this rollout's first len(caches) steps (the very same blocks)."""
        return len(caches) <= len(self.blocks) and all(
            c[i][0] is blocks[i] for c, blocks in zip(caches, self.blocks) for i in range(2))

    def joined(self, steps: int) -> list:
        batch = self.blocks[0][0].shape[1]
        return [a[:, :steps * batch] for a in self.arrays]


class RoutedActor:
    """Action logits from the whole state with routed linear slots (the authors' actor)."""

    def __init__(self, features: int, actions: int, rng: np.random.Generator, dtype, slots=ACTOR_SLOTS):
        std = 1.0 / np.sqrt(features)
        self.actions, self.slots, self.scale = actions, slots, float(1.0 / np.sqrt(features))
        # rows: the A x M linear maps, then the A x M keys
        self.params = {"weights": (std * rng.normal(size=(2 * actions * slots, features))).astype(dtype),
                       "bias": np.zeros((actions, slots), dtype)}

    def forward(self, h: np.ndarray):
        A, M = self.actions, self.slots
        pre = h @ self.params["weights"].T
        lin = pre[:, :A * M].reshape(-1, A, M) + self.params["bias"]
        keys = pre[:, A * M:].reshape(-1, A, M) * self.scale
        route = np.exp(keys - keys.max(axis=2, keepdims=True))
        route /= route.sum(axis=2, keepdims=True)
        return (route * lin).sum(axis=2), {"h": h, "route": route, "lin": lin}

    def backward(self, c: dict, dz: np.ndarray):
        route, lin = c["route"], c["lin"]
        dlin = route * dz[:, :, None]
        s = (route * lin).sum(axis=2, keepdims=True)
        dkeys = route * (lin - s) * dz[:, :, None] * self.scale
        dpre = np.concatenate([dlin.reshape(len(dz), -1), dkeys.reshape(len(dz), -1)], axis=1)
        return {"weights": dpre.T @ c["h"], "bias": dlin.sum(axis=0)}, dpre @ self.params["weights"]
