"""theory.diagnose (T10-T12) against brute force written here from the definitions, and by simulation.

Tolerances: simulated means within Z = 4 standard errors of the exact value.
"""

from __future__ import annotations

import itertools
import json
import math
import time

import numpy as np
import pytest
import sympy as sp

from montecarlo import diagnose as mc
from montecarlo.expert import simulate_expert
from sgbp.cli import main
from theory.diagnose import (Structure, _third_cumulant, _tr_quad_ustat, authors_lambda, authors_lambda_limit,
                             authors_plugin_limit, diagnose, diagnose_instance, estimate)
from theory.exact import exact_mse, private_grams
from theory.feedback import FeedbackModel
from theory.instance import make_expert_instance

Z = 4.0


def brute_a(st: Structure) -> np.ndarray:
    """a_rj = y_rj - x_rj as full vectors (R, m, R, d): how state r's noise through expert j enters SG - BP."""
    R, m, d = st.x.shape
    A = np.zeros((R, m, R, d))
    for r in range(R):
        for j in range(m):
            A[r, j, r] -= st.x[r, j]
            cell = np.where(st.cells[:, j] == st.cells[r, j])[0]
            for t in cell:
                A[r, j, t] += st.x[t, j] / len(cell)
    return A


@pytest.fixture(scope="module")
def small():
    inst = make_expert_instance(4, 2, 3, 1)
    return inst, Structure.of(inst)


def test_k_matrix_is_the_gram_of_the_a_vectors(small):
    _, st = small
    A = brute_a(st)
    K = np.einsum("rjtd,sktd->rjsk", A, A)
    np.testing.assert_allclose(st.k_rows(0, st.R), K, atol=1e-15 * np.abs(K).max())
    np.testing.assert_allclose(st.k_rows(3, 7), K[3:7], atol=1e-15 * np.abs(K).max())


def test_grams_with_unequal_cells():
    """Cells of 1, 2 and 3 states: V_SG's Gram against y_rj built by hand."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 2, 3))
    cells = np.array([[5, 0], [9, 0], [9, 1], [7, 1], [7, 1], [7, 2]])
    gxx, gyy, gxy = private_grams(x, cells, full=True)
    y = np.zeros((6, 2, 6, 3))  # y_rj over all blocks
    for r in range(6):
        for j in range(2):
            members = np.where(cells[:, j] == cells[r, j])[0]
            for t in members:
                y[r, j, t] = x[t, j] / len(members)
    xfull = np.zeros((6, 2, 6, 3))
    for r in range(6):
        xfull[r, :, r] = x[r]
    np.testing.assert_allclose(gyy, np.einsum("rjtd,rktd->rjk", y, y), atol=1e-14)
    np.testing.assert_allclose(gxy, np.einsum("rjtd,rktd->rjk", xfull, y), atol=1e-14)


def test_structure_keeps_the_full_grams_and_needs_two_states():
    """The learner's Grams hold every pair of experts (correlated noise needs the cross terms): against
    x's and y's Grams built by hand; a structure needs R >= 2 states (R = 2 is enough)."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(6, 2, 3))
    cells = np.array([[5, 0], [9, 0], [9, 1], [7, 1], [7, 1], [7, 2]])
    st = Structure.build(x, cells)
    np.testing.assert_allclose(st.gxx, np.einsum("rjd,rkd->rjk", x, x), rtol=1e-14)
    assert np.abs(st.gxx[:, 0, 1]).min() > 0 and np.abs(st.gyy[:, 0, 1]).max() > 0
    assert Structure.build(x[:2], cells[:2]).R == 2
    with pytest.raises(ValueError, match=r"x: needs R >= 2 states, got 1"):
        Structure.build(x[:1], cells[:1])


def test_lambda_rep_is_1_when_sg_is_bp():
    """k = d: every cell holds one state, SG equals BP, b_hat = 0 and lambda_rep is 1 (plain BP), not 0/0."""
    inst = make_expert_instance(3, 3, 2, seed=4)
    st = Structure.of(inst)
    samples = np.random.default_rng(2).normal(size=(inst.R, inst.m, 5))
    out = estimate(st, samples, with_se=False, with_test=False)
    assert out["b_hat_sq"] == 0.0 and out["lambda_rep"] == 1.0


def test_keys_need_not_be_dense(small):
    inst, st = small
    rng = np.random.default_rng(1)
    samples = inst.clean_feedback()[:, :, None] + rng.normal(size=(inst.R, inst.m, 3))
    a = diagnose(samples, inst.contributions(), inst.cells())
    b = diagnose(samples, inst.contributions(), inst.cells() * 7 - 100)
    assert a == b


def test_ustat_is_the_average_over_distinct_quadruples():
    rng = np.random.default_rng(2)
    n, m = 5, 2
    f = rng.normal(size=(1, m, n)) + 3.0
    L = rng.normal(size=(m, m))
    M = (L @ L.T)[None]
    total, count = 0.0, 0
    for i, j, k, l in itertools.permutations(range(n), 4):
        d1, d2 = f[0, :, i] - f[0, :, j], f[0, :, k] - f[0, :, l]
        total += (d1 @ M[0] @ d2) ** 2 / 4
        count += 1
    assert _tr_quad_ustat(f, M)[0] == pytest.approx(total / count, rel=1e-10)


