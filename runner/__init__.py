"""Resumable runs of many independent tasks: each finished result is saved at once, atomically."""

from runner.tasks import RunFailures, Task, add_runner_args, run_tasks, runner_options

__all__ = ["RunFailures", "Task", "add_runner_args", "run_tasks", "runner_options"]
