"""T10-T12 (docs/theory.md section 6, the toolkit's extension): diagnosing A and B from one batch.

Each derivation writes the feedback sample by sample, f_rji = fbar_rj + e_rji with e_rji
independent across states r and samples i (within-state covariance Sigma_r across experts j),
builds the estimators from their definitions (batch means, the SG cell tables, the per-sample
signals of the authors' plug-in, the within-state sample covariance) and takes expectations.
Identities are settled by expanding and cancelling polynomials, never by simplify, so that a
false one fails at once.
"""

from __future__ import annotations

from functools import lru_cache

import sympy as sp

from theory.symbolic.core import Derivation, dot, sqnorm
from theory.symbolic.mixture import B as B7
from theory.symbolic.mixture import C as C7
from theory.symbolic.mixture import VB as VB7
from theory.symbolic.mixture import VS as VS7
from theory.symbolic.mixture import mixture_mse
from theory.symbolic.partition import PartitionModel, make_model

n_sym = sp.Symbol("n", positive=True)
R_sym = sp.Symbol("R", positive=True)
B, VB, VS, C, GB = sp.symbols("B V_BP V_SG C G_b", real=True)


def same(a, b) -> bool:
    """a == b exactly, for polynomials and rational functions: expand, then cancel."""
    diff = sp.expand(sp.sympify(a) - sp.sympify(b))
    return diff == 0 or sp.cancel(sp.together(diff)) == 0


class NoiseRing:
    """Exact polynomial arithmetic (sympy's sparse rings over QQ) for expectations over the noise:
    much faster than expanding sympy expressions, and exact."""

    def __init__(self, noise, symbols):
        self.noise = list(noise)
        others = sorted(set(symbols) - set(self.noise), key=str)
        self.ring, *_ = sp.xring(self.noise + others, sp.QQ)
        self.k = len(self.noise)

    def poly(self, expr):
        return self.ring.from_expr(sp.sympify(expr))

    def expect(self, p, moment_of):
        """E[p]: moment_of(exponents of the noise) is the moment as an expression (0 or None: zero)."""
        out, cache = self.ring.zero, {}
        for monom, coeff in p.terms():
            key = monom[:self.k]
            if key not in cache:
                mom = moment_of(key)
                cache[key] = None if mom is None or mom == 0 else self.poly(mom)
            if cache[key] is None:
                continue
            rest = self.ring.from_dict({(0,) * self.k + monom[self.k:]: coeff})
            out += rest * cache[key]
        return out

    def same(self, p, expr) -> bool:
        return p == self.poly(expr)


def independent_moments(noise, moment):
    """moment_of for independent zero-mean variables: prod E[v^p]; moment(v, p) for p >= 2."""
    def moment_of(key):
        out = sp.Integer(1)
        for v, p in zip(noise, key):
            if p == 1:
                return None
            if p:
                out *= moment(v, p)
        return out
    return moment_of


# ---------------------------------------------------------------- a batch of samples

