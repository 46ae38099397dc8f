"""The sympy layer: per-sample noise (noise.py), the derivations of T1-T9 and their registry."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from theory.checks import CheckResult
from theory.covariance import numeric_covariance
from theory.exact import exact_mse
from theory.feedback import FeedbackModel
from theory.instance import ExpertInstance, hypercube_codes
from theory.symbolic import bias, estimators, mixture, noise, pooling
from theory.symbolic.core import dot, expect, expect_dot, expect_sqnorm, identical, linear_parts
from theory.symbolic.results import DERIVATIONS, latex, symbolic_checks

CASES = ("noisy", "activation", "partial")


# ---------------------------------------------------------------- per-sample noise

def test_per_sample_variance_of_each_case():
    assert sp.simplify(noise.feedback_variance("noisy") - noise.sigma**2) == 0
    assert sp.simplify(noise.feedback_variance("activation") - noise.fbar1**2 * (1 - noise.p) / noise.p) == 0
    assert sp.simplify(noise.feedback_variance("partial") - noise.alpha1**2 * noise.tau**2) == 0


def test_shared_latent_covariance_across_experts():
    assert sp.simplify(noise.feedback_covariance("noisy", True) - noise.sigma**2) == 0
    assert sp.simplify(noise.feedback_covariance("activation", True)
                       - noise.fbar1 * noise.fbar2 * (1 - noise.p) / noise.p) == 0
    assert sp.simplify(noise.feedback_covariance("partial", True) - noise.alpha1 * noise.alpha2 * noise.tau**2) == 0


@pytest.mark.parametrize("case", CASES)
def test_independent_latents_are_uncorrelated(case):
    assert noise.feedback_covariance(case, False) == 0


@pytest.mark.parametrize("case", CASES)
def test_numeric_covariance_evaluates_the_derived_expression(case):
    fbar, alpha = np.array([0.3, -1.2]), np.array([0.7, 2.0])
    sigma, p, tau = 0.4, 0.3, 0.9
    var = numeric_covariance(case, False)(fbar, fbar, alpha, alpha, sigma, p, tau)
    expected = {"noisy": sigma**2 + 0 * fbar, "activation": fbar**2 * (1 - p) / p, "partial": alpha**2 * tau**2}[case]
    np.testing.assert_allclose(np.broadcast_to(var, (2,)), expected, rtol=1e-14)


# ---------------------------------------------------------------- the derivation tools can fail

def test_identical_distinguishes():
    x, y = sp.symbols("x y", real=True)
    assert identical((x + y) ** 2, x**2 + 2 * x * y + y**2)
    assert not identical((x + y) ** 2, x**2 + y**2)
    assert identical(1 / (1 + x) + x / (1 + x), 1)


def test_expectation_tools():
    a, b, s1, s2 = sp.symbols("a b s1 s2", real=True)
    nu = sp.symbols("nu1 nu2", real=True)

    def moment(u, w):
        return {(nu[0], nu[0]): s1, (nu[1], nu[1]): s2}.get((u, w), 0)

    assert identical(expect((a + b * nu[0] + nu[1]) ** 2, nu, moment), a**2 + b**2 * s1 + s2)
    assert identical(expect_sqnorm(sp.Matrix([a + nu[0], b * nu[1]]), nu, moment), a**2 + s1 + b**2 * s2)
    with pytest.raises(ValueError):
        expect(nu[0] ** 3, nu, moment)
    with pytest.raises(ValueError):
        linear_parts(sp.Matrix([nu[0] * nu[1]]), nu)
    with pytest.raises(ValueError, match="polynomials"):
        expect_dot(sp.Matrix([sp.sqrt(a) + nu[0]]), sp.Matrix([nu[0]]), nu, moment)


def test_a_wrong_covariance_breaks_T1():
    """Doubling the within-state covariance must make the derived MSE differ from T1's form."""
    model = estimators._t1_model()
    closed = sp.Add(*[dot(model.x[r, j], model.x[r, jj]) * model.cov[r][j, jj]
                      for r in range(model.R) for j in range(model.m) for jj in range(model.m)])
    assert identical(model.mse(model.bp()), closed)
    assert not identical(model.mse(model.bp()), 2 * closed)


