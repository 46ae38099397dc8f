"""BPTT mixed with synthetic gradients at every time step, for the recurrent SparseNet (E3).

At each time step t, going backward, the feedback that reached the state h_t (from the actor at t
and from step t + 1) is replaced by the mixture lambda g_t + (1 - lambda) shat_t before it goes on
into the neurons and back to step t - 1; shat_t is each neuron's SG from its local information
(its input at t: recurrent parents and, for input neurons, the embedding), with the policy's
routing weights. lambda = 1 everywhere gives BPTT exactly. As in the authors' code:
- the SG is fitted to the mixed feedback (mean squared error over valid steps, its own Adam at
  learning rate 1e-5, clipped at norm 0.5) and starts at zero;
- lambda is per neuron, adaptive (the bandit's plug-in over all valid (t, episode) samples, each
  signal scaled to a unit vector first, momentum 0.9), starting at 1.0; the value used in an
  update is the one from before it;
- at earlier time steps lambda is raised toward 1 by the temporal schedule below.
Steps after an episode has ended carry no feedback, mixed or not.
"""

from __future__ import annotations

import numpy as np

from learning.nets.adam import Adam
from learning.nets import kernels
from learning.nets.mixing import TINY_NORM, lambda_from_moments, routed_moments_from_sums
from learning.rl.reinforce import MAX_GRAD_NORM, clip_by_global_norm
from learning.nets.synthetic import SyntheticGradients

SG_LR = 1e-5
LAMBDA_INITIAL = 1.0
LAMBDA_MOMENTUM = 0.9
SCHEDULE_RATE = 0.1  # how fast lambda rises toward 1 going back in time
NEURON_CHUNK = 4  # neurons per block of the plug-in: their feedback over all samples stays in cache


def child_counts(parents: np.ndarray, width: int) -> np.ndarray:
    """(width, width): entry [p, c] = how many of neuron c's parent slots hold neuron p."""
    counts = np.zeros((width, width))
    np.add.at(counts, (parents.reshape(-1), np.repeat(np.arange(len(parents)), parents.shape[1])), 1.0)
    return counts


def temporal_schedule(lam: np.ndarray, counts: np.ndarray, steps: int) -> np.ndarray:
    """(steps, width) lambda per time step: the last step uses lam; one step earlier each neuron's
    lambda rises by SCHEDULE_RATE times the mean (1 - lambda) of its children one step later
    (capped at 1), so that the SG share of the feedback stays even across time (the authors' rule)."""
    out = np.empty((steps, len(lam)))
    out[-1] = lam
    totals = counts.sum(axis=1)
    for t in range(steps - 2, -1, -1):
        deficit = counts @ (1.0 - out[t + 1]) / np.maximum(totals, 1.0)
        out[t] = np.minimum(out[t + 1] + SCHEDULE_RATE * deficit, 1.0)
    return out


