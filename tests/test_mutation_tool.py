"""tools.mutation: the mutants it plants and the score it reports, on hand-made inputs."""

from tools import mutation


def test_mutants_flip_one_operator_and_apply_changes_only_that():
    found = mutation.mutants("learning/verdicts.py")
    ids = {m.id for m in found}
    assert "learning/verdicts.py:43: t > crit -> t >= crit" in ids
    m = next(m for m in found if m.id == "learning/verdicts.py:43: t > crit -> t >= crit")
    text = (mutation.ROOT / m.module).read_text()
    new = mutation.apply(text, m)
    old_lines, new_lines = text.splitlines(), new.splitlines()
    changed = [i for i, (a, b) in enumerate(zip(old_lines, new_lines)) if a != b]
    assert changed == [42] and "t >= crit" in new_lines[42] and len(old_lines) == len(new_lines)
    # docstrings are left alone
    assert all(m.line > 10 for m in found)


def test_score_counts_equivalent_mutants_apart(monkeypatch):
    monkeypatch.setattr(mutation, "equivalents", lambda: {"m:3: a -> b": "same value either way"})
    record = {"module": "m", "mutants": [
        {"id": "m:1: x -> y", "verdict": "killed"}, {"id": "m:2: x -> z", "verdict": "killed (timeout)"},
        {"id": "m:3: a -> b", "verdict": "survived"}, {"id": "m:4: c -> d", "verdict": "survived"}]}
    (row,) = mutation.score([record])
    # 2 killed of the 3 that are not equivalent
    assert row["score"] == 2 / 3 and row["missing"] == ["m:4: c -> d"] and row["equivalent"] == 1
