"""Mutation testing of the core: plant one small bug at a time and see whether the fast tests catch it.

    python -m tools.mutation [--modules NAME ...] [--workers 2] [--limit N] [--out results/mutation]

Each module listed in MODULES is mutated one operator at a time (an arithmetic operator swapped, a
comparison loosened or flipped, `and` and `or` swapped, a number changed, a unary minus dropped, a
boolean flipped); each mutant is written into a private copy of the repository and the module's own
fast tests run there with pytest (-x, a timeout of TIMEOUT_FACTOR times the traced clean run's time). A
mutant the tests fail on (or time out on) is killed; one they pass is a survivor.

The clean run records, with coverage, which tests execute each line of the module. A mutant first
meets only the tests that execute its statement; if it survives them, the module's other tests run
too, so a survivor has met every test and the verdicts are those of running them all (a mutant on a
line no test executes under tracing, e.g. one run at import, meets every test at once). Every run of
a module's tests takes the module's MODULE_ENV: learning/nets/kernels.py runs with numba's JIT off,
so its kernels are the same code interpreted (no compile per mutant, and coverage sees their lines);
a mutant only a compile would reject counts as a survivor. Survivors listed in
tools/equivalent_mutants.txt with a reason are equivalent (they cannot change what the code computes)
and leave the score; every other survivor is a missing test. The score is killed / (mutants -
equivalent). Results go to OUT/<module>.json; `--report` writes docs/mutation.md from every module's
stored results. `--carry` moves a stored run over an edit that leaves the module's code alone (its
docstrings and comments changed, lines moved): the run's own source is found in git's history by its
hash, and the two must be the same code with docstrings dropped and the same mutants in the same
order; the record's positions, its hash and the module's equivalent ids then follow the new lines.

A copy per worker keeps the numba cache of each copy its own (a mutant of a module that compiled
kernels call recompiles them there).
"""

from __future__ import annotations

import argparse
import ast
import copy
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from theory.files import save_atomic

ROOT = Path(__file__).resolve().parents[1]
# module -> the fast tests that exercise it
MODULES = {
    "learning/verdicts.py": ["tests/test_bandit_claims.py", "tests/test_rl_claims.py", "tests/test_paper_stored.py"],
    "montecarlo/stats.py": ["tests/test_mc_stats.py"],
    "montecarlo/checks.py": ["tests/test_mc_check_criteria.py", "tests/test_mc_checks.py"],
    "theory/exact.py": ["tests/test_exact.py", "tests/test_symbolic.py", "tests/test_regime_map.py"],
    "theory/mixture.py": ["tests/test_exact.py"],
    "theory/instance.py": ["tests/test_instance.py", "tests/test_exact.py", "tests/test_symbolic.py"],
    "theory/feedback.py": ["tests/test_exact.py"],
    "theory/pooling.py": ["tests/test_exact.py", "tests/test_symbolic.py"],
    "theory/diagnose.py": ["tests/test_diagnose.py"],
    "theory/regime_map.py": ["tests/test_regime_map.py"],
    "learning/nets/adam.py": ["tests/test_learning_networks.py"],
    "learning/nets/sgd.py": ["tests/test_learning_networks.py"],
    "learning/nets/mixing.py": ["tests/test_learning_mixing.py", "tests/test_rsparse_sg.py"],
    "learning/nets/routed.py": ["tests/test_learning_routed.py"],
    "learning/nets/sparsenet.py": ["tests/test_learning_networks.py"],
    "learning/nets/synthetic.py": ["tests/test_learning_mixing.py", "tests/test_learning_networks.py"],
    "learning/nets/mlp.py": ["tests/test_learning_networks.py"],
    "learning/nets/gru.py": ["tests/test_rl_models.py"],
    "learning/nets/lstm.py": ["tests/test_rl_models.py"],
    "learning/nets/dense.py": ["tests/test_rl_models.py"],
    "learning/nets/recurrent_policy.py": ["tests/test_rl_models.py", "tests/test_rsparse_sg.py"],
    "learning/nets/recurrent_sparsenet.py": ["tests/test_rl_models.py", "tests/test_rsparse_sg.py"],
    "learning/nets/kernels.py": ["tests/test_learning_networks.py", "tests/test_learning_routed.py",
                                 "tests/test_learning_mixing.py", "tests/test_rsparse_sg.py"],
    "theory/checks.py": ["tests/test_claims.py", "tests/test_mc_checks.py"],
    "theory/covariance.py": ["tests/test_symbolic.py", "tests/test_startup.py"],
    "theory/files.py": ["tests/test_kernel_cache.py", "tests/test_runner.py", "tests/test_bandit_figures.py"],
    "theory/params.py": ["tests/test_cli_theory.py", "tests/test_exact.py", "tests/test_instance.py",
                         "tests/test_mc_cli.py", "tests/test_runner.py"],
    **{f"theory/symbolic/{name}.py": ["tests/test_symbolic.py"]
       for name in ("bias", "core", "estimators", "mixture", "noise", "partition", "pooling", "results")},
    "theory/symbolic/diagnostics.py": ["tests/test_diagnose.py", "tests/test_symbolic.py"],
}
# environment a module's test runs need: the kernels run interpreted (the same Python, numba's JIT off), so a
# mutant costs a test run rather than a compile of every kernel, and coverage sees the kernels' lines
MODULE_ENV = {"learning/nets/kernels.py": {"NUMBA_DISABLE_JIT": "1"}}
ENV_NOTE = ("numba's JIT off: the kernels run interpreted, the same code without a compile per mutant; a mutant "
            "that only a compile would reject counts as a survivor")