@pytest.mark.parametrize("n", [2, 3, 5])
def test_third_cumulant_against_the_full_sample_space(small, n):
    _, st = small
    R, m = st.R, st.m
    rng = np.random.default_rng(n)
    S = rng.normal(size=(1, R, m, n))
    dev = S - S.mean(-1, keepdims=True)
    sig = dev @ dev.swapaxes(-1, -2) / (n - 1)
    K = st.k_rows(0, R)
    M = np.stack([K[r, :, r, :] for r in range(R)])
    # B_hat - E B_hat = eps^T A eps: K_rs / n^2 across states, M_r / (n (n-1)) across distinct samples
    A = np.zeros((R, n, m, R, n, m))
    for r, s, i, l in itertools.product(range(R), range(R), range(n), range(n)):
        if r != s:
            A[r, i, :, s, l, :] = K[r, :, s, :] / n**2
        elif i != l:
            A[r, i, :, s, l, :] = K[r, :, r, :] / (n * (n - 1))
    D = R * n * m
    Sg = np.zeros((R, n, m, R, n, m))
    for r, i in itertools.product(range(R), range(n)):
        Sg[r, i, :, r, i, :] = sig[0, r]
    AS = A.reshape(D, D) @ Sg.reshape(D, D)
    assert _third_cumulant(st, S, M)[0] == pytest.approx(8 * np.trace(AS @ AS @ AS), rel=1e-9)


def test_authors_lambda_from_explicit_per_sample_vectors(small):
    """w_i, u_i written out as full vectors; v, c, b2 and lambda from their definitions."""
    inst, st = small
    R, m, d = st.x.shape
    rng = np.random.default_rng(3)
    for n in (1, 2, 4):
        f = inst.clean_feedback(0.7)[:, :, None] + 0.5 * rng.normal(size=(R, m, n))
        fhat = f.mean(-1)
        s = st.cell_means(fhat)
        w, u = [], []
        for r in range(R):
            for i in range(n):
                wi, ui = np.zeros((R, d)), np.zeros((R, d))
                wi[r] = R * np.einsum("jd,j->d", st.x[r], f[r, :, i])
                ui[r] = R * np.einsum("jd,j->d", st.x[r], s[r] - f[r, :, i])
                w.append(wi.ravel())
                u.append(ui.ravel())
        w, u = np.array(w), np.array(u)
        N = R * n
        v = np.sum(np.var(u, axis=0, ddof=1)) / N
        c = np.sum([np.cov(w[:, q], u[:, q])[0, 1] for q in range(w.shape[1])]) / N
        ubar = u.mean(0)
        b2 = max(ubar @ ubar - v, 0.0)
        lam = float(np.clip(1 + c / (v + b2), 0, 1))
        assert float(authors_lambda(st, f)) == pytest.approx(lam, rel=1e-10, abs=1e-12)


def test_authors_lambda_matches_the_numba_engine():
    """The same plug-in, two implementations, two random streams: mean lambda within Z combined SEs."""
    inst = make_expert_instance(5, 2, 5, 0)
    fb = FeedbackModel(case="noisy", rho=1.0)
    engine = simulate_expert(inst, fb, 2, 2000, 11)
    run = mc.run_trials(inst, fb, 2, 2000, 12, with_se=False)
    mean, se = mc.mean_se(run["lambda_authors"])
    assert abs(mean - engine.lambda_adaptive) < Z * math.hypot(se, engine.lambda_adaptive_se)


@pytest.mark.parametrize("case", ["noisy", "activation", "partial"])
def test_sampled_batches_have_the_model_covariance(case):
    inst = make_expert_instance(4, 2, 3, 2)
    fb = FeedbackModel(case=case, rho=0.5)
    S = mc.sample_batches(inst, fb, 2, 4000, np.random.default_rng(4))
    fbar = inst.clean_feedback(0.5)
    var = fb.sample_covariance(fbar, inst.alpha)[:, np.arange(3), np.arange(3)]
    emp = S.var(axis=(0, 3))
    se = S.std(axis=(0, 3)) ** 2 * math.sqrt(2.0 / (2 * 4000)) * 3  # generous for non-normal noise
    assert np.all(np.abs(S.mean(axis=(0, 3)) - fbar) < Z * np.sqrt(var / 8000) + 1e-12)
    assert np.all(np.abs(emp - var) < Z * se + 1e-12)


@pytest.mark.parametrize("n", [2, 3])
def test_estimators_are_unbiased(small, n):
    inst, st = small
    fb = FeedbackModel(case="activation", rho=0.5)
    run = mc.run_trials(inst, fb, n, 4000, 20 + n, with_se=False, st=st)
    ex = exact_mse(inst, fb, n)
    for key, exact in (("v_bp", ex.var_bp), ("v_sg", ex.var_sg), ("c", ex.cov), ("B", ex.bias_sq)):
        mean, se = mc.mean_se(run[key])
        assert abs(mean - exact) < Z * se, (key, mean, exact, se)


