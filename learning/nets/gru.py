"""GRU core with backpropagation through time (the gates and biases of torch.nn.GRU).

r = sig(x Wx_r + bx_r + h Wh_r + bh_r), z = sig(... _z), n = tanh(x Wx_n + bx_n + r (h Wh_n + bh_n)),
h' = (1 - z) n + z h. Gate blocks are stored side by side in the order r, z, n.
"""

from __future__ import annotations

import numpy as np

from learning.nets.dense import orthogonal


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


class GRUCore:
    def __init__(self, inputs: int, hidden: int, rng: np.random.Generator, dtype):
        self.hidden = hidden
        self.dtype = dtype
        self.params = {
            "Wx": orthogonal(rng, inputs, 3 * hidden, dtype), "bx": np.zeros(3 * hidden, dtype),
            "Wh": orthogonal(rng, hidden, 3 * hidden, dtype), "bh": np.zeros(3 * hidden, dtype),
        }
        self.features = hidden

    def initial_state(self, batch: int):
        return np.zeros((batch, self.hidden), self.dtype)

    def step(self, u: np.ndarray, h: np.ndarray):
        p, H = self.params, self.hidden
        gx = u @ p["Wx"] + p["bx"]
        gh = h @ p["Wh"] + p["bh"]
        rz = sigmoid(gx[:, :2 * H] + gh[:, :2 * H])
        r, z = rz[:, :H], rz[:, H:]
        n = np.tanh(gx[:, 2 * H:] + r * gh[:, 2 * H:])
        h_next = n + z * (h - n)
        return h_next, h_next, {"u": u, "h": h, "r": r, "z": z, "n": n, "ghn": gh[:, 2 * H:]}

    def backward(self, caches: list[dict], dh_out: np.ndarray):
        """dh_out: (T, B, H) gradient of the outputs from the head. Returns (grads, d inputs)."""
        p, H = self.params, self.hidden
        steps, batch = dh_out.shape[:2]
        dgx = np.empty((steps, batch, 3 * H), dh_out.dtype)
        dgh = np.empty_like(dgx)
        carry = np.zeros((batch, H), dh_out.dtype)
        WhT = p["Wh"].T
        for t in range(steps - 1, -1, -1):
            c = caches[t]
            r, z, n = c["r"], c["z"], c["n"]
            dh = dh_out[t] + carry
            dan = dh * (1.0 - z) * (1.0 - n * n)
            daz = dh * (c["h"] - n) * z * (1.0 - z)
            dar = dan * c["ghn"] * r * (1.0 - r)
            dgx[t, :, :H], dgx[t, :, H:2 * H], dgx[t, :, 2 * H:] = dar, daz, dan
            dgh[t, :, :2 * H] = dgx[t, :, :2 * H]
            dgh[t, :, 2 * H:] = dan * r
            carry = dh * z + dgh[t] @ WhT
        U = np.concatenate([c["u"] for c in caches])
        Hp = np.concatenate([c["h"] for c in caches])
        dgx = dgx.reshape(steps * batch, -1)
        dgh = dgh.reshape(steps * batch, -1)
        grads = {"Wx": U.T @ dgx, "bx": dgx.sum(0), "Wh": Hp.T @ dgh, "bh": dgh.sum(0)}
        return grads, dgx @ p["Wx"].T