class Batch:
    """n samples per state on a PartitionModel; per-sample noise symbols e[r, j, i]."""

    def __init__(self, model: PartitionModel, n: int, sigma: dict | None = None):
        self.model, self.n = model, n
        R, m = model.R, model.m
        self.e = {(r, j, i): sp.Symbol(f"e_{r}{j}{i}", real=True) for r in range(R) for j in range(m) for i in range(n)}
        self.sigma = sigma or model.cov  # per-sample covariance of state r
        self.noise = list(self.e.values())
        self._where = {s: k for k, s in self.e.items()}
        self.sub = {model.nu[r, j]: sp.Add(*[self.e[r, j, i] for i in range(n)]) / n for r in range(R) for j in range(m)}

    def f(self, r, j, i):
        return self.model.fbar[r, j] + self.e[r, j, i]

    def fhat(self, r, j):
        return self.model.fhat(r, j).subs(self.sub)

    def vec(self, v: sp.Matrix) -> sp.Matrix:
        return v.subs(self.sub)

    def moment(self, a, b):
        (r, j, i), (s, k, l) = self._where[a], self._where[b]
        return self.sigma[r][j, k] if (r == s and i == l) else sp.Integer(0)

    def nring(self, *extra) -> NoiseRing:
        model = self.model
        symbols = set(self.noise)
        for v in model.x.values():
            symbols |= v.free_symbols
        for f in model.fbar.values():
            symbols |= sp.sympify(f).free_symbols
        for S in self.sigma.values():
            symbols |= S.free_symbols
        for e in extra:
            symbols |= sp.sympify(e).free_symbols
        return NoiseRing(self.noise, symbols)

    def _second(self, key):
        idx = [k for k, p in enumerate(key) for _ in range(p)]
        if not idx:
            return sp.Integer(1)
        if len(idx) == 1:
            return None
        if len(idx) > 2:
            raise ValueError("Batch.E: degree > 2 in the noise")
        return self.moment(self.noise[idx[0]], self.noise[idx[1]])

    def E(self, expr):
        """E[expr] for expr of degree <= 2 in the per-sample noise."""
        nr = self.nring(expr)
        return nr.expect(nr.poly(expr), self._second).as_expr()

    def sample_cov(self, r):
        """Sigma_hat_r: the within-state sample covariance (ddof 1)."""
        m, n = self.model.m, self.n
        return sp.Matrix(m, m, lambda j, k: sp.Add(*[(self.f(r, j, i) - self.fhat(r, j)) * (self.f(r, k, i) - self.fhat(r, k))
                                                     for i in range(n)]) / (n - 1))

    def gram_form(self, gram) -> sp.Expr:
        """sum_r sum_jk gram(r, j, k) Sigma_hat_r[j, k] / n: T1-T2's formula with Sigma_hat_r."""
        m = self.model.m
        total = sp.Integer(0)
        for r in range(self.model.R):
            S = self.sample_cov(r)
            total += sp.Add(*[gram(r, j, k) * S[j, k] for j in range(m) for k in range(m)])
        return total / self.n

    def estimators(self) -> dict:
        model = self.model
        x, y = model.x, model.cell_averaged
        v_bp = self.gram_form(lambda r, j, k: dot(x[r, j], x[r, k]))
        v_sg = self.gram_form(lambda r, j, k: dot(y(r, j), y(r, k)))
        c = self.gram_form(lambda r, j, k: dot(x[r, j], y(r, k)))
        bp, sg = self.vec(model.bp()), self.vec(model.sg())
        b_hat = sg - bp
        B_hat = sqnorm(b_hat) - (v_bp + v_sg - 2 * c)
        return {"v_bp": v_bp, "v_sg": v_sg, "c": c, "b_hat": b_hat, "B": B_hat, "bp": bp, "sg": sg}

    def truths(self) -> dict:
        """V_BP, V_SG, C, B from the estimators' errors, by expectation over the same noise."""
        model = self.model
        grad, bias = model.grad(), model.bias()
        e_bp = self.vec(model.bp()) - grad
        s = self.vec(model.sg()) - grad - bias
        return {"v_bp": self.E(sqnorm(e_bp)), "v_sg": self.E(sqnorm(s)), "c": self.E(dot(e_bp, s)),
                "B": sp.expand(sqnorm(bias)), "gb": sp.expand(dot(grad, bias))}


def expect_independent(expr, noise, moment, extra=()) -> sp.Expr:
    """E[expr] for a polynomial in independent zero-mean variables; moment(v, p) = E[v^p]."""
    symbols = set(sp.sympify(expr).free_symbols) | set(noise)
    for v in noise:
        for p in (2, 3, 4):
            symbols |= sp.sympify(moment(v, p)).free_symbols
    nr = NoiseRing(noise, symbols)
    return nr.expect(nr.poly(expr), independent_moments(noise, moment)).as_expr()


def _t10_model(d: int = 2) -> PartitionModel:
    # 4 states, expert 0 reads coordinate 0, expert 1 coordinate 1 (cells of 2); one block per state;
    # general clean feedback (no B) and general within-state covariance
    return make_model(d=d, reads=[(0,), (1,)], dim=1, separate_blocks=True)


# ---------------------------------------------------------------- T10

