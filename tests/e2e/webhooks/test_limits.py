"""Through the signed webhook: numbers that are not enrolled, the per-number auto-reply rate
limit, retried webhooks, and counting inbound SMS for metrics."""

from __future__ import annotations

from datetime import timedelta

import pytest

from reminders.bootstrap import Container
from reminders.domain.model import PhoneNumber, User, UserStatus
from tests.e2e.webhook_support import (
    PHONE,
    STRANGER,
    current,
    enroll_user,
    inbound_count,
    upcoming,
)
from tests.fakes import FakeClock
from tests.twilio_webhooks import FakeTwilioWebhooks, new_sid

# --- numbers that are not enrolled -----------------------------------------------------------


@pytest.mark.parametrize("body", ["YES", "start", "JOIN"])
def test_unknown_number_asking_to_join_is_told_it_is_not_enrolled(
    twilio: FakeTwilioWebhooks, body: str
) -> None:
    reply = twilio.text(STRANGER, body)

    assert reply == (
        "RollerCare: This number is not enrolled. Ask your clinic or brand to sign you up."
    )


def test_unknown_number_is_told_it_is_not_enrolled_at_most_once_a_day(
    twilio: FakeTwilioWebhooks, clock: FakeClock
) -> None:
    twilio.text(STRANGER, "YES")
    clock.advance(timedelta(hours=23))

    assert twilio.text(STRANGER, "YES") is None

    clock.advance(timedelta(hours=1))
    assert twilio.text(STRANGER, "YES") is not None


@pytest.mark.parametrize("body", ["hello", "HELP", "STOP", "DONE"])
def test_unknown_number_texting_anything_else_gets_no_reply(
    twilio: FakeTwilioWebhooks, body: str
) -> None:
    assert twilio.text(STRANGER, body) is None


def test_unknown_number_enrols_nobody(container: Container, twilio: FakeTwilioWebhooks) -> None:
    twilio.text(STRANGER, "YES")

    with container.uow() as uow:
        assert uow.users.by_phone(PhoneNumber(STRANGER)) is None


# --- loops and retries -----------------------------------------------------------------------


def test_auto_replies_to_one_number_stop_after_five_in_ten_minutes(
    twilio: FakeTwilioWebhooks, active: User
) -> None:
    replies = [twilio.text(PHONE, "what?") for _ in range(6)]

    assert [r is not None for r in replies] == [True] * 5 + [False]


def test_auto_replies_start_again_once_the_rate_limit_window_has_passed(
    twilio: FakeTwilioWebhooks, clock: FakeClock, active: User
) -> None:
    for _ in range(6):
        twilio.text(PHONE, "what?")
    clock.advance(timedelta(minutes=10))

    assert twilio.text(PHONE, "what?") is not None


def test_the_rate_limit_of_one_number_leaves_others_alone(
    container: Container, twilio: FakeTwilioWebhooks, active: User
) -> None:
    other = "+14155550124"
    enroll_user(container, phone=other)
    for _ in range(6):
        twilio.text(PHONE, "what?")

    assert twilio.text(other, "what?") is not None


def test_rate_limited_commands_still_take_effect(
    container: Container, twilio: FakeTwilioWebhooks, active: User
) -> None:
    for _ in range(5):
        twilio.text(PHONE, "what?")

    assert twilio.text(PHONE, "PAUSE") is None
    assert current(container, active).status is UserStatus.PAUSED


def test_stop_is_confirmed_even_past_the_rate_limit(
    twilio: FakeTwilioWebhooks, active: User
) -> None:
    for _ in range(6):
        twilio.text(PHONE, "what?")

    assert twilio.text(PHONE, "STOP") is not None


def test_a_retried_webhook_is_applied_once_and_answered_once(
    container: Container, twilio: FakeTwilioWebhooks, active: User
) -> None:
    sid = new_sid()
    twilio.text(PHONE, "LATER", sid=sid)

    reply = twilio.text(PHONE, "LATER", sid=sid)

    assert reply is None
    session = upcoming(container, active)
    assert session is not None and session.later_count == 1
    assert inbound_count(container) == 1


# --- metrics ---------------------------------------------------------------------------------


def test_inbound_messages_are_counted_by_keyword_and_retries_are_not(
    container: Container, twilio: FakeTwilioWebhooks, active: User
) -> None:
    sid = new_sid()
    twilio.text(PHONE, "NEXT", sid=sid)
    twilio.text(PHONE, "NEXT", sid=sid)
    twilio.text(PHONE, "please stop")

    metrics = container.metrics.render().decode()

    assert 'reminders_inbound_messages_total{keyword="NEXT"} 1.0' in metrics
    assert 'reminders_inbound_messages_total{keyword="STOP"} 1.0' in metrics
