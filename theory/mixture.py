"""T7's quadratic: the mixture lam e_BP + (1 - lam) e_SG in terms of its two estimators' errors.

||lam e_BP + (1 - lam) e_SG||^2 = lam^2 ||e_BP||^2 + (1 - lam)^2 ||e_SG||^2 + 2 lam (1 - lam) <e_BP, e_SG>,
and so its expectation, in V_BP, MSE_SG = ||b||^2 + V_SG and C. Plain arithmetic, so that the
jitted engine compiles this same function (montecarlo.jit hashes this file with its kernels).
"""

from __future__ import annotations


def mixture_weights(lam):
    """The weights of (||e_BP||^2, ||e_SG||^2, <e_BP, e_SG>) in the mixture's squared error."""
    return lam * lam, (1.0 - lam) * (1.0 - lam), 2.0 * lam * (1.0 - lam)
