"""Enrol, come due, claim, send, record: on a real SQLite file, with a fake clock and sender."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import event, select, update

from reminders.adapters.db import reminder_rows, users
from reminders.adapters.repository import ReminderRepository
from reminders.bootstrap import Container
from reminders.domain.messages import safety_notice_text
from reminders.domain.model import PhoneNumber, UserStatus
from tests.conftest import DATABASES, both_databases
from tests.fakes import FakeClock, FakeSmsSender
from tests.routine_driver import enroll

PHONE = "+14155550123"
# 2 March 2026 15:00 UTC is 10:00 in New York; the first 20:00 session with every step ahead
# is on 3 March (its heads-up goes on 2 March at 20:00). Consent plans the safety notice 5 s
# later, fresh for 24 h.
SAFETY_NOTICE = safety_notice_text("RollerCare")


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest) -> str:
    return both_databases(request)


def statuses(container: Container) -> dict[str, str]:
    with container.engine.connect() as connection:
        rows = connection.execute(select(reminder_rows.c.step, reminder_rows.c.status))
        return {row.step: row.status for row in rows}


def test_confirmed_user_gets_every_step_of_the_first_session_at_its_time(
    container: Container, clock: FakeClock, sender: FakeSmsSender
) -> None:
    enroll(container)

    for _ in range(36 * 12):  # every five minutes for 36 hours
        container.dispatch_due()
        clock.advance(timedelta(minutes=5))

    assert len(sender.sent) == 5
    assert sender.sent[0].body == SAFETY_NOTICE
    assert [s.at for s in sender.sent] == [
        datetime(2026, 3, 2, 15, 5, tzinfo=UTC),  # safety notice: the first dispatch after 15:00:05
        datetime(2026, 3, 3, 1, 0, tzinfo=UTC),  # heads-up: 2 March 20:00 EST
        datetime(2026, 3, 4, 0, 15, tzinfo=UTC),  # makeup removal 19:15
        datetime(2026, 3, 4, 0, 40, tzinfo=UTC),  # peeling 19:40
        datetime(2026, 3, 4, 1, 0, tzinfo=UTC),  # roll 20:00
    ]
    assert set(statuses(container).values()) == {"sent"}


def test_pending_user_gets_only_the_consent_question(
    container: Container, clock: FakeClock, sender: FakeSmsSender
) -> None:
    enroll(container, confirmed=False)

    container.dispatch_due()
    clock.advance(timedelta(days=3))
    container.dispatch_due()

    assert len(sender.sent) == 1
    assert "Reply YES" in sender.sent[0].body


def test_consent_question_waits_for_the_end_of_quiet_hours(
    container: Container, clock: FakeClock, sender: FakeSmsSender
) -> None:
    clock.set(datetime(2026, 3, 3, 3, 0, tzinfo=UTC))  # 22:00 in New York
    enroll(container, confirmed=False)

    container.dispatch_due()
    clock.set(datetime(2026, 3, 3, 12, 59, tzinfo=UTC))
    container.dispatch_due()
    nothing_yet = len(sender.sent)
    clock.set(datetime(2026, 3, 3, 13, 0, tzinfo=UTC))  # 08:00 EST
    container.dispatch_due()

    assert (nothing_yet, len(sender.sent)) == (0, 1)


def test_a_restart_loses_nothing_and_sends_nothing_twice(
    make_container: Callable[..., Container], clock: FakeClock, sender: FakeSmsSender
) -> None:
    first = make_container()
    enroll(first)
    clock.set(datetime(2026, 3, 3, 1, 0, tzinfo=UTC))
    first.dispatch_due()  # the safety notice, still fresh, and the heads-up
    first.close()

    second = make_container()  # same SQLite file
    for hour, minute in ((0, 15), (0, 40), (1, 0)):
        clock.set(datetime(2026, 3, 4, hour, minute, tzinfo=UTC))
        second.dispatch_due()
        second.dispatch_due()

    assert sender.sent[0].body == SAFETY_NOTICE
    assert [s.body.removeprefix("RollerCare: ")[:18] for s in sender.sent[1:]] == [
        "Roller session Tue",
        "Roller session at ",
        "Now a gentle peel ",
        "Time to roll (0.2 ",
    ]


def test_an_outage_longer_than_a_steps_freshness_expires_it_instead_of_sending_late(
    container: Container, clock: FakeClock, sender: FakeSmsSender
) -> None:
    enroll(container)
    clock.set(datetime(2026, 3, 4, 1, 30, tzinfo=UTC))  # down from before the heads-up until 20:30

    container.dispatch_due()

    assert [s.body.removeprefix("RollerCare: ")[:12] for s in sender.sent] == ["Time to roll"]
    assert statuses(container) == {
        "safety_notice": "expired",  # a day old at 15:00:05 on 3 March
        "heads_up": "expired",
        "makeup_removal": "expired",
        "peeling": "expired",
        "roll": "sent",
    }


def test_roll_is_not_sent_more_than_two_hours_late(
    container: Container, clock: FakeClock, sender: FakeSmsSender
) -> None:
    enroll(container)
    clock.set(datetime(2026, 3, 4, 3, 0, tzinfo=UTC))  # 22:00: roll expired at 22:00

    container.dispatch_due()

    assert sender.sent == []
    assert statuses(container)["roll"] == "expired"


def test_a_claim_whose_lease_ran_out_with_no_dispatcher_behind_it_is_sent(
    container: Container, clock: FakeClock, sender: FakeSmsSender
) -> None:
    enroll(container, confirmed=False)
    now = clock.now()
    with container.uow() as uow:  # claimed by no live dispatcher, never sent
        claimed = uow.reminders.claim_due(now, now + timedelta(seconds=60), 10)
        uow.commit()
    container.watch()
    container.dispatch_due()
    nothing_while_leased = len(sender.sent)

    clock.advance(timedelta(seconds=61))
    container.watch()  # asks the provider, which never took it, and releases it
    container.dispatch_due()

    assert len(claimed) == 1
    assert (nothing_while_leased, len(sender.sent), sender.lookups) == (0, 1, 1)


def test_a_claimed_reminder_is_not_claimed_by_a_second_dispatcher(container: Container) -> None:
    enroll(container, confirmed=False)
    now = container.clock.now()

    with container.uow() as uow:
        first = uow.reminders.claim_due(now, now + timedelta(seconds=60), 10)
        second = uow.reminders.claim_due(now, now + timedelta(seconds=60), 10)
        uow.commit()

    assert (len(first), len(second)) == (1, 0)


def test_reminders_of_a_paused_user_are_cancelled_not_sent(
    container: Container, clock: FakeClock, sender: FakeSmsSender
) -> None:
    user = enroll(container)
    with container.uow() as uow:
        # the status changes behind the dispatcher's back, as another replica would do it
        uow.users.set_status(user.id, UserStatus.PAUSED, clock.now())
        uow.commit()
    clock.set(datetime(2026, 3, 3, 1, 0, tzinfo=UTC))

    container.dispatch_due()

    # The safety notice still goes to a paused user; no reminder does.
    assert [s.body for s in sender.sent] == [SAFETY_NOTICE]
    assert statuses(container)["safety_notice"] == "sent"
    assert statuses(container)["heads_up"] == "cancelled"


def test_first_session_date_is_honoured(container: Container) -> None:
    user = enroll(container, first_session_date=date(2026, 3, 20))

    with container.uow() as uow:
        session = uow.sessions.upcoming(user.id)

    assert session is not None
    assert session.local_date == date(2026, 3, 20)
    assert session.starts_at.astimezone(UTC).time() == time(0, 0)  # 20:00 EDT


def update_plan(container: Container, run: Callable[[ReminderRepository, datetime], Any]) -> str:
    """The query plan of the UPDATE that `run` sends through a repository, at the clock's now."""
    executed: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        executed.append((statement, parameters))

    with container.engine.connect() as connection:
        event.listen(connection, "before_cursor_execute", capture)
        run(ReminderRepository(connection), container.clock.now())
        event.remove(connection, "before_cursor_execute", capture)
        # The UPDATE, exactly as sent (SQLite's BEGIN comes before it).
        statement, parameters = next(e for e in executed if e[0].startswith("UPDATE"))
        if connection.dialect.name == "postgresql":
            # The test table is tiny: forbid the sequential scan to see that the index serves.
            connection.exec_driver_sql("SET enable_seqscan = off")
        explain = "EXPLAIN " if connection.dialect.name == "postgresql" else "EXPLAIN QUERY PLAN "
        plan = connection.exec_driver_sql(explain + statement, parameters).all()
        connection.rollback()
    return " ".join(str(row) for row in plan)


