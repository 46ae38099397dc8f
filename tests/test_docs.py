"""The documentation: the site builds strictly, each command's option reference is its parser's, and
the project refers to no file outside itself."""

import os
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
