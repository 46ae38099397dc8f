"""REINFORCE pieces on episodes small enough to compute by hand."""

import math

import numpy as np

from learning.rl.reinforce import clip_by_global_norm, discounted_returns, normalise, policy_gradient

# two episodes: the first 3 steps long, the second 2 (then finished)
REWARDS = np.array([[-0.1, -0.1], [-0.1, 1.0], [1.0, 0.0]])
VALID = np.array([[True, True], [True, True], [True, False]])


def test_returns_by_hand():
    """gamma applied per step and reset between episodes; nothing after an episode's end
    (catches a missing discount, a reversed scan, or reward leaking past the end)."""
    g = 0.5
    returns = discounted_returns(REWARDS, VALID, g)
    assert returns[2, 0] == 1.0 and returns[2, 1] == 0.0
    assert math.isclose(returns[1, 0], -0.1 + 0.5 * 1.0)
    assert math.isclose(returns[0, 0], -0.1 + 0.5 * (-0.1) + 0.25 * 1.0)
    assert math.isclose(returns[1, 1], 1.0)
    assert math.isclose(returns[0, 1], -0.1 + 0.5)


def test_normalisation_uses_valid_steps_only():
    """Mean 0 and population std 1 over the 5 valid steps; invalid steps stay 0
    (catches statistics that include the padding, or the n - 1 std)."""
    returns = discounted_returns(REWARDS, VALID, 0.5)
    z = normalise(returns, VALID)
    v = np.array([0.1, 0.4, 0.4, 1.0, 1.0])  # the valid returns by hand, row by row
    mean = 2.9 / 5
    std = math.sqrt(((v - mean) ** 2).sum() / 5)
    assert np.allclose(z[VALID], (v - mean) / std, atol=1e-7)
    assert z[2, 1] == 0.0


def test_policy_gradient_by_hand():
    """One valid step with logits (0, log 3) on 2 actions: p = (1/4, 3/4), action 1, advantage 2.
    d(-A log p_1)/dz = -A (e_1 - p) = (1/2, -1/2); entropy H = -(1/4 log 1/4 + 3/4 log 3/4),
    d(-c H)/dz_j = c p_j (log p_j + H). The second (invalid) step contributes nothing."""
    logits = np.array([[[0.0, math.log(3.0)]], [[5.0, -5.0]]])
    actions = np.array([[1], [0]])
    adv = np.array([[2.0], [7.0]])
    valid = np.array([[True], [False]])
    c = 0.1
    dz, stats = policy_gradient(logits, actions, adv, valid, entropy_coef=c)
    p = np.array([0.25, 0.75])
    H = -(p * np.log(p)).sum()
    expected = np.array([0.5, -0.5]) + c * p * (np.log(p) + H)
    assert np.allclose(dz[0, 0], expected, atol=1e-12)
    assert np.all(dz[1] == 0.0)
    assert math.isclose(stats["policy_loss"], -2.0 * math.log(0.75))
    assert math.isclose(stats["entropy"], H)


def test_policy_gradient_is_the_loss_gradient():
    """Finite differences of the loss over several steps: the mean over valid steps is in the
    gradient (catches dividing by all T * B steps instead of the valid ones)."""
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4, 3, 4))
    actions = rng.integers(0, 4, size=(4, 3))
    adv = rng.normal(size=(4, 3))
    valid = np.ones((4, 3), bool)
    valid[2:, 1] = False
    valid[3, 2] = False
    dz, _ = policy_gradient(logits, actions, adv, valid)

    def loss(z):
        _, s = policy_gradient(z, actions, adv, valid)
        return s["policy_loss"] - 0.01 * s["entropy"]

    eps = 1e-6
    for idx in [(0, 0, 1), (1, 1, 3), (3, 0, 2), (2, 2, 0)]:
        up, down = logits.copy(), logits.copy()
        up[idx] += eps
        down[idx] -= eps
        assert math.isclose(dz[idx], (loss(up) - loss(down)) / (2 * eps), rel_tol=1e-6, abs_tol=1e-9)


def test_clip_by_global_norm():
    """Norm over all parameters jointly, scaled to 0.5; small gradients untouched."""
    grads = {"a": np.array([3.0, 0.0]), "b": np.array([[4.0]])}
    norm = clip_by_global_norm(grads, 0.5)
    assert norm == 5.0
    assert math.isclose(np.sqrt(grads["a"] @ grads["a"] + grads["b"][0, 0] ** 2), 0.5, rel_tol=1e-6)
    assert math.isclose(grads["a"][0] / grads["b"][0, 0], 0.75)
    small = {"a": np.array([0.1, 0.2])}
    clip_by_global_norm(small, 0.5)
    assert np.array_equal(small["a"], [0.1, 0.2])
