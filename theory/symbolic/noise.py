"""Per-sample feedback covariance of the three sources of gradient uncertainty (docs/theory.md 2).

Derived with sympy.stats from the sampling model of each case; the numeric layer evaluates
these expressions (printed as numpy code, theory.covariance), so the variances it uses are the
derived ones, not retyped ones.
"""

from __future__ import annotations

from functools import lru_cache

import sympy as sp
from sympy.stats import Bernoulli, Normal, covariance

fbar1, fbar2, alpha1, alpha2 = sp.symbols("fbar1 fbar2 alpha1 alpha2", real=True)
sigma, tau, p = sp.symbols("sigma tau p", positive=True)
ARGS = (fbar1, fbar2, alpha1, alpha2, sigma, p, tau)


def _sampled_feedback(case: str, fbar, alpha, latent):
    if case == "noisy":
        return fbar + latent
    if case == "activation":
        return fbar * latent / p
    if case == "partial":
        return fbar - alpha * latent
    raise ValueError(f"case must be one of noisy, activation, partial, got {case!r}")


def _latent(case: str, name: str):
    return {
        "noisy": lambda: Normal(name, 0, sigma),
        "activation": lambda: Bernoulli(name, p),
        "partial": lambda: Normal(name, 0, tau),
    }[case]()


@lru_cache(maxsize=None)
def feedback_covariance(case: str, shared: bool) -> sp.Expr:
    """Cov(f_1, f_2) of one sample for two experts of the same state.

    shared=False: each expert draws its own latent (the authors' construction);
    shared=True: one latent per state feeds every expert (the correlated variant).
    """
    first = _latent(case, "xi1")
    second = first if shared else _latent(case, "xi2")
    f1 = _sampled_feedback(case, fbar1, alpha1, first)
    f2 = _sampled_feedback(case, fbar2, alpha2, second)
    return sp.factor(sp.simplify(covariance(f1, f2)))


@lru_cache(maxsize=None)
def feedback_variance(case: str) -> sp.Expr:
    """Var(f) of one sample: the diagonal of feedback_covariance."""
    first = _latent(case, "xi1")
    f = _sampled_feedback(case, fbar1, alpha1, first)
    return sp.factor(sp.simplify(covariance(f, f)))


def numpy_code(case: str, shared: bool) -> str:
    """A numpy expression in the names of ARGS: the shared-latent covariance, or (shared=False) the
    variance; theory.covariance compiles it (and caches it, so that later runs need no sympy)."""
    from sympy.printing.numpy import NumPyPrinter

    expr = feedback_covariance(case, True) if shared else feedback_variance(case)
    return NumPyPrinter().doprint(expr)
