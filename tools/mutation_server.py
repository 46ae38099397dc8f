"""A pytest runner that forks: started once per private copy with the heavy libraries imported, it runs
each mutant's tests in a fresh fork, so a mutant pays for its tests and the project's own imports only.

Reads one JSON request a line on stdin, {"tests": [...], "timeout": seconds or null}, and answers one
line {"code": pytest's exit status, or null on timeout, "seconds": ...}. Nothing of the project is
imported here: each fork imports the copy's (mutated) modules afresh.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time

PRELOAD = ("numpy", "scipy.stats", "scipy.special", "sympy", "numba", "pytest")


def run(tests: list[str], timeout: float | None) -> dict:
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # the child: its own process group, so a timeout ends whatever it started
        os.setpgrp()
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.dup2(null, 2)
        import pytest
        code = 3
        try:
            code = int(pytest.main(["-x", "-q", "-p", "no:cacheprovider", *tests]))
        finally:
            os._exit(code)
    deadline = None if timeout is None else start + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(status)
            return {"code": code, "seconds": time.perf_counter() - start}
        if deadline is not None and time.perf_counter() > deadline:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(pid, 0)
            return {"code": None, "seconds": time.perf_counter() - start}
        time.sleep(0.02)


def main() -> None:
    sys.path.insert(0, os.getcwd())
    for name in PRELOAD:
        try:
            __import__(name)
        except ImportError:
            pass
    for line in sys.stdin:
        request = json.loads(line)
        print(json.dumps(run(request["tests"], request.get("timeout"))), flush=True)


if __name__ == "__main__":
    main()
