"""Many rows in one statement (the dispatcher's outcomes and sent messages): what they store
is exactly what an ordinary SQLAlchemy insert or update stores, on SQLite and PostgreSQL, and
the condition limits which rows change."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, event, insert, select, update

from reminders.adapters.db import make_engine, messages, reminder_rows, users
from reminders.adapters.migrate import migrate
from reminders.adapters.repository.batch import InsertRows, UpdateRows, write
from tests.conftest import DATABASES, both_databases

NOW = datetime(2026, 3, 29, 0, 59, 59, 999_999, tzinfo=UTC)
# A body a JSON payload must carry through: quotes, a backslash, a newline, non-ASCII and
# a character outside the Basic Multilingual Plane, and a whole microsecond-free time.
BODY = 'RollerCare: "DONE" \\ or SKIP?\nÉté ✓ 😀'


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest) -> str:
    return both_databases(request)


@pytest.fixture
def connection(database_url: str) -> Iterator[Connection]:
    engine = make_engine(database_url)
    migrate(engine)
    with engine.connect() as connection:
        user = {
            "status": "active",
            "timezone": "Europe/London",
            "session_time": "20:00",
            "cadence_days": 14,
            "created_at": NOW,
            "updated_at": NOW,
        }
        connection.execute(insert(users), [{**user, "phone": f"+4477009000{n}"} for n in (1, 2)])
        yield connection
    engine.dispose()


def reminder(user_id: int, status: str) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "step": "roll",
        "send_at": NOW,
        "expires_at": NOW + timedelta(hours=2),
        "due_at": NOW,
        "status": status,
        "attempts": 0,
        "claims": 1,
        "updated_at": NOW,
    }


def test_a_batch_insert_stores_what_an_ordinary_insert_stores(connection: Connection) -> None:
    row = {
        "user_id": 1,
        "direction": "out",
        "step": "roll",
        "body": BODY,
        "status": "queued",
        "provider_sid": "SM" + "a" * 32,
        "error_code": None,
    }
    later = NOW.replace(microsecond=0) + timedelta(days=1)
    connection.execute(insert(messages), [{**row, "created_at": NOW, "updated_at": NOW}])
    other = {**row, "provider_sid": "SM" + "b" * 32, "user_id": 2}
    write(connection, [InsertRows(messages, [other], {"created_at": later, "updated_at": later})])
    ordinary, batched = connection.execute(select(messages).order_by(messages.c.id)).all()
    assert batched.body == ordinary.body == BODY
    assert (batched.user_id, batched.provider_sid, batched.error_code) == (2, "SM" + "b" * 32, None)
    assert ordinary.created_at == NOW
    assert batched.created_at == batched.updated_at == later


def test_a_batch_update_sets_each_row_its_values_where_the_condition_holds(
    connection: Connection,
) -> None:
    connection.execute(
        insert(reminder_rows),
        [reminder(1, "sending"), reminder(2, "sending"), reminder(1, "cancelled")],
    )
    sent_at = NOW + timedelta(seconds=1)
    keys = ("id", "status", "provider_sid", "sent_at", "attempts", "error_code")
    rows = [
        dict(zip(keys, values, strict=True))
        for values in (
            (1, "sent", "SM" + "1" * 32, sent_at, 1, None),
            (2, "scheduled", None, None, 1, 20429),
            (3, "sent", "SM" + "3" * 32, sent_at, 1, None),  # cancelled meanwhile
        )
    ]
    write(
        connection,
        [
            UpdateRows(
                reminder_rows, "id", rows, {"updated_at": sent_at}, "reminders.status = 'sending'"
            )
        ],
    )
    rows = {r.id: r for r in connection.execute(select(reminder_rows))}
    assert (rows[1].status, rows[1].provider_sid, rows[1].sent_at) == (
        "sent",
        "SM" + "1" * 32,
        sent_at,
    )
    assert (rows[2].status, rows[2].error_code, rows[2].sent_at) == ("scheduled", 20429, None)
    assert rows[1].updated_at == rows[2].updated_at == sent_at
    assert (rows[3].status, rows[3].provider_sid, rows[3].updated_at) == ("cancelled", None, NOW)
    # Stored as an ordinary update stores it: the same row compares equal both ways.
    connection.execute(update(reminder_rows).where(reminder_rows.c.id == 2).values(sent_at=sent_at))
    assert connection.execute(
        select(reminder_rows.c.id).where(reminder_rows.c.sent_at == sent_at)
    ).scalars().all() == [1, 2]


def test_several_changes_go_in_one_statement_on_postgresql(connection: Connection) -> None:
    """Outcomes of two shapes and the messages sent: three changes, one round trip on
    PostgreSQL; SQLite, in-process, runs them one by one."""
    connection.execute(insert(reminder_rows), [reminder(1, "sending"), reminder(2, "sending")])
    statements: list[str] = []

    def note(*args: Any) -> None:
        statements.append(args[2])

    sid = "SM" + "1" * 32
    event.listen(connection, "before_cursor_execute", note)

    write(
        connection,
        [
            UpdateRows(
                reminder_rows, "id", [{"id": 1, "status": "sent", "provider_sid": sid}], {}, "1 = 1"
            ),
            UpdateRows(reminder_rows, "id", [{"id": 2, "status": "scheduled"}], {}, "1 = 1"),
            UpdateRows(reminder_rows, "id", [], {}, "1 = 1"),  # no rows: nothing to do
            InsertRows(
                messages,
                [
                    {
                        "user_id": 1,
                        "reminder_id": 1,
                        "direction": "out",
                        "body": BODY,
                        "status": "queued",
                        "provider_sid": sid,
                    }
                ],
                {"created_at": NOW, "updated_at": NOW},
            ),
        ],
    )
    event.remove(connection, "before_cursor_execute", note)

    statuses = dict(connection.execute(select(reminder_rows.c.id, reminder_rows.c.status)).all())
    assert statuses == {1: "sent", 2: "scheduled"}
    assert connection.execute(select(messages.c.body)).scalars().all() == [BODY]
    assert len(statements) == (1 if connection.dialect.name == "postgresql" else 3)
