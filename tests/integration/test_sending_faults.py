"""What the dispatcher does when the SMS provider fails: transient errors are retried with
capped exponential backoff while the reminder is fresh, permanent ones end it, and errors that
say something about the recipient change the user (docs/rules.md, Sending)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from reminders.adapters.db import reminder_rows
from reminders.bootstrap import Container
from reminders.domain.errors import SmsSendError
from reminders.domain.model import PhoneNumber, User, UserStatus
from reminders.services import routine
from tests.conftest import DATABASES, both_databases
from tests.fakes import FakeClock, FakeSmsSender
from tests.routine_driver import enroll, enroll_notified

PHONES = ["+14155550123", "+14155550124", "+14155550125"]
# START is 2 March 2026 10:00 in New York; a 20:00 user's heads-up goes out at 20:00 that day
# (10 h later) and their roll on 3 March at 20:00 (34 h later). Their safety notice goes 5 s
# after consent: `enroll_notified` sends it first, so that the faults below meet the reminders.
HEADS_UP_DUE = timedelta(hours=10)
ROLL_DUE = timedelta(hours=34)


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest) -> str:
    return both_databases(request)


def rate_limited() -> SmsSendError:
    return SmsSendError("twilio refused: HTTP 429", code=20429, permanent=False)


TRANSIENT = {
    "rate limit": rate_limited,
    "server error": lambda: SmsSendError("HTTP 500", code=20500, permanent=False),
    "unavailable": lambda: SmsSendError("HTTP 503", code=20503, permanent=False),
    "timeout": lambda: SmsSendError("ReadTimeout", code=None, permanent=False),
    "queue overflow": lambda: SmsSendError("HTTP 400", code=30001, permanent=False),
}


def reminder(container: Container, step: str, user: User | None = None) -> dict[str, object]:
    query = select(reminder_rows).where(reminder_rows.c.step == step)
    if user is not None:
        query = query.where(reminder_rows.c.user_id == user.id)
    with container.engine.connect() as connection:
        return dict(connection.execute(query).one()._mapping)


def status_of(container: Container, user: User) -> UserStatus:
    with container.uow() as uow:
        return routine.get_user(uow, user.id).status


def run_for(container: Container, clock: FakeClock, duration: timedelta, step: timedelta) -> None:
    end = clock.now() + duration
    while clock.now() < end:
        container.dispatch_due()
        clock.advance(step)


@pytest.mark.parametrize("error", TRANSIENT.values(), ids=TRANSIENT.keys())
def test_a_storm_of_transient_errors_is_retried_until_every_message_is_sent_once(
    container: Container, clock: FakeClock, sender: FakeSmsSender, error: Callable[[], SmsSendError]
) -> None:
    for phone in PHONES:
        enroll_notified(container, clock, sender, phone=phone)
    clock.advance(HEADS_UP_DUE)
    sender.fail_with(*(error() for _ in range(10)))

    run_for(container, clock, timedelta(minutes=5), timedelta(seconds=5))

    assert sorted(s.to for s in sender.sent) == PHONES
    assert sender.errors == []


def test_retries_back_off_exponentially_up_to_five_minutes(
    container: Container, clock: FakeClock, sender: FakeSmsSender
) -> None:
    enroll_notified(container, clock, sender)
    clock.advance(HEADS_UP_DUE)
    sender.fail_with(*(rate_limited() for _ in range(8)))
    delays = []

    for _ in range(8):
        container.dispatch_due()
        due_at = reminder(container, "heads_up")["due_at"]
        assert isinstance(due_at, datetime)
        delays.append((due_at - clock.now()).total_seconds())
        clock.set(due_at)

    assert delays == [5, 10, 20, 40, 80, 160, 300, 300]


def test_a_retried_message_is_sent_when_its_backoff_ends_and_not_before(
    container: Container, clock: FakeClock, sender: FakeSmsSender
) -> None:
    enroll_notified(container, clock, sender)
    clock.advance(HEADS_UP_DUE)
    sender.fail_with(rate_limited())
    container.dispatch_due()

    clock.advance(timedelta(seconds=4))
    container.dispatch_due()
    assert sender.sent == []

    clock.advance(timedelta(seconds=1))
    container.dispatch_due()
    assert len(sender.sent) == 1


def test_a_retried_message_keeps_count_of_its_attempts(
    container: Container, clock: FakeClock, sender: FakeSmsSender
) -> None:
    enroll_notified(container, clock, sender)
    clock.advance(HEADS_UP_DUE)
    sender.fail_with(rate_limited(), rate_limited())

    run_for(container, clock, timedelta(minutes=1), timedelta(seconds=5))

    row = reminder(container, "heads_up")
    assert (row["status"], row["attempts"], row["claims"]) == ("sent", 3, 3)


def test_transient_errors_that_outlast_its_freshness_fail_the_message_instead_of_sending_late(
    make_container: Callable[..., Container], clock: FakeClock, sender: FakeSmsSender
) -> None:
    container = make_container(quiet_hours="off")  # else 21:00 would expire the roll first
    enroll(container)
    clock.advance(ROLL_DUE)  # the prep steps expire unsent; the roll is due
    sender.fail_with(*(rate_limited() for _ in range(100)))

    run_for(container, clock, timedelta(hours=3), timedelta(minutes=1))

    assert sender.sent == []
    row = reminder(container, "roll")
    assert (row["status"], row["error_code"]) == ("failed", 20429)


def test_a_bug_in_the_sender_is_retried_like_a_transient_error(
    container: Container, clock: FakeClock, sender: FakeSmsSender
) -> None:
    enroll_notified(container, clock, sender)
    clock.advance(HEADS_UP_DUE)
    calls = []

    def explode_once(_to: PhoneNumber, _body: str) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise KeyError("bug")

    sender.before_send = explode_once

    run_for(container, clock, timedelta(seconds=30), timedelta(seconds=5))

    assert len(sender.sent) == 1


def test_a_permanent_error_ends_the_message_without_a_retry(
    container: Container, clock: FakeClock, sender: FakeSmsSender
) -> None:
    user = enroll_notified(container, clock, sender)
    clock.advance(HEADS_UP_DUE)
    sender.fail_with(SmsSendError("HTTP 400", code=21612, permanent=True))

    run_for(container, clock, timedelta(hours=1), timedelta(minutes=1))

    row = reminder(container, "heads_up")
    assert (row["status"], row["attempts"], row["error_code"]) == ("failed", 1, 21612)
    assert sender.sent == []
    assert status_of(container, user) is UserStatus.ACTIVE


def test_a_permanent_error_leaves_the_users_later_messages_alone(
    container: Container, clock: FakeClock, sender: FakeSmsSender
) -> None:
    enroll_notified(container, clock, sender)
    clock.advance(HEADS_UP_DUE)
    sender.fail_with(SmsSendError("HTTP 400", code=21612, permanent=True))
    container.dispatch_due()

    clock.advance(ROLL_DUE - HEADS_UP_DUE)
    container.dispatch_due()

    assert len(sender.sent) == 1 and "Time to roll" in sender.sent[0].body


def test_a_recipient_who_opted_out_at_twilio_is_opted_out_here(
    container: Container, clock: FakeClock, sender: FakeSmsSender
) -> None:
    user = enroll_notified(container, clock, sender)
    clock.advance(HEADS_UP_DUE)
    sender.fail_with(SmsSendError("unsubscribed recipient", code=21610, permanent=True))

    run_for(container, clock, ROLL_DUE, timedelta(minutes=15))

    assert status_of(container, user) is UserStatus.OPTED_OUT
    assert sender.sent == []


@pytest.mark.parametrize("code", [21211, 21614, 21635, 30005, 30006])
def test_a_number_that_cannot_receive_sms_is_marked_invalid_and_gets_nothing_more(
    container: Container, clock: FakeClock, sender: FakeSmsSender, code: int
) -> None:
    user = enroll_notified(container, clock, sender)
    clock.advance(HEADS_UP_DUE)
    sender.fail_with(SmsSendError("invalid number", code=code, permanent=True))

    run_for(container, clock, ROLL_DUE, timedelta(minutes=15))

    assert status_of(container, user) is UserStatus.INVALID
    assert sender.sent == []


def test_an_invalid_number_does_not_stop_other_users_messages(
    container: Container, clock: FakeClock, sender: FakeSmsSender
) -> None:
    enroll_notified(container, clock, sender, phone=PHONES[0])
    enroll_notified(container, clock, sender, phone=PHONES[1])
    clock.advance(HEADS_UP_DUE)
    sender.fail_with(SmsSendError("invalid number", code=21211, permanent=True))

    container.dispatch_due()

    assert [s.to for s in sender.sent] == [PHONES[1]]
