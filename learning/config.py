"""One bandit run's configuration (REFERENCE.md E2): the paper's defaults and the allowed ranges.

A configuration is a plain JSON-able dict with the keys of DEFAULTS; it is the only input of a run,
so the same configuration (seed included) gives the same numbers.
"""

from __future__ import annotations

import math

from learning.data import DATASETS, DEFAULT_CLASSES

METHODS = ("sg", "sg-fixed", "bp", "mlp")
METHOD_TITLES = {
    "sg": r"SparseNet, SG adaptive $\lambda$",
    "sg-fixed": r"SparseNet, SG fixed $\lambda$",
    "bp": "SparseNet, BP",
    "mlp": "MLP, BP",
}
# the paper's policy learning rates (Adam)
DEFAULT_LR = {"sg": 5e-3, "sg-fixed": 5e-3, "bp": 1e-3, "mlp": 2e-5}
DTYPES = ("float32", "float64")

DEFAULTS = {
    "method": "sg",
    "lam": 0.9,  # sg: initial lambda of every neuron; sg-fixed: the fixed lambda
    "lam_momentum": 0.9,  # momentum of the adaptive lambda's running estimate
    "p_flip": 0.4,  # probability that the reward is flipped to 1 - r
    "lr": None,  # policy learning rate; None: DEFAULT_LR of the method
    "sg_lr": 5e-3,  # learning rate of the SG predictors
    "layers": 5,
    "width": 200,  # neurons per layer
    "neuron": 10,  # numbers each neuron outputs
    "slots": 5,
    "parents": 5,  # neurons of the previous layer each neuron reads
    "first_inputs": 50,  # pixels each first-layer neuron reads
    "mlp_width": 745,
    "batch": 64,
    "steps": 1500,
    "eval_points": 20,  # evenly spaced evaluations of the noise-free reward
    "eval_size": 4000,  # test images per evaluation (all of them when the test set is smaller)
    "probe_points": 0,  # steps at which the gradient-MSE probes run (0: none)
    "probe_draws": 64,  # independent action and reward draws per probe
    "probe_batch": 64,  # contexts in the probe batch
    "seed": 0,
    "data": "digits",
    "mnist_dir": None,
    "classes": list(DEFAULT_CLASSES),
    "dtype": "float32",
}

# name -> (lowest, highest or None)
INT_RANGES = {
    "layers": (1, 64), "width": (1, None), "neuron": (1, None), "slots": (1, None), "parents": (1, None),
    "first_inputs": (1, None), "mlp_width": (1, None), "batch": (1, None), "steps": (1, None),
    "eval_points": (1, None), "eval_size": (1, None), "probe_points": (0, None), "probe_draws": (2, None),
    "probe_batch": (1, None), "seed": (0, 2**63 - 1),
}


def make_config(**overrides) -> dict:
    """DEFAULTS updated with `overrides`, the method's learning rate filled in, then checked."""
    unknown = sorted(set(overrides) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"config: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(DEFAULTS)}")
    config = dict(DEFAULTS) | overrides
    if config["lr"] is None and config["method"] in DEFAULT_LR:
        config["lr"] = DEFAULT_LR[config["method"]]
    config["classes"] = list(config["classes"]) if isinstance(config["classes"], (list, tuple)) else config["classes"]
    return check_config(config)


def _int(name, value, lo, hi):
    if isinstance(value, bool) or not isinstance(value, int) or value < lo or (hi is not None and value > hi):
        span = f">= {lo}" if hi is None else f"between {lo} and {hi}"
        raise ValueError(f"{name.replace('_', '-')} must be an integer {span}, got {value!r}")


def _real(name, value, lo, hi, lo_open=False, hi_open=False):
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value > lo if lo_open else value >= lo) and (hi is None or (value < hi if hi_open else value <= hi))
    if not ok:
        left, right = "(" if lo_open else "[", ")" if hi_open or hi is None else "]"
        raise ValueError(f"{name.replace('_', '-')} must be a number in {left}{lo}, {'inf' if hi is None else hi}{right}, "
                         f"got {value!r}")


def check_config(config: dict) -> dict:
    """Raise a one-line ValueError naming the first key outside its allowed range; return config."""
    missing = [k for k in DEFAULTS if k not in config]
    if missing:
        raise ValueError(f"config: missing key(s) {', '.join(missing)}")
    if config["method"] not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {config['method']!r}")
    if config["data"] not in DATASETS:
        raise ValueError(f"data must be one of {', '.join(DATASETS)}, got {config['data']!r}")
    if config["dtype"] not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {config['dtype']!r}")
    for name, (lo, hi) in INT_RANGES.items():
        _int(name, config[name], lo, hi)
    _real("lam", config["lam"], 0.0, 1.0)
    _real("lam_momentum", config["lam_momentum"], 0.0, 1.0, hi_open=True)
    _real("p_flip", config["p_flip"], 0.0, 1.0)
    _real("lr", config["lr"], 0.0, None, lo_open=True)
    _real("sg_lr", config["sg_lr"], 0.0, None, lo_open=True)
    if config["parents"] > config["width"]:
        raise ValueError(f"parents must be between 1 and width ({config['width']}), got {config['parents']}")
    if config["eval_points"] > config["steps"]:
        raise ValueError(f"eval-points must be between 1 and steps ({config['steps']}), got {config['eval_points']}")
    if config["probe_points"] > config["steps"]:
        raise ValueError(f"probe-points must be between 0 and steps ({config['steps']}), got {config['probe_points']}")
    if (config["data"] == "mnist") != (config["mnist_dir"] is not None):
        raise ValueError("mnist-dir must be given with data 'mnist', and only then")
    classes = config["classes"]
    if (not isinstance(classes, list) or len(classes) < 2 or len(set(classes)) != len(classes)
            or not all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 9 for c in classes)):
        raise ValueError(f"classes must be at least 2 distinct digits in 0..9, got {classes!r}")
    return config