def test_wrong_Lagrange_factor_is_detected():
    gap = estimators.t3_gap(3)
    assert gap["identity"]
    assert not identical(gap["gap"], 3 * gap["lagrange"] / 2)


# ---------------------------------------------------------------- each result

@pytest.mark.parametrize("result_id", list(DERIVATIONS))
def test_every_exact_identity_holds(result_id):
    derivation = DERIVATIONS[result_id]()
    assert derivation.id == result_id
    assert derivation.checks, "a derivation without checks"
    assert derivation.passed, derivation.failed_checks


def test_T3_gap_is_nonnegative_and_vanishes_for_equal_contributions():
    gap = estimators.t3_gap(4)
    rng = np.random.default_rng(3)
    symbols = sorted(gap["gap"].free_symbols - {estimators.v, estimators.n}, key=str)
    for _ in range(5):
        values = {s: sp.Rational(int(rng.integers(-9, 10)), int(rng.integers(1, 5))) for s in symbols}
        values |= {estimators.v: sp.Rational(1, 3), estimators.n: 2}
        assert gap["gap"].subs(values) >= 0
    assert gap["zero_when_equal"] and gap["zero_without_A"]


def test_T4_ratio_is_the_cell_size():
    sym = estimators.t4_symbolic_cell()
    assert sym["ratio"] == sym["c"]
    d, k = sp.symbols("d k", integer=True, positive=True)
    assert estimators.t4_separation().exprs["ratio_dk"].subs({d: 9, k: 2}) == 128
    assert estimators.t4_hypercube(3, 1) == 4


# A false identity must fail within this many seconds (a wrong SG table used to keep
# simplify busy for over 50 s on the d = 3 cube alone); it takes about a second.
FAIL_FAST_S = 20.0


def test_a_wrong_sg_table_fails_the_T4_ratio_fast(monkeypatch):
    import time

    from theory.symbolic import partition

    def wrong_table(self, j, cell):  # divides the cell's sum by |C| + 1
        return sp.Add(*[self.fhat(r, j) for r in cell]) / (len(cell) + 1)

    monkeypatch.setattr(partition.PartitionModel, "table", wrong_table)
    start = time.perf_counter()
    assert estimators.t4_hypercube.__wrapped__(3, 1) is None
    assert estimators.t4_concrete.__wrapped__(3) is None
    assert time.perf_counter() - start < FAIL_FAST_S


def test_false_identities_fail_fast():
    import time

    x, y, z = sp.symbols("x y z", positive=True)
    big = sp.expand((x + y + z + 1) ** 6)
    start = time.perf_counter()
    assert not identical(big / (x + 2 * y), big / (x + y))  # rational, false
    assert not identical(sp.sqrt(x * y) + sp.Max(x, z) * big, sp.sqrt(x) * sp.sqrt(y) + sp.Max(x, z) * (big + 1))
    assert identical(sp.sqrt(x * y), sp.sqrt(x) * sp.sqrt(y))  # true, needs more than expanding
    assert time.perf_counter() - start < FAIL_FAST_S


def test_T6_crossover_closed_form():
    cross = bias.crossover()
    assert identical(cross["n_star"], (cross["V_BP"] - cross["V_SG"]) / cross["B"])
    t = cross["t"]
    assert cross["advantage"].subs(t, sp.Rational(1, 2)).subs(cross["B"], 1) > 0  # below n*: SG wins
    assert cross["advantage"].subs(t, 2).subs(cross["B"], 1) < 0  # above n*: BP wins


