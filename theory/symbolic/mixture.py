"""T7-T8: the mixture lambda e_BP + (1 - lambda) e_SG, its optimal lambda*, and the plug-in rule.

The errors are written in the basis (b, e, s): e_BP = e (BP's zero-mean fluctuation) and
e_SG = b + s (bias plus SG's zero-mean fluctuation). Every expected inner product follows
from the second moments E||e||^2 = V_BP, E||s||^2 = V_SG, E<e, s> = C, ||b||^2 = B, with
E<b, e> = E<b, s> = 0 because b is deterministic and e, s have mean zero.
"""

from __future__ import annotations

from functools import lru_cache

import sympy as sp

from theory.symbolic.core import Derivation, identical
from theory.symbolic.estimators import t2_sg_parts
from theory.symbolic.partition import make_model

B = sp.Symbol("B", nonnegative=True)
VB, VS = sp.symbols("V_BP V_SG", nonnegative=True)
C = sp.Symbol("C", real=True)
lam = sp.Symbol("lambda", real=True)
n = sp.Symbol("n", positive=True)

GRAM = sp.Matrix([[B, 0, 0], [0, VB, C], [0, C, VS]])
BIAS, E_BP, S = sp.Matrix([1, 0, 0]), sp.Matrix([0, 1, 0]), sp.Matrix([0, 0, 1])
E_SG = BIAS + S


def moment(a: sp.Matrix, b: sp.Matrix) -> sp.Expr:
    """E<a, b> for a, b given by their coordinates in the basis (b, e, s)."""
    return sp.expand((a.T * GRAM * b)[0, 0])


def _latex(expr) -> str:
    return sp.latex(expr, symbol_names={B: r"\|b\|^2"})


def stated_mse(l):
    """docs/theory.md T7's form, for comparison with the derived one."""
    return (1 - l) ** 2 * B + l**2 * VB + (1 - l) ** 2 * VS + 2 * l * (1 - l) * C


@lru_cache(maxsize=None)
def mixture_mse() -> dict:
    mix = lam * E_BP + (1 - lam) * E_SG
    mse = moment(mix, mix)
    slope = sp.diff(mse, lam)
    solutions = sp.solve(slope, lam)
    star = solutions[0] if len(solutions) == 1 else sp.nan
    den = moment(E_SG - E_BP, E_SG - E_BP)  # E||e_SG - e_BP||^2
    curvature = sp.diff(mse, lam, 2)
    best = sp.simplify(mse.subs(lam, star))
    return {"mse": mse, "lambda_star": star, "den": den, "curvature": curvature, "best": best,
            "mse0": mse.subs(lam, 0), "mse1": mse.subs(lam, 1)}


@lru_cache(maxsize=None)
def separate_blocks_cov() -> dict:
    """C = E<e_BP, e_SG - b> against V_SG = E||e_SG - b||^2 for tabular SG with separate blocks.

    d = 2, two experts, block-separated contributions, general clean feedback (B not needed).
    With the noise variance constant in each cell, C = V_SG; with a different variance per state
    (activation with a leak: fbar varies within a cell) the two differ.
    """
    out = {}
    for cov in ("cell", "general"):
        model = make_model(d=2, reads=[(0,), (1,)], dim=1, separate_blocks=True, cov=cov)
        if cov == "general":  # independent across experts, one variance per state and expert
            for r in model.cov:
                model.cov[r] = sp.diag(*[sp.Symbol(f"w_{r}{j}", positive=True) for j in range(model.m)])
        e_bp = model.bp() - model.grad()
        s = model.sg() - model.grad() - model.bias()
        out[cov] = identical(model.E_dot(e_bp, s), model.E_dot(s, s))
    return {"cell": out["cell"], "state": out["general"]}


