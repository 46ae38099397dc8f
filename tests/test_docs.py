"""The documentation: the site builds strictly, each command's option reference is its parser's, and
the project refers to no file outside itself."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sgbp import docs

ROOT = Path(__file__).resolve().parents[1]


def test_every_command_page_holds_its_parsers_options():
    for page in docs.PAGES:
        text = (docs.DOCS / f"{page}.md").read_text()
        assert docs.render(page, text) == text, f"docs/commands/{page}.md: run `python -m sgbp.docs`"


def test_a_changed_option_makes_the_check_fail(monkeypatch, tmp_path):
    # a page whose table lacks an option the parser has is stale
    page = tmp_path / "bandit.md"
    page.write_text((docs.DOCS / "bandit.md").read_text().replace("| `--sg-noise` |", "| `--sg-noisy` |"))
    monkeypatch.setattr(docs, "DOCS", tmp_path)
    monkeypatch.setattr(docs, "PAGES", {"bandit": ("bandit",)})
    assert docs.main(["--check"]) == 1


def test_the_api_page_holds_the_generated_reference():
    text = docs.API_PAGE.read_text()
    assert docs.render_api(text) == text, "docs/api.md: run `python -m sgbp.docs`"


def test_the_api_page_examples_run_as_written():
    # every python block above the reference, in order, in one namespace: an example that no longer
    # runs, or whose asserted result moved, fails here
    prose = docs.API_PAGE.read_text().split(docs.API_BEGIN)[0]
    blocks = re.findall(r"```python\n(.*?)```", prose, flags=re.S)
    assert len(blocks) == 4
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "docs/api.md", "exec"), namespace)
    assert namespace["exact"].lambda_star > 0 and namespace["t7"].passed


def test_signatures_are_written_as_the_source_writes_them():
    def f(a: "int", *args, b=2, **kw) -> "str":
        return ""

    def g(a, *, b: "float" = 1.0):
        return a

    assert docs.signature(f, "f") == "f(a: int, *args, b=2, **kw) -> str"
    assert docs.signature(g, "g") == "g(a, *, b: float = 1.0)"
    assert docs.signature(g, "g", bound=True) == "g(*, b: float = 1.0)"


def test_a_public_function_without_a_docstring_stops_the_reference(monkeypatch, tmp_path, capsys):
    module = tmp_path / "undocumented_api.py"
    module.write_text('"""A module."""\n\n\ndef documented():\n    """Yes."""\n\n\ndef bare():\n    return 1\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(docs, "API_MODULES", ("undocumented_api",))
    with pytest.raises(ValueError, match="undocumented_api.bare has no docstring"):
        docs.api_reference()
    page = tmp_path / "api.md"
    page.write_text(f"# API\n\n{docs.API_BEGIN}\n{docs.API_END}\n")
    monkeypatch.setattr(docs, "API_PAGE", page)
    monkeypatch.setattr(docs, "PAGES", {})
    assert docs.main(["--check"]) == 1 and "bare has no docstring" in capsys.readouterr().err


def _mkdocs():
    return shutil.which("mkdocs", path=os.path.dirname(sys.executable)) or shutil.which("mkdocs")


@pytest.mark.skipif(_mkdocs() is None, reason="mkdocs is in the test and docs extras")
def test_the_site_builds_strictly_and_a_broken_link_fails(tmp_path):
    # not -q: mkdocs then counts no warning, and --strict lets a broken link through
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    ok = subprocess.run([_mkdocs(), "build", "--strict", "-d", str(tmp_path / "site")], cwd=ROOT, env=env,
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr[-2000:]
    # the same site with one broken link must fail
    copy = tmp_path / "copy"
    shutil.copytree(ROOT / "docs", copy / "docs")
    shutil.copy(ROOT / "mkdocs.yml", copy / "mkdocs.yml")
    (copy / "docs" / "index.md").write_text((copy / "docs" / "index.md").read_text() + "\n[gone](no-such-page.md)\n")
    bad = subprocess.run([_mkdocs(), "build", "--strict", "-d", str(tmp_path / "site2")], cwd=copy, env=env,
                         capture_output=True, text=True)
    assert bad.returncode != 0


def test_nothing_refers_outside_the_repository():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    if not tracked:
        pytest.skip("not a git checkout")
    bad = []
    for name in tracked:
        path = ROOT / name
        if path == Path(__file__).resolve():  # this test names what it looks for
            continue
        if path.suffix not in (".py", ".md", ".toml", ".yml", ".txt") or not path.exists():
            continue
        text = path.read_text(errors="replace")
        for needle in ("../shared", "THEORY.md", "REFERENCE.md"):
            if needle in text:
                bad.append(f"{name}: {needle}")
    assert not bad, bad


def _findings_section(readme: str) -> str:
    return readme.split("What `sgbp reproduce` finds", 1)[1].split("\n## ", 1)[0]


def _summary_counts(table_text: str) -> list[list[str]]:
    """The count columns of each row of a summary table whose header starts with `| rows |`."""
    lines = table_text[table_text.index("| rows |"):].splitlines()
    rows = [line for line in lines[2:] if line.startswith("|")][:2] if len(lines) > 2 else []
    return [[c.strip() for c in row.strip("|").split("|")[1:]] for row in rows]


def readme_disagreements(readme: str, report: str) -> list[str]:
    """What the README's findings say that the committed report does not: a count of its summary table,
    or a number with two or more decimals that no number of the report rounds to (signs aside: the
    README says "behind by 0.03" where the report prints -0.030)."""
    section = _findings_section(readme)
    bad = []
    if _summary_counts(section) != _summary_counts(report):
        bad.append(f"summary counts {_summary_counts(section)} against {_summary_counts(report)}")
    return bad + unquoted_numbers(section, report)


def unquoted_numbers(text: str, report: str) -> list[str]:
    """The numbers with two or more decimals in text that no number printed in report rounds to."""
    printed = re.findall(r"\d+\.\d+", report)
    bad = []
    for number in sorted(set(re.findall(r"\d+\.\d{2,}", text))):
        places = len(number.split(".")[1])
        if not any(len(p.split(".")[1]) >= places and f"{float(p):.{places}f}" == number for p in printed):
            bad.append(number)
    return bad


def test_the_readme_quotes_the_committed_report():
    readme, report = (ROOT / "README.md").read_text(), (ROOT / "paper_checks.md").read_text()
    assert readme_disagreements(readme, report) == []


def test_the_findings_page_quotes_the_committed_report():
    """The learning findings (the verdicts, the sweeps, the ablation) quote paper_checks.md, the authors'
    numbers aside (docs/experiments.md); what the simulations show beyond the theory is not read."""
    findings = (ROOT / "docs" / "findings.md").read_text().split("\n(Figure:", 1)[0]
    report = (ROOT / "paper_checks.md").read_text() + (ROOT / "docs" / "experiments.md").read_text()
    assert readme_disagreements(findings, report) == []


def test_the_mechanism_page_quotes_the_committed_report():
    """docs/mechanism.md's measured numbers (areas, t values, the mechanism's measures, the SGD pilot)
    are those of paper_checks.md."""
    page = (ROOT / "docs" / "mechanism.md").read_text()
    assert unquoted_numbers(page, (ROOT / "paper_checks.md").read_text()) == []


def test_a_stale_number_or_count_in_the_readme_is_caught():
    report = "| rows | checks | PASS |\n|---|---|---|\n| C | 4 | 3 |\n| T | 2 | 2 |\n\nC8 area 0.692, t = 2.56\n"
    readme = ("## What `sgbp reproduce` finds\n\n| rows | checks | PASS |\n|---|---|---|\n| C: claims | 4 | 3 |\n"
              "| T: ours | 2 | 2 |\n\n- area 0.692, t = 2.56; p_flip 0.4\n\n## The commands\nt = 9.99\n")
    assert readme_disagreements(readme, report) == []  # a one-decimal setting and the next section are not read
    assert readme_disagreements(readme.replace("0.692", "0.69"), report) == []  # rounded
    assert readme_disagreements(readme.replace("0.692", "0.70"), report) == ["0.70"]  # not its rounding
    assert readme_disagreements(readme.replace("0.692", "0.6920"), report) == ["0.6920"]  # more than printed
    assert readme_disagreements(readme.replace("2.56", "2.57"), report) == ["2.57"]
    assert readme_disagreements(readme.replace("0.692", "10.692"), report) == ["10.692"]
    assert readme_disagreements(readme.replace("| 4 | 3 |", "| 4 | 2 |"), report) == [
        "summary counts [['4', '2'], ['2', '2']] against [['4', '3'], ['2', '2']]"]


def layout_modules(text: str) -> set[str]:
    """The module paths the tree of docs/layout.md names: a folder line ends in '/', a module line names
    one or more files ('a.py, b.py') before its description, each under the nearest folder above it."""
    block = text.split("```\n", 2)[1]
    folders: list[tuple[int, str]] = []
    names = set()
    for line in block.splitlines():
        indent = len(line) - len(line.lstrip(" "))
        head = re.split(r" {2,}", line.strip(), maxsplit=1)[0]
        folders = [(i, f) for i, f in folders if i < indent]
        if head.endswith("/"):
            folders.append((indent, head))
            continue
        files = [n for n in head.split(", ") if n.endswith(".py")]
        names.update("".join(f for _, f in folders) + n for n in files)
    return names


def test_layout_tree_is_read_by_folder():
    text = "```\na/  x\n  b.py  y\n  c/  z\n    d.py, e.py  w\n                  more of w\n  f.py  v\ng.py  u\n```\n"
    assert layout_modules(text) == {"a/b.py", "a/c/d.py", "a/c/e.py", "a/f.py", "g.py"}


def test_the_layout_page_names_every_module():
    tracked = subprocess.run(["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    if not tracked:
        pytest.skip("not a git checkout")
    modules = {n for n in tracked if not n.startswith("tests/") and not n.endswith("__init__.py")}
    listed = layout_modules((ROOT / "docs" / "layout.md").read_text())
    assert not modules - listed, f"modules the layout page does not name: {sorted(modules - listed)}"
    assert not listed - modules, f"the layout page names modules that do not exist: {sorted(listed - modules)}"


def test_the_checks_page_quotes_the_mutation_page():
    """The mutation totals docs/checks.md states are the 'all' row docs/mutation.md was written with."""
    checks = " ".join((ROOT / "docs" / "checks.md").read_text().split())
    mutation = (ROOT / "docs" / "mutation.md").read_text()
    total, killed, _, equivalent = re.search(r"^\| all \| \| (\d+) \| (\d+) \| (\d+) \| (\d+) \|", mutation, re.M).groups()
    modules = len(re.findall(r"^\| `[^`]+\.py` \|", mutation, re.M))
    said = re.search(r"At the last run: (\d+) mutants in (\d+) modules; all (\d+) that are not equivalent are "
                     r"killed .*?, and (\d+) are equivalent", checks)
    assert said is not None and said.groups() == (total, str(modules), killed, equivalent)
