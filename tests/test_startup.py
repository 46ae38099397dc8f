"""What a short command pays for besides its work: no sympy, no matplotlib, and numeric noise
forms that are the derived ones, whether freshly derived or read back from their cache."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from theory import covariance
from theory.params import CASES
from theory.symbolic import noise

ROOT = Path(__file__).resolve().parents[1]
KEYS = [(case, shared) for case in CASES for shared in (False, True)]


def _values(fn):
    rng = np.random.default_rng(5)
    fbar1, fbar2, alpha1, alpha2 = rng.normal(size=(4, 6))
    return np.broadcast_to(fn(fbar1, fbar2, alpha1, alpha2, 0.7, 0.3, 1.3), (6,))


def _lambdified(case, shared):
    expr = noise.feedback_covariance(case, True) if shared else noise.feedback_variance(case)
    return sp.lambdify(noise.ARGS, expr, modules="numpy")


@pytest.fixture
def cache_in(tmp_path, monkeypatch):
    monkeypatch.setattr(covariance, "cache_file", lambda case, shared: tmp_path / f"{case}-{shared}.py")
    covariance.numeric_covariance.cache_clear()
    yield tmp_path
    covariance.numeric_covariance.cache_clear()


def test_noise_forms_read_back_from_the_cache_are_the_derived_ones(cache_in, monkeypatch):
    fresh = {key: _values(covariance.numeric_covariance(*key)) for key in KEYS}
    assert len(list(cache_in.iterdir())) == len(KEYS)
    covariance.numeric_covariance.cache_clear()

    def no_sympy(case, shared):
        raise AssertionError("derived again although the cache holds the form")

    monkeypatch.setattr(covariance, "derived_code", no_sympy)
    for key in KEYS:
        expected = _values(_lambdified(*key))
        np.testing.assert_allclose(fresh[key], expected, rtol=1e-14)
        np.testing.assert_allclose(_values(covariance.numeric_covariance(*key)), expected, rtol=1e-14)


def test_an_unreadable_cached_form_is_derived_again(cache_in):
    covariance.numeric_covariance("activation", False)
    (cache_in / "activation-False.py").write_text("-fbar1**2*(p - 1)/")  # cut short
    covariance.numeric_covariance.cache_clear()
    got = _values(covariance.numeric_covariance("activation", False))
    np.testing.assert_allclose(got, _values(_lambdified("activation", False)), rtol=1e-14)


def test_short_commands_import_neither_sympy_nor_matplotlib():
    # Warm the noise forms' cache as a first run would, then start afresh.
    for key in KEYS:
        covariance.numeric_covariance(*key)
    code = (
        "import json, sys\n"
        "from sgbp.cli import main\n"
        "main(['explore', 'expert', '--case', 'all', '--d', '3', '--trials', '2', '--leak', '0.2'])\n"
        "main(['explore', 'expert', '--case', 'all', '--d', '3', '--trials', '2', '--shared-latent'])\n"
        "main(['theory', 'expert', '--case', 'partial', '--d', '3'])\n"
        "print(json.dumps(sorted(m for m in ('sympy', 'matplotlib') if m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_the_benchmarks_end_to_end_command_runs_the_sweep_it_times():
    """The end-to-end figure times `sgbp explore expert` on the benchmark's own grid: every (d, n)
    and case must come out, else the figure would time another (or a failing) command."""
    from montecarlo.bench import explore_command

    command = explore_command(ds=range(3, 5), ns=(1, 3), trials=4, k=2, m=3, seed=2)
    out = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    rows = [line.split() for line in out.stdout.splitlines()[3:]]
    assert sorted((r[0], int(r[1]), int(r[2]), int(r[3])) for r in rows) == sorted(
        (case, d, 2, n) for case in CASES for d in (3, 4) for n in (1, 3))
    assert "m=3, seed=2, trials=4" in out.stdout


def test_without_a_writable_cache_the_forms_are_derived(monkeypatch):
    """No writable cache folder (cache_file None): every form is derived in the process, nothing read."""
    monkeypatch.setattr(covariance, "cache_file", lambda case, shared: None)
    covariance.numeric_covariance.cache_clear()
    try:
        for key in KEYS:
            np.testing.assert_allclose(_values(covariance.numeric_covariance(*key)), _values(_lambdified(*key)),
                                       rtol=1e-14)
    finally:
        covariance.numeric_covariance.cache_clear()
