"""REINFORCE on Monte Carlo returns for batches of full episodes (docs/experiments.md E3).

Arrays are (T, B): time step by episode; `valid` marks the steps an episode actually took
(it is False after the episode ended). Losses are means over the valid steps, as the authors'.
"""

from __future__ import annotations

import numpy as np

GAMMA = 0.95
ENTROPY_COEF = 0.01
MAX_GRAD_NORM = 0.5
NORM_EPS = 1e-8


def discounted_returns(rewards: np.ndarray, valid: np.ndarray, gamma: float = GAMMA) -> np.ndarray:
    """G_t = r_t + gamma G_{t+1} within each episode; 0 on steps after it ended."""
    returns = np.zeros(rewards.shape)
    running = np.zeros(rewards.shape[1])
    for t in range(rewards.shape[0] - 1, -1, -1):
        running = np.where(valid[t], rewards[t] + gamma * running, 0.0)
        returns[t] = running
    return returns


def normalise(returns: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Standardise the valid returns of the batch (population std); 0 elsewhere."""
    v = returns[valid]
    out = np.zeros(returns.shape)
    out[valid] = (v - v.mean()) / (v.std() + NORM_EPS)
    return out


def log_softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def policy_gradient(logits: np.ndarray, actions: np.ndarray, advantages: np.ndarray, valid: np.ndarray,
                    entropy_coef: float = ENTROPY_COEF):
    """Loss -mean(A log pi(a)) - c mean(H(pi)) over valid steps, and its gradient in the logits.

    Returns (dlogits with the logits' shape and dtype, {"policy_loss", "entropy"}).
    """
    logp = log_softmax(logits.astype(np.float64))
    p = np.exp(logp)
    count = max(int(valid.sum()), 1)
    w = valid / count
    taken = np.take_along_axis(logp, actions[..., None], axis=-1)[..., 0]
    entropy = -(p * logp).sum(axis=-1)
    onehot = np.zeros_like(p)
    np.put_along_axis(onehot, actions[..., None], 1.0, axis=-1)
    # d(-A log p_a)/dz = -A (onehot - p);  d(-c H)/dz = c p (log p + H)
    dz = (-advantages[..., None] * (onehot - p) + entropy_coef * p * (logp + entropy[..., None])) * w[..., None]
    stats = {"policy_loss": float(-(w * advantages * taken).sum()), "entropy": float((w * entropy).sum())}
    return dz.astype(logits.dtype), stats


def clip_by_global_norm(grads: dict, max_norm: float = MAX_GRAD_NORM) -> float:
    """Scale all gradients in place so their joint norm is at most max_norm; return the norm before."""
    norm = float(np.sqrt(sum(float(np.vdot(g, g)) for g in grads.values())))
    scale = max_norm / (norm + 1e-6)
    if scale < 1.0:
        for g in grads.values():
            g *= scale
    return norm