def test_the_claim_query_uses_the_due_index(container: Container) -> None:
    plan = update_plan(
        container,
        lambda repository, now: repository.claim_due(now, now + timedelta(seconds=60), 200),
    )

    assert "ix_reminders_due" in plan


def test_a_cancelled_reminder_stays_cancelled_when_its_send_finishes(
    container: Container, clock: FakeClock, sender: FakeSmsSender
) -> None:
    user = enroll(container, confirmed=False)

    def opt_out_mid_send(_to: PhoneNumber, _body: str) -> None:
        with container.uow() as uow:
            uow.reminders.cancel_for_user(user.id, clock.now())
            uow.commit()

    sender.before_send = opt_out_mid_send
    container.dispatch_due()

    with container.engine.connect() as connection:
        status = connection.execute(select(reminder_rows.c.status)).scalar_one()
    assert status == "cancelled"


def test_claims_and_outcomes_need_no_begin_or_commit_on_postgresql(
    container: Container, sender: FakeSmsSender, database_url: str
) -> None:
    """On PostgreSQL a claim and a commit of outcomes are one statement each, run in
    autocommit mode: no round trips for BEGIN and COMMIT. SQLite keeps its transactions."""
    enroll(container, confirmed=False)
    executed: list[tuple[str, bool]] = []

    def note(connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        dbapi = connection.connection.dbapi_connection
        autocommit = bool(getattr(dbapi, "autocommit", False))
        executed.append((statement.split(None, 1)[0], autocommit))

    event.listen(container.engine, "before_cursor_execute", note)
    container.dispatch_due()
    event.remove(container.engine, "before_cursor_execute", note)

    assert len(sender.sent) == 1
    if container.engine.dialect.name == "postgresql":
        # The liveness beat (UPDATE dispatchers, then INSERT the first time), the claim, and
        # the outcome with its message.
        assert executed == [("UPDATE", True), ("INSERT", True), ("UPDATE", True), ("WITH", True)]
    else:
        assert all(not autocommit for _, autocommit in executed)


def test_a_user_with_an_unknown_zone_fails_alone_and_the_batch_goes_on(
    container: Container, sender: FakeSmsSender
) -> None:
    broken = enroll(container, phone="+14155550101", confirmed=False)
    enroll(container, phone="+14155550102", confirmed=False)
    with container.engine.begin() as connection:
        connection.execute(
            update(users).where(users.c.id == broken.id).values(timezone="Mars/Base")
        )

    container.dispatch_due()

    assert [s.to for s in sender.sent] == ["+14155550102"]
    with container.engine.connect() as connection:
        statuses = dict(
            connection.execute(select(reminder_rows.c.user_id, reminder_rows.c.status)).all()
        )
    assert statuses[broken.id] == "failed"


def test_the_watch_finds_unsettled_claims_through_the_due_index(container: Container) -> None:
    plan = update_plan(
        container,
        lambda repository, now: repository.take_over(
            now, now + timedelta(seconds=60), 200, "a" * 32, []
        ),
    )

    # Every half second: a range of the due index, never a scan of every reminder.
    assert "ix_reminders_due" in plan
