"""Real database outages for tests, without stopping the shared server.

PostgreSQL: `postgres_outage()` creates a database of its own on the test server and gives its
URL; `cut()` stops it taking connections and ends the ones it has (what a server restart or a
failover does to the service), `restore()` lets it take them again, and the database is
dropped at the end, whatever happened. Other databases on the server are never touched.

    from tests.outage import postgres_outage

    @pytest.fixture
    def outage() -> Iterator[PostgresOutage]:
        with postgres_outage() as outage:
            yield outage

    def test_something(outage, make_container):
        container = make_container(database_url=outage.url)
        outage.cut()
        ...
        outage.restore()

SQLite: `SqliteOutage(path, engine)` moves the database file away and puts a folder in its
place, so that opening it fails, and closes the engine's pooled connections (which would
otherwise keep working on the moved file); `restore()` puts the file back. Making the file
unreadable is not a way, since tests may run as root.

Every wait is bounded.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from tests.conftest import postgres_url

SESSIONS_GONE_WITHIN_SECONDS = 5.0


class PostgresOutage:
    """A database of its own on the test PostgreSQL server that can be cut off and restored."""

    def __init__(self, server_url: str) -> None:
        self.name = "outage_" + uuid.uuid4().hex[:12]
        # Statements about databases run outside a transaction, from the server's own database.
        self._admin = create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        with self._admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{self.name}"'))
        self.url = make_url(server_url).set(database=self.name).render_as_string(False)

    def cut(self) -> None:
        """No new connections, and every open one ended; returns once they are gone."""
        with self._admin.connect() as connection:
            connection.execute(text(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS false'))
            deadline = time.monotonic() + SESSIONS_GONE_WITHIN_SECONDS
            while self._terminate(connection):
                if time.monotonic() > deadline:
                    raise AssertionError(f"sessions of {self.name} still open after the cut")
                time.sleep(0.02)

    def restore(self) -> None:
        with self._admin.connect() as connection:
            connection.execute(text(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS true'))

    def drop(self) -> None:
        with self._admin.connect() as connection:
            self._terminate(connection)
            connection.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self._admin.dispose()

    def _terminate(self, connection: Connection) -> int:
        """End the database's sessions; returns how many there were."""
        rows = connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": self.name},
        ).all()
        return len(rows)


@contextlib.contextmanager
def postgres_outage(server_url: str | None = None) -> Iterator[PostgresOutage]:
    """A PostgresOutage on `server_url` (default: REMINDERS_TEST_POSTGRES_URL), dropped on
    leaving."""
    url = server_url or postgres_url()
    assert url is not None, "REMINDERS_TEST_POSTGRES_URL is not set"
    outage = PostgresOutage(url)
    try:
        yield outage
    finally:
        outage.drop()


class SqliteOutage:
    """The SQLite database file at `path`, used through `engine`, made unavailable and back."""

    def __init__(self, path: Path, engine: Engine) -> None:
        self.path = path
        self.url = f"sqlite:///{path}"
        self._engine = engine
        self._away = path.with_name(path.name + ".away")

    def cut(self) -> None:
        # Closing the pool first checkpoints the WAL into the file, which then moves alone.
        self._engine.dispose()
        assert not Path(f"{self.path}-wal").exists(), "a connection outside the engine is open"
        self.path.rename(self._away)
        self.path.mkdir()

    def restore(self) -> None:
        self.path.rmdir()
        self._away.rename(self.path)
