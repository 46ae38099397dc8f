"""T9: an SG fitted by least squares over K specialized contexts gains K / p over BP.

Context k has features psi_k (p of them) and n samples of feedback psi_k^T beta + noise; BP uses
the context's average, SG uses psi_k^T beta_hat with beta_hat the least-squares fit over all
K n samples. The leverages psi_k^T M^-1 psi_k (M = sum_k psi_k psi_k^T) sum to p.
"""

from __future__ import annotations

from functools import lru_cache

import sympy as sp

from theory.symbolic.core import Derivation, expect_sqnorm, identical

n = sp.Symbol("n", positive=True)
sigma = sp.Symbol("sigma", positive=True)
w, L = sp.symbols("w L", positive=True)  # context weight, ||j_k||^2 (equal: balanced design)


def leverage_sum(features: sp.Matrix) -> sp.Expr:
    """sum_k psi_k^T M^-1 psi_k with psi_k the rows of `features`."""
    M = features.T * features
    Minv = M.inv()
    return sum((features[k, :] * Minv * features[k, :].T)[0, 0] for k in range(features.rows))


@lru_cache(maxsize=None)
def leverage_p2_symbolic_K() -> dict:
    """p = 2, psi_k = (1, h_k), K symbolic: the sum over k in terms of S1 = sum h_k, S2 = sum h_k^2."""
    K = sp.Symbol("K", integer=True, positive=True)
    k = sp.Symbol("k", integer=True, positive=True)
    h = sp.IndexedBase("h")
    S1, S2 = sp.symbols("S1 S2", real=True)
    M = sp.Matrix([[K, S1], [S1, S2]])  # sum_k psi_k psi_k^T
    Minv = M.inv()
    psi = sp.Matrix([1, h[k]])
    summand = sp.Poly((psi.T * Minv * psi)[0, 0], h[k])
    # the sum over k is linear: each power of h_k is summed with its (k-free) coefficient
    total = sum(coeff * sp.Sum(h[k] ** power, (k, 1, K)).doit() for (power,), coeff in summand.terms())
    total = total.subs({sp.Sum(h[k], (k, 1, K)): S1, sp.Sum(h[k] ** 2, (k, 1, K)): S2})
    stated = K * Minv[0, 0] + 2 * S1 * Minv[0, 1] + S2 * Minv[1, 1]
    return {"total": sp.simplify(total), "matches_stated": identical(total, stated),
            "is_p": identical(total, 2), "free_of_h": h not in total.free_symbols}


@lru_cache(maxsize=None)
def leverage_polynomial(K: int, p: int) -> bool:
    """Concrete K, p, psi_k = (1, h_k, ..., h_k^(p-1)) with symbolic h: sum_k psi_k^T adj(M) psi_k = p det M
    (the leverage identity with the denominator cleared: a polynomial identity)."""
    h = sp.symbols(f"h_1:{K + 1}", real=True)
    F = sp.Matrix(K, p, lambda i, j: h[i] ** j)
    M = F.T * F
    adj = M.adjugate()
    lhs = sum((F[i, :] * adj * F[i, :].T)[0, 0] for i in range(K))
    return identical(lhs, p * M.det())


@lru_cache(maxsize=None)
def leverage_general_features(K: int, p: int) -> bool:
    """Arbitrary symbolic features (K x p matrix of symbols): sum_k psi_k^T M^-1 psi_k = p."""
    F = sp.Matrix(K, p, lambda i, j: sp.Symbol(f"psi_{i}{j}", real=True))
    return identical(leverage_sum(F), p)


@lru_cache(maxsize=None)
def leverage_trace() -> dict:
    """The first step of the general argument, sum_k psi_k^T M^-1 psi_k = tr(Psi M^-1 Psi^T), on a
    concrete matrix. The rest (cyclic trace: tr(M^-1 Psi^T Psi) = tr(I_p) = p for any K, p) is not
    derived here: sympy's MatrixSymbol would only restate M^-1 M = I. General K, p stay a standard
    argument; the derivations check concrete K, p."""
    F = sp.Matrix(3, 2, lambda i, j: sp.Symbol(f"f_{i}{j}", real=True))
    Minv = (F.T * F).inv()
    as_trace = identical(sum((F[i, :] * Minv * F[i, :].T)[0, 0] for i in range(3)), (F * Minv * F.T).trace())
    return {"sum_is_trace": as_trace}


