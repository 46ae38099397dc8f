"""Task functions of tests/test_cluster.py, in a module of their own so that Dask workers import them.

Every call leaves a file in config["log"], so a test counts how often each task ran.
"""

import os
import time
import uuid
from pathlib import Path

import numpy as np

WAIT = 30  # seconds a task waits for other results before it gives up


def _log(config, tag: str) -> None:
    Path(config["log"], f"{tag}.{uuid.uuid4().hex}").touch()


def calls(log, tag) -> int:
    return sum(1 for p in Path(log).iterdir() if p.name.split(".")[0] == str(tag))


def draw(config):
    """A result that depends only on the configuration's seed."""
    _log(config, config["seed"])
    rng = np.random.default_rng(config["seed"])
    return {"seed": config["seed"], "mean": float(rng.normal(size=1000).mean())}


def fail(config):
    """Raises on every call."""
    _log(config, "fail")
    raise RuntimeError(f"seed {config['seed']} cannot be run")


def _wait_for(paths) -> None:
    deadline = time.monotonic() + WAIT
    while not all(Path(p).exists() for p in paths):
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {WAIT} s for {paths}")
        time.sleep(0.05)


def die(config):
    """Once the results in config["after"] are saved, kills its own worker process on each of its
    first config["deaths"] calls (on every call when deaths is -1), then returns 7 * seed."""
    _wait_for(config["after"])
    _log(config, config["tag"])
    if config["deaths"] < 0 or calls(config["log"], config["tag"]) <= config["deaths"]:
        os._exit(1)
    return 7 * config["seed"]
