"""tools.mutation: the mutants it plants and the score it reports, on hand-made inputs."""

import dataclasses
import json

import pytest

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

    def m(line, original, replacement, verdict):
        return {"module": "m", "line": line, "original": original, "replacement": replacement, "verdict": verdict}

    record = {"module": "m", "mutants": [
        m(1, "x", "y", "killed"), m(2, "x", "z", "killed (timeout)"), m(3, "a", "b", "survived"),
        m(3, "a", "b", "survived"), m(4, "c", "d", "survived"), m(5, "e", "f", "error (pytest exit -11)")]}
    (row,) = mutation.score([record])
    # the second "a -> b" of line 3 is another mutant: listing the first as equivalent does not cover it;
    # a crash of the test run counts as killed: 3 killed of the 5 that are not equivalent
    assert row["missing"] == ["m:3: a -> b #2", "m:4: c -> d"] and row["equivalent"] == 1
    assert row["score"] == 3 / 5 and row["crashed"] == 1


def test_mutants_reading_alike_on_one_line_are_numbered():
    found = mutation.mutants("t.py", "y = a[-1] + b[-1]\n")
    assert [m.id for m in found if "-1 -> 1" in m.id] == ["t.py:1: -1 -> 1", "t.py:1: -1 -> 1 #2"]


def test_statement_lines_map_a_continued_line_to_its_statement():
    text = "def f(x):\n    y = (x +\n         1)\n    if (y >\n            2):\n        return y\n    return 0\n"
    lines = mutation.statement_lines(text)
    assert [lines[i] for i in range(1, 8)] == [1, 2, 2, 4, 4, 6, 7]


TINY = '''def clip(x):
    if x < 0:
        return -x
    return x


def double(x):
    return 2 * x
'''

TINY_TESTS = '''from tiny import clip, double


def test_clip_of_a_negative():
    assert clip(-2) == 2


def test_double():
    assert double(3) == 6
'''


def test_a_mutant_meets_the_tests_that_run_its_line_first_and_a_survivor_meets_them_all(tmp_path, monkeypatch):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tiny.py").write_text(TINY)
    (tmp_path / "tests" / "test_tiny.py").write_text(TINY_TESTS)
    # like the project's own: -q in addopts must not hide the node ids
    (tmp_path / "pyproject.toml").write_text('[tool.pytest.ini_options]\naddopts = "-q"\n')
    monkeypatch.setattr(mutation, "ROOT", tmp_path)
    monkeypatch.setitem(mutation.MODULES, "tiny.py", ["tests/test_tiny.py"])
    copy = mutation.make_copy(tmp_path / "copy")
    ids, by_line, clean, seconds = mutation.covering_tests(copy, "tiny.py", ["tests/test_tiny.py"])
    assert clean == "survived" and seconds > 0
    assert ids == ["tests/test_tiny.py::test_clip_of_a_negative", "tests/test_tiny.py::test_double"]
    statements = mutation.statement_lines(TINY)
    first = {m.id: mutation.first_tests(m, statements, by_line, ids) for m in mutation.mutants("tiny.py", TINY)}
    assert first["tiny.py:8: 2 * x -> 2 / x"] == ["tests/test_tiny.py::test_double"]
    assert first["tiny.py:3: -x -> x"] == ["tests/test_tiny.py::test_clip_of_a_negative"]
    record = mutation.run_module("tiny.py", 1, None, tmp_path / "out")
    verdicts = {m["id"]: m["verdict"] for m in record["mutants"]}
    # x <= 0 and x < 1 change nothing the two tests look at: they survive after meeting both tests
    assert verdicts == {"tiny.py:2: x < 0 -> x <= 0": "survived", "tiny.py:2: 0 -> 1": "survived",
                        "tiny.py:3: -x -> x": "killed", "tiny.py:8: 2 * x -> 2 / x": "killed",
                        "tiny.py:8: 2 -> 3": "killed"}
    given = {m["id"]: m["tests_given"] for m in record["mutants"]}
    assert given["tiny.py:3: -x -> x"] == 1 and given["tiny.py:2: x < 0 -> x <= 0"] == 2

    # a test added against x < 1: --survivors runs the two survivors again and keeps the other verdicts
    with open(tmp_path / "tests" / "test_tiny.py", "a") as f:
        f.write("\n\ndef test_clip_of_a_half():\n    assert clip(0.5) == 0.5\n")
    # x <= 0 listed as equivalent: it is not run again, its stored entry is kept as it was
    listed = tmp_path / "equivalent.txt"
    listed.write_text("tiny.py:2: x < 0 -> x <= 0 | clip(0) is 0 either way\n")
    monkeypatch.setattr(mutation, "EQUIVALENT", listed)
    again = mutation.run_module("tiny.py", 1, None, tmp_path / "out", survivors=True)
    verdicts = {m["id"]: m["verdict"] for m in again["mutants"]}
    assert verdicts["tiny.py:2: 0 -> 1"] == "killed" and verdicts["tiny.py:2: x < 0 -> x <= 0"] == "survived"
    kept = [m for m in again["mutants"] if m["id"] == "tiny.py:2: x < 0 -> x <= 0"]
    assert kept == [m for m in record["mutants"] if m["id"] == "tiny.py:2: x < 0 -> x <= 0"]
    assert [m["id"] for m in again["mutants"]] == [m["id"] for m in record["mutants"]]
    assert [m for m in again["mutants"] if m["verdict"] == "killed" and m["id"] != "tiny.py:2: 0 -> 1"] == \
        [m for m in record["mutants"] if m["verdict"] == "killed"]
    # the module changed since the stored run: its survivors alone would not be a measurement
    (tmp_path / "tiny.py").write_text(TINY.replace("2 * x", "x + x"))
    with pytest.raises(ValueError, match="changed since its stored run"):
        mutation.run_module("tiny.py", 1, None, tmp_path / "out", survivors=True)
    # and the report says its row counts an older source
    mutation.report(tmp_path / "out", tmp_path / "mutation.md")
    page = (tmp_path / "mutation.md").read_text()
    assert "| `tiny.py` | `tests/test_tiny.py` | 5 | 4 | 0 | 1 | 100.0% |" in page  # x <= 0 listed as equivalent
    assert "Run on an older source than today's (their rows count what that run found): `tiny.py`." in page


