"""Dense pieces of the recurrent policies: the observation embedding and the MLP actor head.

Every piece maps (N, in) -> (N, out) with an explicit backward, so the recurrent loop calls it
one time step at a time while acting, and the update runs its backward once on all T * B rows.
Shapes follow `x @ W + b`; initialisation follows the authors' (orthogonal weights, zero biases).
"""

from __future__ import annotations

import numpy as np

LEAK = 0.01  # LeakyReLU slope
LN_EPS = 1e-5


def orthogonal(rng: np.random.Generator, rows: int, cols: int, dtype) -> np.ndarray:
    """A (rows, cols) matrix with orthonormal rows or columns (whichever are fewer)."""
    a = rng.normal(size=(max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q *= np.sign(np.diag(r))
    return np.ascontiguousarray(q if rows >= cols else q.T, dtype=dtype)


def leaky(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, LEAK * x)  # LEAK < 1


def leaky_grad(x: np.ndarray, dy: np.ndarray) -> np.ndarray:
    slope = (x > 0).astype(dy.dtype)
    slope *= 1.0 - LEAK
    slope += LEAK
    return dy * slope


def layer_norm(x: np.ndarray):
    """Normalise each row to mean 0, variance 1 (no learned scale); returns (y, inverse std)."""
    scale = 1.0 / x.shape[-1]
    xc = x - x.sum(axis=-1, keepdims=True) * scale
    inv = 1.0 / np.sqrt(np.einsum("...i,...i->...", xc, xc)[..., None] * scale + LN_EPS)
    return xc * inv, inv


def layer_norm_grad(y: np.ndarray, inv: np.ndarray, dy: np.ndarray) -> np.ndarray:
    return inv * (dy - dy.mean(axis=-1, keepdims=True) - y * (dy * y).mean(axis=-1, keepdims=True))


class ObsEmbedding:
    """Observation -> Linear -> LayerNorm -> Linear -> LeakyReLU (the authors' feature map)."""

    def __init__(self, obs_size: int, size: int, rng: np.random.Generator, dtype):
        self.params = {
            "W1": orthogonal(rng, obs_size, size, dtype), "b1": np.zeros(size, dtype),
            "W2": orthogonal(rng, size, size, dtype), "b2": np.zeros(size, dtype),
        }
        self.size = size

    def forward(self, x: np.ndarray):
        p = self.params
        y1, inv = layer_norm(x @ p["W1"] + p["b1"])
        a2 = y1 @ p["W2"] + p["b2"]
        return leaky(a2), {"x": x, "y1": y1, "inv": inv, "a2": a2}

    def backward(self, c: dict, du: np.ndarray) -> dict:
        """c: caches stacked over rows; du: (N, size). Returns the parameter gradients."""
        p = self.params
        da2 = leaky_grad(c["a2"], du)
        dy1 = da2 @ p["W2"].T
        da1 = layer_norm_grad(c["y1"], c["inv"], dy1)
        return {"W1": c["x"].T @ da1, "b1": da1.sum(0), "W2": c["y1"].T @ da2, "b2": da2.sum(0)}


class MLPHead:
    """Recurrent features -> two LeakyReLU layers -> action logits (the GRU and LSTM actor)."""

    def __init__(self, features: int, hidden: int, actions: int, rng: np.random.Generator, dtype):
        self.params = {
            "W1": orthogonal(rng, features, hidden, dtype), "b1": np.zeros(hidden, dtype),
            "W2": orthogonal(rng, hidden, hidden, dtype), "b2": np.zeros(hidden, dtype),
            "W3": (0.01 * rng.normal(size=(hidden, actions))).astype(dtype), "b3": np.zeros(actions, dtype),
        }

    def forward(self, h: np.ndarray):
        p = self.params
        a1 = h @ p["W1"] + p["b1"]
        y1 = leaky(a1)
        a2 = y1 @ p["W2"] + p["b2"]
        y2 = leaky(a2)
        return y2 @ p["W3"] + p["b3"], {"h": h, "a1": a1, "y1": y1, "a2": a2, "y2": y2}

    def backward(self, c: dict, dz: np.ndarray):
        """Returns (parameter gradients, gradient of the features h)."""
        p = self.params
        da2 = leaky_grad(c["a2"], dz @ p["W3"].T)
        da1 = leaky_grad(c["a1"], da2 @ p["W2"].T)
        grads = {"W1": c["h"].T @ da1, "b1": da1.sum(0), "W2": c["y1"].T @ da2, "b2": da2.sum(0),
                 "W3": c["y2"].T @ dz, "b3": dz.sum(0)}
        return grads, da1 @ p["W1"].T
