"""The compile target of this process: what decides how the learning runs round their sums.

Two processes on the same target give the same numbers for the same seed, to the bit. The target
is numba's CPU name and features (the kernels are compiled for them, with reassociated sums whose
order depends on the vector width) and the BLAS library's kernel family (OpenBLAS picks a kernel per
CPU, and e.g. its SkylakeX kernel rounds x @ W and x @ W^T differently). Each saved run records it.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache


@lru_cache(maxsize=1)
def compile_target() -> dict:
    """{"cpu", "features", "blas", "numpy", "numba"}: features is a digest of numba's feature string."""
    import numba
    import numpy as np
    from llvmlite import binding
    from numba.core import codegen, config
    from threadpoolctl import threadpool_info

    cpu = config.CPU_NAME or binding.get_host_cpu_name()
    features = config.CPU_FEATURES if config.CPU_FEATURES is not None else codegen.get_host_cpu_features()
    libraries = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    # numpy's own BLAS does the products; another (scipy's) may or may not be loaded yet
    own = [i for i in libraries if "numpy" in str(i.get("filepath", ""))] or libraries
    blas = sorted(f"{i.get('internal_api')} {i.get('version')} {i.get('architecture')}" for i in own)
    return {"cpu": cpu, "features": hashlib.sha1(features.encode()).hexdigest()[:12],
            "blas": "; ".join(blas) or "none", "numpy": np.__version__, "numba": numba.__version__}


def same_target(a: dict | None, b: dict | None) -> bool:
    """Whether two recorded targets compile alike (then their runs agree to the bit). A record may
    list more BLAS libraries than numpy's (another loaded in its process): one list holding the
    other is the same BLAS."""
    if a is None or b is None:
        return False
    if any(a.get(k) != b.get(k) for k in ("cpu", "features", "numpy", "numba")):
        return False
    blas_a, blas_b = (set(str(t.get("blas")).split("; ")) for t in (a, b))
    return blas_a <= blas_b or blas_b <= blas_a
