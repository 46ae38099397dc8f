"""The noisy-digit contextual bandit (docs/experiments.md E2): one training run of one method.

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

import copy
import time

import numpy as np
from threadpoolctl import threadpool_limits

from learning.nets.adam import Adam
from learning.nets.heap import reuse_freed_pages
from learning.nets.mixing import LayerLambdas
from learning.nets.mlp import MLP
from learning.nets.sgd import SGD
from learning.bandit.measures import MEASURE_SIZE, forward_outputs, measure, start_copy
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
    # the mechanism controls; a configuration holds them only when they differ from these values, so
    # the runs made before they existed keep their configurations (and keys)
    "baseline": "none",  # REINFORCE's baseline: "none" (the paper's) or "batch" (the batch's mean reward)
    "train": "all",  # "all", or "readout" (bp only: the hidden layers frozen at their start)
    "sg_noise": False,  # sg methods: the SG term replaced by Gaussian noise of the SG's rms per neuron
    "sg_frozen": False,  # sg methods: the SG predictors never updated (they stay at their start)
    "feature_rms": None,  # train "readout": the last hidden layer's output rescaled to this rms (None: as is)
}
CONTROL_DEFAULTS = {k: DEFAULTS[k] for k in ("baseline", "train", "sg_noise", "sg_frozen", "feature_rms")}

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
    if cfg["sg_init"] not in ("policy", "zero", "matched"):
        raise ValueError(f"sg_init must be 'policy', 'zero' or 'matched', got {cfg['sg_init']!r}")
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
    _check_controls(cfg)
    cfg["classes"] = [int(c) for c in cfg["classes"]]
    for name in ("lam", "lam_momentum", "p_flip", "lr", "sg_lr"):
        cfg[name] = float(cfg[name])
    for name, default in CONTROL_DEFAULTS.items():
        if cfg[name] == default and type(cfg[name]) is type(default):
            del cfg[name]
    return cfg


def _check_controls(cfg: dict) -> None:
    if cfg["baseline"] not in ("none", "batch"):
        raise ValueError(f"baseline must be 'none' or 'batch', got {cfg['baseline']!r}")
    if cfg["train"] not in ("all", "readout"):
        raise ValueError(f"train must be 'all' or 'readout', got {cfg['train']!r}")
    if cfg["train"] == "readout" and cfg["method"] != "bp":
        raise ValueError(f"train 'readout' needs method 'bp' (the logits' keys trained by BP), got {cfg['method']!r}")
    if not isinstance(cfg["sg_noise"], bool):
        raise ValueError(f"sg_noise must be true or false, got {cfg['sg_noise']!r}")
    if cfg["sg_noise"] and cfg["method"] not in ("sg", "sg-fixed"):
        raise ValueError(f"sg_noise needs method 'sg' or 'sg-fixed', got {cfg['method']!r}")
    if not isinstance(cfg["sg_frozen"], bool):
        raise ValueError(f"sg_frozen must be true or false, got {cfg['sg_frozen']!r}")
    if cfg["sg_frozen"] and cfg["method"] not in ("sg", "sg-fixed"):
        raise ValueError(f"sg_frozen needs method 'sg' or 'sg-fixed', got {cfg['method']!r}")
    if cfg["feature_rms"] is not None:
        if not _is_number(cfg["feature_rms"]) or not cfg["feature_rms"] > 0:
            raise ValueError(f"feature_rms must be a number > 0 or null, got {cfg['feature_rms']!r}")
        if cfg["train"] != "readout":
            raise ValueError("feature_rms needs train 'readout' (it rescales the frozen features)")
        cfg["feature_rms"] = float(cfg["feature_rms"])


def evenly_spaced_steps(steps: int, points: int) -> list[int]:
    """The authors' evaluation steps: linspace(1, steps, points) as integers (duplicates merged)."""
    if points <= 0:
        return []
    return sorted(set(int(s) for s in np.linspace(1, steps, num=points).astype(int)))


