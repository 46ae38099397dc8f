"""The decorator of every jitted kernel: numba's cache, keyed on the source of all kernel modules.

numba invalidates a cached kernel when the file that defines it changes, but not when a module
it calls changes: the kernels of expert.py inline the generator of rng.py, and after an edit of
rng.py they would keep loading the old generator from the cache. So every kernel here caches in
one directory named after a hash of the source of all KERNEL_SOURCES: any edit of any of them,
by a developer or by an upgrade, selects a fresh directory and recompiles.

The directory lies under NUMBA_CACHE_DIR when the user sets it, else in this package's
__pycache__, else in the user's cache folder; where none is writable the kernels are not cached.
numba fixes a function's cache location when it is decorated, so config.CACHE_DIR is set only
while `kernel` decorates and restored right after.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numba
from numba import njit

from theory.files import cache_dir as writable_cache_dir
from theory.files import source_hash as files_hash

PACKAGE = Path(__file__).resolve().parent
ROOT = PACKAGE.parent
# Every module that defines a kernel or holds code or constants a kernel uses (relative to ROOT).
KERNEL_SOURCES = ("montecarlo/jit.py", "montecarlo/rng.py", "montecarlo/stats.py", "montecarlo/expert.py",
                  "montecarlo/bench.py", "theory/mixture.py")


@lru_cache(maxsize=None)
def source_hash() -> str:
    return files_hash(ROOT / path for path in KERNEL_SOURCES)


@lru_cache(maxsize=None)
def cache_dir() -> Path | None:
    """Where the kernels cache for this source (None: no writable place, no caching)."""
    return writable_cache_dir(f"sgbp-kernels-{source_hash()}", PACKAGE, preferred=numba.config.CACHE_DIR or None)


def kernel(**options):
    """njit(cache=True, **options) with the cache in cache_dir()."""
    def decorate(fn):
        where = cache_dir()
        if where is None:
            return njit(cache=False, **options)(fn)
        saved = numba.config.CACHE_DIR
        numba.config.CACHE_DIR = str(where)
        try:
            return njit(cache=True, **options)(fn)
        finally:
            numba.config.CACHE_DIR = saved
    return decorate