class RecurrentSG:
    """The SG predictors of a RecurrentSparseCore's two routed layers, their optimiser, and lambda."""

    def __init__(self, core, sg_lr: float = SG_LR, initial: float = LAMBDA_INITIAL,
                 momentum: float = LAMBDA_MOMENTUM, adaptive: bool = True):
        self.core = core
        maps = [np.zeros((l.width, l.slots * l.out_dim, l.in_dim), core.dtype) for l in core.layers]
        bias = [np.zeros((l.width, l.slots, l.out_dim), core.dtype) for l in core.layers]
        self.sg = SyntheticGradients(maps, bias)
        self.opt = Adam(self.sg.params(), sg_lr)
        self.lam = np.full(core.width, float(initial))
        self.momentum = float(momentum)
        self.adaptive = adaptive
        self.counts = child_counts(core.parents, core.width)

    def backward(self, policy, trace: list, dlogits: np.ndarray, valid: np.ndarray):
        """The policy's gradients with SG mixing; then one SG update and one lambda update.

        Returns (policy gradients, {"sg_loss", "lambda_mean"}).
        """
        core = self.core
        steps, batch = valid.shape
        caches = [c[1] for c in trace]
        # each layer's inputs, routing weights and slot outputs over all steps: (width, T * B, ...)
        joined = [(x,) + tuple(np.concatenate([c[i][j] for c in caches], axis=1) for j in (1, 2))
                  for i, x in enumerate(core.joined_inputs(caches))]
        shat = np.concatenate([self.sg.predict(i, joined[i]) for i in range(2)])
        shat = shat.reshape(core.width, steps, batch, core.size).transpose(1, 0, 2, 3)
        lam = temporal_schedule(self.lam, self.counts, steps).astype(core.dtype)
        g_true = np.empty_like(shat)
        mixed = np.empty_like(shat)
        keep = valid.astype(core.dtype)

        def mix(t, g):
            g_true[t] = g
            lt = lam[t][:, None, None]
            mixed[t] = (lt * g + (1.0 - lt) * shat[t]) * keep[t][None, :, None]
            return mixed[t]

        grads = policy.backward(trace, dlogits, mix=mix, inputs=[j[0] for j in joined])
        stats = {"sg_loss": self._fit(joined, shat, mixed, valid)}
        if self.adaptive:
            self._update_lambda(joined, g_true, shat, valid)
        stats["lambda_mean"] = float(self.lam.mean())
        return grads, stats

    def _split(self, a: np.ndarray) -> list:
        """(T, width, B, n) -> per layer (layer width, T * B, n), the joined layout."""
        steps, width, batch, n = a.shape
        flat = a.transpose(1, 0, 2, 3).reshape(width, steps * batch, n)
        return [flat[:self.core.n_in], flat[self.core.n_in:]]

    def _fit(self, joined, shat, mixed, valid) -> float:
        err = (shat - mixed) * valid[:, None, :, None]
        count = max(int(valid.sum()), 1) * self.core.width * self.core.size
        grads = []
        for i, e in enumerate(self._split(err)):
            grads += self.sg.grads(i, joined[i], e * (2.0 / count))
        clip_by_global_norm(dict(enumerate(grads)), MAX_GRAD_NORM)
        self.opt.step(grads)
        return float(np.sum(err.astype(np.float64) ** 2) / count)

    def _update_lambda(self, joined, g_true, shat, valid) -> None:
        """the bandit's plug-in lambda per neuron over the valid (t, episode) samples, then momentum.

        the bandit's fused kernel gives each sample's unit-scaled BP and SG slot feedbacks and the
        per-sample terms; a product per block of neurons gives the batch sums."""
        count = int(valid.sum())
        if count < 2:
            return
        # steps after an episode's end take part with zero BP and SG feedback, so they add nothing
        # to the sums; the per-sample means are rescaled to the valid samples
        keep = valid.reshape(-1)[None, :, None]
        rescale = keep.size / count
        moments = []
        for layer, (x, route, y), g, s in zip(self.core.layers, joined, self._split(g_true), self._split(shat)):
            K = layer.weights.shape[1]
            one = x.dtype.type(1)
            W, B, n = g.shape
            g, s = np.ascontiguousarray(g), np.ascontiguousarray(s * keep)
            chunk = min(NEURON_CHUNK, W)
            GT, m = np.empty((chunk, 3 * K, B), x.dtype), np.empty((chunk, B, n), x.dtype)
            S, bias_sums = np.empty((W, 2 * K, x.shape[2]), x.dtype), np.empty((W, 3, K - layer.slots))
            uu, wu = np.empty((W, B)), np.empty((W, B))
            lam, scale, tiny = np.ones(chunk, x.dtype), x.dtype.type(layer.scale), x.dtype.type(TINY_NORM)
            for a in range(0, W, chunk):
                # a few neurons at a time: their feedback blocks (3K x all samples) are still in cache
                # when the product reads them
                c, k = slice(a, min(a + chunk, W)), min(a + chunk, W) - a
                kernels.adaptive_feedback(g[c], s[c], lam[:k], _NO_TANH, False, route[c], y[c], scale, x[c], tiny,
                                          one, m[:k], GT[:k], bias_sums[c], uu[c], wu[c])
                np.matmul(GT[:k, K:], x[c], out=S[c])  # (k, 2K, in): BP's and U's sums
            moments.append(routed_moments_from_sums(S, 0, bias_sums, uu * rescale, wu * rescale, count))
        v, c, b2 = (np.concatenate(m) for m in zip(*moments))
        batch_lam = lambda_from_moments(v, c, b2, self.lam)
        self.lam = self.momentum * self.lam + (1.0 - self.momentum) * batch_lam


_NO_TANH = np.zeros((0, 0, 0), dtype=np.float32)
