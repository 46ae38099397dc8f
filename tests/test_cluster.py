"""The runner on a real Dask cluster: two worker processes on this machine, on the loopback.

The scheduler gives up on a task at the first death of its worker (allowed-failures 0), so a
killed worker comes back to the client as KilledWorker and the runner's own retries are tested.
Task functions live in tests/cluster_tasks.py: spawned workers get this process's sys.path.
"""

import faulthandler
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import dask
import distributed
import pytest

from cluster_tasks import calls
from montecarlo.sweep import expert_configs, run_sweep
from runner import RunFailures, Task, add_runner_args, run_tasks, runner_options
from runner import cluster as cluster_module
from runner.tasks import result_path
from sgbp import reproduce_cmd
from sgbp.args import OneLineParser
from sgbp.cli import main


@pytest.fixture(autouse=True)
def bounded():
    """A hung cluster ends the test run with a traceback instead of hanging CI."""
    faulthandler.dump_traceback_later(180, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture(scope="module")
def scheduler():
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                      dashboard_address=None, silence_logs=logging.CRITICAL) as cluster:
            yield cluster.scheduler_address


def tasks(log, seeds=range(6)):
    return [Task(f"s{s}", "cluster_tasks:draw", {"seed": s, "log": str(log)}) for s in seeds]


def die(key, log, seed, deaths, after):
    config = {"seed": seed, "log": str(log), "tag": key, "deaths": deaths, "after": [str(p) for p in after]}
    return Task(key, "cluster_tasks:die", config)


def test_same_results_and_files_as_a_local_run(tmp_path, scheduler):
    (tmp_path / "log").mkdir()
    local = run_tasks(tasks(tmp_path / "log"), tmp_path / "local")
    remote = run_tasks(tasks(tmp_path / "log"), tmp_path / "remote", scheduler=scheduler)
    assert remote == local
    assert [r["seed"] for r in remote] == list(range(6))  # task order, not completion order
    for s in range(6):
        assert (result_path(tmp_path / "remote", f"s{s}").read_text()
                == result_path(tmp_path / "local", f"s{s}").read_text())
        assert calls(tmp_path / "log", s) == 2  # once locally, once on the cluster


def test_an_interrupted_client_resumes_without_redoing_saved_tasks(tmp_path, scheduler):
    log, out = tmp_path / "log", tmp_path / "out"
    log.mkdir()

    def interrupt_after_two(done, total):
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_tasks(tasks(log), out, scheduler=scheduler, progress=interrupt_after_two)
    saved = sorted(p.stem for p in out.glob("s*.json"))
    assert len(saved) == 2
    results = run_tasks(tasks(log), out, scheduler=scheduler)
    assert results == run_tasks(tasks(log), tmp_path / "local")
    for key in saved:
        assert calls(log, key[1:]) == 2  # the interrupted sweep's run and the local run, not the rerun


def test_a_killed_worker_loses_no_saved_result_and_the_sweep_completes(tmp_path, scheduler):
    log, out = tmp_path / "log", tmp_path / "out"
    log.mkdir()
    # kills its worker once s0 and s1 are saved, then succeeds on its retry; a draw queued on the
    # same worker dies with it and is retried too
    once = die("once", log, 5, 1, [result_path(out, "s0"), result_path(out, "s1")])
    results = run_tasks(tasks(log, range(4)) + [once], out, scheduler=scheduler, retries=1)
    assert calls(log, "once") == 2
    assert calls(log, 0) == calls(log, 1) == 1  # saved before the kill: never run again
    assert results[-1] == 35 and json.loads(result_path(out, "once").read_text())["result"] == 35
    assert results[:4] == run_tasks(tasks(log, range(4)), tmp_path / "local")


def test_a_task_whose_worker_always_dies_is_reported_after_its_retries(tmp_path, scheduler):
    log, out = tmp_path / "log", tmp_path / "out"
    log.mkdir()
    always = die("always", log, 6, -1, [])
    with pytest.raises(RunFailures) as info:
        run_tasks([always], out, scheduler=scheduler, retries=1)
    [(task, error)] = info.value.failures
    assert task.key == "always" and error.startswith("KilledWorker")
    assert '"deaths": -1' in str(info.value)  # reported with its configuration
    assert calls(log, "always") == 2  # one try and one retry, then given up
    assert not result_path(out, "always").exists()


def test_a_failing_task_is_retried_then_reported_while_the_rest_completes(tmp_path, scheduler):
    log, out = tmp_path / "log", tmp_path / "out"
    log.mkdir()
    bad = Task("bad", "cluster_tasks:fail", {"seed": 9, "log": str(log)})
    with pytest.raises(RunFailures) as info:
        run_tasks(tasks(log, range(3)) + [bad], out, scheduler=scheduler, retries=2)
    assert [t.key for t, _ in info.value.failures] == ["bad"]
    assert "seed 9 cannot be run" in str(info.value) and '"seed": 9' in str(info.value)
    assert calls(log, "fail") == 3
    assert sorted(p.stem for p in out.glob("*.json")) == ["s0", "s1", "s2"]


def start(command, env, procs):
    procs.append(subprocess.Popen([sys.executable, "-m", "dask", *command], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))


def scheduler_address(info: Path, wait: float = 60) -> str:
    """The address a starting `dask scheduler` writes to its scheduler file."""
    deadline = time.monotonic() + wait
    while True:
        try:
            return json.loads(info.read_text())["address"]
        except (OSError, ValueError, KeyError):  # not written yet, or half written
            assert time.monotonic() < deadline, f"the scheduler did not start within {wait} s"
            time.sleep(0.05)


