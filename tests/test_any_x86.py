"""The learning kernels' tests pass when numba and OpenBLAS are made to compile for an AVX2 CPU.

The kernels reassociate float32 sums, so how they round depends on the vector width the compiler
targets, and OpenBLAS picks its kernels by CPU. On an AVX-512 machine the suite itself runs the
host's target; this test runs the kernels' tests again in a subprocess compiled for Haswell (AVX2),
the other common x86-64 target, so a test that holds only for one vector width fails here.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from llvmlite import binding

AVX2 = {"NUMBA_CPU_NAME": "haswell", "NUMBA_CPU_FEATURES": "", "OPENBLAS_CORETYPE": "Haswell"}
KERNEL_TESTS = ("test_learning_routed.py", "test_learning_networks.py", "test_learning_mixing.py",
                "test_rsparse_sg.py", "test_rl_models.py", "test_learning_bandit.py")
TESTS = Path(__file__).parent
needs_avx2 = pytest.mark.skipif("+avx2" not in binding.get_host_cpu_features().flatten(),
                                reason="the host cannot run code compiled for AVX2")


def _run(args, timeout):
    env = os.environ | AVX2
    return subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=timeout,
                          cwd=TESTS.parent)


@needs_avx2
def test_the_forced_target_is_the_one_recorded():
    out = _run(["-c", "from runner.target import compile_target; t = compile_target(); print(t['cpu'], t['blas'])"], 120)
    assert out.returncode == 0, out.stderr
    cpu, blas = out.stdout.split(maxsplit=1)
    assert cpu == "haswell"
    assert "openblas" not in blas.lower() or "Haswell" in blas


@needs_avx2
def test_kernel_tests_pass_compiled_for_an_avx2_cpu():
    out = _run(["-m", "pytest", "-o", "addopts=", "-q", "-p", "no:cacheprovider", *(str(TESTS / f) for f in KERNEL_TESTS)], 900)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert " passed" in out.stdout and " failed" not in out.stdout
