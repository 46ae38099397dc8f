"""Run tasks on a Dask `distributed` cluster: each task is one Dask task, each result saved by the client.

Imported only when a scheduler address is given, so the base install does not need Dask. The
workers compute; this process (the client) receives each result as it arrives and hands it to
run_tasks, which saves it atomically in the same files as a local run. A task that raises, or whose
worker dies, comes back as an error (a dead worker as KilledWorker, once the scheduler has given up
on it after its own `distributed.scheduler.allowed-failures` reschedulings); the client then submits
it again, at most `retries` more times. Closing the client (an interrupt, an error in this process)
cancels what has not finished; what has finished is already saved, so the sweep resumes. A lost
scheduler (after the client's reconnection attempts) is a one-line ValueError, not a task failure.
"""

from __future__ import annotations

import uuid

import distributed
from distributed.comm import get_address_host_port

from runner.task import Task, call

CONNECT_TIMEOUT = 30  # seconds to reach the scheduler, and to reach it again after losing it


def connect(address: str) -> distributed.Client:
    """A client of the scheduler at `address`; ValueError (one line) when it cannot be reached."""
    try:  # checked first: a client that fails on a malformed address complains again at exit
        get_address_host_port(address)
    except ValueError as err:
        raise ValueError(f"scheduler: needs an address such as tcp://HOST:8786, got {address!r} "
                         f"({first_line(err)})") from None
    try:
        return distributed.Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as err:
        raise ValueError(f"scheduler: cannot connect to {address!r} within {CONNECT_TIMEOUT} s "
                         f"({type(err).__name__}: {first_line(err)})") from None


def first_line(err: Exception) -> str:
    """Dask's errors span lines; a failure is reported on one."""
    return (str(err).strip().splitlines() or [""])[0]


def call_on_worker(fn: str, config: dict):
    """call() with one numba thread: the workers' threads and processes are the parallelism."""
    import numba

    numba.set_num_threads(1)
    return call(fn, config)


def run_on_cluster(pending: list[Task], address: str, retries: int, finish) -> list[tuple[Task, str]]:
    """Run `pending` on the cluster, calling finish(task, result) as each result arrives.

    Returns the (task, error) pairs of the tasks that still failed after `retries` more tries.
    """
    failures = []
    with connect(address) as client:
        tasks: dict[distributed.Future, Task] = {}
        attempts = {task.key: 0 for task in pending}

        def submit(task: Task) -> distributed.Future:
            # a fresh key per try: the runner's key names it on the dashboard, the suffix keeps
            # tries, and clients sharing the scheduler, apart
            future = client.submit(call_on_worker, task.fn, task.config, key=f"{task.key}-{uuid.uuid4().hex}")
            tasks[future] = task
            return future

        queue = distributed.as_completed([submit(task) for task in pending], loop=client.loop)
        for future in queue:
            task = tasks.pop(future)
            try:
                finish(task, future.result())
            except Exception as err:  # the task's own error, or its worker died
                if client.status != "running":  # the client gave up on the scheduler: nothing runs
                    raise ValueError(f"scheduler: lost the connection to {address!r} ({first_line(err)}); "
                                     "the results that arrived are saved: run again to resume") from None
                attempts[task.key] += 1
                if attempts[task.key] <= retries:
                    queue.add(submit(task))
                else:
                    failures.append((task, f"{type(err).__name__}: {first_line(err)}"))
            finally:
                future.release()
    return failures