def test_T7_T8_lambda_star():
    star = mixture.t7_mixture().exprs["lambda_star"]
    B, VB, VS, C = mixture.B, mixture.VB, mixture.VS, mixture.C
    assert identical(star, (B + VS - C) / (B + VB + VS - 2 * C))
    assert identical(mixture.t7_mixture().exprs["lambda_star_tabular"], B / (B + VB - VS))
    assert identical(mixture.t8_plugin().exprs["lambda"], star)
    # C = V_SG needs the noise variance constant in each cell; per-state variances break it
    assert mixture.separate_blocks_cov() == {"cell": True, "state": False}


def test_T9_leverages_sum_to_p():
    assert pooling.leverage_p2_symbolic_K()["total"] == 2
    assert pooling.leverage_polynomial(4, 3)
    assert pooling.pooled_mses(3)["ratio"] == sp.Rational(3, 2)


# ---------------------------------------------------------------- symbolic against numeric

@pytest.mark.parametrize("case,shared", [("noisy", False), ("activation", True), ("partial", True)])
def test_T2_closed_form_agrees_with_the_exact_evaluator(case, shared):
    """T2's derived MSE_SG and MSE_BP, evaluated at numbers, equal theory.exact.exact_mse on the
    same 4-state, 2-expert instance (general contributions on shared parameters, with a leak)."""
    parts = estimators.t2_sg_parts()
    model = parts["model"]
    rng = np.random.default_rng(11)
    inst = ExpertInstance(
        codes=hypercube_codes(2), jacobians=rng.normal(size=(4, 2, 2)), coords=np.array([[0], [1]]),
        a=rng.normal(size=(2, 1)), b=rng.normal(size=2), beta=rng.normal(size=(2, 1)),
        gamma=rng.normal(size=2), alpha=rng.normal(size=2), leak_coord=np.array([1, 0]),
        leak_c=rng.normal(size=2),
    )
    fb = FeedbackModel(case=case, sigma=0.6, p=0.4, tau=0.8, rho=0.9, shared=shared)
    n = 3
    common = rng.normal(size=(4, 2, 2))
    exact = exact_mse(inst, fb, n, private=np.zeros((4, 2, 2)), common=common)
    fbar = inst.clean_feedback(fb.rho)
    cov = fb.sample_covariance(fbar, inst.alpha) / n
    values = {}
    for r in range(4):
        for j in range(2):
            values[model.fbar[r, j]] = sp.Float(fbar[r, j])
            for i in range(2):
                values[model.x[r, j][i]] = sp.Float(common[r, j, i])
            for jj in range(2):
                values[model.cov[r][j, jj]] = sp.Float(cov[r, j, jj])
    mse_bp = float(model.mse(model.bp()).xreplace(values))
    np.testing.assert_allclose(float(parts["mse"].xreplace(values)), exact.mse_sg, rtol=1e-12)
    np.testing.assert_allclose(float(parts["bias_sq"].xreplace(values)), exact.bias_sq, rtol=1e-12)
    np.testing.assert_allclose(mse_bp, exact.mse_bp, rtol=1e-12)


# ---------------------------------------------------------------- the registry

def test_registry_has_one_passing_symbolic_check_per_result():
    checks = symbolic_checks()
    assert [c.id for c in checks] == [f"T{i}-sym" for i in range(1, 10)]
    for c in checks:
        assert isinstance(c, CheckResult)
        assert c.method == "symbolic"
        assert c.passed, c.numbers
        assert c.statement and "exact identities hold" in c.numbers


def test_latex_forms():
    for result_id in DERIVATIONS:
        text = latex(result_id)
        assert text and "$" not in text
    assert r"2^{d-k}" in latex("T4")
    with pytest.raises(ValueError, match="result id"):
        latex("T13")  # T10-T12 are the extension (EXTENSION), T13 does not exist


def test_a_failed_identity_is_named_in_the_report_row():
    """A derivation whose identities do not all hold reports the tally and names each failed one."""
    from theory.symbolic.core import Derivation
    from theory.symbolic.results import _numbers

    d = Derivation(id="T0", statement="s", checks={"a": True, "b": False, "c": False}, numbers="x = 1")
    assert _numbers(d) == "x = 1. 1/3 exact identities hold (failed: b; c)"
    assert _numbers(Derivation(id="T0", statement="s", checks={"a": True}, numbers="y")) == "y. 1/1 exact identities hold"


