"""Status callbacks (docs/rules.md, Sending) through delivery.record_status, on the in-memory
unit of work: a message only ever moves forward, and the error code acts on its reminder and
its user."""

from __future__ import annotations

from datetime import timedelta

import pytest

from reminders.domain.model import ReminderStatus, UserStatus
from reminders.services.delivery import StatusOutcome, StatusResult, record_status
from reminders.services.dispatch import Dispatcher
from tests.fakes import (
    FakeClock,
    FakeSmsSender,
    InMemoryUnitOfWorkFactory,
    MessageRow,
    ReminderRow,
)
from tests.unit.in_memory import POLICY, enroll


@pytest.fixture
def sid(factory: InMemoryUnitOfWorkFactory, clock: FakeClock, sender: FakeSmsSender) -> str:
    """The provider SID of the consent question, just sent to a pending user."""
    enroll(factory, clock, confirmed=False)
    Dispatcher(uow_factory=factory, sender=sender, clock=clock, policy=POLICY).dispatch_due()
    [sms] = sender.sent
    return sms.sid


def status(
    factory: InMemoryUnitOfWorkFactory,
    clock: FakeClock,
    sid: str,
    word: str,
    error_code: int | None = None,
) -> StatusResult:
    with factory() as uow:
        result = record_status(
            uow, clock.now(), message_sid=sid, status=word, error_code=error_code
        )
        uow.commit()
    return result


def message(factory: InMemoryUnitOfWorkFactory) -> MessageRow:
    [row] = factory.store.tables.messages.values()
    return row


def question(factory: InMemoryUnitOfWorkFactory) -> ReminderRow:
    [row] = factory.store.tables.reminders.values()
    return row


def test_delivered_moves_the_message_and_its_reminder_forward(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock, sid: str
) -> None:
    result = status(factory, clock, sid, "delivered")

    assert result == StatusResult(StatusOutcome.UPDATED)
    assert (message(factory).status, message(factory).error_code) == ("delivered", None)
    assert question(factory).status is ReminderStatus.DELIVERED


def test_a_status_behind_the_one_recorded_is_stale_and_changes_nothing(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock, sid: str
) -> None:
    status(factory, clock, sid, "delivered")

    result = status(factory, clock, sid, "sent")

    assert result.outcome is StatusOutcome.STALE
    assert message(factory).status == "delivered"
    assert question(factory).status is ReminderStatus.DELIVERED


def test_a_final_status_never_changes(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock, sid: str
) -> None:
    status(factory, clock, sid, "delivered")

    result = status(factory, clock, sid, "failed", error_code=30008)

    assert result.outcome is StatusOutcome.STALE
    assert (message(factory).status, message(factory).error_code) == ("delivered", None)


def test_undelivered_to_an_unreachable_handset_is_scheduled_again_while_fresh(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock, sid: str
) -> None:
    result = status(factory, clock, sid, "undelivered", error_code=30003)

    retry_at = clock.now() + timedelta(seconds=5)
    reminder = question(factory)
    assert result == StatusResult(StatusOutcome.UPDATED, retry_at)
    assert (reminder.status, reminder.due_at, reminder.error_code) == (
        ReminderStatus.SCHEDULED,
        retry_at,
        30003,
    )
    assert (message(factory).status, message(factory).error_code) == ("undelivered", 30003)


def test_undelivered_to_an_unreachable_handset_fails_once_no_retry_fits(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock, sid: str
) -> None:
    clock.advance(timedelta(hours=24) - timedelta(seconds=2))  # the question's last seconds

    result = status(factory, clock, sid, "undelivered", error_code=30003)

    assert result == StatusResult(StatusOutcome.UPDATED)
    assert (question(factory).status, question(factory).error_code) == (
        ReminderStatus.FAILED,
        30003,
    )


def test_undelivered_for_another_reason_fails_the_reminder_and_leaves_the_user(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock, sid: str
) -> None:
    status(factory, clock, sid, "undelivered", error_code=30007)  # carrier filtering

    [user] = factory.store.tables.users.values()
    assert (question(factory).status, question(factory).error_code) == (
        ReminderStatus.FAILED,
        30007,
    )
    assert user.status is UserStatus.PENDING


def test_failed_because_the_recipient_opted_out_opts_the_user_out(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock, sid: str
) -> None:
    status(factory, clock, sid, "failed", error_code=21610)

    [user] = factory.store.tables.users.values()
    assert user.status is UserStatus.OPTED_OUT
    assert question(factory).status is ReminderStatus.FAILED


def test_a_status_for_an_unknown_message_changes_nothing(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock, sid: str
) -> None:
    result = status(factory, clock, "SM" + "f" * 32, "delivered")

    assert result.outcome is StatusOutcome.UNKNOWN_MESSAGE
    assert message(factory).status == "queued"


@pytest.mark.parametrize("word", ["read", "canceled", "bogus", ""])
def test_a_status_word_we_do_not_track_changes_nothing(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock, sid: str, word: str
) -> None:
    result = status(factory, clock, sid, word)

    assert result.outcome is StatusOutcome.UNKNOWN_STATUS
    assert message(factory).status == "queued"
