"""Timing of the networks' matrix products alone: every numpy.matmul call inside a block, with its FLOPs."""

from __future__ import annotations

import time
from contextlib import contextmanager

import numpy as np


@contextmanager
def timed_products():
    """Inside, every numpy.matmul call (the per-neuron products) is timed and its FLOPs counted from the
    shapes: yields a dict whose "seconds" and "flops" grow. A separate pass from the step timing, so
    the wrapper's own overhead does not enter the reported step times."""
    real = np.matmul
    total = {"seconds": 0.0, "flops": 0.0}

    def timed(a, b, *args, **kw):
        start = time.perf_counter()
        out = real(a, b, *args, **kw)
        total["seconds"] += time.perf_counter() - start
        total["flops"] += 2.0 * out.size * a.shape[-1]
        return out

    np.matmul = timed
    try:
        yield total
    finally:
        np.matmul = real