@pytest.mark.parametrize("case", ["noisy", "activation", "partial"])
def test_printed_numpy_code_is_the_shared_covariance_or_the_variance(case):
    """numpy_code(case, True) prints Cov(f_1, f_2) with one latent for both experts, numpy_code(case, False)
    Var(f): each read back with sympy equals the derivation it names (the shared covariance is not 0)."""
    names = {str(s): s for s in noise.ARGS}
    shared = sp.sympify(noise.numpy_code(case, True), locals=names)
    own = sp.sympify(noise.numpy_code(case, False), locals=names)
    assert sp.simplify(shared - noise.feedback_covariance(case, True)) == 0 and shared != 0
    assert sp.simplify(own - noise.feedback_variance(case)) == 0


def test_partition_model_defaults_and_the_per_cell_covariance():
    """make_model by hand at d = 1, one expert reading coordinate 0 (two cells of one state each): the
    contributions default to 2 real coordinates; cov 'cell' is diag(v_jz / n) with z the state's cell;
    a cell's sum is its one contribution."""
    from theory.symbolic.core import vector
    from theory.symbolic.partition import make_model

    model = make_model(1, [(0,)], cov="cell")
    n = sp.Symbol("n", positive=True)
    assert (model.R, model.m) == (2, 1)
    assert model.x[0, 0] == vector("x_00", 2) and model.x[1, 0] == vector("x_10", 2)
    for r in range(2):
        assert model.cov[r] == sp.diag(sp.Symbol(f"v_0{r}", positive=True) / n)
        assert model.cell_sum(0, model.cell(r, 0)) == model.x[r, 0]


def test_the_leak_bias_of_t6_by_hand():
    """T6's leak example: d = 2, expert 0 reads coordinate 0 and leaks coordinate 1 (expert 1 the reverse),
    fbar_j(r) = g_jz + rho c_j u(r), u = +-1 from the leaked bit. The leak averages to 0 over each cell, so
    b = -rho sum_r (c_0 u_1(r) x_r0 + c_1 u_0(r) x_r1) and ||b||^2 = rho^2 Q with Q that squared sum."""
    from theory.symbolic.bias import leak_bias
    from theory.symbolic.core import vector

    rho = sp.Symbol("rho", real=True)
    c = sp.symbols("c_0:2", real=True)
    bit = lambda r, i: 2 * ((r >> i) & 1) - 1  # noqa: E731
    b = sum((c[0] * bit(r, 1) * vector(f"x_{r}0", 2) + c[1] * bit(r, 0) * vector(f"x_{r}1", 2) for r in range(4)),
            sp.zeros(2, 1))
    q = sp.expand((b.T * b)[0, 0])
    got = leak_bias()
    assert sp.expand(got["q"] - q) == 0 and sp.expand(got["bias_sq"] - rho**2 * q) == 0


def _fresh_t6(bias_module):
    for f in (bias_module.scaling_in_n, bias_module.leak_bias, bias_module.crossover, bias_module.t6_crossover):
        f.cache_clear()


def test_t6_fails_each_check_when_its_identities_fail(monkeypatch):
    """T6 must not pass on a wrong derivation: with every exact identity made false, each of its five checks
    fails (none may pass on its other, identity-free conditions alone); and with the leak's contributions
    zero (Q = 0 everywhere) the leak check fails while the others hold."""
    from theory.symbolic import bias as t6

    _fresh_t6(t6)
    try:
        monkeypatch.setattr(t6, "identical", lambda a, b: False)
        assert not any(t6.t6_crossover().checks.values())
        monkeypatch.undo()
        _fresh_t6(t6)
        real = t6.make_model

        def without_contributions(**kwargs):
            model = real(**kwargs)
            model.x = {key: sp.zeros(*v.shape) for key, v in model.x.items()}
            return model

        monkeypatch.setattr(t6, "make_model", without_contributions)
        checks = t6.t6_crossover().checks
        assert [name for name, ok in checks.items() if not ok] == [
            "leak: ||b||^2 = rho^2 Q, zero at rho = 0, Q > 0 somewhere"]
    finally:
        _fresh_t6(t6)


