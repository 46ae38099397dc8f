"""Run independent tasks in separate processes; save each result as it finishes; resume.

A task is a function named by "module:function" and one JSON-able configuration, its only input;
seeds live in the configuration, so a result never depends on which process ran it or in which
order the tasks finished. Each result is written to `<out>/<key>.json` with its task (write to a
temporary file, then rename), so an interrupted sweep resumes without redoing finished tasks.
The tasks run in this process, on local worker processes, or on a Dask cluster (runner.cluster,
imported only then) whose client saves the results in the same files.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sys
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict
from multiprocessing import get_context
from pathlib import Path

from runner.task import Task, call, saved_fn
from theory.files import save_atomic
from theory.params import check_int

SCHEDULER_VAR = "SGBP_SCHEDULER"  # the scheduler address when --scheduler is not given
# one BLAS thread per run: parallelism comes from processes
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


class RunFailures(RuntimeError):
    """Tasks that failed after their retries; the other tasks' results are saved."""

    def __init__(self, failures: list[tuple[Task, str]]):
        self.failures = failures
        lines = [f"{t.key} ({t.fn} {json.dumps(t.config, sort_keys=True)}): {err}" for t, err in failures]
        super().__init__(f"{len(failures)} task(s) failed: " + "; ".join(lines))


def result_path(out: Path, key: str) -> Path:
    return Path(out) / f"{key}.json"


def load_done(task: Task, out: Path):
    """The saved result of `task`, or None; a saved result of another configuration is an error."""
    path = result_path(out, task.key)
    if not path.exists():
        return None
    saved = json.loads(path.read_text())
    if saved_fn(saved.get("fn")) != task.fn or saved.get("config") != json.loads(json.dumps(task.config)):
        raise ValueError(f"out: {path} holds a result of another configuration; "
                         "use another --out folder or remove the file")
    return saved["result"]


def record(task: Task, result) -> str:
    return json.dumps(asdict(task) | {"result": result}, sort_keys=True) + "\n"


def _exit_with_parent(parent: int) -> None:
    """Worker initializer: the worker ends when the sweep's process ends, however it ends (Linux), so
    no orphan keeps a core busy with a run nobody will save."""
    if sys.platform.startswith("linux"):
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent ended before the line above took effect
        os._exit(1)


def _local(pending: list[Task], workers: int, retries: int, finish):
    """Run pending tasks on `workers` processes (in this process when workers is 1)."""
    failures = []
    if workers == 1:
        for task in pending:
            error = None
            for _ in range(retries + 1):
                try:
                    finish(task, call(task.fn, task.config))
                    break
                except Exception as err:  # a task's failure is reported with its configuration
                    error = f"{type(err).__name__}: {err}"
            else:
                failures.append((task, error))
        return failures
    saved = {v: os.environ.get(v) for v in THREAD_VARS}
    os.environ.update({v: "1" for v in THREAD_VARS})
    try:
        attempts = {task.key: 0 for task in pending}
        queue = list(pending)
        while queue:  # a worker process that dies breaks the pool: the rest go to a fresh one
            with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"),
                                     initializer=_exit_with_parent, initargs=(os.getpid(),)) as pool:
                futures = {pool.submit(call, t.fn, t.config): t for t in queue}
                queue = []
                while futures:
                    finished, _ = wait(list(futures), return_when=FIRST_COMPLETED)
                    for future in finished:
                        task = futures.pop(future)
                        try:
                            finish(task, future.result())
                        except Exception as err:  # the task's own error, or its worker died
                            attempts[task.key] += 1
                            if attempts[task.key] > retries:
                                failures.append((task, f"{type(err).__name__}: {err}"))
                            elif isinstance(err, BrokenProcessPool):
                                queue.append(task)
                            else:
                                futures[pool.submit(call, task.fn, task.config)] = task
    finally:
        for var, value in saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value
    return failures


def run_tasks(tasks: list[Task], out: Path, workers: int = 1, retries: int = 1, progress=None,
              scheduler: str | None = None) -> list:
    """Run every task not already saved under `out`; return the results in task order.

    progress: callable (done, total). scheduler: address of a Dask scheduler ("tcp://host:8786"):
    each task runs on its cluster instead of on `workers` local processes. Raises RunFailures,
    after every other task has finished and been saved, when some task still fails after
    `retries` more tries.
    """
    check_int("workers", workers, 1, 256)
    check_int("retries", retries, 0, 100)
    run_on_cluster = _cluster_runner(scheduler, workers)
    keys = [t.key for t in tasks]
    if len(set(keys)) != len(keys):
        raise ValueError("task keys must be unique")
    out = Path(out)
    results = {t.key: load_done(t, out) for t in tasks}
    pending = [t for t in tasks if results[t.key] is None]
    done = len(tasks) - len(pending)
    if progress:
        progress(done, len(tasks))

    def finish(task: Task, result) -> None:
        nonlocal done
        save_atomic(result_path(out, task.key), record(task, result))
        results[task.key] = json.loads(json.dumps(result))
        done += 1
        if progress:
            progress(done, len(tasks))

    if run_on_cluster is None:
        failures = _local(pending, workers, retries, finish)
    else:  # a finished sweep is read back without reaching the cluster
        failures = run_on_cluster(pending, scheduler, retries, finish) if pending else []
    if failures:
        raise RunFailures(failures)
    return [results[k] for k in keys]


def _cluster_runner(scheduler: str | None, workers: int):
    """runner.cluster.run_on_cluster when a scheduler is given, else None; checks that Dask is there."""
    if scheduler is None:
        return None
    if not isinstance(scheduler, str) or not scheduler.strip():
        raise ValueError(f"scheduler: needs an address such as tcp://HOST:8786, got {scheduler!r}")
    if workers != 1:
        raise ValueError(f"workers: local processes only, got {workers} with scheduler {scheduler}; "
                         "the cluster's workers run the tasks (leave workers at 1, or pass --scheduler '' to run locally)")
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise ValueError("scheduler: needs the optional dependency distributed "
                         "(pip install 'sgbp[cluster]'), not installed here") from None
    from runner.cluster import run_on_cluster

    return run_on_cluster


def add_runner_args(parser) -> None:
    """The options of every command that runs many independent runs; read back by runner_options."""
    parser.add_argument("--workers", type=int, default=1,
                        help="processes running runs in parallel, one BLAS thread each (default 1)")
    default = os.environ.get(SCHEDULER_VAR) or None
    parser.add_argument("--scheduler", metavar="ADDRESS", default=default,
                        help="run each run as one task on the Dask cluster of this scheduler, e.g. "
                        f"tcp://HOST:8786 (default: ${SCHEDULER_VAR} if set, else local processes; "
                        "'' runs locally); needs the cluster extra: pip install 'sgbp[cluster]'")


def runner_options(args) -> dict:
    """Keyword arguments of run_tasks from the parsed options of add_runner_args."""
    return {"workers": args.workers, "scheduler": args.scheduler or None}