def test_an_interrupted_run_resumes_from_its_partial_file(tmp_path, monkeypatch):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tiny.py").write_text(TINY)
    (tmp_path / "tests" / "test_tiny.py").write_text(TINY_TESTS)
    monkeypatch.setattr(mutation, "ROOT", tmp_path)
    monkeypatch.setitem(mutation.MODULES, "tiny.py", ["tests/test_tiny.py"])
    out = tmp_path / "out"
    out.mkdir()
    first = mutation.mutants("tiny.py", TINY)[0]  # tiny.py:2: x < 0 -> x <= 0, a survivor when run
    header = {"source_sha256": mutation.source_hash(TINY), "tests": ["tests/test_tiny.py"]}
    finished = dataclasses.asdict(first) | {"verdict": "killed", "seconds": 0.0, "tests_given": 1}
    partial = out / "tiny.py.partial.jsonl"
    partial.write_text(json.dumps(header) + "\n" + json.dumps(finished) + "\n" + '{"id": "cut sho')
    mutation.report(out, tmp_path / "mutation.md")  # the page names the run in part and how far it got
    page = (tmp_path / "mutation.md").read_text()
    assert "Run in part (the run resumes from its stored mutants): `tiny.py` (1 of 5 mutants)." in page
    assert "`tiny.py`" not in page.split("Not run yet: ")[1].split("\n")[0]  # begun, so not "not run"
    record = mutation.run_module("tiny.py", 1, None, out)
    verdicts = [m["verdict"] for m in record["mutants"]]
    # the finished mutant is taken as stored (not run again), the others are run; the partial file goes
    assert record["mutants"][0] == finished and verdicts[1:] == ["survived", "killed", "killed", "killed"]
    assert not partial.exists()
    # a partial file of another source is not resumed from
    partial.write_text(json.dumps(header | {"source_sha256": "0"}) + "\n" + json.dumps(finished) + "\n")
    record = mutation.run_module("tiny.py", 1, None, out)
    assert record["mutants"][0]["verdict"] == "survived"


def test_a_module_s_environment_reaches_every_run_of_its_tests(tmp_path, monkeypatch):
    """MODULE_ENV (numba's JIT off for the kernels) must reach the clean run (traced) and the test server:
    here a test that needs the variable. Without it in the clean run the module is refused, and in the
    server every mutant would count as killed, the two survivors too. The record and its resume header
    carry the environment."""
    (tmp_path / "tests").mkdir()
    (tmp_path / "tiny.py").write_text(TINY)
    (tmp_path / "tests" / "test_tiny.py").write_text(
        TINY_TESTS + "\n\ndef test_the_environment():\n    import os\n    assert os.environ.get('TINY_FLAG') == 'on'\n")
    monkeypatch.setattr(mutation, "ROOT", tmp_path)
    monkeypatch.setitem(mutation.MODULES, "tiny.py", ["tests/test_tiny.py"])
    with pytest.raises(RuntimeError, match="fail without a mutant"):
        mutation.run_module("tiny.py", 1, None, tmp_path / "out")
    monkeypatch.setitem(mutation.MODULE_ENV, "tiny.py", {"TINY_FLAG": "on"})
    record = mutation.run_module("tiny.py", 1, None, tmp_path / "out")
    verdicts = {m["id"]: m["verdict"] for m in record["mutants"]}
    assert verdicts["tiny.py:2: x < 0 -> x <= 0"] == "survived" and verdicts["tiny.py:2: 0 -> 1"] == "survived"
    assert record["env"] == {"TINY_FLAG": "on"}
    mutation.report(tmp_path / "out", tmp_path / "mutation.md")
    assert "Run with an environment: `tiny.py` with `TINY_FLAG=on` (" in (tmp_path / "mutation.md").read_text()


