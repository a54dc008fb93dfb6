"""Shared fixtures: settings on a temporary SQLite file, a fake clock and sender, a container."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

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
def postgres_schema_url() -> Iterator[str]:
    """A fresh schema on the test PostgreSQL server, dropped afterwards."""
    base = postgres_url()
    assert base is not None
    schema = "test_" + uuid.uuid4().hex[:12]
    engine = create_engine(base)
    with engine.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in base else "?"
    yield f"{base}{separator}options=-csearch_path%3D{schema}"
    with engine.begin() as connection:
        connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    """SQLite by default; modules that also run on PostgreSQL override this fixture with
    `both_databases`."""
    return sqlite_url


@pytest.fixture
def make_settings(database_url: str, tmp_path: Path) -> Callable[..., Settings]:
    def make(**overrides: object) -> Settings:
        values: dict[str, object] = {
            "database_url": database_url,
            "spool_dir": tmp_path / "spool",
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
    url = os.environ.get("REMINDERS_TEST_POSTGRES_URL")
    if url and url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def both_databases(request: pytest.FixtureRequest) -> str:
    """Body of a `database_url` fixture parametrized over SQLite and PostgreSQL."""
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_schema_url"))
    return str(request.getfixturevalue("sqlite_url"))


DATABASES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(autouse=True)
def _postgres_gate(request: pytest.FixtureRequest) -> None:
    """PostgreSQL tests skip locally without a server but fail in CI, which sets the URL."""
    if request.node.get_closest_marker("postgres") is None or postgres_url():
        return
    if os.environ.get("CI"):
        pytest.fail("REMINDERS_TEST_POSTGRES_URL is not set; CI must run the PostgreSQL tests")
    pytest.skip("REMINDERS_TEST_POSTGRES_URL is not set")