@lru_cache(maxsize=None)
def pooled_mses(K: int = 3) -> dict:
    """Per-context MSEs derived from the estimators, p = 2, psi_k = (1, h_k), symbolic h_k.

    The least-squares fit over all K n samples solves the normal equations
    (n M) beta_hat = n sum_k psi_k fhat_k; with D = det M, beta_hat = adj(M) sum_k psi_k fhat_k / D.
    The averages' noise epsbar_k is independent with variance sigma^2 / n. Denominators are kept
    apart (err_SG = num_k / D) so that every identity is polynomial.
    """
    p = 2
    h = sp.symbols(f"h_1:{K + 1}", real=True)
    beta = sp.Matrix(sp.symbols("beta_0:2", real=True))
    eps = sp.symbols(f"epsbar_1:{K + 1}", real=True)
    F = sp.Matrix(K, p, lambda i, j: h[i] ** j)
    fhat = [(F[i, :] * beta)[0, 0] + eps[i] for i in range(K)]
    M = F.T * F
    D, adj = sp.expand(M.det()), M.adjugate()
    rhs = sum((F[i, :].T * fhat[i] for i in range(K)), sp.zeros(p, 1))
    beta_hat_num = adj * rhs  # beta_hat = beta_hat_num / D
    solves = all(identical(a, D * b) for a, b in zip(n * M * beta_hat_num, n * rhs))

    def moment(a, b):
        return sigma**2 / n if a == b else sp.Integer(0)

    mse_bp, num_sq, sg_ok = [], [], True
    for i in range(K):
        err_bp = sp.Matrix([eps[i]])  # BP: the context's average minus its mean
        num = F[i, :] * beta_hat_num - D * F[i, :] * beta  # D * (SG error before w j_k)
        mse_bp.append(w**2 * L * expect_sqnorm(err_bp, eps, moment))
        num_sq.append(expect_sqnorm(num, eps, moment))
        # E[num_k^2] = D^2 (sigma^2 / n) psi_k^T M^-1 psi_k = D (sigma^2 / n) psi_k^T adj(M) psi_k
        sg_ok &= identical(num_sq[-1], D * sigma**2 / n * (F[i, :] * adj * F[i, :].T)[0, 0])
    mse_sg = [w**2 * L * e / D**2 for e in num_sq]
    ratio = sp.cancel(sp.Add(*mse_bp) / sp.Add(*mse_sg))
    return {"mse_bp": mse_bp, "mse_sg": mse_sg, "ratio": ratio, "solves": solves, "sg_ok": sg_ok,
            "bp_ok": all(identical(a, w**2 * L * sigma**2 / n) for a in mse_bp),
            "ratio_ok": identical(ratio, sp.Rational(K, p))}


@lru_cache(maxsize=None)
def t9_pooling() -> Derivation:
    two = leverage_p2_symbolic_K()
    trace = leverage_trace()
    poly = {(K, p): leverage_polynomial(K, p) for K, p in ((3, 3), (4, 3), (5, 2))}
    general = {(K, p): leverage_general_features(K, p) for K, p in ((3, 2),)}
    mses = pooled_mses(3)
    K, p = sp.symbols("K p", integer=True, positive=True)
    checks = {
        "p = 2, symbolic K: K Minv00 + 2 S1 Minv01 + S2 Minv11 = 2": two["is_p"] and two["matches_stated"] and two["free_of_h"],
        "sum of the quadratic forms = tr(Psi M^-1 Psi^T)": trace["sum_is_trace"],
    }
    for (KK, pp), ok in poly.items():
        checks[f"K = {KK}, p = {pp}, psi = powers of symbolic h_k: sum = {pp}"] = ok
    for (KK, pp), ok in general.items():
        checks[f"K = {KK}, p = {pp}, arbitrary symbolic features: sum = {pp}"] = ok
    checks["MSE_BP,k = w^2 ||j||^2 sigma^2 / n (derived, K = 3)"] = mses["bp_ok"]
    checks["beta_hat = adj(M) sum_k psi_k fhat_k / det M solves the normal equations"] = mses["solves"]
    checks["MSE_SG,k = w^2 ||j||^2 (sigma^2 / n) psi_k^T M^-1 psi_k (derived from least squares, K = 3)"] = mses["sg_ok"]
    checks["sum MSE_BP / sum MSE_SG = K / p = 3/2 (K = 3, p = 2)"] = mses["ratio_ok"]
    return Derivation(
        id="T9",
        statement=("K contexts, expected feedback linear in p features, least-squares SG pooled over contexts, "
                   "balanced design: sum_k MSE_BP,k / sum_k MSE_SG,k = K/p."),
        exprs={"leverage_sum_p2": two["total"], "ratio": K / p, "ratio_K3_p2": mses["ratio"]},
        checks=checks,
        numbers=(f"sum_k psi_k^T M^-1 psi_k = {two['total']} (p = 2, symbolic K); for general K, p the "
                 f"cyclic-trace step is not derived symbolically (a standard argument), the sum = p is checked "
                 f"for (K, p) = " + ", ".join(f"({a}, {b})" for a, b in [*poly, *general])
                 + f"; derived ratio at K = 3, p = 2: {mses['ratio']}"),
        latex=(r"\sum_k \psi_k^\top M^{-1}\psi_k = \mathrm{tr}(M^{-1}\textstyle\sum_k \psi_k\psi_k^\top) = p,\quad "
               r"\frac{\sum_k \mathrm{MSE}_{BP,k}}{\sum_k \mathrm{MSE}_{SG,k}} = \frac{K}{p}"),
    )