def test_identical_on_each_path():
    """identical() by the path it takes: a constant difference of 1 is not 0; a true identity that only
    simplify proves (sin^2 + cos^2 = 1); a false one that vanishes at all three evaluation points
    (sin(pi x - 3 pi / 5) at x = 3/5, 8/5, 13/5) is still refused; an indexed symbol skips the points."""
    x = sp.Symbol("x", positive=True)
    a = sp.IndexedBase("a")[0]
    assert not identical(x + 1, x)
    assert identical(sp.sin(x) ** 2 + sp.cos(x) ** 2, 1)
    assert not identical(sp.sin(sp.pi * x - 3 * sp.pi / 5), 0)
    assert identical(sp.sin(a) ** 2 + sp.cos(a) ** 2, 1)


def test_a_derivation_passes_only_with_every_check_true():
    from theory.symbolic.core import Derivation

    assert Derivation(id="T0", statement="s", checks={"a": True, "b": True}).passed
    assert not Derivation(id="T0", statement="s", checks={"a": True, "b": False}).passed
    assert not Derivation(id="T0", statement="s", checks={}).passed


def test_a_false_identity_is_refused_at_a_point_without_simplify(monkeypatch):
    """sqrt(x) = x is not a rational identity and is false at the first evaluation point: identical() must
    refuse it there, never reaching simplify (which may run for minutes on a false identity)."""
    x = sp.Symbol("x", positive=True)

    def no_simplify(*args, **kwargs):
        raise AssertionError("simplify was reached")

    monkeypatch.setattr(sp, "simplify", no_simplify)
    assert not identical(sp.sqrt(x), x)


def test_core_helpers_by_hand():
    """linear_parts splits a + 2 nu into its constant a and coefficient 2; all_identical needs every entry
    equal; constant_ratio finds the constant 2 also where the denominator is 1 at its probe point (x = 3/5
    for 5x - 2)."""
    from theory.symbolic.core import all_identical, constant_ratio

    a, nu, x = sp.symbols("a nu x", real=True)
    const, coeffs = linear_parts(sp.Matrix([a + 2 * nu, 3 * nu - a]), [nu])
    assert const == sp.Matrix([a, -a]) and coeffs == [sp.Matrix([2, 3])]
    assert not all_identical(sp.Matrix([x, x]), sp.Matrix([x, x + 1]))
    assert all_identical(sp.Matrix([x, (x + 1) ** 2]), sp.Matrix([x, x**2 + 2 * x + 1]))
    assert constant_ratio(2 * (5 * x - 2), 5 * x - 2) == 2
    assert constant_ratio(x**2 + x, x) is None
    # E<a + nu, 2 nu> with E[nu^2] = 1 exactly (a unit moment is a moment like any other)
    assert expect_dot(sp.Matrix([a + nu]), sp.Matrix([2 * nu]), [nu], lambda u, v: sp.Integer(1)) == 2


@pytest.mark.parametrize("wrong", ["symbolic n", "explicit n"])
def test_t1_average_covariance_fails_when_either_part_fails(monkeypatch, wrong):
    """Cov of an n-sample average = Sigma / n is shown twice, for symbolic n and for n = 1, 2, 3 explicitly;
    the check must fail when either part does (each made false here in turn)."""
    real = estimators.identical
    n = sp.Symbol("n", integer=True, positive=True)

    def planted(a, b):
        symbolic = n in sp.sympify(b).free_symbols
        return False if symbolic == (wrong == "symbolic n") else real(a, b)

    estimators.average_covariance.cache_clear()
    monkeypatch.setattr(estimators, "identical", planted)
    try:
        assert not estimators.average_covariance()["passed"]
    finally:
        monkeypatch.undo()
        estimators.average_covariance.cache_clear()
    assert estimators.average_covariance()["passed"]