def _null_variance(st, sigma, n):
    """Var(B_hat) under B from T11's formula with the true per-sample covariance, by loops."""
    K = st.k_rows(0, st.R)
    cross = within = 0.0
    for r in range(st.R):
        for s in range(st.R):
            val = np.trace(K[r, :, s, :] @ sigma[s] @ K[s, :, r, :] @ sigma[r])
            if r == s:
                within += val
            else:
                cross += val
    return 2 * cross / n**2 + 2 * within / (n * (n - 1))


def test_variance_of_B_hat_and_its_estimate(small):
    inst, st = small
    fb = FeedbackModel(case="noisy")
    sigma = fb.sample_covariance(inst.clean_feedback(), inst.alpha)
    for n, unbiased in ((5, True), (2, False)):
        run = mc.run_trials(inst, fb, n, 4000, 30 + n, st=st)
        exact = _null_variance(st, sigma, n)
        emp = np.var(run["B"], ddof=1)
        assert abs(emp / exact - 1) < 0.1  # 4000 draws: the sample variance's relative SE is about 3%
        est, se = mc.mean_se(run["se_B_null"] ** 2)
        if unbiased:
            assert abs(est - exact) < Z * se
        else:  # n = 2: the plug-in over-estimates (Jensen)
            assert est - exact > Z * se


def test_a_test_never_fires_without_noise(small):
    inst, st = small
    for case, quiet in (("noisy", {"sigma": 0.0}), ("activation", {"p": 1.0}), ("partial", {"tau": 0.0})):
        run = mc.run_trials(inst, FeedbackModel(case=case, rho=0.5, **quiet), 3, 50, 5, with_se=False, st=st)
        assert not run["a_detected"].any() and np.all(run["v_bp"] < 1e-30)  # rounding only
        loud = mc.run_trials(inst, FeedbackModel(case=case), 3, 50, 5, with_se=False, st=st)
        assert loud["a_detected"].all()


def test_recommendations(small):
    inst, _ = small
    rng = np.random.default_rng(6)
    fbar = inst.clean_feedback(3.0)
    quiet = np.repeat(fbar[:, :, None], 3, axis=2)
    assert diagnose(quiet, inst.contributions(), inst.cells()).recommended == "BP"
    leak = fbar[:, :, None] + 0.01 * rng.normal(size=quiet.shape)
    d = diagnose(leak, inst.contributions(), inst.cells())
    assert d.b_rejected and d.recommended in ("mixture", "BP") and d.lambda_recommended == d.lambda_rep
    plain = inst.clean_feedback()[:, :, None] + 0.5 * rng.normal(size=quiet.shape)
    assert diagnose(plain, inst.contributions(), inst.cells()).recommended in ("SG", "mixture")


def test_bad_input_is_one_line(small):
    inst, _ = small
    x, cells = inst.contributions(), inst.cells()
    good = np.ones((inst.R, inst.m, 2))
    cases = [
        (np.ones((inst.R, inst.m, 1)), x, cells, "n (samples per state"),
        (np.ones((inst.R - 1, inst.m, 2)), x, cells, "samples must have shape"),
        (np.where(np.arange(2) == 0, np.nan, good), x, cells, "samples must be finite"),
        (good, x[:, :, :, None], cells, "x must have shape"),
        (good, x, cells[:, :1], f"cells must have shape (R, m) = ({inst.R}, {inst.m}), got ({inst.R}, 1)"),
        (good, x, cells.astype(float), "cells must hold integer keys"),
    ]
    for samples, xx, cc, text in cases:
        with pytest.raises(ValueError) as err:
            diagnose(samples, xx, cc)
        assert text in str(err.value) and "\n" not in str(err.value)


def test_diagnose_instance_reports_exact_excess(small):
    inst, _ = small
    fb = FeedbackModel(case="partial", rho=1.0)
    rng = np.random.default_rng(7)
    samples = mc.sample_batches(inst, fb, 3, 1, rng)[0]
    res = diagnose_instance(inst, fb, samples)
    ex = exact_mse(inst, fb, 3)
    assert res.exact["lambda_star"] == ex.lambda_star
    assert res.excess["BP"] == pytest.approx(ex.mse_bp - ex.mse_mix, rel=1e-12)
    assert res.excess["SG"] == pytest.approx(ex.mse_sg - ex.mse_mix, rel=1e-12)
    assert all(v >= -1e-15 for v in res.excess.values())
    json.dumps(res.as_dict())


def test_plugin_limit_formula_pieces(small):
    """Under B the limit is lambda* = 0; at n = 1 and with a leak it is below lambda*."""
    inst, _ = small
    assert authors_lambda_limit(inst, FeedbackModel(case="noisy"), 2) == 0.0
    lim = authors_plugin_limit(inst, FeedbackModel(case="noisy", rho=1.0), 1, states=math.inf)
    assert lim.grad_dot_bias < 0 and lim.lam < lim.lambda_star
    assert lim.extra == pytest.approx(lim.grad_dot_bias, rel=1e-9)  # n = 1: the dispersion term alone
    with pytest.raises(ValueError):
        authors_lambda_limit(inst, FeedbackModel(), 2, states=1)


