"""Recording a commit's worth of outcomes never fails as a whole because one provider SID is
recorded already (a rescue that took an earlier send for its claim's): that message is left
as it is and the rest is recorded; on SQLite, PostgreSQL and the in-memory unit of work."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Connection, event, insert, select

from reminders.adapters.db import make_engine, messages, reminder_rows, users
from reminders.adapters.migrate import migrate
from reminders.adapters.repository import ReminderRepository
from reminders.adapters.repository.batch import InsertRows, write
from reminders.domain.model import (
    Direction,
    OutboundMessage,
    ReminderStatus,
    SendOutcome,
    Step,
)
from tests.conftest import DATABASES, both_databases
from tests.fakes import InMemoryUnitOfWorkFactory

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
OLD_SID = "SM" + "a" * 32
NEW_SID = "SM" + "b" * 32


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest) -> str:
    return both_databases(request)


@pytest.fixture
def connection(database_url: str) -> Iterator[Connection]:
    engine = make_engine(database_url)
    migrate(engine)
    with engine.connect() as connection:
        connection.execute(
            insert(users),
            [
                {
                    "phone": f"+1415555012{n}",
                    "status": "active",
                    "timezone": "America/New_York",
                    "session_time": "20:00",
                    "cadence_days": 14,
                    "created_at": NOW,
                    "updated_at": NOW,
                }
                for n in (1, 2)
            ],
        )
        connection.execute(
            insert(reminder_rows),
            [
                {
                    "user_id": n,
                    "step": "roll",
                    "send_at": NOW,
                    "expires_at": NOW + timedelta(hours=2),
                    "due_at": NOW + timedelta(seconds=60),
                    "status": "sending",
                    "attempts": 0,
                    "claims": 1,
                    "updated_at": NOW,
                }
                for n in (1, 2)
            ],
        )
        connection.commit()
        yield connection
    engine.dispose()


def _message(user_id: int, sid: str, status: str = "queued") -> OutboundMessage:
    return OutboundMessage(
        user_id=user_id,
        reminder_id=user_id,
        step=Step.ROLL,
        body=f"roll now ({sid})",
        provider_sid=sid,
        status=status,
    )


def _taken(reminder_id: int, sid: str) -> SendOutcome:
    return SendOutcome(
        reminder_id=reminder_id,
        status=ReminderStatus.SENT,
        provider_sid=sid,
        sent_at=NOW,
        attempts=1,
    )


def test_a_message_recorded_already_does_not_fail_the_batch(connection: Connection) -> None:
    repository = ReminderRepository(connection)
    repository.finish([], NOW, sent=[_message(1, OLD_SID, "undelivered")])
    connection.commit()
    statements: list[str] = []
    event.listen(connection, "before_cursor_execute", lambda *a: statements.append(a[2]))

    later = NOW + timedelta(minutes=1)
    repository.finish(
        [_taken(1, OLD_SID), _taken(2, NEW_SID)],
        later,
        sent=[_message(1, OLD_SID), _message(2, NEW_SID), _message(2, NEW_SID)],
    )
    connection.commit()
    written = list(statements)

    rows = connection.execute(
        select(messages.c.provider_sid, messages.c.status, messages.c.created_at).order_by(
            messages.c.id
        )
    ).all()
    assert [(r.provider_sid, r.status) for r in rows] == [
        (OLD_SID, "undelivered"),  # left as it was
        (NEW_SID, "queued"),
    ]
    reminders = connection.execute(
        select(reminder_rows.c.status, reminder_rows.c.provider_sid).order_by(reminder_rows.c.id)
    ).all()
    assert [tuple(r) for r in reminders] == [("sent", OLD_SID), ("sent", NEW_SID)]
    inserts = [s for s in written if "INSERT INTO messages" in s]
    assert len(inserts) == 1 and "ON CONFLICT (provider_sid) DO NOTHING" in inserts[0]
    if connection.dialect.name == "postgresql":
        assert len(written) == 1  # still one statement


def test_an_insert_without_the_option_still_fails_on_a_conflict(connection: Connection) -> None:
    row = {
        "user_id": 1,
        "direction": "out",
        "step": "roll",
        "body": "roll",
        "status": "queued",
        "provider_sid": OLD_SID,
    }
    fixed = {"created_at": NOW, "updated_at": NOW}
    write(connection, [InsertRows(messages, [row], fixed, skip_conflicts_on="provider_sid")])
    write(connection, [InsertRows(messages, [row], fixed, skip_conflicts_on="provider_sid")])
    assert connection.execute(select(messages.c.id)).all() == [(1,)]
    with pytest.raises(Exception, match="(?i)unique"):
        write(connection, [InsertRows(messages, [row], fixed)])


def test_the_in_memory_repository_skips_a_recorded_message_too() -> None:
    factory = InMemoryUnitOfWorkFactory()
    with factory() as uow:
        uow.reminders.finish([], NOW, sent=[_message(1, OLD_SID, "undelivered")])
        uow.reminders.finish([], NOW, sent=[_message(1, OLD_SID), _message(2, NEW_SID)])
        uow.commit()

    rows = factory.store.tables.messages.values()
    assert [(m.provider_sid, m.status, m.direction) for m in rows] == [
        (OLD_SID, "undelivered", Direction.OUT),
        (NEW_SID, "queued", Direction.OUT),
    ]
