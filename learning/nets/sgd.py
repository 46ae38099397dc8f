"""Plain stochastic gradient descent, in place on a list of parameter arrays (the optimiser control)."""

from __future__ import annotations

import numpy as np


class SGD:
    """p <- p - lr * g for each parameter array; the same interface as learning.nets.adam.Adam."""

    def __init__(self, params: list[np.ndarray], lr: float):
        if not lr > 0:
            raise ValueError(f"lr must be > 0, got {lr}")
        self.params, self.lr, self.t = params, float(lr), 0

    def step(self, grads: list[np.ndarray]) -> None:
        if len(grads) != len(self.params):
            raise ValueError(f"expected {len(self.params)} gradients, got {len(grads)}")
        self.t += 1
        for p, g in zip(self.params, grads):
            if g.shape != p.shape:
                raise ValueError(f"gradient shape {g.shape} does not match parameter shape {p.shape}")
            p -= p.dtype.type(self.lr) * g.astype(p.dtype, copy=False)