@lru_cache(maxsize=None)
def t10_moments(n: int) -> dict:
    """E v, E c, E ||ubar||^2 of the authors' plug-in, from its per-sample signals, on the T10 model."""
    model = _t10_model()
    batch = Batch(model, n)
    R, m = model.R, model.m
    N = R * n
    dim = model.x[0, 0].shape[0]
    s = {(r, j): model.table(j, model.cell(r, j)).subs(batch.sub) for r in range(R) for j in range(m)}
    w, u = [], []
    for r in range(R):
        for i in range(n):
            w.append(R * sum((model.x[r, j] * batch.f(r, j, i) for j in range(m)), sp.zeros(dim, 1)))
            u.append(R * sum((model.x[r, j] * (s[r, j] - batch.f(r, j, i)) for j in range(m)), sp.zeros(dim, 1)))
    wbar = sum(w, sp.zeros(dim, 1)) / N
    ubar = sum(u, sp.zeros(dim, 1)) / N
    v = (sp.Add(*[sqnorm(ui) for ui in u]) - N * sqnorm(ubar)) / (N * (N - 1))
    c = (sp.Add(*[dot(wi, ui) for wi, ui in zip(w, u)]) - N * dot(wbar, ubar)) / (N * (N - 1))
    truth = batch.truths()
    est = batch.estimators()
    return {"Ev": batch.E(v), "Ec": batch.E(c), "EU": batch.E(sqnorm(ubar)), "truth": truth, "R": R,
            "ubar_is_sg_minus_bp": all(same(a, b) for a, b in zip(ubar, est["sg"] - est["bp"])),
            "wbar_is_bp": all(same(a, b) for a, b in zip(wbar, est["bp"])), "model": model}


def plugin_coefficients(R, n):
    """alpha, beta of T10: v = alpha U + beta Q, c = alpha P - beta Q (Q = n V_BP_hat)."""
    return (R - 1) / (n * R - 1), R * (n - 1) / (n * (n * R - 1))


def t10_limit_forms() -> dict:
    """The large-batch limits (R -> oo) in the summary symbols B, V_BP, V_SG, C, G_b = <grad, b>."""
    alpha, beta = plugin_coefficients(R_sym, n_sym)
    a_inf, b_inf = sp.limit(alpha, R_sym, sp.oo), sp.limit(beta, R_sym, sp.oo)
    EU = B + VB + VS - 2 * C
    c = a_inf * (GB + C - VB) - b_inf * n_sym * VB
    v = a_inf * EU + b_inf * n_sym * VB
    b2_raw = sp.expand(EU - v)
    star = (B + VS - C) / EU
    lam_open = 1 + c / (v + b2_raw)  # b2 not clipped
    lam_clip = 1 + c / v  # b2 clipped to 0
    return {"alpha": a_inf, "beta": b_inf, "c": sp.expand(c), "v": sp.expand(v), "b2_raw": b2_raw,
            "extra": sp.factor(sp.expand(c - (C - VB))), "lam_open": lam_open, "lam_clip": lam_clip, "star": star}


