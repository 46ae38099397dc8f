"""montecarlo.false_alarms: the pass count over seeds and its JSON (checks replaced by stubs)."""

import json

from montecarlo import false_alarms
from theory.checks import FAIL, PASS, CheckResult


def fake_checks(scale, seed):
    """Every check passes, except the second one on seed 2."""
    names = [c.__name__ for c in false_alarms.CHECKS]
    return [CheckResult(f"T{i}", name, "Monte Carlo", f"seed {seed}", FAIL if (seed, i) == (2, 1) else PASS)
            for i, name in enumerate(names)]


def test_counts_the_seeds_where_every_check_passed(monkeypatch, tmp_path):
    monkeypatch.setattr(false_alarms, "monte_carlo_checks", fake_checks)
    out = tmp_path / "fa.json"
    summary = false_alarms.measure([1, 2, 3], 0.5, out)
    assert summary["all_passed"] == 2 and summary["seeds"] == [1, 2, 3]
    second = false_alarms.CHECKS[1].__name__
    assert summary["per_check_failures"][second] == 1
    assert sum(summary["per_check_failures"].values()) == 1
    assert summary["runs"][1]["failed"] == ["T1: seed 2"]
    assert json.loads(out.read_text()) == summary


def test_bad_input_is_one_line_and_exit_2(capsys):
    assert false_alarms.main(["--seeds", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["false_alarms: error: seeds must be >= 1, got 0"]
    assert false_alarms.main(["--scale", "0"]) == 2
    assert "scale must be" in capsys.readouterr().err
    assert false_alarms.main(["--only", "check_t99"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("false_alarms: error: only must be among check_t1,")


def test_only_runs_the_named_checks(monkeypatch):
    calls = []
    monkeypatch.setattr(false_alarms, "CHECKS", (
        lambda trials=100, seed=0: calls.append((trials, seed)) or CheckResult("T8", "s", "Monte Carlo", "n", PASS),))
    false_alarms.CHECKS[0].__name__ = "check_t8"
    summary = false_alarms.measure([4], 0.5, only=["check_t8"])
    assert calls == [(50, 4)] and summary["all_passed"] == 1 and summary["checks"] == ["check_t8"]