def test_a_lost_scheduler_is_a_one_line_error_and_the_saved_results_stay(tmp_path, monkeypatch):
    """`dask scheduler` and `dask worker` as a user starts them; the scheduler is killed mid-sweep."""
    log, out, info = tmp_path / "log", tmp_path / "out", tmp_path / "scheduler.json"
    log.mkdir()
    here = Path(__file__).resolve().parent
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(here.parent), str(here)])}
    procs = []
    try:
        start(["scheduler", "--host", "127.0.0.1", "--port", "0", "--dashboard-address", ":0",
               "--scheduler-file", str(info)], env, procs)
        start(["worker", "--scheduler-file", str(info), "--nthreads", "1", "--host", "127.0.0.1",
               "--death-timeout", "20"], env, procs)
        address = scheduler_address(info)
        monkeypatch.setattr(cluster_module, "CONNECT_TIMEOUT", 3)

        def kill_scheduler_after_one(done, total):
            if done == 1:
                procs[0].kill()

        stall = die("stall", log, 1, 0, [tmp_path / "never"])  # waits for a file nobody writes
        with pytest.raises(ValueError, match="scheduler: lost the connection to .*run again to resume"):
            run_tasks(tasks(log, [0]) + [stall], out, scheduler=address, progress=kill_scheduler_after_one)
        assert json.loads(result_path(out, "s0").read_text())["result"]["seed"] == 0
        assert not result_path(out, "stall").exists()
    finally:
        for proc in procs:
            proc.kill()
            proc.wait(timeout=30)


def test_explore_sweep_on_the_cluster_writes_the_rows_of_a_local_run(tmp_path, scheduler, capsys):
    grid = ["explore", "expert", "--case", "all", "--d", "4", "--k", "2", "--m", "3", "--n", "1,2",
            "--trials", "200", "--seed", "2"]
    remote = ["--scheduler", scheduler, "--out", str(tmp_path / "remote.csv")]
    assert main(grid + ["--out", str(tmp_path / "local.csv")]) == 0
    local_table = capsys.readouterr().out
    assert main(grid + remote) == 0
    assert capsys.readouterr().out == local_table
    assert (tmp_path / "remote.csv").read_text() == (tmp_path / "local.csv").read_text()
    saved = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "remote.csv.tasks").iterdir()}
    assert len(saved) == 6
    # a rerun takes every row from the saved results: the same table, no result rewritten
    assert main(grid + remote) == 0
    assert capsys.readouterr().out == local_table
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "remote.csv.tasks").iterdir()} == saved


def test_reproduce_e1_sweep_on_the_cluster(tmp_path, scheduler):
    configs = expert_configs(("noisy", "partial"), [4], [2, 3], [1, 3], m=3, seed=1)
    rows = reproduce_cmd.e1_rows(configs, 100, 1, tmp_path, {"workers": 1, "scheduler": scheduler})
    assert rows == run_sweep(configs, 100, 1)
    assert len(list((tmp_path / "tasks" / "e1").glob("*.json"))) == len(configs)


def test_scheduler_option_and_environment_variable(monkeypatch):
    monkeypatch.setenv("SGBP_SCHEDULER", "tcp://10.0.0.1:8786")
    parser = OneLineParser()
    add_runner_args(parser)
    assert runner_options(parser.parse_args([])) == {"workers": 1, "scheduler": "tcp://10.0.0.1:8786"}
    assert runner_options(parser.parse_args(["--scheduler", "tcp://h:1"]))["scheduler"] == "tcp://h:1"
    assert runner_options(parser.parse_args(["--scheduler", ""]))["scheduler"] is None
    monkeypatch.delenv("SGBP_SCHEDULER")
    parser = OneLineParser()
    add_runner_args(parser)
    assert runner_options(parser.parse_args([]))["scheduler"] is None


def test_bad_scheduler_use_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    with pytest.raises(ValueError, match="workers: local processes only"):
        run_tasks([], tmp_path, workers=2, scheduler="tcp://127.0.0.1:1")
    for address in ("foo", "udp://127.0.0.1:1"):
        assert main(["explore", "expert", "--d", "3,4", "--trials", "10", "--scheduler", address]) == 2
        err = capsys.readouterr().err
        assert err.startswith("sgbp: error: scheduler: needs an address such as") and err.count("\n") == 1
    monkeypatch.setattr(cluster_module, "CONNECT_TIMEOUT", 1)
    assert main(["explore", "expert", "--d", "3,4", "--trials", "10", "--scheduler", "tcp://127.0.0.1:1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sgbp: error: scheduler: cannot connect to 'tcp://127.0.0.1:1'") and err.count("\n") == 1
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if the cluster extra were not installed
    with pytest.raises(ValueError, match=r"pip install 'sgbp\[cluster\]'"):
        run_tasks([], tmp_path, scheduler="tcp://127.0.0.1:1")
    assert main(["explore", "expert", "--d", "3,4", "--trials", "10", "--scheduler", "tcp://127.0.0.1:1"]) == 2
    err = capsys.readouterr().err
    assert "needs the optional dependency distributed" in err and err.count("\n") == 1


def test_local_commands_do_not_import_dask():
    """The base install has no Dask: the command line and a local sweep must not need it."""
    code = ("import sys, tempfile; from sgbp.cli import main; from runner import Task, run_tasks; "
            "assert run_tasks([Task('a', 'builtins:len', {'x': 1})], tempfile.mkdtemp()) == [1]; "
            "assert 'distributed' not in sys.modules and 'dask' not in sys.modules, 'dask imported'")
    here = Path(__file__).resolve().parent
    env = os.environ | {"PYTHONPATH": str(here.parent)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