@lru_cache(maxsize=None)
def t10_plugin_limit() -> Derivation:
    checks = {}
    for n in (1, 2, 3):
        mom = t10_moments(n)
        t, R = mom["truth"], mom["R"]
        alpha, beta = plugin_coefficients(sp.Integer(R), sp.Integer(n))
        EU = t["B"] + t["v_bp"] + t["v_sg"] - 2 * t["c"]
        checks[f"n={n}: ubar = SG - BP, wbar = BP"] = mom["ubar_is_sg_minus_bp"] and mom["wbar_is_bp"]
        checks[f"n={n}: E||ubar||^2 = B + V_BP + V_SG - 2C"] = same(mom["EU"], EU)
        checks[f"n={n}: E c = alpha (<grad,b> + C - V_BP) - beta n V_BP"] = same(
            mom["Ec"], alpha * (t["gb"] + t["c"] - t["v_bp"]) - beta * n * t["v_bp"])
        checks[f"n={n}: E v = alpha E||ubar||^2 + beta n V_BP"] = same(mom["Ev"], alpha * EU + beta * n * t["v_bp"])
    model = t10_moments(1)["model"]
    grad, bias = model.grad(), model.bias()
    disp = sp.Add(*[model.fbar[r, j] * dot(model.x[r, j], model.x[r, k])
                    * (sp.Add(*[model.fbar[q, k] for q in model.cell(r, k)]) / len(model.cell(r, k)) - model.fbar[r, k])
                    for r in range(model.R) for j in range(model.m) for k in range(model.m)])
    under_b = {model.fbar[r, j]: sp.Symbol(f"g_{j}{model.cells[j].index(model.cell(r, j))}", real=True)
               for r in range(model.R) for j in range(model.m)}
    checks["<grad, b> = sum_r fbar_r^T G_r (cell mean - fbar_r)"] = same(dot(grad, bias), disp)
    checks["<grad, b> = 0 under B"] = same(disp.subs(under_b), 0)
    lim = t10_limit_forms()
    n = n_sym
    checks["R -> oo: alpha -> 1/n, beta -> (n-1)/n^2"] = same(lim["alpha"], 1 / n) and same(lim["beta"], (n - 1) / n**2)
    checks["limit: c - (C - V_BP) = (<grad,b> - (n-1) C) / n"] = same(lim["extra"], (GB - (n - 1) * C) / n)
    checks["limit: ||ubar||^2 - v = (n-1)/n (B + V_SG - 2C)"] = same(lim["b2_raw"], (n - 1) * (B + VS - 2 * C) / n)
    checks["limit, b2 > 0: lambda - lambda* = (<grad,b> - (n-1) C) / (n (B + V_BP + V_SG - 2C))"] = same(
        lim["lam_open"] - lim["star"], (GB - (n - 1) * C) / (n * (B + VB + VS - 2 * C)))
    checks["n = 1: lambda - lambda* = <grad,b> / (B + V_BP + V_SG - 2C), the dispersion alone"] = same(
        (lim["lam_clip"] - lim["star"]).subs(n, 1), GB / (B + VB + VS - 2 * C))
    under = {B: 0, GB: 0, C: VS}
    checks["under B with C = V_SG: ||ubar||^2 - v -> -(n-1) V_SG / n < 0, so b2 = 0 and lambda -> 0 = lambda*"] = (
        same(lim["b2_raw"].subs(under), -(n - 1) * VS / n) and same(lim["lam_clip"].subs(under), 0)
        and same(lim["star"].subs(under), 0))
    a, s, c1, b, g = sp.symbols("a s c1 b g", positive=True)
    grow = {VB: a / n, VS: s / n, C: c1 / n, B: b, GB: g}
    checks["B > 0: lambda - lambda* -> 0 as n grows"] = sp.limit((lim["lam_open"] - lim["star"]).subs(grow), n, sp.oo) == 0
    extra = lim["extra"]
    return Derivation(
        id="T10",
        statement=("Toolkit extension (not the paper's): the authors' plug-in spreads its sample moments over "
                   "states; in the large-batch limit at fixed n, c = C - V_BP + (<grad,b> - (n-1)C)/n and "
                   "b2 = (n-1)/n max(B + V_SG - 2C, 0), with <grad,b> = sum_r fbar_r^T G_r (cell mean - fbar_r) "
                   "made of the dispersion of fbar in the cells; lambda differs from lambda* by "
                   "(<grad,b> - (n-1)C)/(n(B + V_BP + V_SG - 2C)) when b2 > 0; under B (with C = V_SG) the "
                   "clipped b2 makes the limit lambda* = 0, and the difference vanishes as n grows."),
        exprs={"c_limit": lim["c"], "v_limit": lim["v"], "b2_limit": lim["b2_raw"], "extra": extra},
        checks=checks,
        numbers=("E v, E c, E||ubar||^2 derived from the per-sample signals w_i, u_i on 4 states x 2 experts "
                 "(cells of 2), general fbar and covariance, n = 1, 2, 3: v = alpha U + beta Q, c = alpha P - beta Q "
                 "with alpha = (R-1)/(nR-1), beta = R(n-1)/(n(nR-1)); limit extra term in c = " + str(extra)),
        latex=(r"c \to C - V_{BP} + \frac{\langle g, b\rangle - (n-1)C}{n},\ "
               r"b_2 \to \tfrac{n-1}{n}\max(\|b\|^2 + V_{SG} - 2C, 0),\ "
               r"\langle g, b\rangle = \sum_r \bar f_r^\top G_r (\bar m_r - \bar f_r)"),
    )


# ---------------------------------------------------------------- T11

