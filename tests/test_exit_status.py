"""`sgbp reproduce`'s exit status tells a broken toolkit from a refuted claim; `sgbp` alone and --version."""

import pytest

from sgbp.cli import main
from sgbp.reproduce_cmd import closing_summary
from theory.checks import FAIL, INCONCLUSIVE, NOT_YET, PASS, CheckResult


def row(cid, status):
    return CheckResult(id=cid, statement=f"statement {cid}", method="m", numbers=f"numbers {cid}", status=status)


HEALTHY = [row("T1-sym", PASS), row("T3-mc", PASS), row("C8-stored", PASS), row("C9-stored", PASS),
           row("C1", PASS), row("C9", INCONCLUSIVE), row("C8-12", NOT_YET)]


@pytest.mark.parametrize("extra, strict, status", [
    ([], False, 0),
    ([], True, 0),
    # a paper claim that FAILs is a finding: exit 0, unless --strict
    ([row("C8-mse", FAIL)], False, 0),
    ([row("C8-mse", FAIL)], True, 1),
    # the toolkit's own rows: a T-row, or stored runs that no longer reproduce
    ([row("T6-mc", FAIL)], False, 1),
    ([row("C8-stored", FAIL)], False, 1),
    ([row("C9-stored", FAIL)], False, 1),
    # INCONCLUSIVE never fails the run
    ([row("C3", INCONCLUSIVE)], True, 0),
])
def test_exit_status_of_reproduce(extra, strict, status, capsys):
    checks = [c for c in HEALTHY if c.id not in {e.id for e in extra}] + extra
    assert closing_summary(checks, "paper_checks.md", "results", strict) == status
    out = capsys.readouterr().out
    for c in extra:
        if c.status == FAIL:
            kind = "(the toolkit)" if c.id.startswith("T") or c.id.endswith("-stored") else "(a finding, not an error)"
            assert f"FAIL {c.id} {kind}" in out
    assert "the paper's claims and the toolkit's experiments on them:" in out


def test_bad_input_to_reproduce_exits_2(tmp_path, capsys):
    assert main(["reproduce", "--seed", "-1", "--out", str(tmp_path)]) == 2
    assert main(["reproduce", "--paper-runs", str(tmp_path / "none"), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("sgbp: error:") for line in err)
    assert "paper-runs" in err[1]


def test_sgbp_alone_lists_the_commands_and_version(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    for command in ("theory", "explore", "map", "diagnose", "bandit", "rl", "reproduce", "figures"):
        assert f"\n    {command}" in out
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.startswith("sgbp ")
