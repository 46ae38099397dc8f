"""A layer of routed neurons (docs/experiments.md E2's SparseNet cell), forward and explicit backward.

Each of the `width` neurons reads its own input vector x (length `in_dim`: its gathered parents,
or pixels) and has `slots` slots. Slot m routes with a key and computes a tanh map:

    route_m = softmax_m(key_m . x * scale),   scale = 1 / sqrt(in_dim)
    y_m     = tanh(A_m x + b_m)                 (length `out_dim`)
    out     = sum_m route_m y_m

Layout (neuron-major, so each neuron's work is one small matrix product, batched over neurons):
    x     (width, batch, in_dim)
    out   (width, batch, out_dim)
    weights (width, slots*out_dim + slots, in_dim): rows [0, slots*out_dim) hold the slot maps A
            (row m*out_dim + j is output j of slot m), the last `slots` rows hold the keys.
    bias  (width, slots, out_dim)

Stacking A and the keys makes the forward one batched product x @ weights^T and the backward
two: d x = G @ weights and d weights = G^T @ x, where G (width, batch, slots*out_dim + slots)
is the per-sample feedback at the pre-activations ("slot feedback": d z of the slot maps, then
scale * d logits of the routing). A sample's gradient of the weights is the outer product of
its row of G with its x; the adaptive lambda (learning.nets.mixing) uses this.

API:
    layer = RoutedLayer.init(rng, width, in_dim, out_dim, slots, dtype)
    out, cache = layer.forward(x)
    dx, grads = layer.backward(cache, dout)        # grads = {"weights": ..., "bias": ...}
    G = layer.slot_feedback(cache, dout)           # the per-sample coefficients, if needed alone

Parents are gathered with `gather_parents` and their gradients summed back with
`scatter_parents`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from learning.nets import kernels


@dataclass
class RoutedLayer:
    weights: np.ndarray  # (width, slots*out_dim + slots, in_dim): slot maps A, then keys
    bias: np.ndarray  # (width, slots, out_dim)

    @classmethod
    def init(cls, rng: np.random.Generator, width: int, in_dim: int, out_dim: int, slots: int,
             dtype=np.float32, std: float | None = None) -> "RoutedLayer":
        """Weights, keys and biases N(0, std^2), std = 1/sqrt(in_dim) by default (the authors' init)."""
        std = 1.0 / np.sqrt(in_dim) if std is None else std
        weights = rng.normal(0.0, std, size=(width, slots * out_dim + slots, in_dim)).astype(dtype)
        bias = rng.normal(0.0, std, size=(width, slots, out_dim)).astype(dtype)
        return cls(weights, bias)

    @property
    def width(self) -> int:
        return self.weights.shape[0]

    @property
    def slots(self) -> int:
        return self.bias.shape[1]

    @property
    def out_dim(self) -> int:
        return self.bias.shape[2]

    @property
    def in_dim(self) -> int:
        return self.weights.shape[2]

    @property
    def scale(self) -> float:
        return 1.0 / np.sqrt(self.in_dim)

    @property
    def A(self) -> np.ndarray:
        """The slot maps, (width, slots, out_dim, in_dim) (a view)."""
        m, n = self.slots, self.out_dim
        return self.weights[:, : m * n].reshape(self.width, m, n, self.in_dim)

    @property
    def keys(self) -> np.ndarray:
        """The routing keys, (width, slots, in_dim) (a view)."""
        return self.weights[:, self.slots * self.out_dim:]

    def params(self) -> dict:
        return {"weights": self.weights, "bias": self.bias}

    def forward(self, x: np.ndarray, weights_t: np.ndarray | None = None):
        """x (width, batch, in_dim) -> out (width, batch, out_dim), cache for backward.

        cache = (x, route (width, batch, slots), y (width, batch, slots, out_dim)).
        weights_t: the weights transposed, (width, in_dim, rows) contiguous, when the caller keeps
        such a copy (small batches multiply faster with it).
        """
        if x.ndim != 3 or x.shape[0] != self.width or x.shape[2] != self.in_dim:
            raise ValueError(f"x must have shape (width={self.width}, batch, in_dim={self.in_dim}), got {x.shape}")
        wt = self.weights.transpose(0, 2, 1) if weights_t is None else weights_t
        pre = np.matmul(x, wt)  # (width, batch, slots*out_dim + slots)
        out, route, y = kernels.routed_forward(pre, self.bias, self.scale)
        return out, (x, route, y)

    def slot_feedback(self, cache, dout: np.ndarray) -> np.ndarray:
        """G (width, batch, slots*out_dim + slots): d loss / d (x @ weights^T) given d loss / d out."""
        _, route, y = cache
        return kernels.routed_feedback(dout, route, y, self.scale)

    def grads_from_feedback(self, cache, G: np.ndarray) -> dict:
        x = cache[0]
        m, n = self.slots, self.out_dim
        return {"weights": np.matmul(G.transpose(0, 2, 1), x),
                "bias": G[:, :, : m * n].sum(axis=1).reshape(self.width, m, n)}

    def input_grad(self, G: np.ndarray) -> np.ndarray:
        return np.matmul(G, self.weights)

    def backward(self, cache, dout: np.ndarray, input_grad: bool = True):
        """dout (width, batch, out_dim) -> (dx (width, batch, in_dim) or None, {"weights", "bias"})."""
        G = self.slot_feedback(cache, dout)
        dx = self.input_grad(G) if input_grad else None
        return dx, self.grads_from_feedback(cache, G)


def draw_parents(rng: np.random.Generator, n_children: int, n_pool: int, k: int) -> np.ndarray:
    """(n_children, k) int64: for each child, k distinct indices into a pool of n_pool, at random."""
    if not 1 <= k <= n_pool:
        raise ValueError(f"parents must be in [1, {n_pool}], got {k}")
    return np.argsort(rng.random((n_children, n_pool)), axis=1)[:, :k].astype(np.int64)


def gather_parents(h: np.ndarray, parents: np.ndarray) -> np.ndarray:
    """h (pool, batch, n) -> x (children, batch, k*n): child c reads parents[c] in order."""
    return kernels.gather_rows(np.ascontiguousarray(h), parents)


@dataclass(frozen=True)
class ParentScatter:
    """Sums children's input gradients back onto their parents (the adjoint of gather_parents)."""
    parents: np.ndarray  # (children, k)
    pool: int

    def __call__(self, dx: np.ndarray) -> np.ndarray:
        k = self.parents.shape[1]
        out = np.zeros((self.pool, dx.shape[1], dx.shape[2] // k), dx.dtype)
        kernels.scatter_rows_add(dx, self.parents, dx.shape[2] // k, out)
        return out


def scatter_parents(dx: np.ndarray, parents: np.ndarray, pool: int) -> np.ndarray:
    """dx (children, batch, k*n) -> dh (pool, batch, n), summing over all children reading each parent."""
    return ParentScatter(parents, pool)(dx)
