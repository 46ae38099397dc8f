"""numba's cache must not outlive a change in a module a cached kernel calls.

A copy of the package runs expert._draw_pass (the smallest kernel that calls the generator of
another module) in fresh processes: once on a cold cache, once more unchanged (the cache is
reused), and once after the copy's rng.py is edited (the kernel must see the new generator).
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from montecarlo import jit

ROOT = Path(__file__).resolve().parents[1]

RUN = """
import json
import numpy as np
from montecarlo import expert, jit, rng
assert expert.__file__.startswith(COPY), expert.__file__
m, R, n = 2, 8, 2
nu = np.zeros((m, R))
expert._draw_pass(rng.chunk_states(0, 1)[0].copy(), np.empty(64), R, n, False, False, 0.5,
                  np.ones((m, R)), np.ones((3, R)), np.array([0, 0, 1]), np.array([0, 1, 1]),
                  np.ones(R), nu, np.zeros(R), np.zeros(R))
stats = expert._draw_pass.stats
print(json.dumps({"nu": nu.ravel().tolist(), "dir": str(jit.cache_dir()),
                  "hits": sum(stats.cache_hits.values()), "misses": sum(stats.cache_misses.values())}))
"""


def _run(copy: Path, cache: Path) -> dict:
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache), PYTHONPATH=str(copy))
    out = subprocess.run([sys.executable, "-c", RUN.replace("COPY", repr(str(copy)))], cwd=copy, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_editing_the_generator_invalidates_the_kernels_that_call_it(tmp_path):
    copy = tmp_path / "src"
    for package in ("montecarlo", "theory"):  # theory: the engine's imports and theory/mixture.py
        shutil.copytree(ROOT / package, copy / package, ignore=shutil.ignore_patterns("__pycache__"))
    cache = tmp_path / "cache"

    cold = _run(copy, cache)
    assert cold["misses"] > 0 and cold["hits"] == 0
    # A user-provided NUMBA_CACHE_DIR holds the kernels' cache.
    assert Path(cold["dir"]).parent == cache and Path(cold["dir"]).name.startswith("sgbp-kernels-")
    assert list(Path(cold["dir"]).rglob("expert._draw_pass-*.nbi"))

    warm = _run(copy, cache)
    assert warm["hits"] > 0 and warm["misses"] == 0
    assert warm["nu"] == cold["nu"] and warm["dir"] == cold["dir"]

    # A realistic edit of the generator: another xoshiro output multiplier, in an inlined helper.
    rng_py = copy / "montecarlo" / "rng.py"
    text, count = re.subn(r"\* np\.uint64\(9\)", "* np.uint64(7)", rng_py.read_text())
    assert count == 1
    rng_py.write_text(text)

    edited = _run(copy, cache)
    assert edited["nu"] != cold["nu"], "the kernel kept the old generator"
    assert edited["misses"] > 0 and edited["hits"] == 0
    assert edited["dir"] != cold["dir"]


def test_every_module_that_defines_a_kernel_is_in_the_hash():
    """A kernel module left out of KERNEL_SOURCES would bring the stale cache back."""
    for path in sorted((ROOT / "montecarlo").glob("*.py")):
        text = path.read_text()
        assert path.stem == "jit" or not re.search(r"\bnjit\b", text), f"{path.name}: decorate kernels with jit.kernel"
        if "kernel(" in text and path.stem != "jit":
            assert f"montecarlo/{path.name}" in jit.KERNEL_SOURCES, path.name
    for source in jit.KERNEL_SOURCES:
        assert (ROOT / source).is_file(), source


def test_source_hash_is_the_first_16_hex_digits_of_the_sha256_of_names_and_contents(tmp_path):
    """The cache key by hand: sha256 over extra, then each file's name and bytes, NUL-separated; 16 digits."""
    import hashlib

    from theory.files import source_hash

    (tmp_path / "a.py").write_bytes(b"x = 1\n")
    (tmp_path / "b.py").write_bytes(b"")
    want = hashlib.sha256(b"v2\0a.py\0x = 1\n\0b.py\0\0").hexdigest()[:16]
    assert source_hash([tmp_path / "a.py", tmp_path / "b.py"], extra="v2") == want and len(want) == 16


def test_a_folder_that_cannot_be_made_is_passed_over(tmp_path):
    """cache_dir takes the first writable base: a preferred folder under a regular file cannot be made
    (root included), so the package's __pycache__ is taken instead."""
    from theory.files import cache_dir

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    package = tmp_path / "pkg"
    assert cache_dir("forms", package, preferred=str(blocker / "sub")) == package / "__pycache__" / "forms"
    assert cache_dir("forms", package, preferred=str(tmp_path / "ok")) == tmp_path / "ok" / "forms"