def test_t1_average_covariance_by_hand():
    """The derived covariance of an n-sample average is Sigma_jj' / n (n a positive integer, Sigma real),
    and explicitly Sigma_12 / k at each of k = 1, 2, 3 samples, as the check's name states."""
    avg = estimators.average_covariance()
    n = sp.Symbol("n", integer=True, positive=True)
    s12 = sp.Symbol("Sigma_12", real=True)
    assert sp.simplify(avg["cov"] - sp.Symbol("Sigma_jj'", real=True) / n) == 0
    assert sorted(avg["explicit"]) == [1, 2, 3]
    assert all(sp.expand(avg["explicit"][k] - s12 / k) == 0 for k in (1, 2, 3))


def test_t1_is_derived_on_the_model_its_row_states():
    """T1's row says: 2 states x 2 experts, general 2-dim contributions (both experts read the one code
    coordinate, so each cell holds one state) and a general within-state covariance."""
    from theory.symbolic.partition import symmetric

    model = estimators._t1_model()
    assert (model.R, model.m) == (2, 2) and all(v.shape == (2, 1) for v in model.x.values())
    assert model.cells == [[(0,), (1,)], [(0,), (1,)]]
    assert model.cov[0] == symmetric("Sigma0", 2)
    assert "2 states x 2 experts, general 2-dim contributions" in estimators.t1_bp().numbers


def test_diagnostics_helpers_refuse_what_they_cannot_decide():
    """same(): a constant difference of 1 is not 0; Batch.E: a term of degree 3 in the noise is refused
    (its second-moment rule would silently drop the third factor)."""
    from theory.symbolic.diagnostics import Batch, same
    from theory.symbolic.partition import make_model

    x = sp.Symbol("x", real=True)
    assert same(1 / (1 + x) + x / (1 + x), 1) and not same(x + 1, x)
    batch = Batch(make_model(1, [(0,)]), 2)
    e = batch.noise
    assert batch.E(e[0] * e[0]) == batch.sigma[0][0, 0]
    with pytest.raises(ValueError, match="degree > 2"):
        batch.E(e[0] * e[0] * e[1])


def test_t3_gaps_by_hand():
    """T3's Lagrange forms on its stated models: one cell of 2 states with 3-dim contributions,
    v / (2 n) ||x_0 - x_1||^2 (also the example in its row); 2 experts on 4 states reading coordinates 0 and
    1 (cells {0, 2}, {1, 3} and {0, 1}, {2, 3}) with 2-dim contributions and variance v_jz / n per cell."""
    from theory.symbolic.core import sqnorm, vector

    n, v = sp.Symbol("n", positive=True), sp.Symbol("v", positive=True)
    two = estimators.t3_gap(2)
    want = v / (2 * n) * sqnorm(vector("x_0", 3) - vector("x_1", 3))
    assert sp.expand(two["lagrange"] - want) == 0 and two["identity"]
    t3 = estimators.t3_dominance()
    assert str(two["lagrange"]) in t3.numbers
    assert [t3.exprs[f"gap_c{c}"] for c in (2, 3, 4)] == [estimators.t3_gap(c)["gap"] for c in (2, 3, 4)]
    cells = {0: [(0, 2), (1, 3)], 1: [(0, 1), (2, 3)]}
    want = sum(sp.Symbol(f"v_{j}{z}", positive=True) / (2 * n)
               * sqnorm(vector(f"x_{r}{j}", 2) - vector(f"x_{s}{j}", 2))
               for j in (0, 1) for z, (r, s) in enumerate(cells[j]))
    multi = estimators.t3_gap_experts()
    assert sp.expand(multi["lagrange"] - want) == 0 and multi["identity"]


