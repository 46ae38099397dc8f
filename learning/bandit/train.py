"""The noisy-digit contextual bandit (REFERENCE.md E2): one training run of one method.

Each step draws a batch of training images, samples one action per image from the policy,
observes the reward 1[a = y] flipped with probability p_flip, and updates the policy by
REINFORCE without a baseline (Adam). Methods:
    "sg":       SparseNet, BP mixed with per-neuron SG, lambda adaptive (plug-in, momentum);
    "sg-fixed": the same with lambda fixed in every layer;
    "bp":       SparseNet trained by backpropagation;
    "mlp":      the tanh MLP trained by backpropagation.
With SG, each step first updates the SG on the batch (its own Adam), then the policy on the
same batch. Evaluation: the noise-free reward of actions sampled from the policy on test images.

All randomness comes from numpy Generators seeded from SeedSequence(seed); BLAS runs on one
thread, so a configuration gives the same numbers wherever it runs.
"""

from __future__ import annotations

import time

import numpy as np
from threadpoolctl import threadpool_limits

from learning.nets.adam import Adam
from learning.nets.heap import reuse_freed_pages
from learning.nets.mixing import LayerLambdas
from learning.nets.mlp import MLP
from learning.nets.sgd import SGD
from learning.bandit.policy import noisy_rewards, reinforce_feedback, sample_actions, softmax
from learning.nets.sparsenet import SparseNet, flat_grads
from learning.nets.synthetic import SGTrainer, SyntheticGradients, mixed_backward
from runner.target import compile_target

METHODS = ("sg", "sg-fixed", "bp", "mlp")
EVAL_POINTS = 20  # the paper's number of evaluations
SGD_MAX_LR = 1e4
PAPER_LR = {"sg": 5e-3, "sg-fixed": 5e-3, "bp": 1e-3, "mlp": 2e-5}

DEFAULTS = {
    "method": "sg",  # one of METHODS
    "lam": 0.9,  # lambda of sg-fixed; the initial lambda of sg
    "lam_momentum": 0.9,  # momentum of the adaptive lambda
    "p_flip": 0.4,  # probability that a reward is flipped
    "lr": None,  # policy learning rate; None: the paper's for the method (PAPER_LR)
    "sg_lr": 5e-3,  # the SG's Adam learning rate
    "sg_init": "policy",  # the SG predictors' initial weights: "policy" (N(0, 1/q), the authors') or "zero"
    "optimizer": "adam",  # the policy's optimiser: "adam" (the paper's) or "sgd" (a control)
    "layers": 5,  # hidden layers (SparseNet and MLP)
    "width": 200,  # SparseNet neurons per layer
    "neuron": 10,  # outputs per neuron
    "slots": 5,  # slots per neuron
    "parents": 5,  # parents per neuron from layer 2 on
    "first_inputs": None,  # pixels read by a layer-1 neuron; None: neuron * parents (50, the authors')
    "mlp_width": 745,  # MLP hidden width
    "batch": 64,  # contexts per step
    "steps": 1500,  # training steps
    "eval_points": None,  # evaluations, at evenly spaced steps from 1 to steps; None: min(20, steps)
    "eval_size": 4000,  # test images per evaluation (capped by the test set)
    "probe_points": 0,  # gradient-MSE probes, evenly spaced like the evaluations (0: none)
    "probe_draws": 64,  # independent (action, reward) draws per probe
    "probe_batch": 64,  # contexts per probe
    "seed": 0,
    "data": "digits",  # "digits" (scikit-learn's, offline) or "mnist" (IDX files in mnist_dir)
    "mnist_dir": None,
    "classes": [0, 1, 3, 4, 5, 6, 7, 8, 9],
    "dtype": "float32",  # "float32" or "float64"
}

