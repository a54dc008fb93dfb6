"""Twilio status callbacks, end to end: signed POSTs to /twilio/status update the message and
its reminder, only ever forwards, and act on what the error code says about the recipient."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select

from reminders.adapters.db import messages, reminder_rows
from reminders.bootstrap import Container
from reminders.domain.messages import safety_notice_text
from reminders.domain.model import Reminder, ReminderStatus, User, UserStatus
from reminders.ports import UnitOfWork
from tests.e2e.webhook_support import (
    PHONE,
    current,
    enroll_user,
)
from tests.fakes import FakeClock, FakeSmsSender
from tests.twilio_webhooks import STATUS_PATH, FakeTwilioWebhooks


@pytest.fixture
def sid(container: Container, sender: FakeSmsSender, pending: User) -> str:
    """The SID of the consent question, just sent to the pending user."""
    container.dispatch_due()
    assert len(sender.sent) == 1
    return sender.sent[0].sid


def message_status(container: Container, sid: str) -> tuple[str, int | None]:
    with container.engine.connect() as connection:
        row = connection.execute(
            select(messages.c.status, messages.c.error_code).where(messages.c.provider_sid == sid)
        ).one()
    return row.status, row.error_code


def sent_reminder(uow: UnitOfWork, sid: str) -> Reminder | None:
    message = uow.messages.by_provider_sid(sid)
    assert message is not None and message.reminder_id is not None
    return uow.reminders.sent_as(message.reminder_id, sid)


def reminder_status(container: Container, sid: str) -> ReminderStatus:
    with container.uow() as uow:
        reminder = sent_reminder(uow, sid)
    assert reminder is not None
    return reminder.status


def user_status(container: Container, user: User) -> UserStatus:
    return current(container, user).status


def test_delivered_updates_the_message_and_its_reminder(
    container: Container, twilio: FakeTwilioWebhooks, sid: str
) -> None:
    response = twilio.status(sid, "delivered")

    assert response.status_code == 200
    assert message_status(container, sid) == ("delivered", None)
    assert reminder_status(container, sid) is ReminderStatus.DELIVERED


@pytest.mark.parametrize("order", [["sending", "sent"], ["sent"], ["sending"]])
def test_statuses_before_delivery_move_the_message_forward(
    container: Container, twilio: FakeTwilioWebhooks, sid: str, order: list[str]
) -> None:
    for status in order:
        twilio.status(sid, status)

    assert message_status(container, sid) == (order[-1], None)
    assert reminder_status(container, sid) is ReminderStatus.SENT


def test_sent_arriving_after_delivered_does_not_move_the_message_back(
    container: Container, twilio: FakeTwilioWebhooks, sid: str
) -> None:
    twilio.status(sid, "delivered")

    response = twilio.status(sid, "sent")

    assert response.status_code == 200
    assert message_status(container, sid) == ("delivered", None)
    assert reminder_status(container, sid) is ReminderStatus.DELIVERED


def test_sending_arriving_after_sent_is_ignored(
    container: Container, twilio: FakeTwilioWebhooks, sid: str
) -> None:
    twilio.status(sid, "sent")

    twilio.status(sid, "sending")

    assert message_status(container, sid) == ("sent", None)


def test_a_final_status_never_changes(
    container: Container, twilio: FakeTwilioWebhooks, sid: str
) -> None:
    twilio.status(sid, "delivered")

    twilio.status(sid, "failed", error_code=30008)

    assert message_status(container, sid) == ("delivered", None)
    assert reminder_status(container, sid) is ReminderStatus.DELIVERED


def test_undelivered_fails_the_reminder_with_the_error_code(
    container: Container, twilio: FakeTwilioWebhooks, sid: str, pending: User
) -> None:
    twilio.status(sid, "undelivered", error_code=30007)  # carrier filtering

    assert message_status(container, sid) == ("undelivered", 30007)
    with container.uow() as uow:
        reminder = sent_reminder(uow, sid)
    assert reminder is not None
    assert (reminder.status, reminder.error_code) == (ReminderStatus.FAILED, 30007)
    assert user_status(container, pending) is UserStatus.PENDING


def test_a_repeated_callback_changes_nothing_the_second_time(
    container: Container, twilio: FakeTwilioWebhooks, sid: str
) -> None:
    twilio.status(sid, "undelivered", error_code=30007)

    twilio.status(sid, "undelivered", error_code=30008)

    assert message_status(container, sid) == ("undelivered", 30007)


def test_failed_because_the_recipient_opted_out_opts_the_user_out(
    container: Container, twilio: FakeTwilioWebhooks, sid: str, pending: User
) -> None:
    twilio.status(sid, "failed", error_code=21610)

    assert user_status(container, pending) is UserStatus.OPTED_OUT


def test_a_status_that_stops_the_user_reads_the_user_once_the_row_it_locks(
    container: Container, twilio: FakeTwilioWebhooks, sid: str, pending: User
) -> None:
    reads: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        words = " ".join(statement.split()).lower()
        if words.startswith("select") and " from users" in words:
            reads.append(statement)

    event.listen(container.engine, "before_cursor_execute", count)
    try:
        twilio.status(sid, "failed", error_code=21610)
    finally:
        event.remove(container.engine, "before_cursor_execute", count)

    assert user_status(container, pending) is UserStatus.OPTED_OUT
    assert len(reads) == 1, reads


@pytest.mark.parametrize("code", [30005, 30006, 21211, 21614])
def test_undelivered_to_a_number_that_cannot_receive_sms_marks_it_invalid(
    container: Container,
    twilio: FakeTwilioWebhooks,
    clock: FakeClock,
    sender: FakeSmsSender,
    code: int,
) -> None:
    active = enroll_user(container, confirmed=True)
    clock.advance(timedelta(hours=10))  # 2 March 20:00 in New York: the heads-up is due
    container.dispatch_due()  # and the safety notice, due since 10:00:05
    notice, heads_up = sender.sent
    assert notice.body == safety_notice_text("RollerCare")
    assert heads_up.body.startswith("RollerCare: Roller session Tue")

    twilio.status(heads_up.sid, "undelivered", error_code=code)

    assert user_status(container, active) is UserStatus.INVALID
    with container.engine.connect() as connection:
        left = connection.execute(
            select(reminder_rows.c.step).where(reminder_rows.c.status == "scheduled")
        ).all()
    assert left == []


def test_undelivered_to_an_unreachable_handset_is_sent_again_after_a_backoff(
    container: Container,
    twilio: FakeTwilioWebhooks,
    clock: FakeClock,
    sender: FakeSmsSender,
    sid: str,
) -> None:
    twilio.status(sid, "undelivered", error_code=30003)
    container.dispatch_due()
    assert len(sender.sent) == 1

    clock.advance(timedelta(seconds=5))
    container.dispatch_due()

    assert len(sender.sent) == 2
    assert sender.sent[1].body == sender.sent[0].body
    assert message_status(container, sid) == ("undelivered", 30003)
    assert reminder_status(container, sender.sent[1].sid) is ReminderStatus.SENT


def test_a_late_callback_for_the_first_send_leaves_the_second_send_alone(
    container: Container,
    twilio: FakeTwilioWebhooks,
    clock: FakeClock,
    sender: FakeSmsSender,
    sid: str,
) -> None:
    twilio.status(sid, "undelivered", error_code=30003)
    clock.advance(timedelta(seconds=5))
    container.dispatch_due()
    second = sender.sent[1].sid

    twilio.status(sid, "failed", error_code=30003)  # late, about the first send

    assert reminder_status(container, second) is ReminderStatus.SENT
    twilio.status(second, "delivered")
    assert reminder_status(container, second) is ReminderStatus.DELIVERED


def test_undelivered_to_an_unreachable_handset_is_not_retried_once_stale(
    container: Container,
    twilio: FakeTwilioWebhooks,
    clock: FakeClock,
    sender: FakeSmsSender,
    sid: str,
) -> None:
    clock.advance(timedelta(hours=24) - timedelta(seconds=2))  # the consent question's last hour

    twilio.status(sid, "undelivered", error_code=30003)
    clock.advance(timedelta(seconds=5))
    container.dispatch_due()

    assert len(sender.sent) == 1
    assert reminder_status(container, sid) is ReminderStatus.FAILED


def test_a_status_for_an_unknown_message_is_acknowledged(
    container: Container, twilio: FakeTwilioWebhooks, sid: str
) -> None:
    response = twilio.status("SM" + "f" * 32, "delivered")

    assert response.status_code == 200
    assert message_status(container, sid) == ("queued", None)


@pytest.mark.parametrize("status", ["read", "canceled", "bogus", ""])
def test_a_status_we_do_not_track_is_acknowledged_and_changes_nothing(
    container: Container, twilio: FakeTwilioWebhooks, sid: str, status: str
) -> None:
    response = twilio.status(sid, status)

    assert response.status_code == 200
    assert message_status(container, sid) == ("queued", None)


def test_a_status_callback_with_a_wrong_signature_is_refused_and_changes_nothing(
    container: Container, twilio: FakeTwilioWebhooks, sid: str
) -> None:
    params = twilio.status_params(sid, "delivered")

    response = twilio.post(STATUS_PATH, params, signature="d3Jvbmc=")

    assert response.status_code == 403
    assert message_status(container, sid) == ("queued", None)


def test_a_status_callback_without_a_signature_is_refused(
    container: Container, twilio: FakeTwilioWebhooks, sid: str
) -> None:
    response = twilio.post(STATUS_PATH, twilio.status_params(sid, "failed"), signature=None)

    assert response.status_code == 403
    assert message_status(container, sid) == ("queued", None)


def test_a_status_callback_for_an_inbound_message_changes_nothing(
    container: Container, twilio: FakeTwilioWebhooks, pending: User
) -> None:
    inbound_sid = "SM" + "a" * 32
    twilio.text(PHONE, "YES", sid=inbound_sid)

    twilio.status(inbound_sid, "failed", error_code=21610)

    assert message_status(container, inbound_sid) == ("received", None)
    assert user_status(container, pending) is UserStatus.ACTIVE