def test_t4_checks_and_row_name_their_examples():
    """T4's explicit examples as its row and check names state them: cells of 2, 3, 4 separate blocks
    (ratio = |C|) and 2 experts on the d-cube at (d, k) = (2, 1), (3, 1), (3, 2) (ratio 2^(d-k))."""
    t4 = estimators.t4_separation()
    for c in (2, 3, 4):
        assert t4.checks[f"explicit cell of {c} separate blocks: ratio = {c}"]
    for (d, k), ratio in (((2, 1), 2), ((3, 1), 4), ((3, 2), 2)):
        assert t4.checks[f"d = {d}, k = {k}, 2 experts, per-cell variances: ratio = 2^(d-k) = {ratio}"]
    assert len(t4.checks) == 10
    assert t4.numbers.endswith("explicit d,k = (2,1), (3,1), (3,2): ratios 2, 4, 2")


def test_t10_model_is_the_one_its_comment_states():
    """T10-T12's model: 4 states, expert 0 reads coordinate 0 and expert 1 coordinate 1 (cells of 2),
    one parameter block (of one coordinate) per state."""
    from theory.symbolic.diagnostics import _t10_model

    model = _t10_model()
    assert (model.R, model.m) == (4, 2)
    assert model.cells == [[(0, 2), (1, 3)], [(0, 1), (2, 3)]]
    assert model.x[2, 1].shape == (4, 1) and list(model.x[2, 1]).count(0) == 3 and model.x[2, 1][2] != 0


def failed_with(monkeypatch, module, name, replacement, derivation):
    """The checks that `derivation` fails with module.name replaced (its cache cleared before and after)."""
    derivation.cache_clear()
    monkeypatch.setattr(module, name, replacement)
    try:
        checks = derivation().checks
    finally:
        monkeypatch.undo()
        derivation.cache_clear()
    return [check for check, ok in checks.items() if not ok]


def test_t5_fails_when_its_identities_fail(monkeypatch):
    """T5's MSE checks need their identities, not just the vanishing variances: with identical() made false
    they fail (the variance checks, decided without identical(), still hold)."""
    failed = failed_with(monkeypatch, estimators, "identical", lambda a, b: False, estimators.t5_no_gain_without_A)
    assert failed == ["MSE_BP = 0", "MSE_SG = ||bias||^2", "||bias||^2 = 0 under B"]


def test_t9_checks_and_row_name_their_examples():
    """T9's concrete cases as its check names and row state them: the leverage sum = p at (K, p) = (3, 3),
    (4, 3), (5, 2) with powers of h and at (3, 2) with arbitrary features; the MSEs derived at K = 3, p = 2,
    whose ratio is 3/2."""
    t9 = pooling.t9_pooling()
    for K, p in ((3, 3), (4, 3), (5, 2)):
        assert t9.checks[f"K = {K}, p = {p}, psi = powers of symbolic h_k: sum = {p}"]
    assert t9.checks["K = 3, p = 2, arbitrary symbolic features: sum = 2"]
    assert len(t9.checks) == 10 and t9.passed
    assert "for (K, p) = (3, 3), (4, 3), (5, 2), (3, 2); derived ratio at K = 3, p = 2: 3/2" in t9.numbers
    assert t9.exprs["ratio_K3_p2"] == sp.Rational(3, 2)


def test_t10_checks_each_n_and_fail_with_a_wrong_signal(monkeypatch):
    """T10 is derived at n = 1, 2, 3 (four checks each), and its first check at each n needs both signals:
    with wbar != BP planted at n = 2 that check fails while ubar = SG - BP still holds."""
    from theory.symbolic import diagnostics as sd

    names = list(sd.t10_plugin_limit().checks)
    for n in (1, 2, 3):
        assert sum(name.startswith(f"n={n}: ") for name in names) == 4
    real = sd.t10_moments

    def planted(n):
        out = dict(real(n))
        if n == 2:
            out["wbar_is_bp"] = False
        return out

    assert failed_with(monkeypatch, sd, "t10_moments", planted, sd.t10_plugin_limit) == [
        "n=2: ubar = SG - BP, wbar = BP"]


