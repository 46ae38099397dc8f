"""The paper's claims and the report, on tiny hand-made rows with known outcomes."""

import math
import re

import pytest

from montecarlo import claims
from sgbp.report import claim_source, failed, find_check, rows_of, save_checks, write_report
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


def test_a_toolkit_row_names_the_claim_it_belongs_to():
    def row(row_id):
        return CheckResult(id=row_id, statement="s", method="experiment", numbers="n", status=PASS)

    assert claim_source(row("C9-tuned")) == "this toolkit: C9 with each method at its best learning rate"
    assert claim_source(row("C8-tuned")) == "this toolkit: C8 with each method at its best learning rate"
    assert claim_source(row("C8-12")) == "this toolkit: C8's criterion at 12 seeds"
    assert claim_source(row("C9")) == "docs/experiments.md E3 (the authors' RL experiment)"


def test_cells_of_one_state_give_ratio_one_exactly():
    # d = k: SG's table is BP's average, so the interval is a point at 1
    single = row(d=4, k=4, ratio=1.0, half=0.0)
    assert claims.ratio_z(single, 1.0) == 0.0
    assert claims.ratio_z(row(d=4, k=4, ratio=1.5, half=0.0), 1.0) == math.inf
    result = claims.sg_beats_bp_everywhere([row(), single])
    assert result.passed and "ratio 1 in 1/1" in result.numbers


def _rows(*ids, failing=()):
    return [CheckResult(i, f"statement {i}", "symbolic", "x", FAIL if i in failing else PASS) for i in ids]


def test_report_sorts_rows_by_result_number_and_keeps_their_order_within_a_result(tmp_path):
    checks = _rows("T10-mc", "T2-sym", "C10", "T2-shared", "T10-sym", "T1-sym", "C2", "T2-mc")
    path = tmp_path / "paper_checks.md"
    write_report(checks, path, profile="quick", seed=0)
    order = [line.split(" | ")[0][2:] for line in path.read_text().splitlines() if line.startswith("| C") or
             line.startswith("| T")]
    order = [rid for rid in order if rid[1:2].isdigit()]
    assert order == ["C2", "C10", "T1-sym", "T2-sym", "T2-shared", "T2-mc", "T10-mc", "T10-sym"]
    assert "docs/theory.md T10 (section 6, toolkit extension) |" in path.read_text()


@pytest.mark.parametrize("ids, bad", [(("T3-sym", "T3-mc", "T3-sym"), "T3-sym"), (("T3-sym", "X1"), "X1"),
                                      (("T3", "T3 "), "T3 ")])
def test_report_and_saved_checks_refuse_duplicated_or_malformed_ids(tmp_path, ids, bad):
    checks = _rows(*ids)
    with pytest.raises(ValueError, match=re.escape(repr(bad))):
        write_report(checks, tmp_path / "paper_checks.md", profile="quick", seed=0)
    with pytest.raises(ValueError, match=re.escape(repr(bad))):
        save_checks(checks, tmp_path / "checks.json")
    assert not (tmp_path / "paper_checks.md").exists() and not (tmp_path / "checks.json").exists()


def test_looking_up_a_missing_or_duplicated_id_is_an_error():
    checks = _rows("C1", "T3-sym", "T3-mc", "T30-mc") + _rows("C1")
    with pytest.raises(ValueError, match="'C1': expected one row, found 2"):
        find_check(checks, "C1")
    with pytest.raises(ValueError, match="'C4': expected one row, found 0"):
        find_check(checks, "C4")
    assert [c.id for c in rows_of(checks, "T3")] == ["T3-sym", "T3-mc"]  # not T30-mc
    with pytest.raises(ValueError, match="'T6'"):
        rows_of(checks, "T6")


@pytest.mark.parametrize("failing, c4, c5", [
    ((), PASS, PASS),
    (("T3-sym",), FAIL, PASS),  # the symbolic T3 counts although a Monte Carlo T3 row follows it
    (("T3-mc",), FAIL, PASS),
    (("C1",), FAIL, PASS),
    (("T6-sym",), PASS, FAIL),
    (("T7-mc",), PASS, FAIL),
])
def test_summary_claims_use_every_row_of_the_results_they_cite(failing, c4, c5):
    from sgbp.reproduce_cmd import summary_claims

    checks = _rows("C1", "T3-sym", "T6-sym", "T7-sym", "T3-mc", "T6-mc", "T7-mc", "T4-sweep", "C8", "C9",
                   failing=failing)
    out = {c.id: c for c in summary_claims(checks)}
    assert (out["C4"].status, out["C5"].status) == (c4, c5)
    assert out["C4"].numbers == "via " + ", ".join(
        f"{i} ({FAIL if i in failing else PASS})" for i in ("C1", "T3-sym", "T3-mc"))
    with pytest.raises(ValueError, match="'T3'"):
        summary_claims([c for c in checks if not c.id.startswith("T3")])