def test_monte_carlo_checks_pass_small():
    for check in (lambda: mc.check_t10(trials=200, ns=(1,), copies=4),
                  lambda: mc.check_lambda_rep(trials=300),
                  lambda: mc.check_t12(trials=300, ns=(2,))):
        result = check()
        assert result.passed, result.numbers


def test_study_and_figure(tmp_path):
    import figures

    study = mc.diagnosis_study(trials=60, seed=0, ns=(2, 4), power_ns=(2,), power_rhos=(0.0, 0.5))
    assert mc.STUDY_FILE == figures.STUDY_FILES["diagnosis"]
    (tmp_path / mc.STUDY_FILE).write_text(json.dumps(study))
    paths = figures.draw(tmp_path, ["t10_t12_diagnosis"])
    assert paths[0].stat().st_size > 10_000


# ---------------------------------------------------------------- symbolic T10-T12

def test_symbolic_rows_pass_and_are_labelled():
    from theory.symbolic.results import extension_checks

    rows = extension_checks()
    assert [r.id for r in rows] == ["T10-sym", "T11-sym", "T12-sym"]
    for r in rows:
        assert r.passed, r.numbers
        assert r.statement.startswith("Toolkit extension (not the paper's)")


def test_a_false_variance_fails_fast():
    from theory.symbolic import diagnostics as D

    v = D.t11_variance(2)
    start = time.perf_counter()
    assert not v["ring"].same(v["var_p"], 2 * v["closed"])
    assert not D.same(D.t10_limit_forms()["extra"], (D.GB - D.n_sym * D.C) / D.n_sym)
    assert time.perf_counter() - start < 5.0


def test_t11_variance_is_derived_on_the_model_its_text_names():
    """T11's numbers say Var(B_hat) is derived on 2 cells of 2 states (one expert): the default model."""
    from theory.symbolic import diagnostics as D

    model = D.t11_variance(2)["model"]
    assert (model.R, model.m) == (4, 1) and model.cells == [[(0, 1), (2, 3)]]
    assert "on 2 cells of 2 states" in D.t11_replicate_lambda().numbers


def test_t11_decides_each_identity_at_the_sample_sizes_it_names():
    """T11's rows, by name: unbiasedness and Var(B_hat) at n = 2 and 3, the U-statistic at n = 4 and 5 (the
    sizes its text states); its printed Var(B_hat) is the one at n = 2."""
    from theory.symbolic import diagnostics as D

    names = list(D.t11_replicate_lambda().checks)
    truth = {"V_BP": "V_BP", "V_SG": "V_SG", "C": "C", "B": "||b||^2"}
    expected = [f"n={n}: E[{k}_hat] = {v} (general fbar, Sigma_r)" for n in (2, 3) for k, v in truth.items()]
    var = ("Var(B_hat) = 4 sum_r <b,a_r>^2 s_r/n + 2 sum_(r!=q) <a_r,a_q>^2 s_r s_q/n^2 "
           "+ 2 sum_r ||a_r||^4 s_r^2/(n(n-1))")
    expected += [row for n in (2, 3) for row in (
        f"n={n}: {var}", f"n={n}: Var(B_hat) has no third or fourth moments (B_hat is multilinear in the noise)")]
    expected += ["two independent copies of a cell: E[B_hat] and Var(B_hat) double (relative SE ~ 1/sqrt(copies))",
                 "relative SE sqrt(K V_1) / (K E_1) -> 0 as the copies K grow",
                 "lambda_rep at the estimators' expectations = T7's lambda*"]
    expected += [f"n={n}: the U-statistic of tr(M Sigma M Sigma) is unbiased (general 3rd, 4th moments)"
                 for n in (4, 5)]
    assert names == expected
    printed = D.t11_replicate_lambda().exprs["var_B_n2"]
    assert D.same(printed, D.t11_variance(2)["closed"]) and not D.same(printed, D.t11_variance(3)["closed"])


def test_t12_plugin_excess_by_hand():
    """E[s_hat^2] - s^2 for the sample variance s_hat of n i.i.d. draws with variance s and fourth central
    moment k: k/n + (n^2 - 2n + 3) s^2 / (n (n - 1)) - s^2, i.e. (k + s^2)/2 at n = 2 and k/3 at n = 3."""
    from theory.symbolic import diagnostics as D

    s, k = sp.symbols("s k", positive=True)
    exprs = D.t12_tests().exprs
    assert D.same(exprs["plugin_excess_n2"], (k + s**2) / 2)
    assert D.same(exprs["plugin_excess_n3"], k / 3)
    numbers = D.t12_tests().numbers
    assert f"= {exprs['plugin_excess_n2']} (n=2), {exprs['plugin_excess_n3']} (n=3)" in numbers