def _cells_model(copies: int) -> PartitionModel:
    """`copies` independent cells of 2 states, one expert, one block per state, scalar feedback."""
    R = 2 * copies
    x = {(r, 0): _block(r, R) for r in range(R)}
    fbar = {(r, 0): sp.Symbol(f"fbar_{r}", real=True) for r in range(R)}
    return PartitionModel(R=R, m=1, cells=[[(2 * q, 2 * q + 1) for q in range(copies)]], x=x, fbar=fbar,
                          nu={(r, 0): sp.Symbol(f"nu_{r}", real=True) for r in range(R)},
                          cov={r: sp.Matrix([[sp.Symbol(f"s_{r}", positive=True)]]) for r in range(R)})


def _block(r: int, R: int) -> sp.Matrix:
    out = sp.zeros(R, 1)
    out[r, 0] = sp.Symbol(f"x_{r}", real=True)
    return out


@lru_cache(maxsize=None)
def t11_unbiased(n: int) -> dict:
    """E of each estimator against the quantity it estimates, on the T10 model (general Sigma_r)."""
    batch = Batch(_t10_model(), n)
    est, truth = batch.estimators(), batch.truths()
    return {key: same(batch.E(est[key]), truth[key]) for key in ("v_bp", "v_sg", "c", "B")}


def _a_vectors(model: PartitionModel) -> dict:
    """a_r = y_r - x_r: how state r's noise enters b_hat (one expert)."""
    return {r: model.cell_averaged(r, 0) - model.x[r, 0] for r in range(model.R)}


@lru_cache(maxsize=None)
def t11_variance(n: int, copies: int = 2) -> dict:
    """Var(B_hat) from the definitions with general 3rd and 4th moments, one expert, scalar feedback."""
    model = _cells_model(copies)
    batch = Batch(model, n)
    third = {r: sp.Symbol(f"t_{r}", real=True) for r in range(model.R)}
    fourth = {r: sp.Symbol(f"k_{r}", positive=True) for r in range(model.R)}

    def moment(v, p):
        r = batch._where[v][0]
        return {2: model.cov[r][0, 0], 3: third[r], 4: fourth[r]}[p]

    B_hat = batch.estimators()["B"]
    extra = [third[r] for r in third] + [fourth[r] for r in fourth]
    nr = batch.nring(*extra)
    mom = independent_moments(batch.noise, moment)
    p = nr.poly(B_hat)
    mean_p = nr.expect(p, mom)
    var_p = nr.expect(p * p, mom) - mean_p * mean_p
    a = _a_vectors(model)
    bias = model.bias()
    s = {r: model.cov[r][0, 0] for r in range(model.R)}
    closed = (4 * sp.Add(*[dot(bias, a[r]) ** 2 * s[r] for r in range(model.R)]) / n
              + 2 * sp.Add(*[dot(a[r], a[q]) ** 2 * s[r] * s[q] for r in range(model.R) for q in range(model.R) if q != r]) / n**2
              + 2 * sp.Add(*[sqnorm(a[r]) ** 2 * s[r] ** 2 for r in range(model.R)]) / (n * (n - 1)))
    var, mean = var_p.as_expr(), mean_p.as_expr()
    higher = set(extra)
    return {"var": var, "mean": mean, "closed": closed, "model": model, "ring": nr, "var_p": var_p,
            "closed_ok": nr.same(var_p, closed), "multilinear": multilinear_in_noise(nr, p),
            "no_higher_moments": not (var.free_symbols & higher)}




@lru_cache(maxsize=None)
def t11_ustat(n: int) -> bool:
    """The U-statistic of tr(M Sigma M Sigma) (theory.diagnose) is unbiased: scalar case, mean mu."""
    mu, s, t, k, M = sp.symbols("mu s t k M", real=True)
    e = sp.symbols(f"e_0:{n}", real=True)
    f = [mu + ei for ei in e]
    Q = [[f[i] * M * f[l] for l in range(n)] for i in range(n)]
    s2 = sp.Add(*[Q[i][l] ** 2 for i in range(n) for l in range(n) if i != l])
    rows = [sp.Add(*[Q[i][l] for l in range(n) if l != i]) for i in range(n)]
    s3 = sp.Add(*[r**2 for r in rows]) - s2
    s4 = sp.Add(*rows) ** 2 - 2 * s2 - 4 * s3
    p2, p3, p4 = n * (n - 1), n * (n - 1) * (n - 2), n * (n - 1) * (n - 2) * (n - 3)
    est = s2 / p2 - 2 * s3 / p3 + s4 / p4
    moments = {2: s, 3: t, 4: k}
    return same(expect_independent(est, list(e), lambda v, p: moments[p]), M**2 * s**2)


