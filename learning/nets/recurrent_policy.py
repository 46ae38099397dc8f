"""A recurrent policy: observation embedding -> recurrent core -> actor head, with BPTT.

Acting runs `step` one time step at a time and keeps each step's caches (the trace). The
parameters do not change between acting and the update (one update per batch of episodes), so
the update runs the backward through that trace without a second forward pass.
"""

from __future__ import annotations

from contextlib import nullcontext

import numpy as np


def stack_caches(caches: list[dict]) -> dict:
    """Per-step caches of (B, ...) arrays -> one cache of (T * B, ...) arrays."""
    return {k: np.concatenate([c[k] for c in caches]) for k in caches[0]}


class RecurrentPolicy:
    """params: flat dict 'part.name' -> array (the same arrays the parts use)."""

    def __init__(self, embedding, core, head):
        self.parts = {"embed": embedding, "core": core, "head": head}
        self.params = {f"{part}.{k}": v for part, obj in self.parts.items() for k, v in obj.params.items()}

    def acting(self, steps: int | None = None):
        """A context for a rollout (parameters fixed) of at most `steps` steps: the core's, where it
        has one."""
        core = self.parts["core"]
        return core.acting(steps) if hasattr(core, "acting") else nullcontext()

    def initial_state(self, batch: int):
        return self.parts["core"].initial_state(batch)

    def step(self, x: np.ndarray, state):
        """x: (B, obs) -> logits (B, actions), next state, this step's caches."""
        u, ce = self.parts["embed"].forward(x)
        h, state, cc = self.parts["core"].step(u, state)
        z, ch = self.parts["head"].forward(h)
        return z, state, (ce, cc, ch)

    def forward(self, xs: np.ndarray):
        """xs: (T, B, obs) -> logits (T, B, actions) and the trace."""
        state = self.initial_state(xs.shape[1])
        logits, trace = [], []
        for x in xs:
            z, state, caches = self.step(x, state)
            logits.append(z)
            trace.append(caches)
        return np.stack(logits), trace

    def backward(self, trace: list, dlogits: np.ndarray, **core_options) -> dict:
        """Gradients of sum(dlogits * logits) through time; core_options go to the core."""
        steps, batch = dlogits.shape[:2]
        embed, core, head = self.parts["embed"], self.parts["core"], self.parts["head"]
        g_head, dh = head.backward(stack_caches([c[2] for c in trace]), dlogits.reshape(steps * batch, -1))
        g_core, du = core.backward([c[1] for c in trace], dh.reshape(steps, batch, -1), **core_options)
        g_embed = embed.backward(stack_caches([c[0] for c in trace]), du.reshape(steps * batch, -1))
        grads = {}
        for part, g in (("embed", g_embed), ("core", g_core), ("head", g_head)):
            grads.update({f"{part}.{k}": v for k, v in g.items()})
        return grads
