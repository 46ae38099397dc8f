"""The labyrinths' dynamics for a whole batch in one compiled call (POPGym's own step is the oracle).

After POPGym's reset has drawn each maze (mazelib's HuntAndKill, seeded as before), the batch's
grids, positions and visited cells are copied into arrays and `step_batch` moves every active
environment at once, as POPGym's MazeEnv.step and LabyrinthEscape / LabyrinthExplore.step do:
    move      left, right, up, down; clamped to the grid, and no move into an obstacle;
    view      the 3 x 3 cells around the agent, cut at the grid's edge and padded with obstacles on the
              bottom and the right (POPGym's local_view: at an edge the view shifts, it is not centred),
              then the action taken;
    Escape    reward -1/L a step, +1 on the goal, which ends the episode;
    Explore   reward 1/(free cells) on a cell not visited before, else -1/L; the episode ends when every
              cell that is not an obstacle has been visited; then the authors' change: with probability
              0.75 (a uniform draw per active environment, in index order) the reward is -1/L, and +1 is
              added when the maze is fully explored;
    truncated when the step count reaches L - 1 (POPGym's test).
tests/test_maze_step.py holds every output to POPGym's own step, exactly.
"""

from __future__ import annotations

import numpy as np
from numba import njit

OBSTACLE, GOAL = 1, 3


@njit(cache=True)
def step_batch(grid, pos, explored, remaining, steps, new_reward, actions, active, uniforms, explore,
               episode_length, penalty, replace_prob, raw, reward, done, success):
    """Step the active environments in place. grid (E, H, W) int8 cells; pos (E, 2) (y, x); explored
    (E, H, W) bool; remaining (E,) cells not visited that are not obstacles; steps (E,) steps taken;
    new_reward (E,) Explore's reward for a new cell; uniforms: one draw per active environment
    (Explore). Writes raw (E, 10) (kept for inactive environments), reward, done, success."""
    E, H, W = grid.shape
    j = 0
    for i in range(E):
        reward[i] = 0.0
        done[i] = False
        success[i] = False
        if not active[i]:
            continue
        y, x = pos[i, 0], pos[i, 1]
        a = actions[i]
        ny, nx = y, x
        if a == 0:
            nx = x - 1
        elif a == 1:
            nx = x + 1
        elif a == 2:
            ny = y - 1
        else:
            ny = y + 1
        ny = min(max(ny, 0), H - 1)
        nx = min(max(nx, 0), W - 1)
        if grid[i, ny, nx] == OBSTACLE:
            ny, nx = y, x
        new = not explored[i, ny, nx]
        pos[i, 0], pos[i, 1] = ny, nx
        explored[i, ny, nx] = True
        steps[i] += 1
        if explore:
            r = new_reward[i] if new else penalty
            if new:
                remaining[i] -= 1
            terminated = remaining[i] == 0
            if uniforms[j] < replace_prob:
                r = penalty
            j += 1
            if terminated:
                r += 1.0
        else:
            r = penalty
            terminated = grid[i, ny, nx] == GOAL
            if terminated:
                r += 1.0
        truncated = steps[i] == episode_length - 1
        for k in range(9):
            raw[i, k] = OBSTACLE
        y0, x0 = max(ny - 1, 0), max(nx - 1, 0)
        for r_ in range(y0, min(ny + 2, H)):
            for c_ in range(x0, min(nx + 2, W)):
                raw[i, 3 * (r_ - y0) + (c_ - x0)] = grid[i, r_, c_]
        raw[i, 9] = a
        reward[i] = r
        done[i] = terminated or truncated
        success[i] = terminated


def batch_state(envs) -> dict:
    """The arrays step_batch works on, copied from freshly reset POPGym environments."""
    grid = np.stack([env.maze.grid for env in envs]).astype(np.int8)
    explored = np.stack([env.explored for env in envs]).astype(np.bool_)
    return {
        "grid": grid,
        "pos": np.array([env.position for env in envs], dtype=np.int64),
        "explored": explored,
        "remaining": ((grid != OBSTACLE) & ~explored).sum(axis=(1, 2)).astype(np.int64),
        "steps": np.array([env.curr_step for env in envs], dtype=np.int64),
        "new_reward": np.array([getattr(env, "pos_reward_scale", 0.0) for env in envs], dtype=np.float64),
    }
