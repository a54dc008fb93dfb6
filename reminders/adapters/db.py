"""Tables and engine set-up (SQLAlchemy Core). Reminder state lives here, never in a job store."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    Dialect,
    Engine,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    false,
    text,
)
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC: the same on SQLite and PostgreSQL."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is UTC:  # the common case, on the hot path of bulk inserts
            return value.replace(tzinfo=None)
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


metadata = MetaData()

ACTIVE = "status IN ('scheduled', 'sending')"

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("phone", String(16), unique=True),  # NULL once erased
    Column("status", String(16), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("session_time", String(5), nullable=False),
    Column("cadence_days", Integer, nullable=False),
    Column("last_session_date", Date),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("erased_at", UtcDateTime),
    Column("paused_reason", String(16)),  # user | operator | skin_reaction, while paused
    Column("safety_notice_at", UtcDateTime),  # when the one safety notice was planned
    Column("checkin_due", Boolean, nullable=False, server_default=false()),
    Column("done_asked_at", UtcDateTime),  # a DONE that asked to be sent again to count
    Index("ix_users_status", "status"),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("local_date", Date, nullable=False),
    Column("starts_at", UtcDateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("kind", String(8), nullable=False, server_default="planned"),
    Column("later_count", Integer, nullable=False, server_default="0"),
    Column("outcome_at", UtcDateTime),
    Column("checkin", String(8)),  # asked | ok | reaction: the check-in after it, if any
    Index("ix_sessions_user_status", "user_id", "status"),
    Index(
        "ix_sessions_open",
        "starts_at",
        sqlite_where=text("status = 'planned'"),
        postgresql_where=text("status = 'planned'"),
    ),
)

reminder_rows = Table(
    "reminders",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("session_id", Integer, ForeignKey("sessions.id")),
    Column("step", String(20), nullable=False),
    Column("send_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    # When the row is next looked at: send_at, a retry or quiet-hours wait, or, while
    # `sending`, the end of the claim's lease.
    Column("due_at", UtcDateTime, nullable=False),
    Column("status", String(12), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("claims", Integer, nullable=False, server_default="0"),
    Column("provider_sid", String(64)),
    Column("error_code", Integer),
    Column("sent_at", UtcDateTime),
    Column("updated_at", UtcDateTime, nullable=False),
    # The dispatcher that last claimed the row, and when: a claim of a dispatcher whose beat
    # stopped is settled by asking the SMS provider (see `dispatchers`).
    Column("claimed_by", String(32)),
    Column("claimed_at", UtcDateTime),
    Index("ix_reminders_due", "due_at", sqlite_where=text(ACTIVE), postgresql_where=text(ACTIVE)),
    Index("ix_reminders_user", "user_id"),
    Index("ix_reminders_session", "session_id"),
)

messages = Table(
    "messages",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id")),
    Column("reminder_id", Integer, ForeignKey("reminders.id")),
    Column("direction", String(3), nullable=False),  # in | out
    Column("step", String(20)),
    Column("keyword", String(16)),
    Column("body", Text),  # NULL once erased
    Column("status", String(12), nullable=False),
    Column("provider_sid", String(64), unique=True),
    Column("error_code", Integer),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_messages_user", "user_id"),
)

# One row per running dispatcher: it adds to `beats` every half second or so. Others judge
# it dead only when they have watched `beats` stand still (so a clock that jumps, or a
# replica that just started, judges nothing) and its last beat is old.
dispatchers = Table(
    "dispatchers",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("beats", Integer, nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("beat_at", UtcDateTime, nullable=False),
)

# Auto-replies per number (the reply limiter, "not enrolled" once a day). Keyed by the number, which
# erasure removes.
reply_log = Table(
    "reply_log",
    metadata,
    Column("phone", String(16), primary_key=True),
    Column("window_started_at", UtcDateTime, nullable=False),
    Column("replies_in_window", Integer, nullable=False),
    Column("not_enrolled_at", UtcDateTime),
    # The last inbound text answered (a digest), how many times in a row, and the end of a
    # silence after too many messages (see domain/reply_limit.py).
    Column("text_key", String(16)),
    Column("text_repeats", Integer, nullable=False, server_default="0"),
    Column("muted_until", UtcDateTime),
)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own transaction handling starts a transaction only at the first write, so
    # a unit of work that reads and then writes would not be isolated. Transactions are
    # begun by `_sqlite_begin` instead.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


SQLITE_IMMEDIATE = "sqlite_immediate"
"""Execution option: on SQLite, begin the connection's transactions with BEGIN IMMEDIATE."""


def _sqlite_begin(connection: Connection) -> None:
    # BEGIN IMMEDIATE takes the write lock at once (waiting up to busy_timeout), so writers
    # run one after another on fresh data. A plain (deferred) BEGIN that reads first and
    # writes later fails at once if another writer committed in between.
    immediate = connection.get_execution_options().get(SQLITE_IMMEDIATE, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite files get WAL mode and their folder is created."""
    if url.startswith("sqlite"):
        from pathlib import Path

        from sqlalchemy.engine import make_url

        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False}, hide_parameters=True)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    # No pool_pre_ping: it costs a round trip on every checkout, a tenth of the dispatcher's
    # throughput on PostgreSQL. A connection the server dropped fails one job run, which is
    # retried at the next tick on a fresh connection (SQLAlchemy invalidates the pool).
    # hide_parameters: an error's text never carries the values bound to its statement (phone
    # numbers, message bodies).
    # connect_timeout: a server that does not answer at all (a partition) fails a request in
    # seconds, so a webhook is kept in the spool before Twilio gives up on it (15 s).
    return create_engine(
        url,
        pool_size=10,
        max_overflow=10,
        hide_parameters=True,
        connect_args={"connect_timeout": 5},
    )