DECISIONS = [("estimators", "identical", "t1_bp"), ("estimators", "identical", "t2_sg"),
             ("estimators", "identical", "t4_separation"), ("estimators", "identical", "t5_no_gain_without_A"),
             ("mixture", "identical", "t7_mixture"), ("mixture", "identical", "t8_plugin"),
             ("diagnostics", "same", "t10_plugin_limit"), ("diagnostics", "same", "t11_replicate_lambda"),
             ("diagnostics", "same", "t12_tests")]


@pytest.mark.parametrize("module,decide,name", DECISIONS)
def test_every_identity_a_derivation_decides_can_fail_it(module, decide, name, monkeypatch):
    """A check must not pass on the rest of its conditions when one of its identities fails: each exact
    identity the derivation decides itself (identical() or same(), its helpers' results cached) is made
    false in turn, and the derivation must then fail (an `or` where `and` belongs would let it pass)."""
    import importlib

    mod = importlib.import_module(f"theory.symbolic.{module}")
    derivation, real = getattr(mod, name), getattr(mod, decide)
    calls = []

    def counting(*args):
        calls.append(1)
        return real(*args)

    derivation.cache_clear()
    derivation()  # the helpers' caches warm: only the derivation's own decisions run below
    try:
        monkeypatch.setattr(mod, decide, counting)
        derivation.cache_clear()
        assert derivation().passed and calls
        for k in range(len(calls)):
            seen = []

            def one_false(*args, k=k, seen=seen):
                seen.append(1)
                return False if len(seen) - 1 == k else real(*args)

            monkeypatch.setattr(mod, decide, one_false)
            derivation.cache_clear()
            assert not derivation().passed, f"{name} passes with its identity {k} false"
    finally:
        monkeypatch.undo()
        derivation.cache_clear()


def test_c_equals_v_sg_with_per_cell_variances_only():
    """Separate blocks: C = V_SG when the noise variance is constant in each cell, not when it varies by state."""
    assert mixture.separate_blocks_cov() == {"cell": True, "state": False}


def test_t7_gains_over_sg_and_bp_by_hand():
    """T7's reported gains of lambda* over SG (lambda = 0) and over BP (lambda = 1):
    (B + V_SG - C)^2 / den and (V_BP - C)^2 / den, den = B + V_BP + V_SG - 2C; the row shows the first."""
    B, VB, VS, C = mixture.B, mixture.VB, mixture.VS, mixture.C
    den = B + VB + VS - 2 * C
    t7 = mixture.t7_mixture()
    assert identical(t7.exprs["gain_vs_sg"], (B + VS - C) ** 2 / den)
    assert identical(t7.exprs["gain_vs_bp"], (VB - C) ** 2 / den)
    assert f"MSE(0) - MSE(lambda*) = {t7.exprs['gain_vs_sg']};" in t7.numbers
    gain = mixture._latex(t7.exprs["gain_vs_sg"])
    assert t7.latex.endswith(r"\mathrm{MSE}(0) - \mathrm{MSE}(\lambda^*) = " + gain)


def test_t9_fails_when_its_symbolic_k_sum_is_not_p(monkeypatch):
    """T9's first check needs all three facts of the symbolic-K sum (= p, as stated, free of h): with only
    `is_p` made false, it fails. T9's general ratio is K / p."""
    real = pooling.leverage_p2_symbolic_K
    failed = failed_with(monkeypatch, pooling, "leverage_p2_symbolic_K", lambda: {**real(), "is_p": False},
                         pooling.t9_pooling)
    assert failed == ["p = 2, symbolic K: K Minv00 + 2 S1 Minv01 + S2 Minv11 = 2"]
    K, p = sp.symbols("K p", integer=True, positive=True)
    assert pooling.t9_pooling().exprs["ratio"] == K / p
