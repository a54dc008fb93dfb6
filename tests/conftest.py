"""Shared fixtures: settings on a temporary SQLite file, a fake clock and sender, a container."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from config.settings import Settings
from reminders.bootstrap import Container, bootstrap
from tests.fakes import FakeClock, FakeSmsSender

# A fixed instant, never today's date: Monday 2 March 2026, 15:00 UTC (10:00 in New York).
START = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def sender(clock: FakeClock) -> FakeSmsSender:
    return FakeSmsSender(clock)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'reminders.db'}"


@pytest.fixture
def make_settings(sqlite_url: str) -> Callable[..., Settings]:
    def make(**overrides: object) -> Settings:
        values: dict[str, object] = {
            "database_url": sqlite_url,
            "admin_token": "test-admin-token",
            "sms_backend": "console",
            "dispatch_concurrency": 1,
        }
        values.update(overrides)
        return Settings(**values)  # type: ignore[arg-type]

    return make


@pytest.fixture
def make_container(
    make_settings: Callable[..., Settings], clock: FakeClock, sender: FakeSmsSender
) -> Iterator[Callable[..., Container]]:
    built: list[Container] = []

    def make(**overrides: object) -> Container:
        container = bootstrap(make_settings(**overrides), clock=clock, sender=sender)
        built.append(container)
        return container

    yield make
    for container in built:
        container.close()


@pytest.fixture
def container(make_container: Callable[..., Container]) -> Container:
    return make_container()


def postgres_url() -> str | None:
    return os.environ.get("REMINDERS_TEST_POSTGRES_URL")


@pytest.fixture(autouse=True)
def _postgres_gate(request: pytest.FixtureRequest) -> None:
    """PostgreSQL tests skip locally without a server but fail in CI, which sets the URL."""
    if request.node.get_closest_marker("postgres") is None or postgres_url():
        return
    if os.environ.get("CI"):
        pytest.fail("REMINDERS_TEST_POSTGRES_URL is not set; CI must run the PostgreSQL tests")
    pytest.skip("REMINDERS_TEST_POSTGRES_URL is not set")
