"""The paper's claims and the report, on tiny hand-made rows with known outcomes."""

import math

import pytest

from montecarlo import claims
from sgbp.report import failed, write_report
from theory.checks import FAIL, NOT_YET, PASS, CheckResult


def row(case="noisy", d=4, k=2, n=1, ratio=4.0, half=0.196, **extra):
    # half-width 0.196 at 95% is a standard error of 0.1
    base = dict(case=case, d=d, k=k, n=n, trials=100, ratio=ratio, ratio_lo=ratio - half, ratio_hi=ratio + half,
                exact_ratio=2.0 ** (d - k), mse_bp=1.0, se_bp=0.1, mse_sg=0.25, se_sg=0.05, z_bp=0.0, z_sg=0.0)
    return base | extra


def test_bonferroni_threshold_matches_normal_quantiles():
    assert claims.bonferroni_z(1) == pytest.approx(2.5758293035489, abs=1e-9)  # z_0.995
    assert claims.bonferroni_z(10) == pytest.approx(3.2905267, abs=1e-6)  # z_0.9995


def test_ratio_z_from_the_interval():
    assert claims.ratio_se(row()) == pytest.approx(0.1, rel=1e-3)
    assert claims.ratio_z(row(ratio=4.3), 4.0) == pytest.approx(3.0, rel=1e-3)


def test_sg_beats_bp_needs_every_lower_bound_above_one():
    good = [row(), row(d=5, ratio=8.0)]
    assert claims.sg_beats_bp_everywhere(good).passed
    bad = good + [row(d=6, ratio=1.1, half=0.3)]
    result = claims.sg_beats_bp_everywhere(bad)
    assert not result.passed and "2/3" in result.numbers


def test_gap_grows_fails_when_the_ratio_stops_growing():
    rows = [row(d=4, ratio=4.0), row(d=5, ratio=8.0), row(d=6, ratio=16.0)]
    assert claims.gap_grows_without_bound(rows).passed
    flat = [row(d=4, ratio=4.0), row(d=5, ratio=3.9), row(d=6, ratio=16.0)]
    assert not claims.gap_grows_without_bound(flat).passed
    off = [row(d=4, ratio=4.0), row(d=5, ratio=8.0), row(d=6, ratio=20.0)]
    assert not claims.gap_grows_without_bound(off).passed


def test_authors_ratio_flags_a_ratio_far_from_four():
    assert claims.authors_ratio([row(n=1, ratio=4.1), row(n=2, ratio=3.9)]).passed
    assert not claims.authors_ratio([row(n=1, ratio=4.1), row(n=2, ratio=4.5)]).passed


def test_sample_efficiency_compares_bp_at_cell_size_with_sg_at_one():
    sg = row(n=1, mse_sg=0.25, se_sg=0.01)
    bp = row(n=4, mse_bp=0.26, se_bp=0.01)
    result = claims.sample_efficiency([sg, bp])
    assert result.passed and "z = +0.71" in result.numbers
    assert not claims.sample_efficiency([sg, row(n=4, mse_bp=0.5, se_bp=0.01)]).passed


def test_report_marks_not_reproduced_apart_from_pass_and_fail(tmp_path):
    checks = [
        CheckResult("C1", "a claim", "Monte Carlo", "1 vs 1", PASS, "ratio_vs_n"),
        claims.not_reproduced("C8", "bandit claim", "MNIST"),
        CheckResult("T2", "a | result", "symbolic", "x", FAIL),
    ]
    assert [c.status for c in checks] == ["PASS", NOT_YET, "FAIL"]
    assert not checks[1].passed
    assert failed(checks) == [checks[2]]
    path = tmp_path / "paper_checks.md"
    write_report(checks, path, profile="quick", seed=0)
    text = path.read_text()
    assert "| C: the paper's claims | 2 | 1 | 0 | 0 | 1 |" in text
    assert "| T: this toolkit's formalisation | 1 | 0 | 1 | 0 | 0 |" in text
    assert "a \\| result" in text  # a pipe inside a cell does not break the table
    assert "[ratio_vs_n](results/figures/ratio_vs_n.png)" in text
    assert not math.isnan(claims.bonferroni_z(0))


def test_cells_of_one_state_give_ratio_one_exactly():
    # d = k: SG's table is BP's average, so the interval is a point at 1
    single = row(d=4, k=4, ratio=1.0, half=0.0)
    assert claims.ratio_z(single, 1.0) == 0.0
    assert claims.ratio_z(row(d=4, k=4, ratio=1.5, half=0.0), 1.0) == math.inf
    result = claims.sg_beats_bp_everywhere([row(), single])
    assert result.passed and "ratio 1 in 1/1" in result.numbers
