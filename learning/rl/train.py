"""One E3 run: REINFORCE on POPGym's labyrinths with a recurrent policy (docs/experiments.md E3).

Each update resets the `num_envs` environments, runs every episode to its end, computes the
discounted returns, normalises them over the batch, and makes one Adam step on the REINFORCE
loss with an entropy bonus, the gradients clipped to a joint norm of 0.5. All randomness comes
from the configuration's seed: one SeedSequence spawns the generators of the initial weights,
the mazes (and Explore's reward draws) and the actions, so two models run with the same seed see
the same mazes in the same order.
"""

from __future__ import annotations

import time

import numpy as np
from threadpoolctl import threadpool_limits

from learning.nets.adam import Adam
from learning.rl.labyrinth import ACTIONS, ENVS, LabyrinthBatch, PopgymBatch
from learning.rl.reinforce import clip_by_global_norm, discounted_returns, normalise, policy_gradient
from learning.rl.models import MODELS, build_policy
from learning.rl.sg import LAMBDA_INITIAL, LAMBDA_MOMENTUM, SG_LR, RecurrentSG
from runner.target import compile_target
from theory.params import check_int, check_real

DEFAULTS = {"env": "escape", "model": "sparsenet-bptt", "lr": 1e-3, "num_envs": 20, "updates": 300, "seed": 0,
            # sparsenet-sg only: the SG predictors' learning rate, lambda's start and momentum
            "sg_lr": SG_LR, "lam": LAMBDA_INITIAL, "lam_momentum": LAMBDA_MOMENTUM}
# called with the number of finished updates of the run in this process (the command's progress bar)
on_update = None


def rl_config(**settings) -> dict:
    """A checked run configuration: DEFAULTS overridden by settings."""
    unknown = set(settings) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown setting(s) {', '.join(sorted(unknown))}; allowed: {', '.join(DEFAULTS)}")
    c = DEFAULTS | settings
    if c["env"] not in ENVS:
        raise ValueError(f"env must be one of {', '.join(ENVS)}, got {c['env']!r}")
    if c["model"] not in MODELS:
        raise ValueError(f"model must be one of {', '.join(MODELS)}, got {c['model']!r}")
    c["lr"] = check_real("lr", c["lr"], 0.0, 1.0, lo_open=True)
    check_int("num_envs", c["num_envs"], 1, 1024)
    check_int("updates", c["updates"], 1, 100000)
    check_int("seed", c["seed"], 0)
    c["sg_lr"] = check_real("sg_lr", c["sg_lr"], 0.0, 1.0, lo_open=True)
    c["lam"] = check_real("lam", c["lam"], 0.0, 1.0)
    c["lam_momentum"] = check_real("lam_momentum", c["lam_momentum"], 0.0, 1.0)
    return c


