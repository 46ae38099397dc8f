"""Parameter checks shared by the API and the command line.

Each check raises ValueError with one line that names the parameter and its allowed range.
"""

from __future__ import annotations

import math

CASES = ("noisy", "activation", "partial")
# The setting of each case's noise parameter that makes its feedback deterministic (T5: A fails).
DETERMINISTIC = {"noisy": {"sigma": 0.0}, "activation": {"p": 1.0}, "partial": {"tau": 0.0}}

# An instance stores 2^d Jacobians of d x d float64 numbers: 8 * 2^d * d^2 bytes, 3.4 GB at d = 20
# and 15 GB at d = 22, beyond a 24 GB machine once the contributions and temporaries are added.
MAX_D = 20
MAX_M = 64


def jacobian_bytes(d: int) -> int:
    return 8 * 2**d * d * d


def check_int(name: str, value, lo: int, hi: int | None = None, why: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < lo or (hi is not None and value > hi):
        rng = f">= {lo}" if hi is None else f"between {lo} and {hi}"
        raise ValueError(f"{name} must be {rng}{why}, got {value}")
    return value


def check_instance_shape(d: int, k: int, m: int) -> None:
    check_int(
        "d",
        d,
        1,
        MAX_D,
        f" (the instance stores 2^d Jacobians of d x d float64: {jacobian_bytes(MAX_D) / 1e9:.1f} GB at d = {MAX_D})",
    )
    check_int("k", k, 1, d, " (k <= d: an expert reads k of the d coordinates)")
    check_int("m", m, 1, MAX_M)


def check_real(name: str, value, lo: float | None = None, hi: float | None = None,
               lo_open: bool = False, hi_open: bool = False) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number, got {value!r}") from None
    left = "(" if lo_open or lo is None else "["
    right = ")" if hi_open or hi is None else "]"
    span = f"{left}{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}{right}"
    bad = not math.isfinite(x)
    if lo is not None and (x < lo or (lo_open and x == lo)):
        bad = True
    if hi is not None and (x > hi or (hi_open and x == hi)):
        bad = True
    if bad:
        raise ValueError(f"{name} must be in {span}, got {value}")
    return x


def check_leak(rho: float, k: int, d: int) -> None:
    """The leak adds rho c_j u[l_j] with l_j outside the k coordinates an expert reads: needs k < d."""
    if rho != 0.0 and k >= d:
        raise ValueError(f"leak needs k < d (a coordinate outside S_j), got k = {k}, d = {d}")


def check_case(case: str) -> str:
    if case not in CASES:
        raise ValueError(f"case must be one of {', '.join(CASES)}, got {case!r}")
    return case
