"""Replica safety on PostgreSQL: concurrent migrations and concurrent claims."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, insert, select, text

from reminders.adapters.db import make_engine, reminder_rows, users
from reminders.adapters.migrate import migrate
from reminders.adapters.repository import ReminderRepository
from reminders.domain.model import ReminderStatus, SendOutcome

pytestmark = pytest.mark.postgres

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def test_replicas_migrating_at_once_leave_one_schema(postgres_schema_url: str) -> None:
    engines = [make_engine(postgres_schema_url) for _ in range(4)]
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            migrate(engines[index])
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    with engines[0].connect() as connection:
        versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    for engine in engines:
        engine.dispose()
    assert errors == []
    assert [v[0] for v in versions] == ["0004"]


def seeded(url: str, count: int, *, analyze: bool) -> Engine:
    """A migrated schema with `count` due reminders of one user, with statistics or, as
    just after a bulk enrolment, none yet."""
    engine = make_engine(url)
    migrate(engine)
    with engine.begin() as connection:
        user_id = connection.execute(
            insert(users)
            .values(
                phone="+14155550123",
                status="active",
                timezone="UTC",
                session_time="12:00",
                cadence_days=14,
                created_at=NOW,
                updated_at=NOW,
            )
            .returning(users.c.id)
        ).scalar_one()
        connection.execute(
            insert(reminder_rows),
            [
                {
                    "user_id": user_id,
                    "step": "roll",
                    "send_at": NOW,
                    "expires_at": NOW + timedelta(hours=2),
                    "due_at": NOW - timedelta(seconds=i % 50),
                    "status": "scheduled",
                    "updated_at": NOW,
                }
                for i in range(count)
            ],
        )
    if analyze:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("ANALYZE"))
    return engine


def test_concurrent_claims_never_take_the_same_reminder(postgres_schema_url: str) -> None:
    engine = seeded(postgres_schema_url, 3000, analyze=False)
    claimed: list[list[int]] = [[] for _ in range(6)]

    def claim(index: int) -> None:
        while True:
            with engine.connect() as connection:
                batch = ReminderRepository(connection).claim_due(
                    NOW, NOW + timedelta(seconds=60), 97
                )
                connection.commit()
            if not batch:
                return
            claimed[index].extend(d.id for d in batch)

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    everything = [rid for ids in claimed for rid in ids]
    with engine.connect() as connection:
        sending = connection.execute(
            select(func.count()).where(reminder_rows.c.status == "sending")
        ).scalar_one()
    engine.dispose()
    assert len(everything) == len(set(everything)) == 3000
    assert sending == 3000
    assert sum(1 for ids in claimed if ids) > 1  # the work really was shared


def test_a_claim_takes_no_more_than_its_limit(postgres_schema_url: str) -> None:
    """As `id IN (SELECT ... LIMIT 50 FOR UPDATE SKIP LOCKED)` on a table with no statistics
    yet this claimed all 500: the planner ran the subquery again for every row, each time
    skipping the rows it had just locked."""
    engine = seeded(postgres_schema_url, 500, analyze=False)
    with engine.begin() as connection:
        claimed = ReminderRepository(connection).claim_due(NOW, NOW + timedelta(minutes=1), 50)
    engine.dispose()

    assert len(claimed) == 50


def test_recording_outcomes_looks_rows_up_by_primary_key(postgres_schema_url: str) -> None:
    """With statistics that say hardly any row is `sending`, a join on the JSON rows made the
    planner scan the whole table for every commit of outcomes."""
    engine = seeded(postgres_schema_url, 5000, analyze=True)
    statements: list[tuple[str, Any]] = []

    def keep(_c: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    with engine.begin() as connection:
        claimed = ReminderRepository(connection).claim_due(NOW, NOW + timedelta(minutes=1), 32)
    event.listen(engine, "before_cursor_execute", keep)
    with engine.begin() as connection:
        ReminderRepository(connection).finish(
            [
                SendOutcome(
                    due.id, ReminderStatus.SENT, attempts=1, provider_sid=f"SM{due.id}", sent_at=NOW
                )
                for due in claimed
            ],
            NOW,
        )
    event.remove(engine, "before_cursor_execute", keep)
    (statement, parameters) = statements[-1]
    with engine.connect() as connection:
        cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        cursor.execute(f"EXPLAIN {statement}", parameters)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    engine.dispose()

    assert "Index Scan using reminders_pkey on reminders" in plan
    assert "Seq Scan on reminders" not in plan
