"""Adam (Kingma and Ba), in place on a list of parameter arrays, with PyTorch's conventions."""

from __future__ import annotations

import numpy as np

from learning import kernels


class Adam:
    """Adam over `params` (arrays updated in place). Defaults: betas (0.9, 0.999), eps 1e-8."""

    def __init__(self, params: list[np.ndarray], lr: float, betas=(0.9, 0.999), eps: float = 1e-8):
        if not lr > 0:
            raise ValueError(f"lr must be > 0, got {lr}")
        for p in params:
            if not p.flags.c_contiguous:
                raise ValueError("Adam needs C-contiguous parameter arrays (updated in place through a flat view)")
        self.params = params
        self.lr, self.beta1, self.beta2, self.eps = float(lr), float(betas[0]), float(betas[1]), float(eps)
        self.m1 = [np.zeros_like(p) for p in params]
        self.m2 = [np.zeros_like(p) for p in params]
        self.t = 0

    def step(self, grads: list[np.ndarray]) -> None:
        if len(grads) != len(self.params):
            raise ValueError(f"expected {len(self.params)} gradients, got {len(grads)}")
        self.t += 1
        bias1 = 1.0 - self.beta1 ** self.t
        bias2 = 1.0 - self.beta2 ** self.t
        for p, g, m1, m2 in zip(self.params, grads, self.m1, self.m2):
            g = np.ascontiguousarray(g, dtype=p.dtype)
            kernels.adam_update(p.reshape(-1), g.reshape(-1), m1.reshape(-1), m2.reshape(-1),
                                self.lr, self.beta1, self.beta2, self.eps, bias1, bias2)
