"""The bandit's softmax policy pieces: action sampling, noisy rewards, REINFORCE feedback.

The policy loss of a batch is -(1/B) sum_i R_i log pi(a_i | x_i) (REINFORCE, no baseline); its
gradient at the logits is the sampled feedback -(1/B) R_i (e_{a_i} - pi_i). Its expectation over
the action and the reward noise is -(1/B) pi_i * (q_i - pi_i . q_i), q_ia the expected reward.
"""

from __future__ import annotations

import numpy as np


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row softmax, in float64."""
    z = logits.astype(np.float64)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def sample_actions(pi: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One action per row of pi, by inverting the cumulative distribution with a uniform."""
    u = rng.random(pi.shape[0])
    a = (np.cumsum(pi, axis=1) < u[:, None]).sum(axis=1)
    return np.minimum(a, pi.shape[1] - 1)


def noisy_rewards(actions: np.ndarray, labels: np.ndarray, p_flip: float, rng: np.random.Generator) -> np.ndarray:
    """1[a = y], flipped to 1 - r with probability p_flip."""
    r = (actions == labels).astype(np.float64)
    flip = rng.random(r.shape[0]) < p_flip
    return np.where(flip, 1.0 - r, r)


def reinforce_feedback(pi: np.ndarray, actions: np.ndarray, rewards: np.ndarray) -> np.ndarray:
    """-(1/B) R_i (e_{a_i} - pi_i): the gradient of the batch's REINFORCE loss at the logits."""
    B = pi.shape[0]
    onehot = np.zeros_like(pi)
    onehot[np.arange(B), actions] = 1.0
    return -(rewards[:, None] * (onehot - pi)) / B


def expected_feedback(pi: np.ndarray, labels: np.ndarray, p_flip: float) -> np.ndarray:
    """E[reinforce_feedback] over the action and the reward noise: -(1/B) pi * (q - pi . q)."""
    B = pi.shape[0]
    q = np.full_like(pi, p_flip)
    q[np.arange(B), labels] = 1.0 - p_flip
    return -(pi * (q - np.sum(pi * q, axis=1, keepdims=True))) / B
