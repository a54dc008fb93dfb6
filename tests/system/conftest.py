"""System tests run real processes; when one fails, show what those processes said."""

from __future__ import annotations

from collections.abc import Generator, Iterator

import pytest

from tests.system.service import STARTED


@pytest.fixture(autouse=True)
def _no_process_outlives_its_test() -> Iterator[None]:
    """Whatever a test left running (it failed before stopping its processes) is killed, so
    it cannot load the machine or hold database locks while later tests run."""
    STARTED.clear()
    yield
    for process in STARTED:
        process.kill()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed and item.get_closest_marker("system") is not None:
        for process in STARTED:
            report.sections.append((f"output of {process.name}", process.output()))
    return report
