"""pytest plugin for tools.mutation: each test's coverage recorded under its node id (setup, call, teardown)."""

from __future__ import annotations

import coverage
import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    cov = coverage.Coverage.current()
    if cov is not None:
        cov.switch_context(item.nodeid)
    yield
    if cov is not None:
        cov.switch_context("")