_POSITIVE_INTS = ("layers", "width", "neuron", "slots", "parents", "mlp_width", "steps", "eval_points",
                  "eval_size", "probe_draws", "probe_batch")


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def full_config(config: dict) -> dict:
    """config with the defaults filled in and every value checked (ValueError naming the parameter)."""
    unknown = sorted(set(config) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"unknown bandit parameter(s): {', '.join(unknown)}; known: {', '.join(DEFAULTS)}")
    cfg = {**DEFAULTS, **config}
    if cfg["method"] not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {cfg['method']!r}")
    if cfg["sg_init"] not in ("policy", "zero"):
        raise ValueError(f"sg_init must be 'policy' or 'zero', got {cfg['sg_init']!r}")
    if cfg["optimizer"] not in ("adam", "sgd"):
        raise ValueError(f"optimizer must be 'adam' or 'sgd', got {cfg['optimizer']!r}")
    if cfg["lr"] is None:
        cfg["lr"] = PAPER_LR[cfg["method"]]
    for name in ("lam", "lam_momentum", "p_flip"):
        if not _is_number(cfg[name]) or not 0.0 <= cfg[name] <= 1.0:
            raise ValueError(f"{name} must be a number in [0, 1], got {cfg[name]!r}")
    # plain SGD steps by the gradient itself, which REINFORCE makes small: its rate may exceed 1
    top = {"lr": SGD_MAX_LR if cfg["optimizer"] == "sgd" else 1.0, "sg_lr": 1.0}
    for name in ("lr", "sg_lr"):
        if not _is_number(cfg[name]) or not 0.0 < cfg[name] <= top[name]:
            raise ValueError(f"{name} must be a number in (0, {top[name]:g}], got {cfg[name]!r}")
    if cfg["eval_points"] is None and _is_int(cfg["steps"]):
        cfg["eval_points"] = min(EVAL_POINTS, cfg["steps"])  # the paper's 20, at most one per step
    for name in _POSITIVE_INTS:
        if not _is_int(cfg[name]) or cfg[name] < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {cfg[name]!r}")
    if cfg["batch"] is None or not _is_int(cfg["batch"]) or cfg["batch"] < 2:
        raise ValueError(f"batch must be an integer >= 2, got {cfg['batch']!r}")
    if not _is_int(cfg["probe_points"]) or cfg["probe_points"] < 0:
        raise ValueError(f"probe_points must be an integer >= 0, got {cfg['probe_points']!r}")
    if cfg["probe_draws"] < 2:
        raise ValueError(f"probe_draws must be an integer >= 2, got {cfg['probe_draws']!r}")
    if cfg["probe_points"] and cfg["method"] == "mlp":
        raise ValueError("probe_points must be 0 with method 'mlp' (the probes measure SparseNet's per-neuron estimators)")
    if cfg["eval_points"] > cfg["steps"]:
        raise ValueError(f"eval_points must be in [1, steps={cfg['steps']}], got {cfg['eval_points']}")
    if cfg["probe_points"] > cfg["steps"]:
        raise ValueError(f"probe_points must be in [0, steps={cfg['steps']}], got {cfg['probe_points']}")
    if cfg["parents"] > cfg["width"]:
        raise ValueError(f"parents must be in [1, width={cfg['width']}], got {cfg['parents']}")
    if cfg["first_inputs"] is not None and (not _is_int(cfg["first_inputs"]) or cfg["first_inputs"] < 1):
        raise ValueError(f"first_inputs must be an integer >= 1 or null, got {cfg['first_inputs']!r}")
    if not _is_int(cfg["seed"]) or cfg["seed"] < 0:
        raise ValueError(f"seed must be an integer >= 0, got {cfg['seed']!r}")
    if cfg["dtype"] not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {cfg['dtype']!r}")
    cfg["classes"] = [int(c) for c in cfg["classes"]]
    for name in ("lam", "lam_momentum", "p_flip", "lr", "sg_lr"):
        cfg[name] = float(cfg[name])
    return cfg


def evenly_spaced_steps(steps: int, points: int) -> list[int]:
    """The authors' evaluation steps: linspace(1, steps, points) as integers (duplicates merged)."""
    if points <= 0:
        return []
    return sorted(set(int(s) for s in np.linspace(1, steps, num=points).astype(int)))


class Learner:
    """One method's policy and its update rule; `step(x, y, rng)` makes one training step."""

    def __init__(self, cfg: dict, in_dim: int, n_actions: int, rng: np.random.Generator):
        reuse_freed_pages()  # each step's large temporaries then reuse warm heap pages
        dtype = np.dtype(cfg["dtype"])
        self.cfg, self.dtype, self.method = cfg, dtype, cfg["method"]
        if self.method == "mlp":
            self.net = MLP.init(rng, in_dim, n_actions, cfg["layers"], cfg["mlp_width"], dtype)
        else:
            self.net = SparseNet.init(rng, in_dim, n_actions, cfg["layers"], cfg["width"], cfg["neuron"],
                                      cfg["slots"], cfg["parents"], cfg["first_inputs"], dtype)
        self.opt = (Adam if cfg["optimizer"] == "adam" else SGD)(self.net.params(), cfg["lr"])
        self.sg = self.sg_trainer = self.lambdas = None
        if self.method in ("sg", "sg-fixed"):
            self.sg = SyntheticGradients.init(rng, self.net, dtype)
            if cfg["sg_init"] == "zero":  # drawn all the same, so the other randomness is unchanged
                for p in self.sg.params():
                    p[...] = 0
            self.sg_trainer = SGTrainer(self.sg, cfg["sg_lr"])
            self.lambdas = LayerLambdas(cfg["layers"], cfg["width"], cfg["lam"], cfg["lam_momentum"],
                                        adaptive=self.method == "sg", dtype=dtype)
        self.sg_loss = None

    def logits(self, x: np.ndarray) -> np.ndarray:
        return self.net.forward(x.astype(self.dtype, copy=False))[0]

    def step(self, x: np.ndarray, y: np.ndarray, p_flip: float, rng: np.random.Generator) -> float:
        """One training step on contexts x, labels y; returns the batch's mean (noisy) reward."""
        logits, cache = self.net.forward(x.astype(self.dtype, copy=False))
        pi = softmax(logits)
        actions = sample_actions(pi, rng)
        rewards = noisy_rewards(actions, y, p_flip, rng)
        d = reinforce_feedback(pi, actions, rewards).astype(self.dtype)
        if self.method == "mlp":
            grads = self.net.backward(cache, d)
        elif self.method == "bp":
            grads = flat_grads(self.net.backward(cache, d)[0])
        else:
            self.sg_loss = self.sg_trainer.update(self.net, cache, d, self.lambdas.values)
            grads = flat_grads(mixed_backward(self.net, self.sg, cache, d, self.lambdas)[0])
        self.opt.step(grads)
        return float(rewards.mean())