def sample_actions(logits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One action per row from softmax(logits), by inverse CDF of one uniform each."""
    z = logits.astype(np.float64)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    cdf = np.cumsum(p, axis=1)
    u = rng.random(len(z)) * cdf[:, -1]
    return np.minimum((cdf < u[:, None]).sum(axis=1), z.shape[1] - 1)


STEPPERS = {"compiled": LabyrinthBatch, "popgym": PopgymBatch}


def rollout(policy, envs: LabyrinthBatch, rng: np.random.Generator) -> dict:
    """Run one full episode in each environment with the current policy; keep the BPTT trace."""
    start = time.perf_counter()
    x = envs.reset()
    reset_seconds = time.perf_counter() - start
    env_seconds = 0.0
    batch = envs.num_envs
    state = policy.initial_state(batch)
    active = np.ones(batch, bool)
    success = np.zeros(batch, bool)
    logits, trace, actions, rewards, valid = [], [], [], [], []
    with policy.acting(envs.episode_length):
        for _ in range(envs.episode_length):
            if not active.any():
                break
            z, state, caches = policy.step(x, state)
            a = sample_actions(z, rng)
            start = time.perf_counter()
            x, r, done, won = envs.step(a, active)
            env_seconds += time.perf_counter() - start
            logits.append(z)
            trace.append(caches)
            actions.append(a)
            rewards.append(r)
            valid.append(active.copy())
            success |= won
            active &= ~done
    rewards, valid = np.array(rewards), np.array(valid)
    return {"logits": np.stack(logits), "trace": trace, "actions": np.array(actions), "rewards": rewards,
            "valid": valid, "success": success, "returns": (rewards * valid).sum(axis=0),
            "lengths": valid.sum(axis=0), "env_seconds": reset_seconds + env_seconds, "reset_seconds": reset_seconds,
            "step_seconds": env_seconds}


class Run:
    """One run's state: environments, policy, optimiser (and SG); `update` makes one update."""

    def __init__(self, c: dict, stepper: str = "compiled"):
        """stepper: "compiled" (learning.rl.maze_step, the default) or "popgym" (POPGym's own step, the
        oracle): the same numbers, at different speeds."""
        if stepper not in STEPPERS:
            raise ValueError(f"stepper must be one of {', '.join(STEPPERS)}, got {stepper!r}")
        self.config = c
        init_ss, env_ss, act_ss = np.random.SeedSequence(c["seed"]).spawn(3)
        self.envs = STEPPERS[stepper](c["env"], c["num_envs"], np.random.default_rng(env_ss))
        self.policy = build_policy(c["model"], self.envs.obs_size, ACTIONS, np.random.default_rng(init_ss))
        self.act_rng = np.random.default_rng(act_ss)
        self.names = list(self.policy.params)
        self.optimiser = Adam([self.policy.params[k] for k in self.names], lr=c["lr"])
        self.sg = None
        if c["model"] == "sparsenet-sg":
            self.sg = RecurrentSG(self.policy.parts["core"], c["sg_lr"], c["lam"], c["lam_momentum"])

    def update(self) -> dict:
        """Collect num_envs episodes and make one update. Returns this update's numbers and its
        timings: env_s (reset_s, POPGym drawing the mazes, plus step_s, stepping them), act_s (the policy while
        acting), learn_s (the rest)."""
        start = time.perf_counter()
        batch = rollout(self.policy, self.envs, self.act_rng)
        acted = time.perf_counter()
        valid = batch["valid"]
        advantages = normalise(discounted_returns(batch["rewards"], valid), valid)
        dz, stats = policy_gradient(batch["logits"], batch["actions"], advantages, valid)
        if self.sg is None:
            grads = self.policy.backward(batch["trace"], dz)
        else:
            grads, sg_stats = self.sg.backward(self.policy, batch["trace"], dz, valid)
            stats |= sg_stats
        stats["grad_norm"] = clip_by_global_norm(grads)
        self.optimiser.step([grads[k] for k in self.names])
        end = time.perf_counter()
        return stats | {
            "success": float(batch["success"].mean()), "return": float(batch["returns"].mean()),
            "length": float(batch["lengths"].mean()), "env_steps": int(batch["lengths"].sum()),
            "env_s": batch["env_seconds"], "reset_s": batch["reset_seconds"], "step_s": batch["step_seconds"],
            "act_s": acted - start - batch["env_seconds"], "learn_s": end - acted,
        }


PER_UPDATE = ("success", "return", "length", "steps", "policy_loss", "entropy", "grad_norm")
SG_PER_UPDATE = ("sg_loss", "lambda_mean")


def train_rl(config: dict, stop_after: int | None = None) -> dict:
    """Run `updates` updates; return per-update lists (success rate, mean return and length,
    cumulative environment steps, loss pieces, gradient norm; SG loss and mean lambda for
    sparsenet-sg) and the run's seconds (all, and stepping the environments). stop_after: stop after
    this many updates, with the results so far (for checking a stored run's prefix)."""
    c = rl_config(**config)
    with threadpool_limits(limits=1):
        start, cpu_start = time.perf_counter(), time.process_time()
        run = Run(c)
        keys = PER_UPDATE + (SG_PER_UPDATE if run.sg else ())
        history = {k: [] for k in keys}
        steps, env_seconds = 0, 0.0
        for update in range(c["updates"] if stop_after is None else min(int(stop_after), c["updates"])):
            out = run.update()
            steps += out["env_steps"]
            env_seconds += out["env_s"]
            out["steps"] = steps
            for k in keys:
                history[k].append(out[k])
            if on_update is not None:
                on_update(update + 1)
        return history | {"seconds": time.perf_counter() - start, "env_seconds": env_seconds,
                          "cpu_seconds": time.process_time() - cpu_start, "target": compile_target()}