@lru_cache(maxsize=None)
def t11_replicate_lambda() -> Derivation:
    checks = {}
    for n in (2, 3):
        for key, ok in t11_unbiased(n).items():
            name = {"v_bp": "V_BP_hat", "v_sg": "V_SG_hat", "c": "C_hat", "B": "B_hat"}[key]
            checks[f"n={n}: E[{name}] = {name[:-4] if key != 'B' else '||b||^2'} (general fbar, Sigma_r)"] = ok
    for n in (2, 3):
        v = t11_variance(n)
        checks[f"n={n}: Var(B_hat) = 4 sum_r <b,a_r>^2 s_r/n + 2 sum_(r!=q) <a_r,a_q>^2 s_r s_q/n^2 "
               f"+ 2 sum_r ||a_r||^4 s_r^2/(n(n-1))"] = v["closed_ok"]
        checks[f"n={n}: Var(B_hat) has no third or fourth moments (B_hat is multilinear in the noise)"] = v["multilinear"] and v["no_higher_moments"]
    one, two = t11_variance(2, 1), t11_variance(2, 2)
    copy = {}
    for sym in two["var"].free_symbols | two["mean"].free_symbols:
        name = str(sym)
        head, _, idx = name.rpartition("_")
        if idx.isdigit() and int(idx) >= 2:
            copy[sym] = sp.Symbol(f"{head}_{int(idx) - 2}", **sym.assumptions0)
    checks["two independent copies of a cell: E[B_hat] and Var(B_hat) double (relative SE ~ 1/sqrt(copies))"] = (
        same(two["mean"].subs(copy), 2 * one["mean"]) and same(two["var"].subs(copy), 2 * one["var"]))
    Kc = sp.Symbol("K", positive=True)
    E1, V1 = sp.symbols("E_1 V_1", positive=True)
    checks["relative SE sqrt(K V_1) / (K E_1) -> 0 as the copies K grow"] = sp.limit(sp.sqrt(Kc * V1) / (Kc * E1), Kc, sp.oo) == 0
    lam_rep = (B + VS - C) / (B + VB + VS - 2 * C)
    star = mixture_mse()["lambda_star"].subs({B7: B, VB7: VB, VS7: VS, C7: C}, simultaneous=True)
    checks["lambda_rep at the estimators' expectations = T7's lambda*"] = same(lam_rep, star)
    for n in (4, 5):
        checks[f"n={n}: the U-statistic of tr(M Sigma M Sigma) is unbiased (general 3rd, 4th moments)"] = t11_ustat(n)
    var2 = t11_variance(2)["closed"]
    return Derivation(
        id="T11",
        statement=("Toolkit extension (not the paper's): with n >= 2 samples per state, V_BP_hat, V_SG_hat, C_hat "
                   "(T1-T2 with the within-state sample covariance) and B_hat = ||b_hat||^2 - (V_BP_hat + V_SG_hat - "
                   "2C_hat) are unbiased; Var(B_hat) involves second moments only; lambda_rep is consistent for "
                   "lambda* as the number of states grows at fixed n."),
        exprs={"var_B_n2": var2},
        checks=checks,
        numbers=("unbiasedness derived on 4 states x 2 experts with general fbar and within-state covariance, "
                 "n = 2, 3; Var(B_hat) on 2 cells of 2 states, n = 2, 3, with general third and fourth noise moments, "
                 "which never enter: B_hat is multilinear in the per-sample noise (its squares cancel); a_r = y_r - x_r"),
        latex=(r"\mathrm{Var}(\hat B) = \frac{4}{n} b^\top \Omega b + \frac{2}{n^2}\sum_{r\ne s}"
               r"\mathrm{tr}(K_{rs}\Sigma_s K_{sr}\Sigma_r) + \frac{2}{n(n-1)}\sum_r \mathrm{tr}(M_r\Sigma_r M_r\Sigma_r),"
               r"\ K_{rs} = A_r^\top A_s"),
    )


# ---------------------------------------------------------------- T12

