"""POPGym's Labyrinth environments (docs/experiments.md E3), stepped together and seeded from the run.

LabyrinthBatch resets with POPGym's own code and steps the whole batch in one compiled call
(learning.rl.maze_step); PopgymBatch steps each environment with POPGym's own `step`, the oracle the
compiled step is tested against (and the bench's comparison). Both give the same numbers.

POPGym's maze reset reseeds Python's and numpy's global generators and draws the maze from them.
Each reset here gets an explicit seed from the run's own generator, and the global generators'
states are put back afterwards, so a run draws the same mazes whatever ran before it and leaves
no trace on other code's randomness.
"""

from __future__ import annotations

import random
import warnings
from contextlib import contextmanager

import numpy as np

from learning.rl.maze_step import batch_state, step_batch

ENVS = ("escape", "explore")
# the authors' settings: POPGym's maze_dims (halved inside POPGym: 3 x 3 cells on a 7 x 7 grid)
MAZE_DIMS = (6, 6)
EPISODE_LENGTH = {"escape": 80, "explore": 40}
# Explore: probability that a step's reward (new-cell reward included) becomes the step penalty
EXPLORE_PENALTY_PROB = 0.75
ACTIONS = 4
# success rate of uniformly random actions, measured on 4,000 (Escape) and 2,000 (Explore) episodes
# of LabyrinthBatch (SE 0.006 and 0): the reference line of the figures
RANDOM_SUCCESS = {"escape": 0.158, "explore": 0.0}


@contextmanager
def global_random_state_kept():
    """Run a block that seeds or draws from the global generators, then restore their states."""
    py_state = random.getstate()
    np_state = np.random.get_state()
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)


def _env_class(name: str):
    if name == "escape":
        from popgym.envs.labyrinth_escape import LabyrinthEscape

        return LabyrinthEscape
    if name == "explore":
        from popgym.envs.labyrinth_explore import LabyrinthExplore

        return LabyrinthExplore
    raise ValueError(f"env must be one of {', '.join(ENVS)}, got {name!r}")


def make_env(name: str, episode_length: int | None = None):
    """One POPGym environment with the authors' maze size; POPGym's notice that mazes are weak
    memory benchmarks (a DeprecationWarning in its constructor) is silenced here."""
    cls = _env_class(name)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Maze environments", category=DeprecationWarning)
        return cls(maze_dims=MAZE_DIMS, episode_length=episode_length or EPISODE_LENGTH[name])


class LabyrinthBatch:
    """`num_envs` environments reset together at the start of each batch of full episodes.

    Observations are POPGym's MultiDiscrete (3 x 3 view and the previous action, 5 values each)
    one-hot encoded into `obs_size` numbers. `rng` (numpy Generator, the run's own) gives every
    reset its seed and draws Explore's reward replacement.
    """

    def __init__(self, name: str, num_envs: int, rng: np.random.Generator, episode_length: int | None = None):
        self.name = name
        self.episode_length = episode_length or EPISODE_LENGTH[name]
        self.envs = [make_env(name, self.episode_length) for _ in range(num_envs)]
        self.rng = rng
        nvec = np.asarray(self.envs[0].observation_space.nvec)
        self.offsets = np.concatenate([[0], np.cumsum(nvec)[:-1]])
        self.obs_size = int(nvec.sum())
        self.num_envs = num_envs
        self.penalty = -1.0 / self.episode_length

    def one_hot(self, raw: np.ndarray) -> np.ndarray:
        """raw: (B, 10) integers -> (B, obs_size) float32 one-hot."""
        out = np.zeros((raw.shape[0], self.obs_size), dtype=np.float32)
        out[np.arange(raw.shape[0])[:, None], self.offsets + raw] = 1.0
        return out

    def _reset_popgym(self) -> np.ndarray:
        seeds = self.rng.integers(0, 2**31 - 1, size=self.num_envs)
        raw = np.empty((self.num_envs, len(self.offsets)), dtype=np.int64)
        with global_random_state_kept():
            for i, env in enumerate(self.envs):
                raw[i] = env.reset(seed=int(seeds[i]))[0]
        self.last_raw = raw
        return self.one_hot(raw)

    def reset(self) -> np.ndarray:
        """POPGym draws each maze (its own reset); the batch's arrays are then taken from it."""
        obs = self._reset_popgym()
        self.state = batch_state(self.envs)
        return obs

    def step(self, actions: np.ndarray, active: np.ndarray):
        """Step the active environments; the others keep their last observation.

        Returns (obs, reward, done, success), done and success only for active environments;
        success is POPGym's `terminated` (goal reached / maze fully explored).
        """
        s = self.state
        explore = self.name == "explore"
        # the authors' Explore reward draws one uniform per active environment, in index order
        uniforms = self.rng.random(int(np.count_nonzero(active))) if explore else _NO_DRAWS
        reward = np.empty(self.num_envs)
        done = np.empty(self.num_envs, dtype=bool)
        success = np.empty(self.num_envs, dtype=bool)
        step_batch(s["grid"], s["pos"], s["explored"], s["remaining"], s["steps"], s["new_reward"],
                   np.asarray(actions, dtype=np.int64), np.asarray(active, dtype=np.bool_), uniforms, explore,
                   self.episode_length, self.penalty, EXPLORE_PENALTY_PROB, self.last_raw, reward, done, success)
        return self.one_hot(self.last_raw), reward, done, success


    def position(self, i: int) -> tuple:
        """Environment i's agent as (row, column)."""
        return tuple(int(v) for v in self.state["pos"][i])


_NO_DRAWS = np.zeros(0)


class PopgymBatch(LabyrinthBatch):
    """The same batch stepped by POPGym's own `step`, one environment at a time (the oracle)."""

    def reset(self) -> np.ndarray:
        return self._reset_popgym()

    def position(self, i: int) -> tuple:
        return tuple(self.envs[i].position)

    def step(self, actions: np.ndarray, active: np.ndarray):
        reward = np.zeros(self.num_envs)
        done = np.zeros(self.num_envs, dtype=bool)
        success = np.zeros(self.num_envs, dtype=bool)
        raw = self.last_raw.copy()
        for i in np.flatnonzero(active):
            obs, r, terminated, truncated, _ = self.envs[i].step(int(actions[i]))
            if self.name == "explore":
                # the authors' reward: the new-cell reward is withheld with probability 0.75
                # (the step penalty instead), and +1 once the maze is fully explored
                if self.rng.random() < EXPLORE_PENALTY_PROB:
                    r = self.penalty
                if terminated:
                    r += 1.0
            raw[i] = obs
            reward[i] = r
            done[i] = terminated or truncated
            success[i] = terminated
        self.last_raw = raw
        return self.one_hot(raw), reward, done, success
