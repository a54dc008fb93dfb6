"""Through the signed webhook: numbers that are not enrolled, the per-number reply limiter
(reminders/domain/reply_limit.py), retried webhooks, and counting inbound SMS for metrics."""

from __future__ import annotations

from datetime import timedelta

import pytest

from reminders.bootstrap import Container
from reminders.domain.messages import keywords_text, limited_text, opted_out_text
from reminders.domain.model import PausedReason, PhoneNumber, User, UserStatus
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


# --- the reply limiter: a person is always answered, a loop is cut off --------------------------

KEYWORDS = keywords_text("RollerCare")
LAST_NOTICE = limited_text("RollerCare", 30)
# A busy person: 20 messages in under two minutes, none sent more than twice in a row.
# (HELP on its own is answered outside the limiter's count; "help please" is counted.)
CONVERSATION = ["NEXT", "help please", "TIME 19:30", "TIME 19:30", "EVERY 21", "NEXT", "what?"]
CONVERSATION += ["what?", "LATER", "LATER", "NEXT", "EVERY 14", "TIME 20:00", "help me", "NEXT"]
CONVERSATION += ["DONE", "DONE", "NEXT", "thanks", "NEXT"]


def test_a_persons_varied_commands_are_all_answered(
    twilio: FakeTwilioWebhooks, clock: FakeClock, active: User
) -> None:
    replies = []
    for body in CONVERSATION:
        replies.append(twilio.text(PHONE, body))
        clock.advance(timedelta(seconds=5))

    assert len(replies) == 20
    assert all(reply is not None and reply != LAST_NOTICE for reply in replies), replies


def test_a_twenty_first_reply_in_ten_minutes_is_the_last_notice(
    twilio: FakeTwilioWebhooks, clock: FakeClock, active: User
) -> None:
    for body in CONVERSATION:
        twilio.text(PHONE, body)
        clock.advance(timedelta(seconds=25))  # the 21st comes 8 min 20 s after the first

    assert twilio.text(PHONE, "NEXT") == LAST_NOTICE
    assert twilio.text(PHONE, "help me") is None
    assert twilio.text(PHONE, "HELP") is not None  # HELP on its own is always answered


def test_the_same_text_a_sixth_time_in_a_row_gets_the_last_notice_then_silence(
    twilio: FakeTwilioWebhooks, active: User
) -> None:
    # The same text whatever its case and spacing.
    bodies = ["what?", "What?", "WHAT?", "what? ", "  what?", "wHaT?", "what?", "NEXT"]

    replies = [twilio.text(PHONE, body) for body in bodies]

    assert replies == [KEYWORDS] * 5 + [LAST_NOTICE, None, None]


def test_the_same_text_counts_in_a_row_only(twilio: FakeTwilioWebhooks, active: User) -> None:
    bodies = ["what?"] * 5 + ["NEXT"] + ["what?"] * 5

    replies = [twilio.text(PHONE, body) for body in bodies]

    assert replies[:5] == replies[6:] == [KEYWORDS] * 5
    assert replies[5] is not None and replies[5] != LAST_NOTICE


def test_a_new_window_starts_ten_minutes_after_the_first_reply(
    twilio: FakeTwilioWebhooks, clock: FakeClock, active: User
) -> None:
    for _ in range(5):
        twilio.text(PHONE, "what?")
    clock.advance(timedelta(minutes=10))

    assert [twilio.text(PHONE, "what?") for _ in range(6)] == [KEYWORDS] * 5 + [LAST_NOTICE]


def test_replies_start_again_thirty_minutes_after_the_last_notice(
    twilio: FakeTwilioWebhooks, clock: FakeClock, active: User
) -> None:
    for _ in range(6):
        twilio.text(PHONE, "what?")

    clock.advance(timedelta(minutes=30) - timedelta(seconds=1))
    still_silent = twilio.text(PHONE, "what?")
    clock.advance(timedelta(seconds=1))

    assert still_silent is None
    assert [twilio.text(PHONE, "what?") for _ in range(6)] == [KEYWORDS] * 5 + [LAST_NOTICE]


def test_the_limit_of_one_number_leaves_others_alone(
    container: Container, twilio: FakeTwilioWebhooks, active: User
) -> None:
    other = "+14155550124"
    enroll_user(container, phone=other)
    for _ in range(6):
        twilio.text(PHONE, "what?")

    assert twilio.text(other, "what?") == KEYWORDS


def test_commands_take_effect_while_replies_are_held_back(
    container: Container, twilio: FakeTwilioWebhooks, active: User
) -> None:
    for _ in range(6):
        twilio.text(PHONE, "what?")

    paused_reply = twilio.text(PHONE, "PAUSE")
    paused = current(container, active)
    resumed_reply = twilio.text(PHONE, "RESUME")

    assert (paused_reply, paused.status, paused.paused_reason) == (
        None,
        UserStatus.PAUSED,
        PausedReason.USER,
    )
    assert resumed_reply is None
    assert current(container, active).status is UserStatus.ACTIVE
    assert upcoming(container, active) is not None


def test_stop_is_confirmed_even_while_replies_are_held_back(
    container: Container, twilio: FakeTwilioWebhooks, active: User
) -> None:
    for _ in range(6):
        twilio.text(PHONE, "what?")

    assert twilio.text(PHONE, "STOP") == opted_out_text("RollerCare")
    assert current(container, active).status is UserStatus.OPTED_OUT


def test_what_a_number_sent_before_it_was_enrolled_does_not_count(
    container: Container, twilio: FakeTwilioWebhooks
) -> None:
    for _ in range(30):  # told it is not enrolled once, never limited
        twilio.text(STRANGER, "YES")
    enroll_user(container, phone=STRANGER)

    assert [twilio.text(STRANGER, "what?") for _ in range(6)] == [KEYWORDS] * 5 + [LAST_NOTICE]


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