def evaluate(learner: Learner, x: np.ndarray, y: np.ndarray, size: int, rng: np.random.Generator,
             chunk: int = 250) -> float:
    """Noise-free reward of actions sampled from the policy on `size` test images drawn without replacement."""
    idx = rng.choice(x.shape[0], size=min(size, x.shape[0]), replace=False)
    hits = 0
    for start in range(0, idx.size, chunk):
        part = idx[start:start + chunk]
        actions = sample_actions(softmax(learner.logits(x[part])), rng)
        hits += int(np.sum(actions == y[part]))
    return hits / idx.size


def load_data(cfg: dict):
    from learning.bandit.data import load_bandit_data

    return load_bandit_data(cfg["data"], mnist_dir=cfg["mnist_dir"], classes=cfg["classes"])  # one fixed split


def train(config: dict, progress=None, data=None, stop_after: int | None = None) -> dict:
    """Run one configuration (see DEFAULTS); returns a JSON-able dict of its results.

    progress: callable (done, total) over the steps. data: (x_train, y_train, x_test, y_test) to
    use instead of loading cfg["data"] (tests). stop_after: stop after this many steps, with the
    results so far (the first steps of the run, exactly: for checking a stored run's prefix).
    """
    cfg = full_config(config)
    start, cpu_start = time.perf_counter(), time.process_time()
    with threadpool_limits(limits=1):
        if data is None:
            data = load_data(cfg)
        x_train, y_train, x_test, y_test = data
        n_actions = len(cfg["classes"])
        if int(max(y_train.max(), y_test.max())) >= n_actions:
            raise ValueError(f"classes: the labels need {int(max(y_train.max(), y_test.max())) + 1} classes, got {n_actions}")
        init_rng, train_rng, eval_rng, probe_rng = [np.random.default_rng(s) for s in np.random.SeedSequence(cfg["seed"]).spawn(4)]
        learner = Learner(cfg, x_train.shape[1], n_actions, init_rng)
        eval_steps = set(evenly_spaced_steps(cfg["steps"], cfg["eval_points"]))
        probe_steps = set(evenly_spaced_steps(cfg["steps"], cfg["probe_points"]))
        result = {"config": cfg, "eval": [], "lambda": [], "probes": [], "n_params": int(learner.net.n_params())}
        last = cfg["steps"] if stop_after is None else min(int(stop_after), cfg["steps"])
        for step in range(1, last + 1):
            idx = train_rng.integers(0, x_train.shape[0], size=cfg["batch"])
            learner.step(x_train[idx], y_train[idx], cfg["p_flip"], train_rng)
            if step in eval_steps:
                result["eval"].append({"step": step, "reward": evaluate(learner, x_test, y_test, cfg["eval_size"], eval_rng)})
                if learner.lambdas is not None:
                    result["lambda"].append({"step": step, "layers": learner.lambdas.layer_means()})
            if step in probe_steps:
                from learning.bandit.probes import probe_sparsenet

                pidx = probe_rng.choice(x_train.shape[0], size=min(cfg["probe_batch"], x_train.shape[0]), replace=False)
                layers = probe_sparsenet(learner.net, learner.sg, learner.lambdas,
                                         x_train[pidx].astype(learner.dtype), y_train[pidx],
                                         cfg["p_flip"], cfg["probe_draws"], probe_rng, opt=learner.opt)
                result["probes"].append({"step": step, "layers": layers})
            if progress is not None:
                progress(step, cfg["steps"])
    result["seconds"] = time.perf_counter() - start
    result["cpu_seconds"] = time.process_time() - cpu_start
    result["target"] = compile_target()
    return result