@lru_cache(maxsize=None)
def t7_mixture() -> Derivation:
    mix = mixture_mse()
    star, den = mix["lambda_star"], mix["den"]
    star_tab = sp.simplify(star.subs(C, VS))
    a, s = sp.symbols("a s", positive=True)  # V_BP = a / n, V_SG = s / n
    blocks = separate_blocks_cov()
    checks = {
        "E||lambda e_BP + (1-lambda) e_SG||^2 = (1-l)^2 B + l^2 V_BP + (1-l)^2 V_SG + 2 l (1-l) C":
            identical(mix["mse"], stated_mse(lam)),
        "dMSE/dlambda = 0: lambda* = (B + V_SG - C) / (B + V_BP + V_SG - 2C)":
            identical(star, (B + VS - C) / (B + VB + VS - 2 * C)),
        "d2MSE/dlambda2 = 2 E||e_SG - e_BP||^2 >= 0": identical(mix["curvature"], 2 * den),
        "den = B + (sqrt V_BP - sqrt V_SG)^2 + 2 (sqrt(V_BP V_SG) - C) (Cauchy-Schwarz: >= 0)":
            identical(den, B + (sp.sqrt(VB) - sp.sqrt(VS)) ** 2 + 2 * (sp.sqrt(VB * VS) - C)),
        "MSE(0) - MSE(lambda*) = (B + V_SG - C)^2 / den": identical(mix["mse0"] - mix["best"], (B + VS - C) ** 2 / den),
        "MSE(1) - MSE(lambda*) = (V_BP - C)^2 / den": identical(mix["mse1"] - mix["best"], (VB - C) ** 2 / den),
        "separate blocks, variance constant in each cell: C = V_SG": blocks["cell"],
        "C = V_SG: lambda* = B / (B + V_BP - V_SG)": identical(star_tab, B / (B + VB - VS)),
        "lambda* = 0 under B (B = 0)": identical(star_tab.subs(B, 0), 0),
        "lambda* -> 1 as n grows when B > 0": sp.limit(star_tab.subs({VB: a / n, VS: s / n, B: sp.Symbol("b", positive=True)}), n, sp.oo) == 1,
    }
    return Derivation(
        id="T7",
        statement=("MSE(lambda) of the mixture is quadratic; with B = ||b||^2, lambda* = (B + V_SG - C)/(B + V_BP + V_SG - 2C) "
                   "clipped to [0,1], MSE(lambda*) <= min(MSE(0), MSE(1)); C = V_SG for tabular SG with "
                   "separate blocks, so lambda* = B/(B + V_BP - V_SG)."),
        exprs={"mse": mix["mse"], "lambda_star": star, "lambda_star_tabular": star_tab, "den": den,
               "gain_vs_sg": sp.factor(mix["mse0"] - mix["best"]), "gain_vs_bp": sp.factor(mix["mse1"] - mix["best"])},
        checks=checks,
        numbers=(f"lambda* = {star}; with C = V_SG: {star_tab}; MSE(0) - MSE(lambda*) = "
                 f"{sp.factor(mix['mse0'] - mix['best'])}; C = V_SG needs the variance constant in each cell "
                 f"(per-state variances: C = V_SG {'holds' if blocks['state'] else 'fails'})"),
        latex=(r"\mathrm{MSE}(\lambda) = " + _latex(stated_mse(lam)) + r",\quad \lambda^* = "
               + _latex(star) + r",\quad \mathrm{MSE}(0) - \mathrm{MSE}(\lambda^*) = "
               + _latex(sp.factor(mix["mse0"] - mix["best"]))),
    )


@lru_cache(maxsize=None)
def plugin_moments_in_model() -> dict:
    """On T2's general model (no B, general covariance), with u = SG - BP taken from the estimators
    (not from the basis (b, e, s), where these hold by construction): each population moment."""
    parts = t2_sg_parts()
    model = parts["model"]
    e_bp = model.bp() - model.grad()
    e_sg = model.sg() - model.grad()
    bias = parts["bias"]
    s = e_sg - bias
    u = model.sg() - model.bp()
    V_BP, V_SG, cov = model.E_dot(e_bp, e_bp), model.E_dot(s, s), model.E_dot(e_bp, s)
    mean_u = model.E_vector(u)
    var_u = model.E_dot(u - mean_u, u - mean_u)
    return {
        "E ubar = b": all(identical(a, b) for a, b in zip(mean_u, bias)),
        "Var(ubar) = V_BP + V_SG - 2C": identical(var_u, V_BP + V_SG - 2 * cov),
        "Cov(wbar, ubar) = C - V_BP": identical(model.E_dot(e_bp, u - mean_u), cov - V_BP),
        "b2 = E||ubar||^2 - Var(ubar) = ||b||^2": identical(model.E_dot(u, u) - var_u, parts["bias_sq"]),
    }


@lru_cache(maxsize=None)
def t8_plugin() -> Derivation:
    """Population moments of the plug-in: u = e_SG - e_BP (what_i - w_i averaged over the batch)."""
    u = E_SG - E_BP  # ubar - grad-free: whatbar - wbar = e_SG - e_BP
    u_fluct = u - BIAS  # ubar - E ubar
    w_fluct = E_BP  # wbar - E wbar
    v = moment(u_fluct, u_fluct)
    c = moment(w_fluct, u_fluct)
    mean_sq = moment(u, u)  # E||ubar||^2
    b2 = sp.Max(mean_sq - v, 0)
    plug = sp.simplify(1 + c / (v + b2))
    star = mixture_mse()["lambda_star"]
    checks = {f"T2's model, from the estimators: {name}": ok for name, ok in plugin_moments_in_model().items()}
    # with those moments (v = V_BP + V_SG - 2C, c = C - V_BP, b2 = B) the rule is T7's minimiser
    checks["1 + c / (v + b2) = lambda*"] = identical(plug, star)
    return Derivation(
        id="T8",
        statement=("The authors' plug-in lambda = clip(1 + c/(v + b2), 0, 1) equals T7's lambda* "
                   "in population moments (v = Var(ubar), c = Cov(wbar, ubar), b2 = ||E ubar||^2 = B)."),
        exprs={"v": v, "c": c, "b2": b2, "lambda": plug},
        checks=checks,
        numbers=(f"v = {v}, c = {c}, b2 = {b2}, derived from the estimators of a 4-state, 2-expert model "
                 f"(in the basis (b, e, s) they hold by construction); 1 + c/(v + b2) = {plug} = lambda*"),
        latex=(r"v = " + _latex(v) + r",\ c = " + _latex(c) + r",\ b_2 = " + _latex(b2)
               + r",\quad 1 + \frac{c}{v + b_2} = " + _latex(plug) + r" = \lambda^*"),
    )
