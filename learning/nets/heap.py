"""Keep freed memory in the process heap, so a training step's large temporaries reuse warm pages.

A training step allocates and frees the same large arrays (feedbacks, slot feedbacks, products)
every step. glibc serves allocations above its mmap threshold with fresh pages from the kernel
and returns them on free, so every step pays a page fault per 4 KiB of each temporary. Raising the
mmap and trim thresholds keeps those pages in the heap for reuse. Numbers are unchanged; only
where the memory comes from. Elsewhere than glibc this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's largest on 64-bit; a step's temporaries are below it
_TRIM_THRESHOLD = 1 << 30

_done = False


def reuse_freed_pages() -> bool:
    """Set glibc's thresholds once per process; True if they were set."""
    global _done
    if _done:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    _done = bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD))
    return _done
