"""Per-neuron mixing weight lambda of BP against SG: the authors' adaptive plug-in (docs/theory.md T8).

For one neuron, a sample i contributes w_i (its BP gradient of the neuron's parameters) and
what_i (its SG gradient); u_i = what_i - w_i. Over a batch of B samples:
    v  = Var(ubar) estimate  = (mean_i ||u_i||^2 - ||ubar||^2) / (B - 1), at least 0
    c  = Cov(wbar, ubar) est = (mean_i <w_i, u_i> - <wbar, ubar>) / (B - 1)
    b2 = max(||ubar||^2 - v, 0)
    lambda_batch = clip(1 + c / (v + b2), 0, 1)     (kept at its old value when v + b2 <= 1e-6)
and lambda <- momentum * lambda + (1 - momentum) * lambda_batch. In population moments this is
T7's lambda* (theory/symbolic/mixture.py t8_plugin). As the authors do, each per-sample feedback
(BP's and SG's, at the neuron's routed output) is first scaled to a unit vector.

For a routed neuron the per-sample gradient is (G_i (x) x_i, G_i[:slots*n]) with G_i the slot
feedback (learning.nets.routed): outer product for the weights, the slot-map part for the bias. So the
norms and inner products above need only |x_i|^2, row products of G and one batched product
G^T x; no per-sample gradient is ever formed.
"""

from __future__ import annotations

import numpy as np

from learning.nets.kernels import plugin_batch_sums

EPS_DENOMINATOR = 1e-6
TINY_NORM = 1e-12


def plugin_from_samples(w: np.ndarray, what: np.ndarray) -> tuple[float, float, float]:
    """(v, c, b2) from explicit per-sample gradient vectors w, what of shape (B, d): the definition."""
    w = np.asarray(w, dtype=np.float64)
    u = np.asarray(what, dtype=np.float64) - w
    B = w.shape[0]
    wbar, ubar = w.mean(axis=0), u.mean(axis=0)
    ubar2 = float(ubar @ ubar)
    v = max((float(np.mean(np.sum(u * u, axis=1))) - ubar2) / (B - 1), 0.0)
    c = (float(np.mean(np.sum(w * u, axis=1))) - float(wbar @ ubar)) / (B - 1)
    return v, c, max(ubar2 - v, 0.0)


def lambda_from_moments(v, c, b2, previous):
    """clip(1 + c / (v + b2), 0, 1), or `previous` where v + b2 is too small to divide by."""
    v, c, b2 = np.asarray(v, np.float64), np.asarray(c, np.float64), np.asarray(b2, np.float64)
    den = v + b2
    ok = den > EPS_DENOMINATOR
    raw = 1.0 + c / np.where(ok, den, 1.0)
    return np.where(ok, np.clip(raw, 0.0, 1.0), previous)


def unit_rows(v: np.ndarray) -> np.ndarray:
    """Each (neuron, sample) feedback vector scaled to unit length (zero vectors stay zero)."""
    norm = np.sqrt(np.sum(v * v, axis=-1, keepdims=True))
    return v / np.maximum(norm, TINY_NORM)


def routed_plugin_moments(G_bp: np.ndarray, G_sg: np.ndarray, x: np.ndarray, n_map: int):
    """Per-neuron (v, c, b2), each (width,), for a routed layer.

    G_bp, G_sg (width, batch, K): slot feedbacks of BP's and SG's per-sample signals; x (width,
    batch, in_dim): the layer input; n_map: the number of slot-map rows (the bias part of G).
    """
    B = x.shape[1]
    K = G_bp.shape[2]
    U = G_sg - G_bp
    xx = np.einsum("wbd,wbd->wb", x, x, dtype=np.float64)
    Um, Gm = U[:, :, :n_map], G_bp[:, :, :n_map]
    uu = np.einsum("wbk,wbk->wb", U, U, dtype=np.float64) * xx + np.einsum("wbk,wbk->wb", Um, Um, dtype=np.float64)
    wu = np.einsum("wbk,wbk->wb", G_bp, U, dtype=np.float64) * xx + np.einsum("wbk,wbk->wb", Gm, Um, dtype=np.float64)
    S = np.matmul(np.concatenate([G_bp, U], axis=2).transpose(0, 2, 1), x)  # (width, 2K, in_dim)
    Sw, Su = S[:, :K], S[:, K:]
    bw, bu = Gm.sum(axis=1, dtype=np.float64), Um.sum(axis=1, dtype=np.float64)
    ubar2 = (np.einsum("wkd,wkd->w", Su, Su, dtype=np.float64) + np.einsum("wk,wk->w", bu, bu)) / B**2
    wubar = (np.einsum("wkd,wkd->w", Sw, Su, dtype=np.float64) + np.einsum("wk,wk->w", bw, bu)) / B**2
    v = np.maximum((uu.mean(axis=1) - ubar2) / (B - 1), 0.0)
    c = (wu.mean(axis=1) - wubar) / (B - 1)
    return v, c, np.maximum(ubar2 - v, 0.0)


def routed_moments_from_sums(S, lo: int, bias_sums, uu, wu, B: int):
    """Per-neuron (v, c, b2) from batch sums: S[:, lo:lo+K] = sum_i G_bp,i x_i^T and S[:, lo+K:lo+2K] =
    sum_i U_i x_i^T (width, ., in_dim); bias_sums[:, 1], bias_sums[:, 2] (width, slots*n) their slot-map
    (bias) parts summed over the batch; uu, wu (width, B) the per-sample terms."""
    su2, swu = plugin_batch_sums(S, lo, bias_sums)
    ubar2, wubar = su2 / B**2, swu / B**2
    v = np.maximum((uu.mean(axis=1) - ubar2) / (B - 1), 0.0)
    c = (wu.mean(axis=1) - wubar) / (B - 1)
    return v, c, np.maximum(ubar2 - v, 0.0)


class LayerLambdas:
    """lambda per layer and neuron: adaptive (plug-in with momentum) or fixed."""

    def __init__(self, layers: int, width: int, initial: float, momentum: float, adaptive: bool, dtype=np.float32):
        self.values = np.full((layers, width), initial, dtype=dtype)
        self.momentum = float(momentum)
        self.adaptive = bool(adaptive)

    def update(self, l: int, v, c, b2) -> None:
        batch = lambda_from_moments(v, c, b2, self.values[l])
        self.values[l] = (self.momentum * self.values[l] + (1.0 - self.momentum) * batch).astype(self.values.dtype)

    def layer_means(self) -> list[float]:
        return [float(x) for x in self.values.mean(axis=1)]
