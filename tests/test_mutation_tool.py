"""tools.mutation: the mutants it plants and the score it reports, on hand-made inputs."""

from tools import mutation

SOURCE = '''"""A docstring: 1 + 2 is left alone."""


def clip(x, lo=0.0):
    if x < lo and True:
        return -x * 2
    return x
'''


def test_mutants_of_a_tiny_module_and_apply_changes_one_place():
    found = mutation.mutants("tiny.py", SOURCE)
    ids = [m.id for m in found]
    assert ids == ["tiny.py:4: 0.0 -> 1.0",
                   "tiny.py:5: x < lo and True -> x < lo or True", "tiny.py:5: x < lo -> x <= lo",
                   "tiny.py:5: True -> False",
                   "tiny.py:6: -x * 2 -> -x / 2", "tiny.py:6: -x -> x", "tiny.py:6: 2 -> 3"]
    m = found[2]
    new = mutation.apply(SOURCE, m)
    assert new.splitlines()[4] == "    if x <= lo and True:"
    assert [a == b for a, b in zip(SOURCE.splitlines(), new.splitlines())].count(False) == 1


def test_score_counts_equivalent_mutants_apart(monkeypatch):
    monkeypatch.setattr(mutation, "equivalents", lambda: {"m:3: a -> b": "same value either way"})
    record = {"module": "m", "mutants": [
        {"id": "m:1: x -> y", "verdict": "killed"}, {"id": "m:2: x -> z", "verdict": "killed (timeout)"},
        {"id": "m:3: a -> b", "verdict": "survived"}, {"id": "m:4: c -> d", "verdict": "survived"}]}
    (row,) = mutation.score([record])
    # 2 killed of the 3 that are not equivalent
    assert row["score"] == 2 / 3 and row["missing"] == ["m:4: c -> d"] and row["equivalent"] == 1
