"""One task of the runner: a function named by "module:function" and its one JSON-able configuration.

MOVED maps a function's former name to its current one, so results saved before a module moved are
still recognised as the same task.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass

KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.=+-]*$")
MOVED = {"learning.bandit:train": "learning.bandit.train:train", "learning.rl:train_rl": "learning.rl.train:train_rl"}


@dataclass(frozen=True)
class Task:
    key: str
    fn: str
    config: dict

    def __post_init__(self):
        if not KEY.match(self.key):
            raise ValueError(f"task key must match {KEY.pattern}, got {self.key!r}")
        if ":" not in self.fn:
            raise ValueError(f"task fn must be 'module:function', got {self.fn!r}")


def call(fn: str, config: dict):
    """Run one task in this process with one BLAS thread."""
    from threadpoolctl import threadpool_limits

    module, name = fn.split(":")
    function = getattr(importlib.import_module(module), name)
    with threadpool_limits(limits=1):
        return function(config)


def saved_fn(fn: str | None) -> str | None:
    """The current name of a saved result's function."""
    return MOVED.get(fn, fn)
