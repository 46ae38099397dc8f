"""The MLP baseline (docs/experiments.md E2): tanh hidden layers, a linear logit layer, explicit backward.

Width 745 with 5 hidden layers at MNIST size (2,814,619 parameters, close to SparseNet's).
Weights Xavier-normal, biases zero (the authors' init). Batch-major: x (batch, in_dim).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class MLP:
    weights: list  # (in, out) per layer, the last one giving the logits
    biases: list

    @classmethod
    def init(cls, rng: np.random.Generator, in_dim: int, n_actions: int, layers: int = 5, width: int = 745,
             dtype=np.float32) -> "MLP":
        dims = [in_dim] + [width] * layers + [n_actions]
        weights, biases = [], []
        for a, b in zip(dims[:-1], dims[1:]):
            weights.append(rng.normal(0.0, np.sqrt(2.0 / (a + b)), size=(a, b)).astype(dtype))
            biases.append(np.zeros(b, dtype=dtype))
        return cls(weights, biases)

    def params(self) -> list[np.ndarray]:
        out = []
        for w, b in zip(self.weights, self.biases):
            out += [w, b]
        return out

    def n_params(self) -> int:
        return sum(p.size for p in self.params())

    def forward(self, x: np.ndarray):
        """x (batch, in_dim) -> logits (batch, n_actions), cache (the inputs of every layer)."""
        h = x.astype(self.weights[0].dtype, copy=False)
        inputs = []
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            inputs.append(h)
            z = h @ w + b
            h = z if i == len(self.weights) - 1 else np.tanh(z)
        return h, inputs

    def backward(self, cache, dlogits: np.ndarray):
        """d logits -> gradients in the order of params()."""
        grads = []
        d = dlogits.astype(self.weights[0].dtype, copy=False)
        for i in range(len(self.weights) - 1, -1, -1):
            h = cache[i]
            grads = [h.T @ d, d.sum(axis=0)] + grads
            if i > 0:
                d = (d @ self.weights[i].T) * (1.0 - h * h)  # h = tanh(z) of the layer below
        return grads
