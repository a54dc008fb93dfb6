"""The database goes away in the middle of a dispatch (a real outage of a PostgreSQL database
of its own): sending stops as soon as outcomes cannot be recorded, no more than the crash
window is ever sent unrecorded, and once the database is back everything is recorded and
nothing is sent twice. Before, the dispatcher kept sending batches it could not record and
sent them all again after the lease."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import func, select

from reminders.adapters.db import reminder_rows
from reminders.bootstrap import Container
from reminders.domain.model import PhoneNumber, Schedule
from reminders.services import bulk, routine
from tests.fakes import FakeSmsSender
from tests.outage import PostgresOutage, postgres_outage

pytestmark = pytest.mark.postgres

USERS = 400
CUT_AT_SEND = 60


@pytest.fixture
def outage() -> Iterator[PostgresOutage]:
    with postgres_outage() as made:
        yield made


@pytest.fixture
def container(make_container: Callable[..., Container], outage: PostgresOutage) -> Container:
    return make_container(database_url=outage.url, dispatch_concurrency=4)


def _enrol_pending(container: Container) -> None:
    schedule: Schedule = routine.make_schedule(
        container.policy, timezone="America/New_York", session_time="20:00", cadence_days=14
    )
    entries = [
        bulk.Enrollment(PhoneNumber(f"+1415555{index:04d}"), schedule) for index in range(USERS)
    ]
    with container.uow() as uow:
        bulk.enroll_many(uow, container.policy, container.clock.now(), entries)
        uow.commit()


def _wait_until(what: str, check: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_sending_stops_while_outcomes_cannot_be_recorded_and_nothing_goes_twice(
    container: Container, sender: FakeSmsSender, outage: PostgresOutage
) -> None:
    _enrol_pending(container)
    cut = threading.Event()

    def cut_the_database(_to: PhoneNumber, _body: str) -> None:
        if len(sender.sent) == CUT_AT_SEND and not cut.is_set():
            cut.set()
            outage.cut()

    sender.before_send = cut_the_database
    dispatching = threading.Thread(target=container.dispatch_due, daemon=True)
    dispatching.start()
    _wait_until("the cut", cut.is_set, 30)
    sent_at_cut = len(sender.sent)
    time.sleep(3.0)  # the outage goes on: sends must have stopped
    during = len(sender.sent)
    time.sleep(1.0)
    still = len(sender.sent)

    outage.restore()
    dispatching.join(timeout=60)
    assert not dispatching.is_alive()
    for _ in range(20):  # whatever was released while the database was away
        if container.dispatch_due().claimed == 0:
            break

    assert still == during  # nothing sent while outcomes could not be recorded
    assert during - sent_at_cut <= container.dispatcher.crash_window
    per_number = Counter(s.to for s in sender.sent)
    assert len(per_number) == USERS and set(per_number.values()) == {1}
    with container.engine.connect() as connection:
        statuses = dict(
            connection.execute(
                select(reminder_rows.c.status, func.count()).group_by(reminder_rows.c.status)
            ).all()
        )
    assert statuses == {"sent": USERS}