@lru_cache(maxsize=None)
def t12_tests() -> Derivation:
    checks = {}
    model = _t10_model()
    batch = Batch(model, 2)
    est = batch.estimators()
    zero = {e: 0 for e in batch.noise}
    checks["A fails (all samples of a state equal): V_BP_hat = 0 exactly, so the A test never fires"] = same(
        est["v_bp"].subs(zero), 0)
    # V_BP_hat is a psd form: sum_r sum_i ||X_r (f_ri - fhat_r)||^2 / (n (n - 1))
    dev_form = sp.Add(*[sqnorm(sum((model.x[r, j] * (batch.f(r, j, i) - batch.fhat(r, j)) for j in range(model.m)),
                                   sp.zeros(model.x[0, 0].shape[0], 1))) for r in range(model.R) for i in range(2)]) / 2
    checks["V_BP_hat = sum_r sum_i ||X_r (f_ri - fhat_r)||^2 / (n (n-1)) >= 0"] = same(est["v_bp"], dev_form)
    under_b = {model.fbar[r, j]: sp.Symbol(f"g_{j}{model.cells[j].index(model.cell(r, j))}", real=True)
               for r in range(model.R) for j in range(model.m)}
    checks["under B: E[B_hat] = 0"] = same(batch.E(est["B"]).subs(under_b), 0)
    v = t11_variance(2)
    mb = v["model"]
    under_b1 = {mb.fbar[r, 0]: sp.Symbol(f"g_{mb.cells[0].index(mb.cell(r, 0))}", real=True) for r in range(mb.R)}
    s = {r: mb.cov[r][0, 0] for r in range(mb.R)}
    a = _a_vectors(mb)
    null = (2 * sp.Add(*[dot(a[r], a[q]) ** 2 * s[r] * s[q] for r in range(mb.R) for q in range(mb.R) if q != r]) / 4
            + sp.Add(*[sqnorm(a[r]) ** 2 * s[r] ** 2 for r in range(mb.R)]))
    checks["under B: Var(B_hat) is the null variance (the b-term vanishes)"] = same(v["var"].subs(under_b1), null)
    # the n = 2, 3 within-state term: E[s_hat^4] - s^4 >= 0 (scalar), so the null SE is conservative there
    sv, kv = sp.symbols("s k", positive=True)
    kap = sp.Symbol("kappa", nonnegative=True)  # k - s^2 >= 0 (Cauchy-Schwarz)
    excess = {}
    for n in (2, 3):
        e = sp.symbols(f"e_0:{n}", real=True)
        mean = sp.Add(*e) / n
        s_hat = sp.Add(*[(ei - mean) ** 2 for ei in e]) / (n - 1)
        moments = {2: sv, 3: sp.Symbol("t", real=True), 4: kv}
        ex = expect_independent(s_hat**2, list(e), lambda var, p: moments[p]) - sv**2
        excess[n] = sp.factor(ex)
        checks[f"n={n}: the plug-in within-state term over-estimates (scalar): E[s_hat^4] - s^4 >= 0"] = bool(
            sp.expand(ex.subs(kv, sv**2 + kap)).is_nonnegative)
    return Derivation(
        id="T12",
        statement=("Toolkit extension (not the paper's): test of A, V_BP_hat > 0, has false-alarm rate 0 (without "
                   "noise V_BP_hat is exactly 0); test of B at level alpha, B_hat > z_(1-alpha) SE_0(B_hat): B_hat has "
                   "mean 0 under B and the null variance of T11; its estimate is unbiased for n >= 4 and conservative "
                   "for n = 2, 3."),
        exprs={"plugin_excess_n2": excess[2], "plugin_excess_n3": excess[3]},
        checks=checks,
        numbers=("derived on the T10/T11 models; E[s_hat^4] - s^4 = " + str(excess[2]) + " (n=2), "
                 + str(excess[3]) + " (n=3), with k the fourth moment (k >= s^2)"),
        latex=(r"\text{A: } \hat V_{BP} > 0;\quad \text{B rejected: } \hat B > z_{1-\alpha}\,"
               r"\widehat{\mathrm{SE}}_0(\hat B),\ \mathbb{E}_B[\hat B] = 0"),
    )


def multilinear_in_noise(nr: NoiseRing, p) -> bool:
    """No term of p holds a noise variable to a power above 1: then E[p^2] needs second moments only."""
    return all(max(monom[:nr.k]) <= 1 for monom, _ in p.terms())