class Learner:
    """One method's policy and its update rule; `step(x, y, rng)` makes one training step."""

    def __init__(self, cfg: dict, in_dim: int, n_actions: int, rng: np.random.Generator,
                 noise_rng: np.random.Generator | None = None):
        reuse_freed_pages()  # each step's large temporaries then reuse warm heap pages
        dtype = np.dtype(cfg["dtype"])
        self.cfg, self.dtype, self.method = cfg, dtype, cfg["method"]
        if self.method == "mlp":
            self.net = MLP.init(rng, in_dim, n_actions, cfg["layers"], cfg["mlp_width"], dtype)
        else:
            self.net = SparseNet.init(rng, in_dim, n_actions, cfg["layers"], cfg["width"], cfg["neuron"],
                                      cfg["slots"], cfg["parents"], cfg["first_inputs"], dtype)
        self.readout = cfg.get("train", "all") == "readout"
        # readout only: the hidden layers stay at their start, the optimiser holds the action keys alone
        trained = [self.net.action_keys] if self.readout else self.net.params()
        self.opt = (Adam if cfg["optimizer"] == "adam" else SGD)(trained, cfg["lr"])
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
        self.baseline = cfg.get("baseline", "none")
        self.sg_noise = cfg.get("sg_noise", False)
        self.sg_frozen = cfg.get("sg_frozen", False)
        self.noise_rng = noise_rng
        self.feature_scale = 1.0  # the readout control's factor on h_L (set_feature_rms)

    def forward(self, x: np.ndarray):
        logits, cache = self.net.forward(x.astype(self.dtype, copy=False))
        if self.feature_scale != 1.0:  # the logits read the rescaled features, and the keys' gradient too
            cache["top"] = cache["top"] * self.feature_scale
            logits = logits * self.feature_scale
        return logits, cache

    def logits(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)[0]

    def feedback_rewards(self, rewards: np.ndarray) -> np.ndarray:
        """The rewards REINFORCE weighs the actions by: as drawn, or less the batch's mean reward."""
        return rewards - rewards.mean() if self.baseline == "batch" else rewards

    def sampled_feedback(self, x: np.ndarray, y: np.ndarray, p_flip: float, rng: np.random.Generator):
        """(forward cache, REINFORCE feedback at the logits, the noisy rewards) for one drawn action a context."""
        logits, cache = self.forward(x)
        pi = softmax(logits)
        actions = sample_actions(pi, rng)
        rewards = noisy_rewards(actions, y, p_flip, rng)
        return cache, reinforce_feedback(pi, actions, self.feedback_rewards(rewards)).astype(self.dtype), rewards

    def set_feature_rms(self, rms: float, x: np.ndarray) -> None:
        """Scale h_L so that its rms on the images x is `rms` (the readout control of H4)."""
        top = forward_outputs(self.net, x.astype(self.dtype, copy=False))[1][-1]
        self.feature_scale = float(rms / np.sqrt(np.mean(top.astype(np.float64) ** 2)))

    def match_sg_scale(self, x: np.ndarray, y: np.ndarray, p_flip: float, rng: np.random.Generator) -> list[float]:
        """Scale each layer's SG predictor (C and c together, so its prediction scales alike) so that its
        first predictions' rms equals that of BP's feedback at h_l on the batch x, actions and rewards
        drawn from rng. Returns the factors."""
        cache, d, _ = self.sampled_feedback(x, y, p_flip, rng)
        _, deltas = self.net.backward(cache, d, param_grads=False)
        factors = []
        for l in range(self.net.n_layers):
            pred = self.sg.predict(l, cache["layers"][l])
            f = np.sqrt(np.mean(deltas[l].astype(np.float64) ** 2) / np.mean(pred.astype(np.float64) ** 2))
            self.sg.maps[l] *= self.dtype.type(f)
            self.sg.bias[l] *= self.dtype.type(f)
            factors.append(float(f))
        return factors

    def noise_like(self, cache) -> list[np.ndarray]:
        """Gaussian noise with, per neuron, the rms of the SG's current prediction (over batch and outputs)."""
        out = []
        for l in range(self.net.n_layers):
            pred = self.sg.predict(l, cache["layers"][l])
            rms = np.sqrt(np.mean(pred.astype(np.float64) ** 2, axis=(1, 2), keepdims=True))
            out.append((self.noise_rng.standard_normal(pred.shape) * rms).astype(self.dtype))
        return out

    def step(self, x: np.ndarray, y: np.ndarray, p_flip: float, rng: np.random.Generator) -> float:
        """One training step on contexts x, labels y; returns the batch's mean (noisy) reward."""
        cache, d, rewards = self.sampled_feedback(x, y, p_flip, rng)
        if self.method == "mlp":
            grads = self.net.backward(cache, d)
        elif self.readout:
            grads = [self.net.top_feedback(cache, d)[1]]
        elif self.method == "bp":
            grads = flat_grads(self.net.backward(cache, d)[0])
        else:
            if not self.sg_frozen:
                self.sg_loss = self.sg_trainer.update(self.net, cache, d, self.lambdas.values)
            preds = self.noise_like(cache) if self.sg_noise else None
            grads = flat_grads(mixed_backward(self.net, self.sg, cache, d, self.lambdas, preds)[0])
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
    """(x_train, y_train, x_test, y_test) of cfg's data ("digits" or "mnist") and classes, one fixed split."""
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
        # the fifth stream (the SG-noise control's) leaves the first four as they were before it existed
        init_rng, train_rng, eval_rng, probe_rng, noise_rng = [
            np.random.default_rng(s) for s in np.random.SeedSequence(cfg["seed"]).spawn(5)]
        learner = Learner(cfg, x_train.shape[1], n_actions, init_rng, noise_rng)
        x_measure = x_test[:MEASURE_SIZE].astype(learner.dtype)
        if cfg.get("feature_rms") is not None:
            learner.set_feature_rms(cfg["feature_rms"], x_measure)
        if cfg["sg_init"] == "matched" and learner.sg is not None:
            # the first training batch and its draws, from a copy of the training stream
            first = copy.deepcopy(train_rng)
            idx = first.integers(0, x_train.shape[0], size=cfg["batch"])
            learner.match_sg_scale(x_train[idx], y_train[idx], cfg["p_flip"], first)
        start_params = start_copy(learner.net)
        eval_steps = set(evenly_spaced_steps(cfg["steps"], cfg["eval_points"]))
        probe_steps = set(evenly_spaced_steps(cfg["steps"], cfg["probe_points"]))
        result = {"config": cfg, "eval": [], "lambda": [], "probes": [], "measures": [],
                  "n_params": int(learner.net.n_params())}
        last = cfg["steps"] if stop_after is None else min(int(stop_after), cfg["steps"])
        for step in range(1, last + 1):
            idx = train_rng.integers(0, x_train.shape[0], size=cfg["batch"])
            learner.step(x_train[idx], y_train[idx], cfg["p_flip"], train_rng)
            if step in eval_steps:
                result["eval"].append({"step": step, "reward": evaluate(learner, x_test, y_test, cfg["eval_size"], eval_rng)})
                if learner.lambdas is not None:
                    result["lambda"].append({"step": step, "layers": learner.lambdas.layer_means()})
                result["measures"].append({"step": step} | measure(learner.net, start_params, x_measure,
                                                                   learner.feature_scale))
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
