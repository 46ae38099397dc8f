"""T6: without condition B the SG is biased; BP overtakes it beyond a crossover n*."""

from __future__ import annotations

from functools import lru_cache

import sympy as sp

from theory.symbolic.core import Derivation, identical
from theory.symbolic.estimators import t2_sg_parts
from theory.symbolic.partition import make_model

n = sp.Symbol("n", positive=True)
rho = sp.Symbol("rho", real=True)


@lru_cache(maxsize=None)
def scaling_in_n() -> dict:
    """MSE_BP(n) = V_BP / n and MSE_SG(n) = ||b||^2 + V_SG / n, from Cov(fhat) = Sigma / n (T1's lemma)
    in T2's general model (no condition B, general covariance)."""
    parts = t2_sg_parts()
    model = parts["model"]
    mse_bp = model.mse(model.bp())
    per_sample = {s: s / n for r in model.cov for s in model.cov[r].free_symbols}
    bp_n = sp.expand(mse_bp.xreplace(per_sample))
    sg_n = sp.expand(parts["mse"].xreplace(per_sample))
    bias_sq = parts["bias_sq"]
    V_BP, V_SG = mse_bp, sp.expand(parts["mse"] - bias_sq)  # the variances at n = 1
    return {"bp_n": bp_n, "sg_n": sg_n, "V_BP": V_BP, "V_SG": V_SG, "bias_sq": bias_sq,
            "bp_ok": identical(bp_n, V_BP / n), "sg_ok": identical(sg_n, bias_sq + V_SG / n),
            "bias_free_of_n": n not in bias_sq.free_symbols}


@lru_cache(maxsize=None)
def leak_bias() -> dict:
    """The leak fbar_j(r) = g_jz + rho c_j u_{L_j}(r) (L_j outside S_j) makes ||b||^2 = rho^2 Q, Q != 0."""
    model = make_model(d=2, reads=[(0,), (1,)], dim=2, clean="B")
    c = sp.symbols("c_0:2", real=True)
    leak_bit = (1, 0)  # expert 0 reads coordinate 0 and leaks coordinate 1, and vice versa
    for r in range(model.R):
        for j in range(model.m):
            u = 2 * ((r >> leak_bit[j]) & 1) - 1
            model.fbar[r, j] = model.fbar[r, j] + rho * c[j] * u
    bias_sq = sp.expand((model.bias().T * model.bias())[0, 0])
    q = sp.expand(bias_sq / rho**2)
    probe = {s: sp.Rational(i % 5 + 1, 3) for i, s in enumerate(sorted(q.free_symbols, key=str))}
    return {"bias_sq": bias_sq, "q": q, "zero_at_rho0": identical(bias_sq.subs(rho, 0), 0),
            "quadratic_in_rho": rho not in q.free_symbols, "positive_somewhere": q.subs(probe) > 0}


@lru_cache(maxsize=None)
def crossover() -> dict:
    B, VB, VS = sp.symbols("B V_BP V_SG", positive=True)
    mse_bp = VB / n
    mse_sg = B + VS / n
    solutions = sp.solve(sp.Eq(mse_bp, mse_sg), n)
    n_star = solutions[0] if len(solutions) == 1 else None
    t = sp.Symbol("t", positive=True)  # n = t n*
    advantage = sp.factor((mse_bp - mse_sg).subs(n, t * n_star)) if n_star is not None else None
    return {"n_star": n_star, "advantage": advantage, "B": B, "V_BP": VB, "V_SG": VS, "t": t,
            "n_star_ok": n_star is not None and identical(n_star, (VB - VS) / B),
            # MSE_BP - MSE_SG at n = t n*: B (1 - t) / t, positive for t < 1 (SG wins), negative for t > 1
            "sign_ok": advantage is not None and identical(advantage, B * (1 - t) / t)}


@lru_cache(maxsize=None)
def t6_crossover() -> Derivation:
    scale = scaling_in_n()
    leak = leak_bias()
    cross = crossover()
    checks = {
        "MSE_BP(n) = V_BP / n (from the n-sample averages)": scale["bp_ok"],
        "MSE_SG(n) = ||b||^2 + V_SG / n": scale["sg_ok"] and scale["bias_free_of_n"],
        "leak: ||b||^2 = rho^2 Q, zero at rho = 0, Q > 0 somewhere":
            leak["zero_at_rho0"] and leak["quadratic_in_rho"] and leak["positive_somewhere"],
        "solve MSE_BP(n) = MSE_SG(n): n* = (V_BP - V_SG) / ||b||^2": cross["n_star_ok"],
        "MSE_BP - MSE_SG = ||b||^2 (1 - t) / t at n = t n*: SG wins below n*, BP above": cross["sign_ok"],
    }
    return Derivation(
        id="T6",
        statement=("Without B (leak rho) SG is biased: MSE_SG(n) = ||b||^2 + V_SG/n, MSE_BP(n) = V_BP/n; "
                   "crossover n* = (V_BP - V_SG)/||b||^2: SG wins below n*, BP above."),
        exprs={"n_star": cross["n_star"], "advantage": cross["advantage"], "leak_bias_sq": leak["bias_sq"]},
        checks=checks,
        numbers=f"n* = {cross['n_star']}; MSE_BP - MSE_SG at n = t n*: {cross['advantage']}",
        latex=(r"\mathrm{MSE}_{SG}(n) = \|b\|^2 + \frac{V_{SG}}{n},\ \mathrm{MSE}_{BP}(n) = \frac{V_{BP}}{n},\ "
               r"n^* = " + sp.latex(cross["n_star"], symbol_names={cross["B"]: r"\|b\|^2"})),
    )
