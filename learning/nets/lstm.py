"""LSTM core with backpropagation through time (the gates of torch.nn.LSTM, order i, f, g, o).

c' = f c + i g, h' = o tanh(c'); the state is (h, c) and the features passed on are h.
"""

from __future__ import annotations

import numpy as np

from learning.nets.dense import orthogonal
from learning.nets.gru import sigmoid


class LSTMCore:
    def __init__(self, inputs: int, hidden: int, rng: np.random.Generator, dtype):
        self.hidden = hidden
        self.dtype = dtype
        self.params = {
            "Wx": orthogonal(rng, inputs, 4 * hidden, dtype), "bx": np.zeros(4 * hidden, dtype),
            "Wh": orthogonal(rng, hidden, 4 * hidden, dtype), "bh": np.zeros(4 * hidden, dtype),
        }
        self.features = hidden

    def initial_state(self, batch: int):
        zeros = np.zeros((batch, self.hidden), self.dtype)
        return zeros, zeros.copy()

    def step(self, u: np.ndarray, state):
        p, H = self.params, self.hidden
        h, c = state
        a = u @ p["Wx"] + p["bx"] + h @ p["Wh"] + p["bh"]
        gates = np.empty_like(a)
        gates[:, :2 * H] = sigmoid(a[:, :2 * H])
        gates[:, 2 * H:3 * H] = np.tanh(a[:, 2 * H:3 * H])
        gates[:, 3 * H:] = sigmoid(a[:, 3 * H:])
        i, f, g, o = (gates[:, k * H:(k + 1) * H] for k in range(4))
        c_next = f * c + i * g
        tc = np.tanh(c_next)
        h_next = o * tc
        return h_next, (h_next, c_next), {"u": u, "h": h, "c": c, "gates": gates, "tc": tc}

    def backward(self, caches: list[dict], dh_out: np.ndarray):
        """dh_out: (T, B, H) gradient of the outputs from the head. Returns (grads, d inputs)."""
        p, H = self.params, self.hidden
        steps, batch = dh_out.shape[:2]
        da = np.empty((steps, batch, 4 * H), dh_out.dtype)
        carry_h = np.zeros((batch, H), dh_out.dtype)
        carry_c = np.zeros_like(carry_h)
        WhT = p["Wh"].T
        for t in range(steps - 1, -1, -1):
            cache = caches[t]
            i, f, g, o = (cache["gates"][:, k * H:(k + 1) * H] for k in range(4))
            tc = cache["tc"]
            dh = dh_out[t] + carry_h
            dc = carry_c + dh * o * (1.0 - tc * tc)
            da[t, :, :H] = dc * g * i * (1.0 - i)
            da[t, :, H:2 * H] = dc * cache["c"] * f * (1.0 - f)
            da[t, :, 2 * H:3 * H] = dc * i * (1.0 - g * g)
            da[t, :, 3 * H:] = dh * tc * o * (1.0 - o)
            carry_c = dc * f
            carry_h = da[t] @ WhT
        U = np.concatenate([c["u"] for c in caches])
        Hp = np.concatenate([c["h"] for c in caches])
        da = da.reshape(steps * batch, -1)
        db = da.sum(0)
        grads = {"Wx": U.T @ da, "bx": db, "Wh": Hp.T @ da, "bh": db.copy()}
        return grads, da @ p["Wx"].T
