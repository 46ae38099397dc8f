"""Adam (Kingma and Ba), in place on a list of parameter arrays, with PyTorch's conventions."""

from __future__ import annotations

import numpy as np

from learning.nets import kernels


class Adam:
    """Adam over `params` (arrays updated in place). Defaults: betas (0.9, 0.999), eps 1e-8."""

    def __init__(self, params: list[np.ndarray], lr: float, betas=(0.9, 0.999), eps: float = 1e-8):
        if not lr > 0:
            raise ValueError(f"lr must be > 0, got {lr}")
        for p in params:
            if not p.flags.c_contiguous:
                raise ValueError("Adam needs C-contiguous parameter arrays (updated in place through a 2-D view)")
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
            if g.shape != p.shape:
                raise ValueError(f"gradient shape {g.shape} does not match parameter shape {p.shape}")
            t = p.dtype.type
            kernels.adam_update(_rows(p), _rows(g.astype(p.dtype, copy=False)), _rows(m1), _rows(m2),
                                t(self.beta1), t(1.0 - self.beta1), t(self.beta2), t(1.0 - self.beta2),
                                t(self.lr / bias1), t(np.sqrt(bias2)), t(self.eps))


def _rows(a: np.ndarray) -> np.ndarray:
    """a as 2-D (first axis, the rest), a view when its trailing axes are contiguous, else a copy."""
    if a.ndim == 0:
        return a.reshape(1, 1)
    return a.reshape(a.shape[0], -1) if a.ndim > 1 else a.reshape(1, -1)