# modules of the listed packages left out, and why
NOT_MUTATED = {
    "theory/map_bench.py": "a benchmark: it times the regime maps; speed is measured, not tested",
    "learning/nets/products.py": "a benchmark helper: it times the matrix products and counts their FLOPs",
    "learning/nets/heap.py": "where memory comes from (glibc's thresholds), never what is computed",
}
EQUIVALENT = ROOT / "tools" / "equivalent_mutants.txt"
OUT = ROOT / "results" / "mutation"  # the stored runs the project's page is written from
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
    id: str = ""  # base_id, with " #2", " #3" ... on the later mutants that share it (mutants() sets it)

    @property
    def base_id(self) -> str:
        return f"{self.module}:{self.line}: {self.original} -> {self.replacement}"


def numbered(base_ids) -> list[str]:
    """Ids in order, the k-th repeat of an id (k >= 2) suffixed " #k": two mutants of one line can read alike."""
    seen, out = {}, []
    for base in base_ids:
        seen[base] = seen.get(base, 0) + 1
        out.append(base if seen[base] == 1 else f"{base} #{seen[base]}")
    return out


def stored_ids(record: dict) -> list[str]:
    """The ids of a stored run's mutants, recomputed from their fields (runs stored before the numbering)."""
    return numbered(f"{m['module']}:{m['line']}: {m['original']} -> {m['replacement']}" for m in record["mutants"])


def _docstring(node):
    """The docstring expression opening a module, class or function body, else None."""
    body = getattr(node, "body", None)
    if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
            and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
        return body[0]
    return None


def _docstring_lines(tree) -> set:
    lines = set()
    for node in ast.walk(tree):
        doc = _docstring(node)
        if doc is not None:
            lines.update(range(doc.lineno, doc.end_lineno + 1))
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
    out.sort(key=lambda m: (m.line, m.col, m.replacement))
    for m, id_ in zip(out, numbered(m.base_id for m in out)):
        m.id = id_
    return out


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


def statement_lines(text: str) -> dict:
    """Line -> the line coverage reports it under: the first line of the innermost statement (or header) holding it."""
    out = {}
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.stmt):
            body = getattr(node, "body", None)
            last = body[0].lineno - 1 if isinstance(body, list) and body else node.end_lineno
            for line in range(node.lineno, max(last, node.lineno) + 1):
                out[line] = node.lineno
    return out


def _env(copy: Path, module: str | None = None) -> dict:
    # the copy first (its modules are the mutated ones), then this tool's own package for the plugin
    path = os.pathsep.join([str(copy), str(Path(__file__).resolve().parents[1])])
    env = dict(os.environ, NUMBA_CACHE_DIR=str(copy / ".numba-cache"), PYTHONDONTWRITEBYTECODE="1", PYTHONPATH=path,
               **MODULE_ENV.get(module, {}))
    env.pop("SGBP_SCHEDULER", None)
    return env


