"""POPGym's labyrinths as the experiment uses them: seeding, observations, rewards, success."""

import random
import warnings

import numpy as np
import pytest

from learning.rl.labyrinth import EPISODE_LENGTH, LabyrinthBatch, PopgymBatch, make_env

MOVES = {0: (0, -1), 1: (0, 1), 2: (-1, 0), 3: (1, 0)}  # POPGym's left, right, up, down


def run(name, seed, actions_seed, steps=30, num_envs=4):
    batch = LabyrinthBatch(name, num_envs, np.random.default_rng(seed))
    obs = [batch.reset()]
    rewards = []
    act_rng = np.random.default_rng(actions_seed)
    active = np.ones(num_envs, bool)
    for _ in range(steps):
        o, r, done, _ = batch.step(act_rng.integers(0, 4, num_envs), active)
        active &= ~done
        obs.append(o)
        rewards.append(r)
    return np.array(obs), np.array(rewards)


def test_same_seed_same_episodes_whatever_the_global_generators():
    """POPGym draws mazes from the global generators: the run's own seed must fix them anyway."""
    np.random.seed(1)
    random.seed(1)
    a = run("explore", 5, 0)
    np.random.seed(2)
    random.seed(2)
    b = run("explore", 5, 0)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    c = run("explore", 6, 0)
    assert not np.array_equal(a[0][0], c[0][0])  # another seed, other mazes


def test_reset_leaves_the_global_generators_alone():
    random.seed(7)
    np.random.seed(7)
    expected = (random.random(), np.random.random())
    random.seed(7)
    np.random.seed(7)
    LabyrinthBatch("escape", 3, np.random.default_rng(0)).reset()
    assert (random.random(), np.random.random()) == expected


def test_observation_is_one_hot_of_view_and_previous_action():
    batch = LabyrinthBatch("escape", 2, np.random.default_rng(3))
    obs = batch.reset()
    assert obs.shape == (2, 50) and obs.dtype == np.float32
    assert np.array_equal(obs.reshape(2, 10, 5).sum(-1), np.ones((2, 10)))
    assert np.all(obs.reshape(2, 10, 5)[:, 9, 4] == 1.0)  # no previous action at the start
    assert np.all(obs.reshape(2, 10, 5)[:, 4, 2] == 1.0)  # the agent stands on the start cell
    obs, *_ = batch.step(np.array([2, 3]), np.ones(2, bool))
    assert obs.reshape(2, 10, 5)[0, 9, 2] == 1.0 and obs.reshape(2, 10, 5)[1, 9, 3] == 1.0


def test_constructing_the_environment_raises_no_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make_env("escape")


def path(grid, start, goals, tour=False):
    """Actions of a shortest path from start to a goal cell, or of a depth-first tour of all free
    cells (tour=True) on POPGym's grid (1 = wall)."""
    free = {(y, x) for y, x in zip(*np.nonzero(grid != 1))}
    if tour:
        actions, seen = [], {start}

        def visit(cell):
            for a, (dy, dx) in MOVES.items():
                nxt = (cell[0] + dy, cell[1] + dx)
                if nxt in free and nxt not in seen:
                    seen.add(nxt)
                    actions.append(a)
                    visit(nxt)
                    if len(seen) < len(free):
                        actions.append(a ^ 1)  # step back
        visit(start)
        return actions
    frontier, back = [start], {start: None}
    while frontier:
        cell = frontier.pop(0)
        if cell in goals:
            break
        for a, (dy, dx) in MOVES.items():
            nxt = (cell[0] + dy, cell[1] + dx)
            if nxt in free and nxt not in back:
                back[nxt] = (cell, a)
                frontier.append(nxt)
    actions = []
    while back[cell] is not None:
        cell, a = back[cell]
        actions.append(a)
    return actions[::-1]


@pytest.mark.parametrize("stepper", [LabyrinthBatch, PopgymBatch])
def test_escape_reward_and_success_along_a_shortest_path(stepper):
    batch = stepper("escape", 1, np.random.default_rng(11))
    batch.reset()
    env = batch.envs[0]
    actions = path(env.maze.grid, tuple(env.position), {tuple(env.maze.end)})
    for k, a in enumerate(actions):
        _, r, done, success = batch.step(np.array([a]), np.ones(1, bool))
        last = k == len(actions) - 1
        assert done[0] == last and success[0] == last
        assert np.isclose(r[0], -1 / 80 + (1.0 if last else 0.0))


@pytest.mark.parametrize("stepper", [LabyrinthBatch, PopgymBatch])
def test_explore_rewards_withheld_with_probability_three_quarters_and_plus_one_at_the_end(stepper):
    """Along depth-first tours every new cell is a POPGym reward of 1/free cells: kept with
    probability 1/4, else the step penalty -1/40; the last new cell ends the episode with +1.
    Kept fraction within 4 standard errors of 1/4 over all tours."""
    batch = stepper("explore", 1, np.random.default_rng(12))
    kept = new = 0
    for _ in range(40):
        batch.reset()
        env = batch.envs[0]
        start = tuple(env.position)
        actions = path(env.maze.grid, start, set(), tour=True)
        assert len(actions) < EPISODE_LENGTH["explore"] - 1
        seen = {start}
        bonus = 1.0 / int((env.maze.grid == 0).sum())
        for k, a in enumerate(actions):
            _, r, done, success = batch.step(np.array([a]), np.ones(1, bool))
            cell = batch.position(0)
            fresh = cell not in seen
            seen.add(cell)
            last = k == len(actions) - 1
            assert done[0] == last and success[0] == last
            base = r[0] - (1.0 if last else 0.0)
            if fresh:
                new += 1
                assert np.isclose(base, bonus) or np.isclose(base, -1 / 40)
                kept += bool(np.isclose(base, bonus))
            else:
                assert np.isclose(base, -1 / 40)
    se = np.sqrt(0.25 * 0.75 / new)
    assert new > 300 and abs(kept / new - 0.25) < 4 * se
