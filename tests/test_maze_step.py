"""The compiled labyrinth step against POPGym's own step (the oracle), exactly.

For both environments, batches of mazes from many seeds are reset by POPGym, then stepped with long
sequences of uniformly random actions (walls and edges included) until every episode has ended, once
by POPGym's `step` one environment at a time (PopgymBatch) and once by the compiled batch
(LabyrinthBatch), each with its own copy of the same generator. Observations, rewards, terminations
and truncations must be equal, number for number, and the generators must end in the same state
(Explore's reward replacement draws the same uniforms).
"""

import numpy as np
import pytest

from learning.rl.labyrinth import LabyrinthBatch, PopgymBatch

MIN_STEPS = 10_000


@pytest.mark.parametrize("env", ["escape", "explore"])
def test_the_compiled_step_is_popgyms_step(env):
    steps, resets, episodes, ends = 0, 0, 0, {"terminated": 0, "truncated": 0}
    walls = 0
    seed = 0
    while steps < MIN_STEPS:
        oracle = PopgymBatch(env, 8, np.random.default_rng(seed))
        fast = LabyrinthBatch(env, 8, np.random.default_rng(seed))
        actions_rng = np.random.default_rng(1000 + seed)
        for _ in range(3):  # several resets of the same batch: the arrays are taken anew each time
            a_obs, b_obs = oracle.reset(), fast.reset()
            resets += 1
            np.testing.assert_array_equal(a_obs, b_obs)
            active = np.ones(8, bool)
            while active.any():
                actions = actions_rng.integers(0, 4, size=8)
                before = [e.position for e in oracle.envs]
                a_obs, a_r, a_done, a_win = oracle.step(actions, active)
                b_obs, b_r, b_done, b_win = fast.step(actions, active)
                walls += sum(before[i] == oracle.envs[i].position for i in np.flatnonzero(active))
                np.testing.assert_array_equal(a_obs, b_obs)
                assert a_r.tolist() == b_r.tolist()  # exactly, float for float
                np.testing.assert_array_equal(a_done, b_done)
                np.testing.assert_array_equal(a_win, b_win)
                steps += int(active.sum())
                ends["terminated"] += int(a_win.sum())
                ends["truncated"] += int((a_done & ~a_win).sum())
                episodes += int(a_done.sum())
                active &= ~a_done
        assert oracle.rng.bit_generator.state == fast.rng.bit_generator.state
        seed += 1
    # the sequences reached both ends of an episode and bumped into walls
    assert steps >= MIN_STEPS and episodes == 8 * resets
    assert ends["truncated"] > 0 and walls > 100
    if env == "escape":
        assert ends["terminated"] > 0  # random walks do find Escape's exit (about 16% of episodes)


def test_a_stuck_agent_and_the_view_at_the_edge():
    """Hand-checked: Escape's agent starts on the left border (POPGym's start_outer), so its view is
    cut at the edge and padded on the right; moving left into the border keeps it in place."""
    fast = LabyrinthBatch("escape", 1, np.random.default_rng(3))
    fast.reset()
    y, x = fast.state["pos"][0]
    grid = fast.state["grid"][0]
    # find a move into an obstacle from the start and take it
    moves = {0: (y, x - 1), 1: (y, x + 1), 2: (y - 1, x), 3: (y + 1, x)}
    blocked = [a for a, (ny, nx) in moves.items()
               if not (0 <= ny < 7 and 0 <= nx < 7) or grid[ny, nx] == 1]
    assert blocked
    _, r, done, _ = fast.step(np.array([blocked[0]]), np.array([True]))
    assert tuple(fast.state["pos"][0]) == (y, x) and r[0] == -1 / 80 and not done[0]
    raw = fast.last_raw[0]
    y0, x0 = max(y - 1, 0), max(x - 1, 0)
    view = np.ones((3, 3), dtype=np.int64)
    part = grid[y0:min(y + 2, 7), x0:min(x + 2, 7)]
    view[:part.shape[0], :part.shape[1]] = part
    assert raw[:9].tolist() == view.ravel().tolist() and raw[9] == blocked[0]