def covering_tests(copy: Path, module: str, tests: list[str]) -> tuple[list[str], dict, str, float]:
    """The clean run, traced: every test's node id; per line of the module, the node ids of the tests that
    execute it; the run's verdict ("survived" when every test passes) and its seconds."""
    # addopts cleared: a project's own -q would turn the listing of node ids into counts per file
    listed = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-o", "addopts=",
                             "-p", "no:cacheprovider", *tests],
                            cwd=copy, env=_env(copy, module), capture_output=True, text=True, check=True)
    ids = [line for line in listed.stdout.splitlines() if "::" in line]
    if not ids:
        raise RuntimeError(f"no test ids listed for {module}: {listed.stdout[-300:]}")
    data_file = copy / ".coverage-mutation"
    start = time.perf_counter()
    traced = subprocess.run([sys.executable, "-m", "coverage", "run", f"--data-file={data_file}",
                             f"--include={module}", "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             "-p", "tools.mutation_contexts", *tests],
                            cwd=copy, env=_env(copy, module), capture_output=True, text=True)
    seconds, verdict = time.perf_counter() - start, _verdict(traced.returncode)
    if verdict != "survived":
        data_file.unlink(missing_ok=True)
        return ids, {}, verdict, seconds
    from coverage import CoverageData
    data = CoverageData(basename=str(data_file))
    data.read()
    target = str((copy / module).resolve())
    by_line = {}
    for name in data.measured_files():
        if str(Path(name).resolve()) == target:
            by_line = {line: set(ctx) for line, ctx in data.contexts_by_lineno(name).items()}
    data_file.unlink()
    return ids, by_line, verdict, seconds


def first_tests(m: Mutant, statements: dict, by_line: dict, ids: list[str]) -> list[str] | None:
    """The tests a mutant meets first (those that execute its statement), or None for all of them at once."""
    contexts = by_line.get(statements.get(m.line, m.line))
    if not contexts or "" in contexts:
        return None
    return [i for i in ids if i in contexts]


def _verdict(code: int | None) -> str:
    if code is None:
        return "killed (timeout)"
    return {0: "survived", 1: "killed"}.get(code, f"error (pytest exit {code})")


class TestServer:
    """tools.mutation_server in one copy: each run forks an interpreter that has the libraries imported."""

    def __init__(self, copy: Path, module: str | None = None):
        self.proc = subprocess.Popen([sys.executable, "-m", "tools.mutation_server"], cwd=copy, env=_env(copy, module),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True)

    def run(self, tests: list[str], timeout: float | None) -> tuple[str, float]:
        self.proc.stdin.write(json.dumps({"tests": tests, "timeout": timeout}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the test server ended (exit {self.proc.wait()})")
        answer = json.loads(line)
        return _verdict(answer["code"]), answer["seconds"]

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait()


def equivalents() -> dict:
    out = {}
    if EQUIVALENT.exists():
        for line in EQUIVALENT.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                key, _, reason = line.partition(" | ")
                out[key.strip()] = reason.strip()
    return out


def record_path(out: Path, module: str) -> Path:
    return out / (module.replace("/", "__") + ".json")


def source_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def code_fingerprint(text: str) -> str:
    """What the code is, apart from docstrings, comments and positions: two sources with the same
    fingerprint compute the same thing, and their mutants differ only in where they sit."""
    tree = ast.parse(text)
    for node in ast.walk(tree):
        if _docstring(node) is not None:
            node.body = node.body[1:] or [ast.Pass()]
    return hashlib.sha256(ast.dump(tree, include_attributes=False).encode()).hexdigest()


def source_in_history(module: str, sha256: str) -> str | None:
    """The text of the module as some commit of the repository held it, found by its hash (None if none did)."""
    log = subprocess.run(["git", "log", "--format=%H", "--", module], cwd=ROOT, capture_output=True, text=True)
    for commit in log.stdout.split():
        shown = subprocess.run(["git", "show", f"{commit}:{module}"], cwd=ROOT, capture_output=True, text=True)
        if shown.returncode == 0 and source_hash(shown.stdout) == sha256:
            return shown.stdout
    return None


def carry(module: str, out: Path) -> dict:
    """Move a module's stored run over an edit of its docstrings and comments (see the module docstring)."""
    path = record_path(out, module)
    if not path.exists():
        raise ValueError(f"--carry: {module} has no stored run in {out}")
    record = json.loads(path.read_text())
    text = (ROOT / module).read_text()
    if record.get("source_sha256") == source_hash(text):
        return record
    old = source_in_history(module, record.get("source_sha256", ""))
    if old is None:
        raise ValueError(f"--carry: the source {module}'s stored run was made on is in no commit: run it whole")
    if code_fingerprint(old) != code_fingerprint(text):
        raise ValueError(f"--carry: {module}'s code changed since its stored run, not only its docstrings: run it whole")
    before, after = mutants(module, old), mutants(module, text)
    if [(m.original, m.replacement) for m in before] != [(m.original, m.replacement) for m in after] \
            or stored_ids(record) != [m.id for m in before]:
        raise ValueError(f"--carry: {module}'s mutants are not the stored run's in the same order "
                         f"(a 'no mutate' mark or the layout changed): run it whole")
    moved = {}
    for stored, old_m, new_m in zip(record["mutants"], before, after):
        moved[old_m.id] = new_m.id
        stored.update(line=new_m.line, col=new_m.col, end_line=new_m.end_line, end_col=new_m.end_col, id=new_m.id)
    record["source_sha256"] = source_hash(text)
    save_atomic(path, json.dumps(record, indent=1) + "\n")
    if EQUIVALENT.exists():
        lines = []
        for line in EQUIVALENT.read_text().splitlines(keepends=True):
            key, sep, reason = line.partition(" | ")
            lines.append(moved[key.strip()] + sep + reason if sep and key.strip() in moved else line)
        save_atomic(EQUIVALENT, "".join(lines))
    return record


def run_module(module: str, workers: int, limit: int | None, out: Path, survivors: bool = False) -> dict:
    """Every mutant of the module against its tests; with `survivors`, only the stored run's survivors that
    are not listed as equivalent again (after tests were added), which needs the module's source unchanged
    since that run."""
    tests = MODULES[module]
    stored = None
    if survivors:
        path = record_path(out, module)
        if not path.exists():
            raise ValueError(f"--survivors: {module} has no stored run in {out}")
        stored = json.loads(path.read_text())
        if stored.get("source_sha256") != source_hash((ROOT / module).read_text()):
            raise ValueError(f"--survivors: {module} changed since its stored run (or the run predates the "
                             f"source hash): run it whole")
    with tempfile.TemporaryDirectory(prefix="sgbp-mutation-") as tmp:
        copies = [make_copy(Path(tmp) / f"copy{i}") for i in range(workers)]
        original = (copies[0] / module).read_text()
        found = mutants(module, original)
        if stored is not None:
            # an equivalent mutant is not run again: no test can kill it, and its reason is on record
            same = equivalents()
            again = {i for i, m in zip(stored_ids(stored), stored["mutants"])
                     if m["verdict"] == "survived" and i not in same}
            found = [m for m in found if m.id in again]
        found = found[:limit] if limit else found
        # a whole run resumes: each finished mutant is appended to the partial file at once
        partial = out / (record_path(out, module).stem + ".partial.jsonl")
        env = MODULE_ENV.get(module, {})
        header = {"source_sha256": source_hash(original), "tests": tests} | ({"env": env} if env else {})
        done = _read_partial(partial, header) if stored is None else {}
        if stored is None:
            out.mkdir(parents=True, exist_ok=True)
            if not done:
                partial.write_text(json.dumps(header) + "\n")
        lock = threading.Lock()
        # one clean run, traced: it tells which tests execute each line, and its time (coverage's included,
        # so the timeout errs long) sets the mutants' timeout
        ids, by_line, clean, base = covering_tests(copies[0], module, tests)
        if clean != "survived":
            raise RuntimeError(f"{module}: its tests fail without a mutant ({clean})")
        timeout = max(60.0, TIMEOUT_FACTOR * base)
        statements = statement_lines(original)
        free = [(copy, TestServer(copy, module)) for copy in copies]
        servers = [server for _, server in free]
        results = []

        def one(m: Mutant):
            if m.id in done:
                return done[m.id]
            copy, server = free.pop()
            try:
                (copy / module).write_text(apply(original, m))
                first = first_tests(m, statements, by_line, ids)
                verdict, seconds = server.run(first if first else tests, timeout)
                rest = [i for i in ids if i not in first] if first else []
                ran = len(first) if first else len(ids)
                if verdict == "survived" and rest:
                    verdict, more = server.run(rest, timeout)
                    seconds += more
                    ran += len(rest)
            finally:
                (copy / module).write_text(original)
                free.append((copy, server))
            print(f"{verdict:18s} {m.id}", file=sys.stderr, flush=True)
            result = asdict(m) | {"verdict": verdict, "seconds": seconds, "tests_given": ran}
            if stored is None:
                with lock, open(partial, "a") as f:
                    f.write(json.dumps(result) + "\n")
            return result

        try:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                results = list(pool.map(one, found))
        finally:
            for server in servers:
                server.close()
    if stored is not None:  # the survivors' new verdicts replace their old ones, in the stored order
        new = {}
        for r in results:
            new.setdefault(r["id"], []).append(r)
        merged = []
        for i, m in zip(stored_ids(stored), stored["mutants"]):
            merged.append(new[i].pop(0) if m["verdict"] == "survived" and new.get(i) else m)
        results, base = merged, stored["clean_seconds"]
    record = {"module": module, "tests": tests, "clean_seconds": base, "source_sha256": source_hash(original),
              **({"env": env} if env else {}), "mutants": results}
    out.mkdir(parents=True, exist_ok=True)
    save_atomic(record_path(out, module), json.dumps(record, indent=1) + "\n")
    if stored is None:
        partial.unlink(missing_ok=True)
    return record


def _partial_lines(path: Path) -> tuple[dict | None, list[dict]]:
    """A partial file's header and the mutants it holds (a line cut short by an interruption left out)."""
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    if not lines:
        return None, []
    finished = []
    for line in lines[1:]:
        try:
            finished.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return json.loads(lines[0]), finished


def _read_partial(path: Path, header: dict) -> dict:
    """The mutants an interrupted run finished (by id), when it ran on this source with these tests."""
    if not path.exists():
        return {}
    stored_header, finished = _partial_lines(path)
    return {r["id"]: r for r in finished} if stored_header == header else {}


def score(records: list[dict]) -> list[dict]:
    """Per module: killed (a failing test, a timeout, or a crash of the test run: each turns the suite red),
    equivalent survivors, the other survivors (missing tests) and killed / (mutants - equivalent)."""
    eq = equivalents()
    rows = []
    for r in records:
        ms = list(zip(stored_ids(r), r["mutants"]))
        killed = sum(m["verdict"] != "survived" for _, m in ms)
        survivors = [i for i, m in ms if m["verdict"] == "survived"]
        equivalent = [i for i in survivors if i in eq]
        counted = len(ms) - len(equivalent)
        rows.append({"module": r["module"], "mutants": len(ms), "killed": killed, "equivalent": len(equivalent),
                     "crashed": sum(m["verdict"].startswith("error") for _, m in ms),
                     "missing": [i for i in survivors if i not in eq],
                     "equivalent_ids": [(i, eq[i]) for i in equivalent],
                     "score": killed / counted if counted else 1.0})
    return rows


def report(out: Path, path: Path) -> None:
    records = [json.loads(p.read_text()) for p in sorted(out.glob("*.json"))]
    rows = score(records)
    lines = ["# Mutation testing", "",
             "Written by `python -m tools.mutation --report` from the last stored run of each module. A mutant",
             "is one small planted bug; the module's fast tests kill it when they fail. The score is killed over",
             "the mutants that are not equivalent (an equivalent mutant cannot change what the code computes;",
             "each is listed with the reason). Run it with `python -m tools.mutation --modules MODULE ...`",
             "(`pip install -e '.[mutation]'` first: coverage tells which tests execute each line, and a mutant",
             "meets those first; a mutant they miss meets the module's other tests too, so every survivor has",
             "met all of them). Killed counts a failing test, a timeout, and a crash of the test run (the",
             "column crashed): each turns the suite red. Not part of CI: a module takes minutes to an hour",
             "on one core.", "",
             "| module | tests | mutants | killed | crashed | equivalent | score |", "|---|---|---|---|---|---|---|"]
    by = {r["module"]: r for r in records}
    total_k = total_c = 0
    for row in rows:
        tests = ", ".join(f"`{t}`" for t in by[row["module"]]["tests"])
        lines.append(f"| `{row['module']}` | {tests} | {row['mutants']} | {row['killed']} | {row['crashed']} | "
                     f"{row['equivalent']} | {row['score']:.1%} |")
        total_k += row["killed"]
        total_c += row["mutants"] - row["equivalent"]
    if total_c:
        lines.append(f"| all | | {sum(r['mutants'] for r in rows)} | {total_k} | {sum(r['crashed'] for r in rows)} | "
                     f"{sum(r['equivalent'] for r in rows)} | {total_k / total_c:.1%} |")
    stale = [r["module"] for r in records
             if r.get("source_sha256") != source_hash((ROOT / r["module"]).read_text())]
    if stale:
        lines += ["", "Run on an older source than today's (their rows count what that run found): "
                  + ", ".join(f"`{m}`" for m in stale) + "."]
    with_env = [r for r in records if r.get("env")]
    if with_env:
        lines += ["", "Run with an environment: " + "; ".join(
            f"`{r['module']}` with " + ", ".join(f"`{k}={v}`" for k, v in r["env"].items()) for r in with_env)
            + f" ({ENV_NOTE})."]
    in_part, started = [], set()
    for part in sorted(out.glob("*.partial.jsonl")):
        module = part.name[:-len(".partial.jsonl")].replace("__", "/")
        if module not in MODULES:
            continue
        text = (ROOT / module).read_text()
        header, finished = _partial_lines(part)
        current = header is not None and header.get("source_sha256") == source_hash(text)
        started.add(module)
        in_part.append(f"`{module}` ({len(finished)} of {len(mutants(module, text))} mutants"
                       + ("" if current else ", on an older source") + ")")
    if in_part:
        lines += ["", "Run in part (the run resumes from its stored mutants): " + ", ".join(in_part) + "."]
    not_run = [m for m in MODULES if m not in by and m not in started]
    if not_run:
        lines += ["", "Not run yet: " + ", ".join(f"`{m}`" for m in not_run) + "."]
    lines += ["", "Not mutated: " + "; ".join(f"`{m}`, {why}" for m, why in NOT_MUTATED.items()) + "."]
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
    parser.add_argument("--out", default=str(OUT), help="results folder (default results/mutation; another folder "
                        "gets its own mutation.md, and docs/mutation.md is left alone)")
    parser.add_argument("--report", action="store_true", help="write the mutation page from the stored results")
    parser.add_argument("--survivors", action="store_true",
                        help="run only the stored survivors again (after adding tests; the module unchanged)")
    parser.add_argument("--list", action="store_true", help="print the mutants of the modules and stop")
    parser.add_argument("--carry", action="store_true",
                        help="move the stored runs over an edit of docstrings and comments only (no test runs)")
    args = parser.parse_args(argv)
    modules = args.modules if args.modules is not None else list(MODULES)
    bad = [m for m in modules if m not in MODULES]
    if bad:
        parser.error(f"modules must be among {', '.join(MODULES)}, got {', '.join(bad)}")
    if args.workers < 1:
        parser.error(f"workers must be >= 1, got {args.workers}")
    out = Path(args.out)
    own = out.resolve() == OUT.resolve()
    if args.limit is not None and args.limit < 1:
        parser.error(f"limit must be >= 1, got {args.limit}")
    if args.limit is not None and own:
        parser.error("limit: a run of part of a module would replace its stored record; give --out another folder")
    if args.list:
        for module in modules:
            for m in mutants(module):
                print(m.id)
        return 0
    if args.carry:
        if args.modules is None:
            parser.error("carry: name the modules whose docstrings changed (--modules ...)")
        for module in modules:
            try:
                carry(module, out)
            except ValueError as err:
                parser.error(str(err))
    elif not args.report:
        for module in modules:
            try:
                run_module(module, args.workers, args.limit, out, args.survivors)
            except ValueError as err:
                parser.error(str(err))
    report(out, ROOT / "docs" / "mutation.md" if own else out / "mutation.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
