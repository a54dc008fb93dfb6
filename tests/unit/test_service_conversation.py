"""The conversation (docs/rules.md) through conversation.handle_inbound, on the in-memory unit
of work: one inbound SMS in, state changed, at most one reply."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest

from reminders.domain import messages as texts
from reminders.domain.conversation import Keyword
from reminders.domain.model import (
    ACTIVE_REMINDER_STATUSES,
    Direction,
    PhoneNumber,
    SessionStatus,
    Step,
    UserStatus,
)
from reminders.services.conversation import InboundResult, handle_inbound
from tests.fakes import FakeClock, InMemoryUnitOfWorkFactory, SessionRow, UserRow
from tests.fakes.repositories import InMemoryMessageRepository
from tests.unit.in_memory import PHONE, POLICY, enroll

STRANGER = PhoneNumber("+14155550199")
# The clock starts on Mon 2 March 2026, 10:00 in New York (tests/conftest.py); a confirmed
# user's first session is Tue 3 March at 20:00.
SESSION_START = datetime(2026, 3, 4, 1, 0, tzinfo=UTC)
_sids = itertools.count(1)


def text(
    factory: InMemoryUnitOfWorkFactory,
    clock: FakeClock,
    body: str,
    *,
    phone: PhoneNumber = PHONE,
    sid: str | None = None,
) -> InboundResult:
    with factory() as uow:
        result = handle_inbound(
            uow,
            POLICY,
            clock.now(),
            phone=phone,
            body=body,
            message_sid=sid or f"SM{next(_sids):032d}",
        )
        uow.commit()
    return result


def user_row(factory: InMemoryUnitOfWorkFactory, user_id: int) -> UserRow:
    return factory.store.tables.users[user_id]


def sessions(factory: InMemoryUnitOfWorkFactory, status: SessionStatus) -> list[SessionRow]:
    rows = factory.store.tables.sessions.values()
    return sorted((r for r in rows if r.status is status), key=lambda r: r.starts_at)


def pending_steps(factory: InMemoryUnitOfWorkFactory) -> list[Step]:
    rows = factory.store.tables.reminders.values()
    return [r.step for r in rows if r.status in ACTIVE_REMINDER_STATUSES]


def test_yes_confirms_consent_and_plans_the_first_session(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    user_id = enroll(factory, clock, confirmed=False).id

    reply = text(factory, clock, "yes")

    [session] = sessions(factory, SessionStatus.PLANNED)
    assert user_row(factory, user_id).status is UserStatus.ACTIVE
    assert (session.local_date, session.starts_at) == (date(2026, 3, 3), SESSION_START)
    assert reply.reply is not None and "First roller session Tue 3 Mar 20:00" in reply.reply


@pytest.mark.parametrize("answer", ["YES", "STOP"])
def test_an_answer_before_consent_cancels_the_unanswered_consent_question(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock, answer: str
) -> None:
    enroll(factory, clock, confirmed=False)

    text(factory, clock, answer)

    assert Step.CONSENT_REQUEST not in pending_steps(factory)


def test_done_in_an_open_session_ends_it_and_plans_the_next(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    enroll(factory, clock)
    clock.set(SESSION_START + timedelta(minutes=30))

    reply = text(factory, clock, "Done!")

    [done] = sessions(factory, SessionStatus.DONE)
    [upcoming] = sessions(factory, SessionStatus.PLANNED)
    assert done.local_date == date(2026, 3, 3)
    assert upcoming.local_date == date(2026, 3, 17)
    assert reply.reply is not None and "Next roller session Tue 17 Mar 20:00" in reply.reply


def test_done_cancels_what_is_left_of_the_ended_session(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    enroll(factory, clock)
    clock.set(SESSION_START - timedelta(minutes=30))  # before peeling and roll

    text(factory, clock, "DONE")

    [done] = sessions(factory, SessionStatus.DONE)
    rows = factory.store.tables.reminders.values()
    left = [r for r in rows if r.session_id == done.id and r.status in ACTIVE_REMINDER_STATUSES]
    assert [r.step for r in left] == [Step.SKIN_CHECK]  # only the check-in that follows it


def test_later_moves_the_session_a_day_at_the_same_wall_time(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    enroll(factory, clock)
    clock.set(SESSION_START - timedelta(minutes=30))

    reply = text(factory, clock, "later")

    [session] = sessions(factory, SessionStatus.PLANNED)
    assert (session.local_date, session.starts_at, session.later_count) == (
        date(2026, 3, 4),
        SESSION_START + timedelta(days=1),
        1,
    )
    assert reply.reply is not None and "Moved to Wed 4 Mar 20:00" in reply.reply


def test_a_fourth_later_is_refused_and_moves_nothing(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    enroll(factory, clock)
    clock.set(SESSION_START - timedelta(minutes=30))
    for _ in range(3):
        text(factory, clock, "LATER")

    reply = text(factory, clock, "LATER")

    [session] = sessions(factory, SessionStatus.PLANNED)
    assert (session.local_date, session.later_count) == (date(2026, 3, 6), 3)
    assert reply.reply == texts.later_refused_text(POLICY.brand)


def test_stop_opts_out_and_cancels_every_pending_reminder(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    user_id = enroll(factory, clock).id

    reply = text(factory, clock, "STOP")

    assert user_row(factory, user_id).status is UserStatus.OPTED_OUT
    assert pending_steps(factory) == []
    assert sessions(factory, SessionStatus.PLANNED) == []
    assert reply.reply == texts.opted_out_text(POLICY.brand)


def test_help_answers_and_changes_nothing(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    user_id = enroll(factory, clock).id
    before = pending_steps(factory)

    reply = text(factory, clock, "help")

    assert reply.keyword is Keyword.HELP
    assert reply.reply == texts.help_text(POLICY.brand, POLICY.help_contact, 4)
    assert user_row(factory, user_id).status is UserStatus.ACTIVE
    assert pending_steps(factory) == before


def test_a_retried_message_sid_changes_nothing_and_gets_no_reply(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    enroll(factory, clock)
    text(factory, clock, "LATER", sid="SM1")

    retried = text(factory, clock, "LATER", sid="SM1")

    [session] = sessions(factory, SessionStatus.PLANNED)
    assert (retried.duplicate, retried.reply) == (True, None)
    assert session.later_count == 1


def test_a_members_message_and_the_reply_are_recorded(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    user_id = enroll(factory, clock).id

    result = text(factory, clock, "Next?")

    recorded = [
        (m.user_id, m.direction, m.keyword, m.body, m.status)
        for m in factory.store.tables.messages.values()
    ]
    assert recorded == [
        (user_id, Direction.IN, "NEXT", "Next?", "received"),
        (user_id, Direction.OUT, "NEXT", result.reply, "replied"),
    ]


def test_the_same_text_a_sixth_time_gets_the_last_notice_then_silence(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    enroll(factory, clock)
    answered = [text(factory, clock, "NEXT").reply for _ in range(5)]

    sixth = text(factory, clock, "NEXT")
    seventh = text(factory, clock, "next")

    assert None not in answered
    assert sixth.reply == texts.limited_text(POLICY.brand, 30)
    assert seventh.reply is None


def test_replies_resume_once_the_silence_is_over(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    enroll(factory, clock)
    for _ in range(7):
        text(factory, clock, "NEXT")
    clock.advance(timedelta(minutes=29))
    silent = text(factory, clock, "NEXT")
    clock.advance(timedelta(minutes=1))

    reply = text(factory, clock, "NEXT")

    assert silent.reply is None
    assert reply.reply is not None and "Next roller session" in reply.reply


def test_commands_are_applied_while_replies_are_paused(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    user_id = enroll(factory, clock).id
    for _ in range(7):
        text(factory, clock, "NEXT")

    paused = text(factory, clock, "PAUSE")

    assert paused.reply is None
    assert user_row(factory, user_id).status is UserStatus.PAUSED


def test_stop_is_confirmed_even_past_the_reply_limit(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    enroll(factory, clock)
    for _ in range(7):
        text(factory, clock, "NEXT")

    reply = text(factory, clock, "STOP")

    assert reply.reply == texts.opted_out_text(POLICY.brand)


def test_a_stranger_saying_yes_is_told_once_a_day_they_are_not_enrolled(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    first = text(factory, clock, "YES", phone=STRANGER)
    clock.advance(timedelta(hours=23))
    second = text(factory, clock, "YES", phone=STRANGER)
    clock.advance(timedelta(hours=1))

    third = text(factory, clock, "YES", phone=STRANGER)

    assert first.reply == texts.not_enrolled_text(POLICY.brand)
    assert (second.reply, third.reply) == (None, first.reply)


def test_a_strangers_message_is_recorded_without_its_text_and_enrols_nobody(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    text(factory, clock, "YES it's me, Jane", phone=STRANGER)

    [message] = factory.store.tables.messages.values()
    assert (message.user_id, message.keyword, message.body) == (None, "YES", None)
    assert factory.store.tables.users == {}


def test_a_stranger_saying_anything_else_gets_no_reply(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    result = text(factory, clock, "hello?", phone=STRANGER)

    assert result.reply is None


def replayed(
    factory: InMemoryUnitOfWorkFactory,
    body: str,
    received_at: datetime,
    *,
    phone: PhoneNumber = PHONE,
    opt_out_type: str | None = None,
) -> InboundResult:
    """A message kept in a spool and applied later, at the time it was received."""
    with factory() as uow:
        result = handle_inbound(
            uow,
            POLICY,
            received_at,
            phone=phone,
            body=body,
            message_sid=f"SM{next(_sids):032d}",
            opt_out_type=opt_out_type,
            answering=False,
        )
        uow.commit()
    return result


def test_a_replayed_opt_in_older_than_the_users_last_stop_is_recorded_and_changes_nothing(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    # One replica keeps each opt-in while the user's later STOP reaches another one.
    user_id = enroll(factory, clock).id
    text(factory, clock, "STOP")
    received = [clock.advance(timedelta(minutes=1)) for _ in range(5)]
    clock.advance(timedelta(minutes=1))
    text(factory, clock, "stop it")
    clock.advance(timedelta(minutes=1))

    results = [
        replayed(factory, "START", received[0]),
        replayed(factory, "yes", received[1]),
        replayed(factory, "JOIN", received[2]),
        replayed(factory, "unstop", received[3]),
        replayed(factory, "ARRET", received[4], opt_out_type="START"),
    ]

    assert [r.reply for r in results] == [None] * 5
    assert user_row(factory, user_id).status is UserStatus.OPTED_OUT
    assert sessions(factory, SessionStatus.PLANNED) == []
    assert pending_steps(factory) == []
    kept = [r.keyword for r in factory.store.tables.messages.values() if r.created_at in received]
    assert kept == ["START", "YES", "JOIN", "START", "START"]


def test_a_replayed_opt_in_newer_than_the_users_last_stop_opts_them_back_in(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    user_id = enroll(factory, clock).id
    text(factory, clock, "STOP")
    received = clock.advance(timedelta(minutes=1))
    clock.advance(timedelta(minutes=1))

    replayed(factory, "START", received)

    assert user_row(factory, user_id).status is UserStatus.ACTIVE
    assert len(sessions(factory, SessionStatus.PLANNED)) == 1


def test_a_replayed_opt_in_is_undone_only_by_the_users_own_stop(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    user_id = enroll(factory, clock).id
    text(factory, clock, "STOP")
    received = clock.advance(timedelta(minutes=1))
    clock.advance(timedelta(minutes=1))
    text(factory, clock, "STOP", phone=STRANGER)
    text(factory, clock, "HELP")

    replayed(factory, "START", received)

    assert user_row(factory, user_id).status is UserStatus.ACTIVE


def test_only_a_replayed_message_asks_for_a_later_stop(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[int] = []
    monkeypatch.setattr(
        InMemoryMessageRepository,
        "opted_out_since",
        lambda self, user_id, since: asked.append(user_id) or False,
    )
    user_id = enroll(factory, clock).id
    text(factory, clock, "STOP")
    received = clock.advance(timedelta(minutes=1))

    text(factory, clock, "START")
    text(factory, clock, "STOP")
    replayed(factory, "START", received)

    assert asked == [user_id]


def test_a_strangers_yes_that_got_no_answer_does_not_use_up_the_days_answer(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    replayed(factory, "YES", clock.now(), phone=STRANGER)  # kept through an outage
    clock.advance(timedelta(minutes=1))
    with factory() as uow:  # Twilio's Advanced Opt-Out answered this one itself
        handle_inbound(
            uow,
            POLICY,
            clock.now(),
            phone=STRANGER,
            body="START",
            message_sid=f"SM{next(_sids):032d}",
            opt_out_type="START",
        )
        uow.commit()
    clock.advance(timedelta(minutes=1))

    answered = text(factory, clock, "JOIN", phone=STRANGER)

    assert answered.reply == texts.not_enrolled_text(POLICY.brand)


def test_an_extra_done_is_the_last_session_a_resume_keeps_seven_days_from(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    # Mon 2 March 10:00: the first session (Tue 3 March) has not opened, so DONE is extra.
    user_id = enroll(factory, clock).id

    text(factory, clock, "DONE")
    text(factory, clock, "DONE")  # confirmed: no session is under way
    text(factory, clock, "PAUSE")
    text(factory, clock, "RESUME")

    assert user_row(factory, user_id).last_session_date == date(2026, 3, 2)
    [upcoming] = sessions(factory, SessionStatus.PLANNED)
    assert upcoming.local_date >= date(2026, 3, 9)  # R2: 7 days after the extra session


def test_later_leaves_out_a_heads_up_whose_time_has_passed(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    enroll(factory, clock)
    # Tue 3 March 20:30: Wednesday's heads-up (a day before, Tue 20:00) is already past.
    clock.set(SESSION_START + timedelta(minutes=30))

    text(factory, clock, "LATER")

    [moved] = sessions(factory, SessionStatus.PLANNED)
    assert moved.local_date == date(2026, 3, 4)
    steps = [
        r.step
        for r in factory.store.tables.reminders.values()
        if r.session_id == moved.id and r.status in ACTIVE_REMINDER_STATUSES
    ]
    assert Step.HEADS_UP not in steps
    assert Step.ROLL in steps
