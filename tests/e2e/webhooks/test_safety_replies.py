"""Skin safety, end to end (continued from test_safety.py, whose fixtures and helpers these
tests share): the safety notice, the reply limiter, HELP naming SORE and the plan's SMS count,
a DONE with no session under way asked again, LATER far ahead, and the streak; through the
signed webhook and the real dispatcher, on SQLite and PostgreSQL. Every reply and SMS a test
sees is checked to be one GSM-7 segment."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from reminders.bootstrap import Container
from reminders.domain.model import SessionStatus, User, UserStatus
from tests.conversations import JOURNEY
from tests.e2e.conftest import AUTH
from tests.e2e.webhook_support import (
    FIRST_SESSION,
    PHONE,
    current,
    enroll_user,
    twilio_container,
    webhooks_for,
)
from tests.e2e.webhooks import test_safety as safety
from tests.e2e.webhooks.test_safety import (
    ADVICE,
    FIRST_ROLL,
    OPTED_OUT,
    SAFETY_NOTICE,
    TOO_MANY,
    Member,
    dispatch_at,
    ended,
    new_york,
    notice_sent,
    roll_time,
    sent,
)
from tests.fakes import FakeClock, FakeSmsSender
from tests.routine_driver import enroll
from tests.twilio_webhooks import FakeTwilioWebhooks

# The fixtures of test_safety.py: both databases, the member, every reply checked.
_postgres_schema = safety._postgres_schema
database_url = safety.database_url
seen = safety.seen
_one_segment_each = safety._one_segment_each
member = safety.member


# --- the safety notice ---------------------------------------------------------------------------


def test_yes_is_answered_with_the_welcome_and_the_safety_notice_follows_once_5s_later(
    container: Container,
    member: Member,
    clock: FakeClock,
    sender: FakeSmsSender,
    pending: User,
) -> None:
    yes_at = clock.now()

    reply = member.says("YES")

    assert reply is not None and reply.startswith("RollerCare: You're in! First roller session")
    dispatch_at(clock, container, yes_at + timedelta(seconds=4))
    assert sent(sender, SAFETY_NOTICE) == []
    dispatch_at(clock, container, yes_at + timedelta(seconds=5))
    assert sent(sender, SAFETY_NOTICE) == [yes_at + timedelta(seconds=5)]
    for _ in range(4):
        dispatch_at(clock, container, clock.now() + timedelta(hours=6))
    assert len(sent(sender, SAFETY_NOTICE)) == 1


def test_yes_in_quiet_hours_is_answered_at_once_and_the_notice_waits_for_8am(
    container: Container,
    member: Member,
    clock: FakeClock,
    sender: FakeSmsSender,
    pending: User,
) -> None:
    clock.set(new_york(date(2026, 3, 2), 22, 30))

    reply = member.says("YES")

    assert reply is not None and reply.startswith("RollerCare: You're in!")
    dispatch_at(clock, container, clock.now() + timedelta(seconds=5))
    dispatch_at(clock, container, new_york(date(2026, 3, 3), 7, 59, 59))
    assert sent(sender, SAFETY_NOTICE) == []
    dispatch_at(clock, container, new_york(date(2026, 3, 3), 8))
    assert sent(sender, SAFETY_NOTICE) == [new_york(date(2026, 3, 3), 8)]


def test_stop_then_start_does_not_send_the_safety_notice_again(
    container: Container,
    member: Member,
    clock: FakeClock,
    sender: FakeSmsSender,
    pending: User,
) -> None:
    member.says("YES")
    notice_sent(clock, container, sender)
    assert member.says("STOP") == OPTED_OUT

    reply = member.says("START")

    assert reply is not None and reply.startswith("RollerCare: You're subscribed again.")
    for _ in range(8):
        dispatch_at(clock, container, clock.now() + timedelta(hours=3))
    assert len(sent(sender, SAFETY_NOTICE)) == 1


def test_stop_and_start_while_quiet_hours_hold_the_notice_still_send_it_once_at_8am(
    container: Container,
    member: Member,
    clock: FakeClock,
    sender: FakeSmsSender,
    pending: User,
) -> None:
    clock.set(new_york(date(2026, 3, 2), 22, 30))
    member.says("YES")
    dispatch_at(clock, container, clock.now() + timedelta(minutes=10))
    assert member.says("STOP") == OPTED_OUT
    clock.advance(timedelta(minutes=10))

    reply = member.says("START")

    assert reply is not None and reply.startswith("RollerCare: You're subscribed again.")
    for at in (new_york(date(2026, 3, 2), 23), new_york(date(2026, 3, 3), 7, 59, 59)):
        dispatch_at(clock, container, at)
    assert sent(sender, SAFETY_NOTICE) == []
    dispatch_at(clock, container, new_york(date(2026, 3, 3), 8))
    dispatch_at(clock, container, new_york(date(2026, 3, 3), 12))
    assert sent(sender, SAFETY_NOTICE) == [new_york(date(2026, 3, 3), 8)]


def test_an_operator_confirmed_enrolment_gets_the_safety_notice_too(
    container: Container, twilio: FakeTwilioWebhooks, clock: FakeClock, sender: FakeSmsSender
) -> None:
    response = twilio.client.post(
        "/v1/users",
        json={"phone": PHONE, "timezone": "America/New_York", "consent": "confirmed"},
        headers=AUTH,
    )
    assert response.status_code == 201, response.text
    enrolled_at = clock.now()

    dispatch_at(clock, container, enrolled_at + timedelta(seconds=5))

    assert sent(sender, SAFETY_NOTICE) == [enrolled_at + timedelta(seconds=5)]
    dispatch_at(clock, container, enrolled_at + timedelta(hours=9))
    assert len(sent(sender, SAFETY_NOTICE)) == 1


# --- the reply limiter ---------------------------------------------------------------------------


def test_a_persons_busiest_two_minutes_get_a_reply_to_every_message(
    container: Container, member: Member, clock: FakeClock, pending: User
) -> None:
    started = clock.now()
    replies = []
    for body in JOURNEY:
        replies.append(member.says(body))
        clock.advance(timedelta(seconds=8))

    assert len(JOURNEY) == 15 and clock.now() - started == timedelta(minutes=2)
    for body, reply in zip(JOURNEY, replies, strict=True):
        assert reply, body
        assert reply != TOO_MANY, body
    assert replies[13] == ADVICE
    assert current(container, pending).status is UserStatus.ACTIVE


def test_a_bot_echoing_our_replies_is_cut_off_after_5_replies_and_one_notice(
    container: Container, member: Member, clock: FakeClock, active: User
) -> None:
    reply = member.says("my skin is red")  # the person, once
    assert reply == ADVICE

    echoes: list[str | None] = []
    while reply is not None and len(echoes) < 10:  # a bot sends back each of our replies
        clock.advance(timedelta(seconds=1))
        reply = member.says(reply)
        echoes.append(reply)

    # The notice says "Reply STOP to opt out": echoed, it opts the bot out, and STOP is
    # confirmed; the confirmation echoed gets nothing.
    assert echoes == [ADVICE] * 5 + [TOO_MANY, OPTED_OUT, None]
    assert current(container, active).status is UserStatus.OPTED_OUT


def test_a_bot_repeating_itself_gets_5_replies_one_notice_then_nothing_but_stop_is_confirmed(
    container: Container, member: Member, clock: FakeClock, active: User
) -> None:
    replies = []
    for _ in range(9):
        replies.append(member.says("Thanks for your message! I'm driving right now."))
        clock.advance(timedelta(seconds=2))

    assert replies[0] is not None and replies[0].startswith("RollerCare: Reply DONE, SKIP")
    assert replies[:6] == [replies[0]] * 5 + [TOO_MANY]
    assert replies[6:] == [None, None, None]
    assert member.says("STOP") == OPTED_OUT
    assert current(container, active).status is UserStatus.OPTED_OUT


# --- HELP ----------------------------------------------------------------------------------------


def test_help_names_sore_and_four_roller_msgs_per_session_with_the_default_plan(
    member: Member, active: User
) -> None:
    reply = member.says("HELP")

    assert reply is not None and "SORE" in reply
    assert "4 roller msgs per session" in reply


def test_help_names_two_roller_msgs_per_session_with_a_two_step_plan(
    make_container: Callable[..., Container], seen: list[str]
) -> None:
    container = twilio_container(make_container, plan="heads_up@-1d,roll@0s")
    enroll_user(container)
    with webhooks_for(container) as twilio:
        reply = Member(twilio, seen).says("HELP")

    assert reply is not None and "SORE" in reply
    assert "2 roller msgs per session" in reply


# --- DONE with no session under way, LATER far ahead ----------------------------------------


def test_done_right_after_joining_is_asked_again_and_recorded_when_repeated_within_10_minutes(
    container: Container, member: Member, clock: FakeClock, pending: User
) -> None:
    member.says("YES")

    reply = member.says("DONE")

    assert reply == (
        f"RollerCare: Reply DONE again to log a session today; next planned {FIRST_SESSION}."
    )
    assert ended(container, pending) == []
    assert roll_time(container, pending) == FIRST_ROLL
    clock.advance(timedelta(minutes=9, seconds=59))
    reply = member.says("DONE")
    assert reply is not None and reply.startswith("RollerCare: Well done!")
    done = ended(container, pending)
    assert [(s.status, s.kind.value) for s in done] == [(SessionStatus.DONE, "extra")]
    assert done[0].local_date == date(2026, 3, 2)


def test_a_done_more_than_10_minutes_after_the_first_is_asked_again(
    container: Container, member: Member, clock: FakeClock, pending: User
) -> None:
    member.says("YES")
    member.says("DONE")
    clock.advance(timedelta(minutes=10, seconds=1))

    reply = member.says("DONE")

    assert reply is not None and reply.startswith("RollerCare: Reply DONE again")
    assert ended(container, pending) == []
    clock.advance(timedelta(minutes=1))  # within 10 minutes of the DONE asked again
    reply = member.says("DONE")
    assert reply is not None and reply.startswith("RollerCare: Well done!")
    assert [s.kind.value for s in ended(container, pending)] == ["extra"]


def test_later_on_a_session_17_days_away_names_the_new_date_without_done(
    container: Container, member: Member
) -> None:
    user = enroll(container, phone=PHONE, first_session_date=date(2026, 3, 19))

    reply = member.says("LATER")

    assert reply == "RollerCare: Moved to Fri 20 Mar 20:00."
    assert roll_time(container, user) == new_york(date(2026, 3, 20), 20)


# --- the streak ----------------------------------------------------------------------------------


def test_three_sessions_done_in_a_row_are_named_and_a_skip_resets_the_streak(
    container: Container,
    member: Member,
    clock: FakeClock,
    sender: FakeSmsSender,
    active: User,
) -> None:
    replies = []
    for _ in range(3):
        dispatch_at(clock, container, roll_time(container, active))
        replies.append(member.says("DONE"))

    assert replies[0] == "RollerCare: Well done! Next roller session Tue 17 Mar 20:00."
    assert replies[1] == (
        "RollerCare: Well done! 2 sessions in a row. Next roller session Tue 31 Mar 20:00."
    )
    assert replies[2] == (
        "RollerCare: Well done! 3 sessions in a row. Next roller session Tue 14 Apr 20:00."
    )
    dispatch_at(clock, container, roll_time(container, active))
    assert member.says("SKIP") == "RollerCare: Skipped. Next roller session Tue 28 Apr 20:00."
    dispatch_at(clock, container, roll_time(container, active))
    assert member.says("DONE") == "RollerCare: Well done! Next roller session Tue 12 May 20:00."
    rolls = [sms for sms in sender.sent if sms.body.startswith("RollerCare: Time to roll")]
    assert len(rolls) == 5
