"""The resumable task runner: same results for any number of processes, resume, failures."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from runner import RunFailures, Task, run_tasks
from runner.tasks import result_path


def draw(config):
    """A task whose result depends only on its configuration (its seed)."""
    Path(config["log"], f"{config['seed']}.{np.random.default_rng().integers(1 << 60)}").touch()
    rng = np.random.default_rng(config["seed"])
    return {"seed": config["seed"], "mean": float(rng.normal(size=1000).mean())}


def flaky(config):
    """Fails on its first call for each seed, then succeeds; seed 3 always fails."""
    marker = Path(config["log"], f"tried{config['seed']}")
    if config["seed"] == 3 or not marker.exists():
        marker.touch()
        raise RuntimeError(f"seed {config['seed']} failed")
    return config["seed"] * 10


def lethal(config):
    """Kills its worker process on its first call for seed 2 (a crash, not an exception)."""
    marker = Path(config["log"], f"tried{config['seed']}")
    if config["seed"] == 2 and not marker.exists():
        marker.touch()
        os._exit(1)
    return config["seed"] * 10


def linger(config):
    """Writes its worker's pid, then sleeps far longer than the test waits."""
    Path(config["log"], f"pid{config['seed']}.{os.getpid()}").touch()
    time.sleep(120)
    return config["seed"]


def tasks(log, fn="draw", seeds=range(6)):
    return [Task(f"s{s}", f"test_runner:{fn}", {"seed": s, "log": str(log)}) for s in seeds]


def calls(log) -> int:
    return sum(1 for p in Path(log).iterdir() if not p.name.startswith("tried"))


def test_same_results_whatever_the_number_of_workers(tmp_path):
    (tmp_path / "log1").mkdir(), (tmp_path / "log2").mkdir()
    one = run_tasks(tasks(tmp_path / "log1"), tmp_path / "a", workers=1)
    two = run_tasks(tasks(tmp_path / "log2"), tmp_path / "b", workers=2)
    assert [r["mean"] for r in one] == [r["mean"] for r in two]
    assert [r["seed"] for r in two] == list(range(6))  # task order, not completion order
    expected = float(np.random.default_rng(4).normal(size=1000).mean())
    assert one[4]["mean"] == expected


def test_an_interrupted_sweep_resumes_without_redoing_finished_tasks(tmp_path):
    log = tmp_path / "log"
    log.mkdir()
    run_tasks(tasks(log, seeds=range(3)), tmp_path / "out")
    assert calls(log) == 3
    saved = json.loads(result_path(tmp_path / "out", "s1").read_text())
    assert saved["config"]["seed"] == 1 and saved["fn"] == "test_runner:draw"
    results = run_tasks(tasks(log), tmp_path / "out", workers=2)
    assert calls(log) == 6  # only s3, s4, s5 ran again
    assert len(results) == 6
    assert not list((tmp_path / "out").glob(".*.tmp"))


def test_a_saved_result_of_another_configuration_is_refused(tmp_path):
    log = tmp_path / "log"
    log.mkdir()
    run_tasks(tasks(log, seeds=[0]), tmp_path / "out")
    other = [Task("s0", "test_runner:draw", {"seed": 9, "log": str(log)})]
    with pytest.raises(ValueError, match="another configuration"):
        run_tasks(other, tmp_path / "out")


@pytest.mark.parametrize("workers", [1, 2])
def test_failures_are_retried_then_reported_while_the_rest_completes(tmp_path, workers):
    log = tmp_path / "log"
    log.mkdir()
    with pytest.raises(RunFailures) as info:
        run_tasks(tasks(log, "flaky", seeds=range(5)), tmp_path / "out", workers=workers, retries=1)
    assert [t.key for t, _ in info.value.failures] == ["s3"]
    assert "seed 3 failed" in str(info.value) and '"seed": 3' in str(info.value)
    for s in (0, 1, 2, 4):
        assert json.loads(result_path(tmp_path / "out", f"s{s}").read_text())["result"] == 10 * s
    assert not result_path(tmp_path / "out", "s3").exists()


def test_bad_tasks_and_parameters(tmp_path):
    with pytest.raises(ValueError, match="task key"):
        Task("a/b", "m:f", {})
    with pytest.raises(ValueError, match="module:function"):
        Task("a", "mf", {})
    with pytest.raises(ValueError, match="unique"):
        run_tasks([Task("a", "m:f", {}), Task("a", "m:f", {})], tmp_path)
    with pytest.raises(ValueError, match="workers must be between 1 and 256"):
        run_tasks([], tmp_path, workers=0)


def test_a_killed_worker_process_loses_no_result_and_the_sweep_completes(tmp_path):
    log = tmp_path / "log"
    log.mkdir()
    results = run_tasks(tasks(log, "lethal", seeds=range(5)), tmp_path / "out", workers=2, retries=1)
    assert results == [0, 10, 20, 30, 40]
    assert (log / "tried2").exists()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie has ended
        return f.read().split(") ")[1][0] != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
def test_workers_end_when_the_sweep_process_is_killed(tmp_path):
    # without it, killing a sweep leaves its workers computing runs that nobody saves
    log = tmp_path / "log"
    log.mkdir()
    script = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); from test_runner import tasks; "
              f"from runner import run_tasks; from pathlib import Path; "
              f"run_tasks(tasks(Path({str(log)!r}), 'linger', seeds=range(2)), Path({str(tmp_path / 'out')!r}), workers=2)")
    sweep = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 60
        while len(list(log.glob("pid*"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        pids = [int(p.suffix[1:]) for p in log.glob("pid*")]
        assert len(pids) == 2 and all(_alive(p) for p in pids)
    finally:
        sweep.send_signal(signal.SIGKILL)
        sweep.wait()
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(p) for p in pids)
