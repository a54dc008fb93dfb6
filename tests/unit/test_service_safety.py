"""Skin safety through the use cases, on the in-memory unit of work with a fake clock and sender:
a reaction pauses, the safety notice once consent is given, the tolerance check-in after the
first session, DONE asked again, LATER far away, the streak, HELP, and the reply limiter that
answers a person and cuts off a bot (conversation.handle_inbound and the Dispatcher)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest

from reminders.domain import messages as texts
from reminders.domain.checkin import CHECKIN_FRESH, CheckInTiming
from reminders.domain.conversation import Keyword
from reminders.domain.model import (
    ACTIVE_REMINDER_STATUSES,
    CheckIn,
    PausedReason,
    PhoneNumber,
    ReminderStatus,
    SessionKind,
    SessionStatus,
    Step,
    User,
    UserStatus,
)
from reminders.domain.planning import parse_plan
from reminders.domain.reply_limit import REPLIES_PER_WINDOW, SAME_TEXT_REPLIES
from reminders.services import bulk, routine
from reminders.services.conversation import InboundResult, handle_inbound
from reminders.services.dispatch import Dispatcher
from reminders.services.policy import Policy
from tests.conversations import JOURNEY
from tests.fakes import (
    FakeClock,
    FakeSmsSender,
    InMemoryUnitOfWorkFactory,
    ReminderRow,
    SessionRow,
    UserRow,
)
from tests.unit.in_memory import PHONE, POLICY, enroll

# The clock starts on Mon 2 March 2026, 10:00 in New York (EST, tests/conftest.py). A user on
# the usual schedule (20:00, every 14 days) has a first session on Tue 3 March at 20:00; its
# heads-up is due on Mon 2 March at 20:00. New York moves to EDT on Sun 8 March.
START = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
HEADS_UP_AT = datetime(2026, 3, 3, 1, 0, tzinfo=UTC)  # Mon 2 Mar 20:00 EST
FIRST_SESSION = datetime(2026, 3, 4, 1, 0, tzinfo=UTC)  # Tue 3 Mar 20:00 EST
CHECKIN_AT = datetime(2026, 3, 5, 1, 0, tzinfo=UTC)  # Wed 4 Mar 20:00 EST: +1d, same wall time
SECOND_SESSION = datetime(2026, 3, 18, 0, 0, tzinfo=UTC)  # Tue 17 Mar 20:00 EDT
BRAND = POLICY.brand
SORE = texts.sore_text(BRAND)
MENU = texts.keywords_text(BRAND)
SAFETY = texts.safety_notice_text(BRAND)
SKIN_CHECK = texts.skin_check_text(BRAND)
LIMITED = texts.limited_text(BRAND, 30)
_sids = itertools.count(1)


# --- helpers -----------------------------------------------------------------------------------


def text(
    factory: InMemoryUnitOfWorkFactory,
    clock: FakeClock,
    body: str,
    *,
    policy: Policy = POLICY,
    phone: PhoneNumber = PHONE,
) -> InboundResult:
    """One inbound SMS from `phone`, applied now and committed."""
    with factory() as uow:
        result = handle_inbound(
            uow,
            policy,
            clock.now(),
            phone=phone,
            body=body,
            message_sid=f"SM{next(_sids):032d}",
        )
        uow.commit()
    return result


def enroll_on(
    factory: InMemoryUnitOfWorkFactory,
    clock: FakeClock,
    policy: Policy,
    *,
    confirmed: bool = True,
) -> User:
    """Enrol PHONE on the usual schedule under another policy (plan, check-in, quiet hours)."""
    schedule = routine.make_schedule(
        policy, timezone="America/New_York", session_time="20:00", cadence_days=14
    )
    with factory() as uow:
        user = routine.enroll(
            uow, policy, clock.now(), phone=PHONE, schedule=schedule, consent_confirmed=confirmed
        )
        uow.commit()
    return user


def user_row(factory: InMemoryUnitOfWorkFactory, user_id: int = 1) -> UserRow:
    return factory.store.tables.users[user_id]


def sessions(factory: InMemoryUnitOfWorkFactory, status: SessionStatus) -> list[SessionRow]:
    rows = factory.store.tables.sessions.values()
    return sorted((r for r in rows if r.status is status), key=lambda r: r.starts_at)


def planned(factory: InMemoryUnitOfWorkFactory) -> SessionRow:
    [session] = sessions(factory, SessionStatus.PLANNED)
    return session


def rows(factory: InMemoryUnitOfWorkFactory, step: Step) -> list[ReminderRow]:
    found = factory.store.tables.reminders.values()
    return sorted((r for r in found if r.step is step), key=lambda r: r.id)


def pending_steps(factory: InMemoryUnitOfWorkFactory) -> list[Step]:
    found = factory.store.tables.reminders.values()
    return [
        r.step for r in sorted(found, key=lambda r: r.id) if r.status in ACTIVE_REMINDER_STATUSES
    ]


def dispatcher_for(
    factory: InMemoryUnitOfWorkFactory,
    sender: FakeSmsSender,
    clock: FakeClock,
    policy: Policy = POLICY,
) -> Dispatcher:
    return Dispatcher(uow_factory=factory, sender=sender, clock=clock, policy=policy)


@pytest.fixture
def dispatcher(
    factory: InMemoryUnitOfWorkFactory, sender: FakeSmsSender, clock: FakeClock
) -> Dispatcher:
    return dispatcher_for(factory, sender, clock)


def sent(sender: FakeSmsSender) -> list[tuple[str, datetime]]:
    """Every SMS the dispatcher sent to PHONE: its text and when."""
    return [(s.body, s.at) for s in sender.sent if s.to == PHONE.e164]


def enroll_and_warn(
    factory: InMemoryUnitOfWorkFactory,
    clock: FakeClock,
    dispatcher: Dispatcher,
    sender: FakeSmsSender,
) -> User:
    """A confirmed user whose safety notice, due seconds after enrolment, has gone out."""
    user = enroll(factory, clock)
    clock.advance(timedelta(seconds=5))
    dispatcher.dispatch_due()
    assert [body for body, _ in sent(sender)] == [SAFETY]
    sender.sent.clear()
    return user


def done_at(factory: InMemoryUnitOfWorkFactory, clock: FakeClock, starts_at: datetime) -> str:
    """DONE half an hour into the session starting at `starts_at`; the reply."""
    clock.set(starts_at + timedelta(minutes=30))
    reply = text(factory, clock, "DONE").reply
    assert reply is not None
    return reply


def check_in_sent(
    factory: InMemoryUnitOfWorkFactory,
    clock: FakeClock,
    dispatcher: Dispatcher,
    sender: FakeSmsSender,
) -> SessionRow:
    """The first session done, and the check-in after it sent; that session."""
    enroll_and_warn(factory, clock, dispatcher, sender)
    done_at(factory, clock, FIRST_SESSION)
    clock.set(CHECKIN_AT)
    dispatcher.dispatch_due()
    assert sent(sender) == [(SKIN_CHECK, CHECKIN_AT)]
    [done] = sessions(factory, SessionStatus.DONE)
    return done


# --- a skin reaction -----------------------------------------------------------------------------


def test_a_reaction_pauses_for_it_and_cancels_the_reminders_but_keeps_the_safety_notice(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    enroll(factory, clock)

    result = text(factory, clock, "my face is really red this morning")

    row = user_row(factory)
    assert (result.keyword, result.reply, result.checkin) == (Keyword.SORE, SORE, None)
    assert (row.status, row.paused_reason) == (UserStatus.PAUSED, PausedReason.SKIN_REACTION)
    assert sessions(factory, SessionStatus.PLANNED) == []
    assert len(sessions(factory, SessionStatus.CANCELLED)) == 1
    assert pending_steps(factory) == [Step.SAFETY_NOTICE]
    cancelled = [r.step for r in factory.store.tables.reminders.values() if r.session_id]
    assert cancelled == [Step.HEADS_UP, Step.MAKEUP_REMOVAL, Step.PEELING, Step.ROLL]
    assert all(
        r.status is ReminderStatus.CANCELLED
        for r in factory.store.tables.reminders.values()
        if r.session_id
    )


def test_the_safety_notice_kept_through_a_reaction_still_goes_to_the_paused_user(
    factory: InMemoryUnitOfWorkFactory,
    clock: FakeClock,
    dispatcher: Dispatcher,
    sender: FakeSmsSender,
) -> None:
    enroll(factory, clock)
    text(factory, clock, "it burns already??")
    clock.advance(timedelta(seconds=5))

    dispatcher.dispatch_due()

    assert sent(sender) == [(SAFETY, clock.now())]


def test_a_reaction_from_a_user_who_has_not_consented_gets_the_advice_and_changes_nothing(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    enroll(factory, clock, confirmed=False)

    result = text(factory, clock, "YES! though my skin is a bit red")

    row = user_row(factory)
    assert (result.keyword, result.reply) == (Keyword.SORE, SORE)
    assert (row.status, row.paused_reason, row.safety_notice_at) == (
        UserStatus.PENDING,
        None,
        None,
    )
    assert factory.store.tables.sessions == {}
    assert pending_steps(factory) == [Step.CONSENT_REQUEST]


def test_a_reaction_from_a_user_paused_by_pause_makes_skin_reaction_the_reason(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    enroll(factory, clock)
    text(factory, clock, "PAUSE")

    result = text(factory, clock, "skin still itchy from last time")

    row = user_row(factory)
    assert result.reply == SORE
    assert (row.status, row.paused_reason) == (UserStatus.PAUSED, PausedReason.SKIN_REACTION)


def test_done_but_it_stings_in_an_open_session_records_it_then_pauses(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    enroll(factory, clock)
    clock.set(FIRST_SESSION + timedelta(minutes=30))

    result = text(factory, clock, "Done, but it stings")

    [done] = sessions(factory, SessionStatus.DONE)
    row = user_row(factory)
    assert (result.keyword, result.reply) == (Keyword.SORE, SORE)
    assert (done.local_date, done.starts_at, done.kind) == (
        date(2026, 3, 3),
        FIRST_SESSION,
        SessionKind.PLANNED,
    )
    assert row.last_session_date == date(2026, 3, 3)
    assert (row.status, row.paused_reason) == (UserStatus.PAUSED, PausedReason.SKIN_REACTION)
    assert sessions(factory, SessionStatus.PLANNED) == []
    assert Step.SKIN_CHECK not in pending_steps(factory)  # paused: no check-in goes out


def test_done_but_red_with_no_session_under_way_records_an_extra_session_then_pauses(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    # Mon 10:00, before any reminder: the reaction records the session at once (no "DONE
    # again?"), so that the 7 days of R2 count from today.
    enroll(factory, clock)

    result = text(factory, clock, "done but red")

    [extra] = sessions(factory, SessionStatus.DONE)
    row = user_row(factory)
    assert result.reply == SORE
    assert (extra.kind, extra.local_date) == (SessionKind.EXTRA, date(2026, 3, 2))
    assert (row.last_session_date, row.status) == (date(2026, 3, 2), UserStatus.PAUSED)


def test_resume_after_a_reaction_plans_a_check_in_after_the_next_session_done(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    enroll(factory, clock)
    done_at(factory, clock, FIRST_SESSION)  # the first session's check-in is used up
    assert user_row(factory).checkin_due is False
    clock.set(FIRST_SESSION + timedelta(hours=3))
    text(factory, clock, "it's gone all red and blotchy")
    clock.advance(timedelta(days=2))

    resumed = text(factory, clock, "RESUME")

    after_pause = planned(factory)
    assert resumed.reply == texts.resumed_text(BRAND, "Tue 10 Mar 20:00")  # R2: 7 days on
    assert user_row(factory).checkin_due is True
    done_at(factory, clock, after_pause.starts_at)
    [check] = [r for r in rows(factory, Step.SKIN_CHECK) if r.session_id == after_pause.id]
    assert check.status is ReminderStatus.SCHEDULED
    assert check.send_at == after_pause.starts_at + timedelta(days=1)  # same wall time, EDT
    assert factory.store.tables.sessions[after_pause.id].checkin is CheckIn.ASKED
    assert user_row(factory).checkin_due is False


def test_a_pause_that_cancels_the_check_in_unsent_brings_it_after_the_next_session(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    enroll(factory, clock)
    done_at(factory, clock, FIRST_SESSION)
    text(factory, clock, "PAUSE")  # before the check-in's time: it is cancelled unsent
    text(factory, clock, "RESUME")
    after_pause = planned(factory)

    done_at(factory, clock, after_pause.starts_at)

    checks = rows(factory, Step.SKIN_CHECK)
    assert [(r.session_id, r.status) for r in checks] == [
        (1, ReminderStatus.CANCELLED),
        (after_pause.id, ReminderStatus.SCHEDULED),
    ]


def test_resume_after_a_pause_once_the_check_in_went_out_plans_no_new_one(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    enroll(factory, clock)
    done_at(factory, clock, FIRST_SESSION)
    [check] = rows(factory, Step.SKIN_CHECK)
    check.status, check.sent_at = ReminderStatus.SENT, check.send_at  # it went out
    text(factory, clock, "PAUSE")
    text(factory, clock, "RESUME")
    after_pause = planned(factory)

    done_at(factory, clock, after_pause.starts_at)

    assert [r.session_id for r in rows(factory, Step.SKIN_CHECK)] == [1]
    assert factory.store.tables.sessions[after_pause.id].checkin is None


# --- the safety notice ---------------------------------------------------------------------------


def test_yes_plans_the_safety_notice_seconds_after_the_welcome(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    enroll(factory, clock, confirmed=False)
    clock.advance(timedelta(minutes=3))

    welcome = text(factory, clock, "YES")

    [notice] = rows(factory, Step.SAFETY_NOTICE)
    assert welcome.reply == texts.welcome_text(BRAND, "Tue 3 Mar 20:00")
    assert (notice.session_id, notice.status) == (None, ReminderStatus.SCHEDULED)
    assert notice.send_at == clock.now() + timedelta(seconds=5)
    assert notice.expires_at == notice.send_at + timedelta(hours=24)
    row = user_row(factory)
    assert (row.safety_notice_at, row.checkin_due) == (clock.now(), True)


def test_the_dispatcher_sends_the_safety_notice_five_seconds_after_yes(
    factory: InMemoryUnitOfWorkFactory,
    clock: FakeClock,
    dispatcher: Dispatcher,
    sender: FakeSmsSender,
) -> None:
    enroll(factory, clock, confirmed=False)
    dispatcher.dispatch_due()  # the consent question
    sender.sent.clear()
    clock.advance(timedelta(minutes=3))
    yes_at = clock.now()
    text(factory, clock, "yes")
    clock.advance(timedelta(seconds=4))
    dispatcher.dispatch_due()
    early = sent(sender)
    clock.advance(timedelta(seconds=1))

    dispatcher.dispatch_due()

    assert early == []
    assert sent(sender) == [(SAFETY, yes_at + timedelta(seconds=5))]
    assert rows(factory, Step.SAFETY_NOTICE)[0].status is ReminderStatus.SENT


def test_a_safety_notice_due_in_quiet_hours_is_held_until_eight(
    factory: InMemoryUnitOfWorkFactory,
    clock: FakeClock,
    dispatcher: Dispatcher,
    sender: FakeSmsSender,
) -> None:
    enroll(factory, clock, confirmed=False)
    dispatcher.dispatch_due()
    sender.sent.clear()
    clock.set(datetime(2026, 3, 3, 3, 30, tzinfo=UTC))  # Mon 2 March 22:30 in New York
    text(factory, clock, "YES")
    clock.advance(timedelta(seconds=5))
    dispatcher.dispatch_due()
    held = rows(factory, Step.SAFETY_NOTICE)[0]
    eight = datetime(2026, 3, 3, 13, 0, tzinfo=UTC)  # Tue 3 March 08:00 EST
    clock.set(eight - timedelta(seconds=1))
    dispatcher.dispatch_due()
    before_eight = sent(sender)
    clock.set(eight)

    dispatcher.dispatch_due()

    assert (held.status, held.due_at) == (ReminderStatus.SCHEDULED, eight)
    assert before_eight == []
    assert sent(sender) == [(SAFETY, eight)]


def test_the_safety_notice_is_not_planned_again_on_a_second_yes_or_on_stop_and_start(
    factory: InMemoryUnitOfWorkFactory,
    clock: FakeClock,
    dispatcher: Dispatcher,
    sender: FakeSmsSender,
) -> None:
    enroll(factory, clock, confirmed=False)
    text(factory, clock, "YES")
    first_planned_at = user_row(factory).safety_notice_at
    clock.advance(timedelta(seconds=5))
    dispatcher.dispatch_due()
    clock.advance(timedelta(minutes=1))

    for body in ["YES", "STOP", "START", "YES", "PAUSE", "RESUME", "JOIN"]:
        text(factory, clock, body)
        clock.advance(timedelta(minutes=1))
    clock.advance(timedelta(seconds=5))
    dispatcher.dispatch_due()

    assert user_row(factory).status is UserStatus.ACTIVE
    assert len(rows(factory, Step.SAFETY_NOTICE)) == 1
    assert user_row(factory).safety_notice_at == first_planned_at
    assert [body for body, _ in sent(sender)].count(SAFETY) == 1


def test_a_safety_notice_cancelled_unsent_by_a_stop_is_sent_after_start(
    factory: InMemoryUnitOfWorkFactory,
    clock: FakeClock,
    dispatcher: Dispatcher,
    sender: FakeSmsSender,
) -> None:
    enroll(factory, clock, confirmed=False)
    dispatcher.dispatch_due()
    sender.sent.clear()
    clock.set(datetime(2026, 3, 3, 3, 30, tzinfo=UTC))  # Mon 22:30: the notice waits for 08:00
    text(factory, clock, "YES")
    clock.advance(timedelta(minutes=30))
    text(factory, clock, "STOP")
    clock.set(datetime(2026, 3, 3, 14, 0, tzinfo=UTC))  # Tue 09:00
    text(factory, clock, "START")
    clock.advance(timedelta(seconds=5))

    dispatcher.dispatch_due()

    assert [body for body, _ in sent(sender)] == [SAFETY]
    assert [r.status for r in rows(factory, Step.SAFETY_NOTICE)] == [
        ReminderStatus.CANCELLED,
        ReminderStatus.SENT,
    ]


def test_a_safety_notice_that_expired_unsent_is_planned_again_on_a_later_opt_in(
    factory: InMemoryUnitOfWorkFactory,
    clock: FakeClock,
    dispatcher: Dispatcher,
    sender: FakeSmsSender,
) -> None:
    enroll(factory, clock)  # the dispatcher is down for more than a day
    clock.advance(timedelta(days=1, minutes=1))
    dispatcher.dispatch_due()
    text(factory, clock, "STOP")
    text(factory, clock, "START")
    clock.advance(timedelta(seconds=5))

    dispatcher.dispatch_due()

    assert [r.status for r in rows(factory, Step.SAFETY_NOTICE)] == [
        ReminderStatus.EXPIRED,
        ReminderStatus.SENT,
    ]
    assert [body for body, _ in sent(sender)].count(SAFETY) == 1


def test_an_operator_confirmed_enrolment_plans_the_safety_notice(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    enroll(factory, clock, confirmed=True)

    [notice] = rows(factory, Step.SAFETY_NOTICE)
    row = user_row(factory)
    assert (notice.session_id, notice.send_at) == (None, clock.now() + timedelta(seconds=5))
    assert (row.safety_notice_at, row.checkin_due) == (clock.now(), True)


def test_an_operators_bulk_enrolment_plans_the_safety_notice_for_the_consented_only(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    schedule = routine.make_schedule(
        POLICY, timezone="America/New_York", session_time="20:00", cadence_days=14
    )
    entries = [
        bulk.Enrollment(PhoneNumber("+14155550101"), schedule, consent_confirmed=True),
        bulk.Enrollment(PhoneNumber("+14155550102"), schedule, consent_confirmed=False),
    ]
    with factory() as uow:
        bulk.enroll_many(uow, POLICY, clock.now(), entries)
        uow.commit()

    [notice] = rows(factory, Step.SAFETY_NOTICE)
    assert (notice.user_id, notice.send_at) == (1, clock.now() + timedelta(seconds=5))
    assert (user_row(factory, 1).safety_notice_at, user_row(factory, 2).safety_notice_at) == (
        clock.now(),
        None,
    )


def test_a_user_who_has_not_consented_gets_no_safety_notice(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    enroll(factory, clock, confirmed=False)
    text(factory, clock, "HELP")
    text(factory, clock, "NEXT")

    assert rows(factory, Step.SAFETY_NOTICE) == []
    assert user_row(factory).safety_notice_at is None


# --- the tolerance check-in ------------------------------------------------------------------


def test_the_first_session_done_plans_a_check_in_the_next_day_at_the_session_time(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    enroll(factory, clock)

    done_at(factory, clock, FIRST_SESSION)

    [done] = sessions(factory, SessionStatus.DONE)
    [check] = rows(factory, Step.SKIN_CHECK)
    assert (check.session_id, check.status) == (done.id, ReminderStatus.SCHEDULED)
    assert (check.send_at, check.expires_at) == (CHECKIN_AT, CHECKIN_AT + CHECKIN_FRESH)
    assert done.checkin is CheckIn.ASKED
    assert user_row(factory).checkin_due is False


def test_the_second_session_done_plans_no_check_in(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    enroll(factory, clock)
    done_at(factory, clock, FIRST_SESSION)
    assert planned(factory).starts_at == SECOND_SESSION

    done_at(factory, clock, SECOND_SESSION)

    first, second = sessions(factory, SessionStatus.DONE)
    assert [r.session_id for r in rows(factory, Step.SKIN_CHECK)] == [first.id]
    assert (first.checkin, second.checkin) == (CheckIn.ASKED, None)


def test_a_skipped_session_plans_no_check_in_and_the_first_one_done_does(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    enroll(factory, clock)
    clock.set(FIRST_SESSION - timedelta(hours=2))

    text(factory, clock, "SKIP")

    assert rows(factory, Step.SKIN_CHECK) == []
    assert user_row(factory).checkin_due is True
    after_skip = planned(factory)
    done_at(factory, clock, after_skip.starts_at)
    [check] = rows(factory, Step.SKIN_CHECK)
    assert check.session_id == after_skip.id


def test_the_dispatcher_sends_the_check_in_at_the_next_days_session_time(
    factory: InMemoryUnitOfWorkFactory,
    clock: FakeClock,
    dispatcher: Dispatcher,
    sender: FakeSmsSender,
) -> None:
    enroll_and_warn(factory, clock, dispatcher, sender)
    done_at(factory, clock, FIRST_SESSION)
    clock.set(CHECKIN_AT - timedelta(seconds=1))
    dispatcher.dispatch_due()
    early = sent(sender)
    clock.set(CHECKIN_AT)

    dispatcher.dispatch_due()

    assert early == []
    assert sent(sender) == [(SKIN_CHECK, CHECKIN_AT)]
    assert rows(factory, Step.SKIN_CHECK)[0].status is ReminderStatus.SENT


@pytest.mark.parametrize("answer", ["OK", "ok thanks", "Fine", "good!", "GREAT", "okay :)"])
def test_ok_answers_the_check_in_with_thanks(
    factory: InMemoryUnitOfWorkFactory,
    clock: FakeClock,
    dispatcher: Dispatcher,
    sender: FakeSmsSender,
    answer: str,
) -> None:
    done = check_in_sent(factory, clock, dispatcher, sender)
    clock.advance(timedelta(hours=1))

    result = text(factory, clock, answer)

    assert (result.keyword, result.checkin) == (Keyword.OK, CheckIn.OK)
    assert result.reply == texts.checkin_ok_text(BRAND, "Tue 17 Mar 20:00")
    assert factory.store.tables.sessions[done.id].checkin is CheckIn.OK
    assert user_row(factory).status is UserStatus.ACTIVE
    assert planned(factory).starts_at == SECOND_SESSION


def test_a_second_ok_after_the_check_in_is_answered_gets_the_keyword_menu(
    factory: InMemoryUnitOfWorkFactory,
    clock: FakeClock,
    dispatcher: Dispatcher,
    sender: FakeSmsSender,
) -> None:
    done = check_in_sent(factory, clock, dispatcher, sender)
    text(factory, clock, "OK")

    again = text(factory, clock, "fine")

    assert (again.reply, again.checkin) == (MENU, None)
    assert factory.store.tables.sessions[done.id].checkin is CheckIn.OK


def test_a_reaction_answers_the_check_in_as_reaction_and_pauses(
    factory: InMemoryUnitOfWorkFactory,
    clock: FakeClock,
    dispatcher: Dispatcher,
    sender: FakeSmsSender,
) -> None:
    done = check_in_sent(factory, clock, dispatcher, sender)
    clock.advance(timedelta(hours=1))

    result = text(factory, clock, "a bit red still")

    row = user_row(factory)
    assert (result.keyword, result.reply, result.checkin) == (
        Keyword.SORE,
        SORE,
        CheckIn.REACTION,
    )
    assert factory.store.tables.sessions[done.id].checkin is CheckIn.REACTION
    assert (row.status, row.paused_reason) == (UserStatus.PAUSED, PausedReason.SKIN_REACTION)
    assert sessions(factory, SessionStatus.PLANNED) == []


def test_no_answer_to_the_check_in_leaves_it_asked_and_changes_nothing(
    factory: InMemoryUnitOfWorkFactory,
    clock: FakeClock,
    dispatcher: Dispatcher,
    sender: FakeSmsSender,
) -> None:
    done = check_in_sent(factory, clock, dispatcher, sender)
    before = planned(factory)

    clock.advance(timedelta(days=3))
    dispatcher.dispatch_due()

    row = user_row(factory)
    assert factory.store.tables.sessions[done.id].checkin is CheckIn.ASKED
    assert (row.status, row.paused_reason, row.checkin_due) == (UserStatus.ACTIVE, None, False)
    assert (planned(factory).id, planned(factory).starts_at) == (before.id, SECOND_SESSION)
    assert sent(sender) == [(SKIN_CHECK, CHECKIN_AT)]  # sent once, never again


def test_an_ok_up_to_two_days_after_the_check_in_answers_it(
    factory: InMemoryUnitOfWorkFactory,
    clock: FakeClock,
    dispatcher: Dispatcher,
    sender: FakeSmsSender,
) -> None:
    done = check_in_sent(factory, clock, dispatcher, sender)
    clock.set(CHECKIN_AT + timedelta(days=2))

    result = text(factory, clock, "OK")

    assert result.checkin is CheckIn.OK
    assert factory.store.tables.sessions[done.id].checkin is CheckIn.OK


def test_an_ok_more_than_two_days_after_the_check_in_gets_the_keyword_menu(
    factory: InMemoryUnitOfWorkFactory,
    clock: FakeClock,
    dispatcher: Dispatcher,
    sender: FakeSmsSender,
) -> None:
    done = check_in_sent(factory, clock, dispatcher, sender)
    clock.set(CHECKIN_AT + timedelta(days=2, seconds=1))

    result = text(factory, clock, "OK")

    assert (result.reply, result.checkin) == (MENU, None)
    assert factory.store.tables.sessions[done.id].checkin is CheckIn.ASKED


def test_an_ok_with_no_check_in_at_all_gets_the_keyword_menu(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    enroll(factory, clock)

    result = text(factory, clock, "OK")

    assert (result.keyword, result.reply, result.checkin) == (Keyword.OK, MENU, None)


def test_an_ok_before_the_check_in_has_gone_out_gets_the_keyword_menu(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    enroll(factory, clock)
    done_at(factory, clock, FIRST_SESSION)  # the check-in is planned for tomorrow

    result = text(factory, clock, "great")

    [done] = sessions(factory, SessionStatus.DONE)
    assert (result.reply, result.checkin) == (MENU, None)
    assert done.checkin is CheckIn.ASKED


def test_no_check_in_is_planned_when_reminders_checkin_is_off(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    off = Policy(checkin=None)
    enroll_on(factory, clock, off)
    clock.set(FIRST_SESSION + timedelta(minutes=30))

    result = text(factory, clock, "DONE", policy=off)

    [done] = sessions(factory, SessionStatus.DONE)
    assert result.reply is not None and result.reply.startswith(f"{BRAND}: Well done!")
    assert rows(factory, Step.SKIN_CHECK) == []
    assert done.checkin is None


def test_a_check_in_two_hours_after_falls_in_quiet_hours_and_goes_at_eight(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock, sender: FakeSmsSender
) -> None:
    two_hours = Policy(checkin=CheckInTiming(after=timedelta(hours=2)))
    enroll_on(factory, clock, two_hours)
    clock.set(FIRST_SESSION + timedelta(minutes=30))
    text(factory, clock, "DONE", policy=two_hours)
    eight = datetime(2026, 3, 4, 13, 0, tzinfo=UTC)  # Wed 4 March 08:00 EST, not 22:00

    [check] = rows(factory, Step.SKIN_CHECK)
    assert (check.send_at, check.expires_at) == (eight, FIRST_SESSION + timedelta(hours=26))
    clock.set(eight)
    dispatcher_for(factory, sender, clock, two_hours).dispatch_due()
    assert (SKIN_CHECK, eight) in sent(sender)


def test_a_check_in_two_hours_after_with_no_quiet_hours_goes_at_ten_pm(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock, sender: FakeSmsSender
) -> None:
    policy = Policy(checkin=CheckInTiming(after=timedelta(hours=2)), quiet_hours=None)
    enroll_on(factory, clock, policy)
    clock.set(FIRST_SESSION + timedelta(minutes=30))
    text(factory, clock, "DONE", policy=policy)
    ten_pm = FIRST_SESSION + timedelta(hours=2)

    clock.set(ten_pm)
    dispatcher_for(factory, sender, clock, policy).dispatch_due()

    assert (SKIN_CHECK, ten_pm) in sent(sender)


def test_a_check_in_not_sent_within_a_day_of_its_time_expires(
    factory: InMemoryUnitOfWorkFactory,
    clock: FakeClock,
    dispatcher: Dispatcher,
    sender: FakeSmsSender,
) -> None:
    enroll_and_warn(factory, clock, dispatcher, sender)
    done_at(factory, clock, FIRST_SESSION)
    clock.set(CHECKIN_AT + CHECKIN_FRESH)  # the dispatcher was down for a day

    dispatcher.dispatch_due()

    assert sent(sender) == []
    assert rows(factory, Step.SKIN_CHECK)[0].status is ReminderStatus.EXPIRED


def test_a_check_in_late_but_within_the_day_is_still_sent(
    factory: InMemoryUnitOfWorkFactory,
    clock: FakeClock,
    dispatcher: Dispatcher,
    sender: FakeSmsSender,
) -> None:
    enroll_and_warn(factory, clock, dispatcher, sender)
    done_at(factory, clock, FIRST_SESSION)
    late = CHECKIN_AT + CHECKIN_FRESH - timedelta(seconds=1)  # Thu 5 March 19:59:59 EST
    clock.set(late)

    dispatcher.dispatch_due()

    assert sent(sender) == [(SKIN_CHECK, late)]


def test_a_check_in_planned_is_cancelled_by_a_pause(
    factory: InMemoryUnitOfWorkFactory,
    clock: FakeClock,
    dispatcher: Dispatcher,
    sender: FakeSmsSender,
) -> None:
    enroll_and_warn(factory, clock, dispatcher, sender)
    done_at(factory, clock, FIRST_SESSION)
    text(factory, clock, "PAUSE")
    clock.set(CHECKIN_AT)

    dispatcher.dispatch_due()

    assert sent(sender) == []
    assert rows(factory, Step.SKIN_CHECK)[0].status is ReminderStatus.CANCELLED


# --- DONE with no session under way ----------------------------------------------------------


def test_done_before_any_reminder_of_the_session_asks_for_it_again(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    enroll(factory, clock)  # Mon 10:00; the heads-up goes out at 20:00

    result = text(factory, clock, "DONE")

    assert result.reply == (
        f"{BRAND}: Reply DONE again to log a session today; next planned Tue 3 Mar 20:00."
    )
    assert result.reply == texts.done_confirm_text(BRAND, "Tue 3 Mar 20:00")
    assert sessions(factory, SessionStatus.DONE) == []
    assert planned(factory).starts_at == FIRST_SESSION
    assert user_row(factory).done_asked_at == clock.now()
    assert user_row(factory).last_session_date is None


def test_done_again_within_ten_minutes_records_the_session(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    enroll(factory, clock)
    text(factory, clock, "DONE")
    clock.advance(timedelta(minutes=10))

    result = text(factory, clock, "done")

    [extra] = sessions(factory, SessionStatus.DONE)
    assert (extra.kind, extra.local_date) == (SessionKind.EXTRA, date(2026, 3, 2))
    assert result.reply == texts.done_text(BRAND, "Mon 16 Mar 20:00", False, 1)
    assert planned(factory).local_date == date(2026, 3, 16)  # 14 days on from today
    row = user_row(factory)
    assert (row.last_session_date, row.done_asked_at) == (date(2026, 3, 2), None)


def test_done_again_after_ten_minutes_asks_again_and_the_next_within_ten_counts(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    enroll(factory, clock)
    text(factory, clock, "DONE")
    clock.advance(timedelta(minutes=10, seconds=1))

    asked_again = text(factory, clock, "DONE")
    clock.advance(timedelta(minutes=9))
    counted = text(factory, clock, "DONE")

    assert asked_again.reply == texts.done_confirm_text(BRAND, "Tue 3 Mar 20:00")
    assert counted.reply is not None and counted.reply.startswith(f"{BRAND}: Well done!")
    assert len(sessions(factory, SessionStatus.DONE)) == 1


def test_a_done_once_recorded_is_asked_again_next_time(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    enroll(factory, clock)
    text(factory, clock, "DONE")
    text(factory, clock, "DONE")
    clock.advance(timedelta(minutes=1))

    third = text(factory, clock, "DONE")

    assert third.reply == texts.done_confirm_text(BRAND, "Mon 16 Mar 20:00")
    assert len(sessions(factory, SessionStatus.DONE)) == 1


def test_done_from_the_heads_up_on_counts_at_once(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    enroll(factory, clock)
    clock.set(HEADS_UP_AT - timedelta(seconds=1))
    before = text(factory, clock, "DONE")
    clock.set(HEADS_UP_AT)

    at_heads_up = text(factory, clock, "DONE")

    assert before.reply == texts.done_confirm_text(BRAND, "Tue 3 Mar 20:00")
    [done] = sessions(factory, SessionStatus.DONE)
    assert (done.kind, done.starts_at) == (SessionKind.PLANNED, FIRST_SESSION)
    assert at_heads_up.reply == texts.done_text(BRAND, "Mon 16 Mar 20:00", False, 1)


def test_a_session_done_answers_an_earlier_done_question_so_a_later_done_asks_again(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    enroll(factory, clock)
    clock.set(HEADS_UP_AT - timedelta(minutes=1))
    text(factory, clock, "DONE")  # asked to send it again
    clock.set(HEADS_UP_AT)
    text(factory, clock, "DONE")  # the session is open: it counts, and answers the question
    clock.advance(timedelta(minutes=5))

    third = text(factory, clock, "DONE")

    assert third.reply == texts.done_confirm_text(BRAND, "Mon 16 Mar 20:00")
    assert [s.kind for s in sessions(factory, SessionStatus.DONE)] == [SessionKind.PLANNED]


# --- LATER -----------------------------------------------------------------------------------


def test_later_on_a_session_more_than_a_day_away_gives_the_new_date_and_nothing_about_done(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    enroll(factory, clock)  # Mon 10:00; the session is Tue 20:00, 34 hours away

    result = text(factory, clock, "LATER")

    assert result.reply == f"{BRAND}: Moved to Wed 4 Mar 20:00."
    assert "DONE" not in result.reply
    assert planned(factory).local_date == date(2026, 3, 4)


def test_later_a_second_more_than_a_day_before_the_session_says_nothing_about_done(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    enroll(factory, clock)
    clock.set(FIRST_SESSION - timedelta(days=1, seconds=1))

    result = text(factory, clock, "LATER")

    assert result.reply == texts.moved_text(BRAND, "Wed 4 Mar 20:00", soon=False)


@pytest.mark.parametrize(
    "before_start",
    [timedelta(days=1), timedelta(hours=2), timedelta(0), -timedelta(minutes=30)],
    ids=["a day before", "two hours before", "at the start", "started"],
)
def test_later_on_a_session_within_a_day_invites_done(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock, before_start: timedelta
) -> None:
    enroll(factory, clock)
    clock.set(FIRST_SESSION - before_start)

    result = text(factory, clock, "later")

    assert result.reply == f"{BRAND}: Moved to Wed 4 Mar 20:00. Reply DONE when finished."


# --- the streak --------------------------------------------------------------------------------


def test_the_done_reply_names_the_streak_from_two_on(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    enroll(factory, clock)

    first = done_at(factory, clock, FIRST_SESSION)
    second = done_at(factory, clock, planned(factory).starts_at)
    third = done_at(factory, clock, planned(factory).starts_at)

    assert first == f"{BRAND}: Well done! Next roller session Tue 17 Mar 20:00."
    assert (
        second == f"{BRAND}: Well done! 2 sessions in a row. Next roller session Tue 31 Mar 20:00."
    )
    assert "3 sessions in a row." in third


def test_a_skipped_session_ends_the_streak(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    enroll(factory, clock)
    done_at(factory, clock, FIRST_SESSION)
    done_at(factory, clock, planned(factory).starts_at)
    clock.set(planned(factory).starts_at - timedelta(hours=1))
    text(factory, clock, "SKIP")

    after_skip = done_at(factory, clock, planned(factory).starts_at)
    again = done_at(factory, clock, planned(factory).starts_at)

    assert "in a row" not in after_skip
    assert "2 sessions in a row." in again


def test_an_unconfirmed_session_ends_the_streak(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    enroll(factory, clock)
    done_at(factory, clock, FIRST_SESSION)
    clock.set(SECOND_SESSION + timedelta(hours=12))
    with factory() as uow:
        assert routine.close_unconfirmed(uow, POLICY, clock.now()) == 1
        uow.commit()

    reply = done_at(factory, clock, planned(factory).starts_at)

    assert "in a row" not in reply


def test_a_session_cancelled_by_pause_and_resume_does_not_end_the_streak(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    enroll(factory, clock)
    done_at(factory, clock, FIRST_SESSION)
    text(factory, clock, "PAUSE")
    text(factory, clock, "RESUME")

    reply = done_at(factory, clock, planned(factory).starts_at)

    assert len(sessions(factory, SessionStatus.CANCELLED)) == 1
    assert "2 sessions in a row." in reply


def test_an_extra_session_done_counts_in_the_streak(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    enroll(factory, clock)
    text(factory, clock, "DONE")
    text(factory, clock, "DONE")  # an extra session today, Mon 2 March

    reply = done_at(factory, clock, planned(factory).starts_at)

    assert "2 sessions in a row." in reply


# --- HELP and the keyword menu -----------------------------------------------------------------


def test_help_counts_the_messages_of_the_active_plan_and_names_sore(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    short = Policy(plan=parse_plan("peeling@-20m,roll@0s"))
    enroll_on(factory, clock, short)

    result = text(factory, clock, "HELP", policy=short)

    assert result.reply == texts.help_text(BRAND, short.help_contact, 2)
    assert result.reply.startswith(f"{BRAND}: 2 roller msgs per session")
    assert "SORE" in result.reply


def test_help_with_the_default_plan_counts_four(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    enroll(factory, clock, confirmed=False)  # HELP is answered before consent too

    result = text(factory, clock, "info")

    assert result.reply is not None and result.reply.startswith(f"{BRAND}: 4 roller msgs")
    assert "SORE" in result.reply


def test_the_keyword_menu_names_sore(factory: InMemoryUnitOfWorkFactory, clock: FakeClock) -> None:
    enroll(factory, clock)

    result = text(factory, clock, "what do I do now?")

    assert result.reply == MENU
    assert "SORE if your skin reacts" in result.reply


# --- the reply limiter: a person and the bots ------------------------------------------------


def test_a_persons_whole_fifteen_message_journey_in_two_minutes_gets_every_reply(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    enroll(factory, clock, confirmed=False)
    replies: list[str | None] = []
    for n, body in enumerate(JOURNEY):
        clock.set(START + timedelta(seconds=120 * n / (len(JOURNEY) - 1)))
        replies.append(text(factory, clock, body).reply)

    assert clock.now() == START + timedelta(minutes=2)
    assert None not in replies
    assert LIMITED not in replies
    assert replies[0] == texts.welcome_text(BRAND, "Tue 3 Mar 20:00")
    assert replies[3] == texts.time_text(BRAND, "19:30", "Tue 3 Mar 19:30")
    assert replies[5] == f"{BRAND}: Moved to Wed 4 Mar 19:30."
    assert replies[7] == texts.done_confirm_text(BRAND, "Wed 4 Mar 19:30")
    assert replies[8] is not None and replies[8].startswith(f"{BRAND}: Well done!")
    assert replies[13] == SORE
    assert replies[14] is not None and replies[14].startswith(f"{BRAND}: Reminders back on.")
    assert user_row(factory).status is UserStatus.ACTIVE


def echo_bot(
    factory: InMemoryUnitOfWorkFactory,
    clock: FakeClock,
    first: str,
    answer: Callable[[str], str],
    *,
    most: int = 200,
) -> list[str]:
    """A bot on PHONE that sends `first`, then answers every reply at once (a second later)
    with `answer(reply)`, until no reply comes back; the replies it got."""
    replies: list[str] = []
    body = first
    while len(replies) < most:
        reply = text(factory, clock, body).reply
        clock.advance(timedelta(seconds=1))
        if reply is None:
            break
        replies.append(reply)
        body = answer(reply)
    return replies


def test_an_echo_bot_is_cut_off_by_the_limiter_and_opts_out_on_its_notice(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    # Every reply to a reaction is the advice, itself a reaction ("Redness & swelling..."):
    # echoed, it comes back the same text again and again. Five answers to it, then the last
    # notice, whose "Reply STOP" echoed back opts the number out: that is confirmed, even in
    # the silence, and the confirmation echoed gets nothing.
    enroll(factory, clock)

    replies = echo_bot(factory, clock, "my skin is red", lambda reply: reply)

    assert replies == [SORE] * (1 + SAME_TEXT_REPLIES) + [
        LIMITED,
        texts.opted_out_text(BRAND),
    ]
    assert len(replies) == 8
    assert user_row(factory).status is UserStatus.OPTED_OUT


@pytest.mark.parametrize(
    ("first", "bound"),
    [("my skin is red", 8), ("NEXT", 3), ("hello", 2), ("HELP", 2), ("PAUSE", 3)],
)
def test_an_echo_bot_gets_a_bounded_number_of_replies_whatever_it_starts_with(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock, first: str, bound: int
) -> None:
    enroll(factory, clock)

    replies = echo_bot(factory, clock, first, lambda reply: reply)

    assert len(replies) == bound
    assert replies[-1] == texts.opted_out_text(BRAND)


def test_an_auto_responder_repeating_one_text_gets_five_replies_and_the_notice(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    enroll(factory, clock)
    auto = "Thanks for your message, I am away until Monday."

    replies = echo_bot(factory, clock, auto, lambda _reply: auto)

    assert replies == [MENU] * SAME_TEXT_REPLIES + [LIMITED]
    assert user_row(factory).status is UserStatus.ACTIVE


def test_a_bot_whose_text_varies_is_cut_off_by_the_rate(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    enroll(factory, clock)
    counter = itertools.count(2)

    replies = echo_bot(
        factory, clock, "Auto-reply #1", lambda _reply: f"Auto-reply #{next(counter)}"
    )

    assert replies == [MENU] * REPLIES_PER_WINDOW + [LIMITED]
    assert user_row(factory).status is UserStatus.ACTIVE


def test_stop_is_still_confirmed_while_replies_are_silenced(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    enroll(factory, clock)
    auto = "Thanks for your message, I am away until Monday."
    echo_bot(factory, clock, auto, lambda _reply: auto)
    silenced = text(factory, clock, "NEXT")
    clock.advance(timedelta(minutes=5))

    stop = text(factory, clock, "STOP")

    assert silenced.reply is None
    assert stop.reply == texts.opted_out_text(BRAND)
    assert user_row(factory).status is UserStatus.OPTED_OUT


def test_a_reaction_while_silenced_pauses_and_its_advice_still_goes_out_once(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    enroll(factory, clock)
    auto = "Thanks for your message, I am away until Monday."
    echo_bot(factory, clock, auto, lambda _reply: auto)

    result = text(factory, clock, "my skin is burning")
    again = text(factory, clock, "my skin is burning")

    row = user_row(factory)
    assert (result.keyword, result.reply) == (Keyword.SORE, texts.sore_text(POLICY.brand))
    assert (again.keyword, again.reply) == (Keyword.SORE, None)
    assert (row.status, row.paused_reason) == (UserStatus.PAUSED, PausedReason.SKIN_REACTION)


def test_help_is_answered_even_while_replies_are_held_back(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    enroll(factory, clock)
    auto = "Thanks for your message, I am away until Monday."
    echo_bot(factory, clock, auto, lambda _reply: auto)

    assert text(factory, clock, "HELP").reply == texts.help_text(
        POLICY.brand, POLICY.help_contact, 4
    )


def test_a_replayed_opt_in_with_a_reaction_older_than_a_stop_changes_nothing(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    user_id = enroll(factory, clock).id
    received = clock.now() + timedelta(minutes=1)
    clock.advance(timedelta(minutes=2))
    text(factory, clock, "STOP")
    with factory() as uow:
        handle_inbound(
            uow,
            POLICY,
            received,
            phone=PHONE,
            body="START, my skin is still a bit red",
            message_sid="SM" + "7" * 32,
            answering=False,
        )
        uow.commit()

    row = user_row(factory, user_id)
    assert (row.status, row.paused_reason) == (UserStatus.OPTED_OUT, None)
    assert [r.status for r in rows(factory, Step.SAFETY_NOTICE)] == [ReminderStatus.CANCELLED]


def test_done_with_a_reaction_sent_twice_records_one_session(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    user_id = enroll(factory, clock).id
    clock.set(FIRST_SESSION + timedelta(minutes=10))
    text(factory, clock, "Done but it stings")
    clock.advance(timedelta(minutes=2))

    text(factory, clock, "Done but it stings")

    done = [s for s in factory.store.tables.sessions.values() if s.status is SessionStatus.DONE]
    assert len(done) == 1
    assert user_row(factory, user_id).paused_reason is PausedReason.SKIN_REACTION


def test_a_reaction_from_an_invalid_number_gets_advice_and_changes_nothing(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    user_id = enroll(factory, clock).id
    with factory() as uow:
        uow.users.set_status(user_id, UserStatus.INVALID, clock.now())
        uow.commit()

    result = text(factory, clock, "my face is swollen")

    assert result.reply == texts.sore_text(POLICY.brand)
    assert user_row(factory, user_id).status is UserStatus.INVALID


def test_a_reaction_after_an_outage_expired_the_notice_still_brings_a_check_in_after_resume(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    enroll(factory, clock)
    [notice] = rows(factory, Step.SAFETY_NOTICE)
    notice.status = ReminderStatus.EXPIRED  # an outage outlasted it
    done_at(factory, clock, FIRST_SESSION)
    [check] = rows(factory, Step.SKIN_CHECK)
    check.status, check.sent_at = ReminderStatus.SENT, check.send_at
    text(factory, clock, "my skin is red and itchy")
    text(factory, clock, "RESUME")
    after = planned(factory)

    done_at(factory, clock, after.starts_at)

    assert [r.session_id for r in rows(factory, Step.SKIN_CHECK)] == [1, after.id]


def test_an_opted_out_user_starting_again_with_a_reaction_is_back_in_and_paused(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    user_id = enroll(factory, clock).id
    text(factory, clock, "STOP")

    reply = text(factory, clock, "START, the redness is gone")

    row = user_row(factory, user_id)
    assert (row.status, row.paused_reason) == (UserStatus.PAUSED, PausedReason.SKIN_REACTION)
    assert reply.reply == texts.sore_text(POLICY.brand)


def test_a_stop_after_a_skin_reaction_keeps_the_check_in_after_the_first_session_back(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    user_id = enroll(factory, clock).id
    with factory() as uow:
        uow.users.set_checkin_due(user_id, False, clock.now())
        uow.commit()
    text(factory, clock, "it hurts")

    text(factory, clock, "STOP")
    text(factory, clock, "START")

    assert user_row(factory, user_id).checkin_due is True


def test_a_bots_text_that_begins_with_help_is_limited_like_any_other(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    enroll(factory, clock)
    auto = "Help desk auto-reply: we will get back to you"

    replies = [text(factory, clock, auto).reply for _ in range(8)]

    assert replies[:5] == [texts.help_text(POLICY.brand, POLICY.help_contact, 4)] * 5
    assert replies[5:] == [texts.limited_text(POLICY.brand, 30), None, None]
