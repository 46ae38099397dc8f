"""The per-sample feedback covariance of each case as numpy functions, derived once and cached.

theory.symbolic.noise derives the covariances with sympy.stats; importing sympy and deriving
cost more than a second a process, which a short sweep would pay every time. So the first use
of a case derives it, prints it as numpy code and saves that text under a hash of noise.py's
source and the sympy version; later processes compile the saved text and never import sympy.
An edit of the derivation, or another sympy, selects a fresh file. A missing, unwritable or
unreadable cache only means deriving again.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import metadata
from pathlib import Path

import numpy as np

from theory.files import cache_dir, save_atomic, source_hash

PACKAGE = Path(__file__).resolve().parent
NOISE_SOURCE = PACKAGE / "symbolic" / "noise.py"
ARGS = ("fbar1", "fbar2", "alpha1", "alpha2", "sigma", "p", "tau")


def _sympy_version() -> str:
    try:
        return metadata.version("sympy")
    except metadata.PackageNotFoundError:
        return "unknown"


@lru_cache(maxsize=None)
def cache_file(case: str, shared: bool) -> Path | None:
    folder = cache_dir("sgbp-noise-forms", PACKAGE)
    if folder is None:
        return None
    key = source_hash([NOISE_SOURCE], extra=f"sympy {_sympy_version()}")
    return folder / f"{key}-{case}-{'shared' if shared else 'own'}.py"


def _compile(code: str):
    return eval(f"lambda {', '.join(ARGS)}: {code}", {"numpy": np})  # noqa: S307 (text we printed)


def derived_code(case: str, shared: bool) -> str:
    from theory.symbolic.noise import numpy_code

    return numpy_code(case, shared)


@lru_cache(maxsize=None)
def numeric_covariance(case: str, shared: bool):
    """A numpy function of ARGS: the shared-latent covariance of two experts, or (shared=False)
    the variance of one expert's feedback sample."""
    path = cache_file(case, shared)
    if path is not None and path.exists():
        try:
            return _compile(path.read_text())
        except (OSError, SyntaxError, ValueError):
            pass
    code = derived_code(case, shared)
    if path is not None:
        try:
            save_atomic(path, code)
        except OSError:
            pass
    return _compile(code)
