"""Mutation testing of the core: plant one small bug at a time and see whether the fast tests catch it.

    python -m tools.mutation [--modules NAME ...] [--workers 2] [--limit N] [--out results/mutation]

Each module listed in MODULES is mutated one operator at a time (an arithmetic operator swapped, a
comparison loosened or flipped, `and` and `or` swapped, a number changed, a unary minus dropped, a
boolean flipped); each mutant is written into a private copy of the repository and the module's own
fast tests run there with pytest (-x, a timeout of TIMEOUT_FACTOR times the tests' clean time). A
mutant the tests fail on (or time out on) is killed; one they pass is a survivor. Survivors listed in
tools/equivalent_mutants.txt with a reason are equivalent (they cannot change what the code computes)
and leave the score; every other survivor is a missing test. The score is killed / (mutants -
equivalent). Results go to OUT/<module>.json; `--report` writes docs/mutation.md from every module's
stored results.

A copy per worker keeps the numba cache of each copy its own (a kernel module's mutant recompiles there).
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# module -> the fast tests that exercise it
MODULES = {
    "learning/verdicts.py": ["tests/test_bandit_claims.py", "tests/test_rl_claims.py"],
    "montecarlo/stats.py": ["tests/test_mc_stats.py"],
    "montecarlo/checks.py": ["tests/test_mc_checks.py"],
    "theory/exact.py": ["tests/test_exact.py"],
    "theory/mixture.py": ["tests/test_exact.py"],
    "theory/instance.py": ["tests/test_instance.py", "tests/test_exact.py"],
    "theory/feedback.py": ["tests/test_exact.py"],
    "theory/pooling.py": ["tests/test_exact.py"],
    "theory/diagnose.py": ["tests/test_diagnose.py"],
    "theory/regime_map.py": ["tests/test_regime_map.py"],
    "learning/nets/adam.py": ["tests/test_learning_networks.py"],
    "learning/nets/sgd.py": ["tests/test_learning_networks.py"],
    "learning/nets/mixing.py": ["tests/test_learning_mixing.py"],
    "learning/nets/routed.py": ["tests/test_learning_routed.py"],
    "learning/nets/sparsenet.py": ["tests/test_learning_networks.py"],
    "learning/nets/synthetic.py": ["tests/test_learning_mixing.py", "tests/test_learning_networks.py"],
    "learning/nets/mlp.py": ["tests/test_learning_networks.py"],
    "learning/nets/gru.py": ["tests/test_rl_models.py"],
    "learning/nets/lstm.py": ["tests/test_rl_models.py"],
    "learning/nets/dense.py": ["tests/test_rl_models.py"],
}
EQUIVALENT = ROOT / "tools" / "equivalent_mutants.txt"
TIMEOUT_FACTOR = 3.0
SWAPS = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.FloorDiv: ast.Div,
         ast.Pow: ast.Mult, ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
         ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.And: ast.Or, ast.Or: ast.And, ast.Is: ast.IsNot,
         ast.IsNot: ast.Is, ast.In: ast.NotIn, ast.NotIn: ast.In}


@dataclass
class Mutant:
    module: str
    line: int
    col: int
    end_line: int
    end_col: int
    original: str
    replacement: str

    @property
    def id(self) -> str:
        return f"{self.module}:{self.line}: {self.original} -> {self.replacement}"


def _docstring_lines(tree) -> set:
    lines = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            lines.update(range(body[0].lineno, body[0].end_lineno + 1))
    return lines


def _variants(node) -> list:
    """Mutated copies of one node (the operator or constant it holds changed)."""
    out = []
    if isinstance(node, ast.BinOp) and type(node.op) in SWAPS:
        m = copy.deepcopy(node)
        m.op = SWAPS[type(node.op)]()
        out.append(m)
    elif isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in SWAPS:
        m = copy.deepcopy(node)
        m.ops = [SWAPS[type(node.ops[0])]()]
        out.append(m)
    elif isinstance(node, ast.BoolOp):
        m = copy.deepcopy(node)
        m.op = SWAPS[type(node.op)]()
        out.append(m)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        out.append(copy.deepcopy(node.operand))
    elif isinstance(node, ast.Constant) and type(node.value) is bool:
        out.append(ast.Constant(not node.value))
    elif isinstance(node, ast.Constant) and type(node.value) in (int, float):
        v = node.value
        out.append(ast.Constant(v + 1 if isinstance(v, int) else (v * 2 if v != 0 else 1.0)))
    return out


def mutants(module: str, text: str | None = None) -> list[Mutant]:
    """The mutants of a module (its source read from the repository unless given)."""
    text = (ROOT / module).read_text() if text is None else text
    tree = ast.parse(text)
    skip = _docstring_lines(tree)
    lines = text.splitlines()
    out = []
    for node in ast.walk(tree):
        if not hasattr(node, "lineno") or node.lineno in skip or node.lineno != node.end_lineno:
            continue
        if "no mutate" in lines[node.lineno - 1]:
            continue
        for variant in _variants(node):
            original = ast.get_source_segment(text, node)
            replacement = ast.unparse(variant)
            if original is None or replacement == original:
                continue
            out.append(Mutant(module, node.lineno, node.col_offset, node.end_lineno, node.end_col_offset,
                              original, replacement))
    return sorted(out, key=lambda m: (m.line, m.col, m.replacement))


def apply(text: str, m: Mutant) -> str:
    lines = text.splitlines(keepends=True)
    line = lines[m.line - 1]
    b = line.encode()
    new = b[:m.col] + m.replacement.encode() + b[m.end_col:]
    lines[m.line - 1] = new.decode()
    return "".join(lines)


def make_copy(dest: Path) -> Path:
    ignore = shutil.ignore_patterns(".git", ".venv*", "results", "__pycache__", "*.egg-info", "site", "mutants")
    shutil.copytree(ROOT, dest, ignore=ignore)
    return dest


def run_tests(copy: Path, tests: list[str], timeout: float | None) -> tuple[str, float]:
    env = dict(os.environ, NUMBA_CACHE_DIR=str(copy / ".numba-cache"), PYTHONDONTWRITEBYTECODE="1")
    env.pop("SGBP_SCHEDULER", None)
    start = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests],
                              cwd=copy, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "killed (timeout)", time.perf_counter() - start
    seconds = time.perf_counter() - start
    if done.returncode == 0:
        return "survived", seconds
    if done.returncode in (1,):
        return "killed", seconds
    return f"error (pytest exit {done.returncode})", seconds


def equivalents() -> dict:
    out = {}
    if EQUIVALENT.exists():
        for line in EQUIVALENT.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                key, _, reason = line.partition(" | ")
                out[key.strip()] = reason.strip()
    return out


def run_module(module: str, workers: int, limit: int | None, out: Path) -> dict:
    tests = MODULES[module]
    found = mutants(module)[:limit] if limit else mutants(module)
    with tempfile.TemporaryDirectory(prefix="sgbp-mutation-") as tmp:
        copies = [make_copy(Path(tmp) / f"copy{i}") for i in range(workers)]
        clean, base = run_tests(copies[0], tests, None)
        if clean != "survived":
            raise RuntimeError(f"{module}: its tests fail without a mutant ({clean})")
        timeout = max(60.0, TIMEOUT_FACTOR * base)
        original = (ROOT / module).read_text()
        free = list(copies)
        results = []

        def one(m: Mutant):
            copy = free.pop()
            try:
                (copy / module).write_text(apply(original, m))
                verdict, seconds = run_tests(copy, tests, timeout)
            finally:
                (copy / module).write_text(original)
                free.append(copy)
            print(f"{verdict:18s} {m.id}", file=sys.stderr, flush=True)
            return asdict(m) | {"id": m.id, "verdict": verdict, "seconds": seconds}

        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(one, found))
    record = {"module": module, "tests": tests, "clean_seconds": base, "mutants": results}
    out.mkdir(parents=True, exist_ok=True)
    (out / (module.replace("/", "__") + ".json")).write_text(json.dumps(record, indent=1) + "\n")
    return record


def score(records: list[dict]) -> list[dict]:
    eq = equivalents()
    rows = []
    for r in records:
        ms = r["mutants"]
        killed = sum(m["verdict"].startswith("killed") for m in ms)
        survivors = [m for m in ms if m["verdict"] == "survived"]
        equivalent = [m for m in survivors if m["id"] in eq]
        errors = [m for m in ms if m["verdict"].startswith("error")]
        counted = len(ms) - len(equivalent) - len(errors)
        rows.append({"module": r["module"], "mutants": len(ms), "killed": killed, "equivalent": len(equivalent),
                     "errors": len(errors), "missing": [m["id"] for m in survivors if m["id"] not in eq],
                     "equivalent_ids": [(m["id"], eq[m["id"]]) for m in equivalent],
                     "score": killed / counted if counted else 1.0})
    return rows


def report(out: Path, path: Path) -> None:
    records = [json.loads(p.read_text()) for p in sorted(out.glob("*.json"))]
    rows = score(records)
    lines = ["# Mutation testing", "",
             "Written by `python -m tools.mutation --report` from the last stored run of each module. A mutant",
             "is one small planted bug; the module's fast tests kill it when they fail. The score is killed over",
             "the mutants that are not equivalent (an equivalent mutant cannot change what the code computes;",
             "each is listed with the reason). Run it with `python -m tools.mutation --modules MODULE ...`.", "",
             "| module | tests | mutants | killed | equivalent | score |", "|---|---|---|---|---|---|"]
    by = {r["module"]: r for r in records}
    total_k = total_c = 0
    for row in rows:
        tests = ", ".join(f"`{t}`" for t in by[row["module"]]["tests"])
        lines.append(f"| `{row['module']}` | {tests} | {row['mutants']} | {row['killed']} | {row['equivalent']} | "
                     f"{row['score']:.1%} |")
        total_k += row["killed"]
        total_c += row["mutants"] - row["equivalent"] - row["errors"]
    if total_c:
        lines.append(f"| all | | {sum(r['mutants'] for r in rows)} | {total_k} | "
                     f"{sum(r['equivalent'] for r in rows)} | {total_k / total_c:.1%} |")
    not_run = [m for m in MODULES if m not in by]
    if not_run:
        lines += ["", "Not run yet: " + ", ".join(f"`{m}`" for m in not_run) + "."]
    for row in rows:
        if row["missing"] or row["equivalent_ids"]:
            lines += ["", f"## `{row['module']}`", ""]
            lines += [f"- survivor, a missing test: `{i}`" for i in row["missing"]]
            lines += [f"- equivalent: `{i}`: {why}" for i, why in row["equivalent_ids"]]
    path.write_text("\n".join(lines) + "\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", nargs="*", default=None, help="modules to mutate (default all of MODULES)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--limit", type=int, default=None, help="at most this many mutants a module (a quick look)")
    parser.add_argument("--out", default=str(ROOT / "results" / "mutation"))
    parser.add_argument("--report", action="store_true", help="write docs/mutation.md from the stored results")
    parser.add_argument("--list", action="store_true", help="print the mutants of the modules and stop")
    args = parser.parse_args(argv)
    modules = args.modules if args.modules is not None else list(MODULES)
    bad = [m for m in modules if m not in MODULES]
    if bad:
        parser.error(f"modules must be among {', '.join(MODULES)}, got {', '.join(bad)}")
    if args.workers < 1:
        parser.error(f"workers must be >= 1, got {args.workers}")
    if args.list:
        for module in modules:
            for m in mutants(module):
                print(m.id)
        return 0
    if not args.report:
        for module in modules:
            run_module(module, args.workers, args.limit, Path(args.out))
    report(Path(args.out), ROOT / "docs" / "mutation.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