def test_a_run_elsewhere_leaves_the_project_s_page_and_records_alone(tmp_path, capsys):
    """--out another folder: the page goes there, docs/mutation.md is not rewritten from a partial picture;
    --limit (part of a module) is refused into the project's own records, which it would replace."""
    page = mutation.ROOT / "docs" / "mutation.md"
    before = page.read_text()
    assert mutation.main(["--report", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "mutation.md").exists() and page.read_text() == before
    refused = ((["--limit", "3"], "limit: a run of part of a module"),
               (["--limit", "0", "--out", str(tmp_path)], "limit must be >= 1, got 0"))
    for args, words in refused:
        with pytest.raises(SystemExit) as stop:
            mutation.main(["--modules", "montecarlo/stats.py", *args])
        assert stop.value.code == 2 and words in capsys.readouterr().err


def _git(cwd, *args):
    import subprocess

    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd, check=True,
                   capture_output=True)


def test_carry_moves_a_run_over_a_docstring_edit_and_refuses_a_code_edit(tmp_path, monkeypatch):
    """A stored run follows its mutants to their new lines when only docstrings changed (the equivalent ids
    too); a changed operator, or a source no commit holds, is refused."""
    _git(tmp_path, "init", "-q")
    (tmp_path / "tiny.py").write_text(SOURCE)
    _git(tmp_path, "add", "tiny.py")
    _git(tmp_path, "commit", "-qm", "v1")
    monkeypatch.setattr(mutation, "ROOT", tmp_path)
    monkeypatch.setattr(mutation, "EQUIVALENT", tmp_path / "equivalent.txt")
    monkeypatch.setattr(mutation, "MODULES", {"tiny.py": []})
    out = tmp_path / "out"
    out.mkdir()
    found = mutation.mutants("tiny.py", SOURCE)
    record = {"module": "tiny.py", "tests": [], "clean_seconds": 1.0, "source_sha256": mutation.source_hash(SOURCE),
              "mutants": [dataclasses.asdict(m) | {"verdict": "survived" if i == 3 else "killed"}
                          for i, m in enumerate(found)]}
    mutation.record_path(out, "tiny.py").write_text(json.dumps(record))
    (tmp_path / "equivalent.txt").write_text("# header\ntiny.py:5: True -> False | why\nother.py:5: 1 -> 2 | why\n")
    # three docstring lines more above clip, and a docstring and a comment inside it: the same code
    edited = SOURCE.replace('left alone."""', 'left alone.\n\nMore words.\n"""').replace(
        "    if x <", '    """Clip."""\n    # why\n    if x <')
    (tmp_path / "tiny.py").write_text(edited)
    assert mutation.main(["--carry", "--modules", "tiny.py", "--out", str(out)]) == 0
    moved = json.loads(mutation.record_path(out, "tiny.py").read_text())
    assert moved["source_sha256"] == mutation.source_hash(edited)
    assert mutation.stored_ids(moved) == [m.id for m in mutation.mutants("tiny.py", edited)]
    assert [m["line"] for m in moved["mutants"]] == [7, 10, 10, 10, 11, 11, 11]  # 4 -> 7, 5 -> 10, 6 -> 11
    assert [m["verdict"] for m in moved["mutants"]] == [m["verdict"] for m in record["mutants"]]
    assert (tmp_path / "equivalent.txt").read_text() == (
        "# header\ntiny.py:10: True -> False | why\nother.py:5: 1 -> 2 | why\n")
    # an operator changed: not the same code
    (tmp_path / "tiny.py").write_text(edited.replace("x * 2", "x * 3"))
    mutation.record_path(out, "tiny.py").write_text(json.dumps(record))
    with pytest.raises(ValueError, match="code changed"):
        mutation.carry("tiny.py", out)
    # the stored run's source in no commit
    mutation.record_path(out, "tiny.py").write_text(json.dumps(record | {"source_sha256": "0" * 64}))
    with pytest.raises(ValueError, match="in no commit"):
        mutation.carry("tiny.py", out)