def test_ustat_symbolic_is_not_the_plugin():
    from theory.symbolic import diagnostics as D

    assert D.t11_ustat(4)
    e = sp.symbols("e_0:2", real=True)
    s, k = sp.symbols("s k", positive=True)
    plug = ((e[0] - e[1]) ** 2 / 2) ** 2
    assert not D.same(D.expect_independent(plug, list(e), lambda v, p: {2: s, 3: 0, 4: k}[p]), s**2)


# ---------------------------------------------------------------- command line

def test_cli_json(capsys):
    assert main(["diagnose", "expert", "--d", "4", "--m", "3", "--leak", "1", "--trials", "20", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n"] == 2 and out["trials"] == 20
    inst = make_expert_instance(4, 2, 3, 0)
    ex = exact_mse(inst, FeedbackModel(case="noisy", rho=1.0), 2)
    assert out["exact"]["lambda_star"] == pytest.approx(ex.lambda_star, rel=1e-12)
    assert set(out["batch"]["excess_mse"]) == {"BP", "SG", "lambda_rep", "lambda_authors", "recommended"}
    assert out["batch"]["recommended"] in ("BP", "SG", "mixture")
    assert 0 <= out["summary"]["b_rejected_rate"] <= 1


def test_the_batch_diagnosed_alone_is_not_one_of_the_summary_s(monkeypatch):
    """diagnose_expert shows one batch's diagnosis beside a summary over `trials` further batches. Guards
    against the shown batch drawn from the summary's own seed (SeedSequence ignores a trailing 0, so a
    label (seed, 15, n, 0) is the summary's (seed, 15, n)), which makes it the summary's first batch."""
    from montecarlo.rng import derived_seed
    from sgbp import diagnose_cmd

    assert derived_seed(3, 15, 2, 0) == derived_seed(3, 15, 2) != derived_seed(3, 15, 2, 1)
    shown, seeds = [], []
    real_run, real_one = diagnose_cmd.run_trials, diagnose_cmd.diagnose_instance
    monkeypatch.setattr(diagnose_cmd, "run_trials", lambda *a, **k: seeds.append(a[4]) or real_run(*a, **k))
    monkeypatch.setattr(diagnose_cmd, "diagnose_instance", lambda i, f, b: shown.append(b) or real_one(i, f, b))
    inst, fb = make_expert_instance(4, 2, 3, 0), FeedbackModel(case="noisy", rho=1.0)
    diagnose_cmd.diagnose_expert(inst, fb, 2, 5, seed=3)
    summary = diagnose_cmd.sample_batches(inst, fb, 2, 5, np.random.default_rng(seeds[0]))
    assert shown[0].shape == summary[0].shape
    assert not any(np.array_equal(shown[0], b) for b in summary)


def test_cli_table(capsys):
    assert main(["diagnose", "expert", "--d", "4", "--m", "2", "--trials", "3"]) == 0
    text = capsys.readouterr().out
    assert "recommended:" in text and "lambda_rep" in text


@pytest.mark.parametrize("args,text", [
    (["--n", "1"], "n must be >= 2"),
    (["--trials", "0"], "trials must be >= 1"),
    (["--case", "loud"], "case must be one of"),
    (["--k", "4", "--d", "4", "--leak", "1"], "leak needs k < d"),
])
def test_cli_errors_are_one_line(capsys, args, text):
    assert main(["diagnose", "expert", "--d", "4", "--m", "2", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and text in err[0]


# ---- tests written against planted bugs: each names the bug it would catch ----

def test_per_state_se_by_hand():
    """Guards against the factor R dropped from under the square root of the per-state SE. Terms 1, 2, 3, 6:
    mean 3, squared deviations 4 + 1 + 0 + 9 = 14; SE of their sum = sqrt(R * 14 / (R - 1)) = sqrt(56/3)."""
    from theory.diagnose import _per_state_se

    assert _per_state_se(np.array([1.0, 2.0, 3.0, 6.0])) == pytest.approx(math.sqrt(56 / 3), rel=1e-14)
    # identical terms: no spread, SE 0; a batch axis in front is kept
    np.testing.assert_allclose(_per_state_se(np.array([[2.0, 2.0, 2.0], [0.0, 3.0, 6.0]])), [0.0, math.sqrt(3 * 18 / 2)])


@pytest.mark.parametrize("case", ["noisy", "partial"])
def test_standard_errors_of_the_variance_estimates_match_their_spread(small, case):
    """Guards against the same bug by simulation: over 4000 batches (n = 2, R = 16 states), the rms of the
    reported SEs of V_BP_hat, V_SG_hat and C_hat against the standard deviation of the estimates. The SE is
    conservative when the states' terms differ in mean, so the ratio may exceed 1; measured 1.07-1.08. The
    sample sd of 4000 draws is within 5% here, so [0.85, 1.6] holds; the bug divides the ratio by
    sqrt(16) = 4 (0.27), and a doubled SE gives 2.1."""
    inst, st = small
    run = mc.run_trials(inst, FeedbackModel(case=case), 2, 4000, 5, st=st, with_test=False)
    for key in ("v_bp", "v_sg", "c"):
        ratio = np.sqrt(np.mean(run["se_" + key] ** 2)) / run[key].std(ddof=1)
        assert 0.85 < ratio < 1.6, (key, ratio)


@pytest.mark.parametrize("case", ["noisy", "activation", "partial"])
def test_lambda_rep_stays_in_zero_one_under_b(small, case):
    """Guards against lambda_rep without its clip at 0: with B holding (no leak) the unclipped plug-in
    (B_hat + V_SG_hat - C_hat) / ||b_hat||^2 is negative in about half the batches at n = 2 (so the clip
    is exercised here), and lambda_rep must still lie in [0, 1]."""
    inst, st = small
    run = mc.run_trials(inst, FeedbackModel(case=case), 2, 2000, 6, st=st, with_se=False)
    raw = (run["B"] + run["v_sg"] - run["c"]) / run["b_hat_sq"]
    assert np.mean(raw < 0) > 0.3
    assert run["lambda_rep"].min() >= 0.0 and run["lambda_rep"].max() <= 1.0
    np.testing.assert_array_equal(run["lambda_rep"][raw < 0], 0.0)


@pytest.mark.parametrize("case", ["noisy", "partial"])
def test_b_test_keeps_its_level_at_n_4(case):
    """Guards against a wrong Cornish-Fisher critical value of the test of B. Under B at n = 4 (d = 5,
    4000 batches) the false-alarm rate must lie within 4 binomial SEs (0.0138) of the level 0.05: measured
    0.048 (noisy) and 0.050 (partial); the plain normal critical value gives 0.086, the skewness term with
    its sign flipped 0.14. (The activation case's non-Gaussian noise puts it at 0.07: the report's T12-mc
    row allows for that with its slack.)"""
    from theory.diagnose import LEVEL

    inst = make_expert_instance(5, 2, 5, 0)
    run = mc.run_trials(inst, FeedbackModel(case=case), 4, 4000, 77, st=Structure.of(inst))
    rate = run["b_rejected"].mean()
    assert abs(rate - LEVEL) < 4 * math.sqrt(LEVEL * (1 - LEVEL) / 4000), rate


def test_large_structures_drop_the_skew_correction_and_test_at_level_5_percent():
    """R m = 2560 > 2048: the third cumulant is not formed ((R m)^2 above 2^22 entries), so the B test's
    critical value is the plain one-sided normal quantile at level 0.05, 1.6448536 (by hand from tables)."""
    inst = make_expert_instance(9, 2, 5, seed=0)
    st = Structure.of(inst)
    samples = np.random.default_rng(0).normal(size=(inst.R, inst.m, 4))
    out = estimate(st, samples)
    assert out["z_crit"] == pytest.approx(1.6448536269514722, rel=1e-12)
    assert _third_cumulant(st, samples, np.zeros((inst.R, inst.m, inst.m))) == 0.0
    # R m = 256: the skew correction is kept, so the critical value moves off the normal quantile
    mid = make_expert_instance(6, 2, 4, seed=0)
    out = estimate(Structure.of(mid), np.random.default_rng(1).normal(size=(mid.R, mid.m, 4)))
    assert abs(out["z_crit"] - 1.6448536269514722) > 1e-3


def test_noise_free_batches_by_hand(small):
    """Every sample equal to the clean feedback: V_BP_hat = 0, so A is not detected (also when every sample is
    0), Var(B_hat) under B is 0, the skew correction is 0 (z_crit is the normal quantile), and z_B is inf
    when B_hat > 0 (a leak) and 0 when B_hat = 0 (no leak); se_B carries b_hat's own term, so it exceeds
    se_B_null off B."""
    inst, st = small
    for rho in (0.0, 0.1):
        fbar = inst.clean_feedback(rho)
        samples = np.repeat(fbar[:, :, None], 4, axis=2)
        out = estimate(st, samples)
        assert out["v_bp"] == 0.0 and not out["a_detected"] and out["se_B_null"] == out["se_B"] == 0.0
        assert out["z_crit"] == pytest.approx(1.6448536269514722, rel=1e-12)
        if rho == 0.0:
            assert out["B"] == 0.0 and out["z_B"] == 0.0 and not out["b_rejected"]
        else:
            assert 0.0 < out["B"] < 1.0 and out["z_B"] == math.inf and out["b_rejected"]
    assert not estimate(st, np.zeros((inst.R, inst.m, 4)))["a_detected"]
    noisy = np.random.default_rng(3).normal(size=(inst.R, inst.m, 4)) + inst.clean_feedback(0.5)[:, :, None]
    out = estimate(st, noisy)
    assert out["se_B"] > out["se_B_null"] > 0.0


def test_rounding_is_judged_relative_to_the_feedback_scale(small):
    """A is detected when V_BP_hat exceeds 1e-20 of the noise-free scale (sum of x^2 f^2 / n^2). Feedback of
    size 1e6 with noise of 1e-9 (a few units in its last place): V_BP_hat is about 1e-20, far below 1e-20
    of a scale of about 1e10, so not detected (a threshold of 1e-20 / scale would detect it); noise of 1e-8
    on feedback of size 1 is detected."""
    inst, st = small
    rng = np.random.default_rng(4)
    big = 1e6 + 1e-9 * rng.normal(size=(inst.R, inst.m, 4))
    out = estimate(st, big, with_se=False)
    assert 1e-30 < out["v_bp"] < 1e-15 and not out["a_detected"]
    small_noise = 1.0 + 1e-8 * rng.normal(size=(inst.R, inst.m, 4))
    assert estimate(st, small_noise, with_se=False)["a_detected"]


def test_variance_of_B_hat_off_B_is_estimated_with_b_hats_own_term(small):
    """With a leak (B false) Var(B_hat) gains 4 b^T Omega b / n; se_B^2 (the null part plus that term) must
    match the spread of B_hat over 4000 batches at n = 5 (relative 0.15: the sample variance's relative SE
    is about 2.2%, the ratio of two such estimates about 4%), and exceed se_B_null^2 by a clear margin."""
    inst, st = small
    fb = FeedbackModel(case="noisy", rho=1.0)
    run = mc.run_trials(inst, fb, 5, 4000, 41, st=st)
    emp = np.var(run["B"], ddof=1)
    est = np.mean(run["se_B"] ** 2)
    null = np.mean(run["se_B_null"] ** 2)
    assert abs(est / emp - 1) < 0.15, (est, emp, null)
    assert est > 1.3 * null


def test_plugin_lambda_and_the_recommendation_by_hand():
    """lambda = clip(1 + c / (v + b2), 0, 1), b2 = max(ubar2 - v, 0), and 1 where v + b2 = 0; the
    recommendation: BP (1) without noise, SG (0) while B stands, else BP, SG or the mixture by lambda_rep."""
    from theory.diagnose import _recommend, plugin_lambda
    assert plugin_lambda(1.0, -0.5, 0.0) == 0.5 and plugin_lambda(1.0, -0.5, 3.0) == pytest.approx(5 / 6, rel=1e-15)
    assert plugin_lambda(1.0, 0.5, 0.0) == 1.0 and plugin_lambda(1.0, -3.0, 0.0) == 0.0
    assert plugin_lambda(0.5, -0.125, 0.0) == 0.75  # v + b2 = 0.5
    assert plugin_lambda(0.0, -0.5, 0.0) == 1.0 and plugin_lambda(0.0, 0.0, 0.0) == 1.0
    assert _recommend(False, True, 0.3) == ("BP", 1.0) and _recommend(True, False, 0.3) == ("SG", 0.0)
    assert _recommend(True, True, 1.0) == ("BP", 1.0) and _recommend(True, True, 0.0) == ("SG", 0.0)
    assert _recommend(True, True, 0.3) == ("mixture", 0.3)


def test_plugin_coefficients_at_infinite_R_are_the_limit():
    """R = inf: (1/n, (n - 1)/n^2), which the finite formula approaches (R = 1e9 to 1e-8)."""
    from theory.diagnose import plugin_coefficients
    assert plugin_coefficients(math.inf, 4) == (0.25, 0.1875)
    np.testing.assert_allclose(plugin_coefficients(1e9, 4), (0.25, 0.1875), rtol=1e-8)


def test_lambda_rep_is_clipped_at_1_when_c_exceeds_v_bp():
    """Guards against lambda_rep without its clip at 1. lambda_rep's raw value is 1 + (C_hat - V_BP_hat) /
    ||b_hat||^2, above 1 when C_hat > V_BP_hat: one state's noise negatively correlated across two experts
    whose contributions are equal, expert 2's cell holding both states (per state C - V_BP = -(s12 + s22) / 2
    over n, 0.25 / n with s12 = -1.5, s22 = 1). The raw value is then 1.5 on this batch; lambda_rep is 1."""
    st = Structure.build(np.ones((2, 2, 1)), np.array([[0, 0], [1, 0]]))
    chol = np.linalg.cholesky(np.array([[4.0, -1.5], [-1.5, 1.0]]))
    rng = np.random.default_rng(0)
    samples = np.stack([chol @ rng.standard_normal((2, 50)) + np.array([[1.0], [2.0 + 0.2 * r]]) for r in range(2)])
    out = estimate(st, samples)
    raw = (out["B"] + out["v_sg"] - out["c"]) / out["b_hat_sq"]
    assert out["c"] > out["v_bp"] and 1.2 < raw < 2.0
    assert out["lambda_rep"] == 1.0


def test_rounding_threshold_is_1e_20_of_the_scale(small):
    """Guards the threshold of the A test, 1e-20 of the scale sum_rj |x_rj|^2 sum_i f_rji^2 / n^2 (computed
    here from that definition): feedback of size M with unit noise, M set so that V_BP_hat / scale is
    0.7e-20 (not detected) or 1.5e-20 (detected). A threshold twice as large, or a scale with n^2 replaced
    by 2 n or n^3, puts one of the two on the wrong side."""
    inst, st = small
    n = 4
    z = np.random.default_rng(5).normal(size=(inst.R, inst.m, n))
    diag = np.einsum("rjd,rjd->rj", st.x, st.x)

    def ratio(M):
        samples = M + z
        out = estimate(st, samples, with_se=False)
        scale = np.sum(diag[:, :, None] * samples**2) / n**2
        return out["v_bp"] / scale, bool(out["a_detected"])

    first, _ = ratio(1e10)
    for target, detected in ((0.7e-20, False), (1.5e-20, True)):
        r, seen = ratio(1e10 * math.sqrt(first / target))
        assert abs(r / target - 1) < 0.05 and seen == detected, (target, r, seen)


def test_diagnose_runs_blas_on_one_thread(small, monkeypatch):
    """The diagnosis's numbers must not depend on the BLAS thread count: diagnose() and diagnose_instance()
    run the estimators with BLAS held to one thread (seen from inside the estimators)."""
    from threadpoolctl import threadpool_info
    import theory.diagnose as td

    seen = []
    real = td.estimate

    def spy(*args, **kwargs):
        seen.append({p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"})
        return real(*args, **kwargs)

    monkeypatch.setattr(td, "estimate", spy)
    inst, _ = small
    fb = FeedbackModel(case="noisy")
    samples = mc.sample_batches(inst, fb, 3, 1, np.random.default_rng(2))[0]
    td.diagnose(samples, inst.contributions(), inst.cells())
    td.diagnose_instance(inst, fb, samples)
    assert seen == [{1}, {1}]


def test_skew_correction_is_kept_at_r_m_2048():
    """The third cumulant is formed up to (R m)^2 = 2^22 entries: at R m = 2048 exactly it is computed
    (nonzero), one state more and it is dropped (0)."""
    rng = np.random.default_rng(6)
    for R, kept in ((1024, True), (1025, False)):
        st = Structure.build(rng.normal(size=(R, 2, 1)), rng.integers(0, 8, size=(R, 2)))
        samples = rng.normal(size=(R, 2, 3))
        k3 = _third_cumulant(st, samples, np.zeros((R, 2, 2)))
        assert (k3 != 0.0) == kept, (R, k3)


def test_authors_plugin_limit_is_the_mean_of_the_plugin_moments(small):
    """Guards the T10 limit's moments at n = 3 (at n = 1 the Q term has weight 0): on the instance's own R
    states, v and c are linear in the batch's quadratic forms, so the plug-in's v and c averaged over 4000
    simulated batches must meet the limit's v and c within Z SE, and b2 = max(E U - v, 0) the mean of
    U - v. states may be any number >= 2 or inf; below 2 (or -inf) it is refused."""
    inst, st = small
    fb = FeedbackModel(case="noisy", rho=0.5)
    lim = authors_plugin_limit(inst, fb, 3)
    run = mc.run_trials(inst, fb, 3, 4000, 12, st=st, with_se=False)
    for got, want in ((run["plug_v"], lim.v), (run["plug_c"], lim.c), (run["plug_U"] - run["plug_v"], lim.b2)):
        mean, se = mc.mean_se(got)
        assert abs(mean - want) < Z * se and abs(want) > Z * se, (mean, se, want)
    assert authors_plugin_limit(inst, fb, 3, states=2).v != authors_plugin_limit(inst, fb, 3, states=3).v
    for bad in (1.5, -math.inf):
        with pytest.raises(ValueError, match="states"):
            authors_plugin_limit(inst, fb, 3, states=bad)


def test_b_hat_is_multilinear_because_of_its_correction():
    """||b_hat||^2 alone holds squared noise terms; B_hat subtracts them with the variance estimates, which
    is why no third or fourth moment can enter Var(B_hat)."""
    from theory.symbolic import diagnostics as D

    batch = D.Batch(D._cells_model(2), 2)
    nr = batch.nring()
    est = batch.estimators()
    assert D.multilinear_in_noise(nr, nr.poly(est["B"]))
    assert not D.multilinear_in_noise(nr, nr.poly(est["B"] + est["v_bp"] + est["v_sg"] - 2 * est["c"]))  # ||b_hat||^2
    e0, e1 = batch.noise[:2]
    assert D.multilinear_in_noise(nr, nr.poly(3 * e0 * e1 + e0))
    assert not D.multilinear_in_noise(nr, nr.poly(e0 * e0 * e1))


def test_t11_row_fails_if_b_hat_had_a_squared_term(monkeypatch):
    from theory.symbolic import diagnostics as D

    real = D.t11_variance
    monkeypatch.setattr(D, "t11_variance", lambda n, copies=2: {**real(n, copies), "multilinear": False})
    D.t11_replicate_lambda.cache_clear()
    try:
        row = D.t11_replicate_lambda().checks
        assert row["n=2: Var(B_hat) has no third or fourth moments (B_hat is multilinear in the noise)"] is False
    finally:
        D.t11_replicate_lambda.cache_clear()
