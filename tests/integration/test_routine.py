"""R9, R10, R11 and R2 through the use cases, on a real SQLite file."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from reminders.bootstrap import Container
from reminders.domain.errors import InvalidInput
from reminders.domain.messages import done_confirm_text, keywords_text, sore_text
from reminders.domain.model import PausedReason, SessionStatus, UserStatus
from tests.conftest import DATABASES, both_databases
from tests.fakes import FakeClock
from tests.routine_driver import enroll, past_sessions, text, upcoming, user

# START is Mon 2 March 2026, 10:00 in New York; the first session is Tue 3 March at 20:00.
SESSION_START = datetime(2026, 3, 4, 1, 0, tzinfo=UTC)


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest) -> str:
    return both_databases(request)


def test_first_session_is_the_earliest_date_with_every_step_ahead(container: Container) -> None:
    enrolled = enroll(container)

    session = upcoming(container, enrolled.id)

    assert session is not None
    assert (session.local_date, session.starts_at) == (date(2026, 3, 3), SESSION_START)


def test_first_session_date_in_the_past_is_refused(container: Container) -> None:
    with pytest.raises(InvalidInput, match="first_session_date 2026-03-01 is in the past"):
        enroll(container, first_session_date=date(2026, 3, 1))


def test_pending_user_has_no_session_until_yes(container: Container, clock: FakeClock) -> None:
    enrolled = enroll(container, confirmed=False)
    before = upcoming(container, enrolled.id)
    clock.set(datetime(2026, 3, 2, 23, 30, tzinfo=UTC))  # 18:30: the 3 March heads-up is ahead

    reply = text(container, "yes")

    session = upcoming(container, enrolled.id)
    assert before is None
    assert session is not None and session.local_date == date(2026, 3, 3)
    assert reply.reply is not None and "First roller session Tue 3 Mar 20:00" in reply.reply


def test_done_plans_the_next_session_cadence_days_after_the_day_it_was_done(
    container: Container, clock: FakeClock
) -> None:
    enrolled = enroll(container)
    clock.set(SESSION_START + timedelta(minutes=30))

    reply = text(container, "Done!")

    session = upcoming(container, enrolled.id)
    assert session is not None and session.local_date == date(2026, 3, 17)
    assert past_sessions(container, enrolled.id)[0].status is SessionStatus.DONE
    assert reply.reply is not None and "Next roller session Tue 17 Mar 20:00" in reply.reply


def test_done_the_evening_before_counts_on_that_day(container: Container, clock: FakeClock) -> None:
    enrolled = enroll(container)
    clock.set(SESSION_START - timedelta(hours=23, minutes=30))  # 2 March 20:30, after the heads-up

    text(container, "DONE")

    done = past_sessions(container, enrolled.id)[0]
    session = upcoming(container, enrolled.id)
    assert done.local_date == date(2026, 3, 2)
    assert session is not None and session.local_date == date(2026, 3, 16)


def test_skip_plans_the_next_session_from_the_planned_date(
    container: Container, clock: FakeClock
) -> None:
    enrolled = enroll(container)
    clock.set(SESSION_START - timedelta(hours=1))

    text(container, "skip")

    session = upcoming(container, enrolled.id)
    assert past_sessions(container, enrolled.id)[0].status is SessionStatus.SKIPPED
    assert session is not None and session.local_date == date(2026, 3, 17)


def test_no_reply_twelve_hours_after_the_session_ends_it_unconfirmed(
    container: Container, clock: FakeClock
) -> None:
    enrolled = enroll(container)
    clock.set(SESSION_START + timedelta(hours=12) - timedelta(seconds=1))
    early = container.close_unconfirmed()
    clock.set(SESSION_START + timedelta(hours=12))

    ended = container.close_unconfirmed()

    session = upcoming(container, enrolled.id)
    assert (early, ended) == (0, 1)
    assert past_sessions(container, enrolled.id)[0].status is SessionStatus.UNCONFIRMED
    assert session is not None and session.local_date == date(2026, 3, 17)


def test_later_moves_the_session_one_day_at_the_same_wall_time(
    container: Container, clock: FakeClock
) -> None:
    enrolled = enroll(container)
    clock.set(SESSION_START - timedelta(minutes=30))

    reply = text(container, "later")

    session = upcoming(container, enrolled.id)
    assert session is not None
    assert (session.local_date, session.starts_at) == (
        date(2026, 3, 4),
        SESSION_START + timedelta(days=1),
    )
    assert reply.reply is not None and "Moved to Wed 4 Mar 20:00" in reply.reply


def test_a_fourth_later_is_refused(container: Container, clock: FakeClock) -> None:
    enrolled = enroll(container)
    clock.set(SESSION_START - timedelta(minutes=30))
    for _ in range(3):
        text(container, "LATER")

    reply = text(container, "LATER")

    session = upcoming(container, enrolled.id)
    assert session is not None and session.local_date == date(2026, 3, 6)
    assert reply.reply is not None and "moved 3 times already" in reply.reply


def test_later_across_a_dst_change_keeps_the_wall_time(
    container: Container, clock: FakeClock
) -> None:
    enrolled = enroll(container, first_session_date=date(2026, 3, 7))  # Sat; Sun is 23 h long
    clock.set(datetime(2026, 3, 8, 0, 30, tzinfo=UTC))

    text(container, "LATER")

    session = upcoming(container, enrolled.id)
    assert session is not None
    assert session.starts_at == datetime(2026, 3, 9, 0, 0, tzinfo=UTC)  # 20:00 EDT


def test_extra_done_within_a_week_is_recorded_with_a_warning(
    container: Container, clock: FakeClock
) -> None:
    enrolled = enroll(container)
    clock.set(SESSION_START + timedelta(minutes=30))
    text(container, "DONE")
    clock.set(SESSION_START + timedelta(days=3))
    asked = text(container, "done")  # no session under way: asked to be sent again
    before = past_sessions(container, enrolled.id)
    clock.advance(timedelta(minutes=9))

    reply = text(container, "done")

    sessions = past_sessions(container, enrolled.id)
    session = upcoming(container, enrolled.id)
    assert asked.reply == done_confirm_text("RollerCare", "Tue 17 Mar 20:00")
    assert [s.kind for s in before] == ["planned"]
    assert [(s.kind, s.status) for s in sessions] == [
        ("planned", SessionStatus.DONE),
        ("extra", SessionStatus.DONE),
    ]
    assert reply.reply is not None and "at most once a week" in reply.reply
    assert session is not None and session.local_date == date(2026, 3, 20)


def test_extra_done_a_week_or_more_later_gets_no_warning(
    container: Container, clock: FakeClock
) -> None:
    enrolled = enroll(container)
    clock.set(SESSION_START + timedelta(minutes=30))
    text(container, "DONE")
    clock.set(SESSION_START + timedelta(days=7))
    asked = text(container, "done")
    clock.advance(timedelta(minutes=1))

    reply = text(container, "done")

    assert asked.reply == done_confirm_text("RollerCare", "Tue 17 Mar 20:00")
    assert reply.reply is not None and "Well done" in reply.reply
    assert [s.kind for s in past_sessions(container, enrolled.id)] == ["planned", "extra"]


def test_a_done_repeated_more_than_ten_minutes_later_is_asked_again(
    container: Container, clock: FakeClock
) -> None:
    enrolled = enroll(container)
    clock.set(SESSION_START + timedelta(minutes=30))
    text(container, "DONE")
    clock.set(SESSION_START + timedelta(days=3))
    text(container, "done")
    clock.advance(timedelta(minutes=10, seconds=1))

    reply = text(container, "done")

    assert reply.reply == done_confirm_text("RollerCare", "Tue 17 Mar 20:00")
    assert [s.kind for s in past_sessions(container, enrolled.id)] == ["planned"]


def test_every_changes_the_cadence_and_replans_from_the_last_session(
    container: Container, clock: FakeClock
) -> None:
    enrolled = enroll(container)
    clock.set(SESSION_START + timedelta(minutes=30))
    text(container, "DONE")

    reply = text(container, "every 7")

    session = upcoming(container, enrolled.id)
    assert session is not None and session.local_date == date(2026, 3, 10)
    assert reply.reply is not None and "Now every 7 days" in reply.reply


def test_every_below_seven_is_refused_and_changes_nothing(
    container: Container, clock: FakeClock
) -> None:
    enrolled = enroll(container)

    reply = text(container, "EVERY 3")

    assert user(container, enrolled.id).schedule.cadence_days == 14
    assert reply.reply is not None and "at most once a week" in reply.reply


def test_time_inside_quiet_hours_is_refused_with_the_allowed_window(container: Container) -> None:
    enrolled = enroll(container)

    reply = text(container, "TIME 22:30")

    assert user(container, enrolled.id).schedule.session_time.hour == 20
    assert reply.reply is not None and "08:45-20:59" in reply.reply


def test_time_moves_the_upcoming_session(container: Container) -> None:
    enrolled = enroll(container)

    text(container, "time 19:30")

    session = upcoming(container, enrolled.id)
    assert session is not None
    assert session.starts_at == SESSION_START - timedelta(minutes=30)


def test_resume_plans_from_today_but_never_within_7_days_of_the_last_session(
    container: Container, clock: FakeClock
) -> None:
    enrolled = enroll(container)
    clock.set(SESSION_START + timedelta(minutes=30))
    text(container, "DONE")
    text(container, "PAUSE")
    clock.set(SESSION_START + timedelta(days=2))

    text(container, "RESUME")

    session = upcoming(container, enrolled.id)
    assert user(container, enrolled.id).status is UserStatus.ACTIVE
    assert session is not None and session.local_date == date(2026, 3, 10)


def test_stop_cancels_every_pending_reminder_at_once(container: Container) -> None:
    enrolled = enroll(container)

    text(container, "please stop texting me")

    with container.uow() as uow:
        counts = uow.reminders.count_by_status()
    assert user(container, enrolled.id).status is UserStatus.OPTED_OUT
    assert upcoming(container, enrolled.id) is None
    assert counts == {"cancelled": 5}  # the session's four steps and the safety notice


@pytest.mark.parametrize("body", ["Sore", "my skin is sore", "it hurts a bit"])
def test_a_skin_reaction_pauses_and_cancels_reminders_but_not_the_safety_notice(
    container: Container, body: str
) -> None:
    enrolled = enroll(container)

    reply = text(container, body)

    with container.uow() as uow:
        counts = uow.reminders.count_by_status()
    paused = user(container, enrolled.id)
    assert (paused.status, paused.paused_reason) == (
        UserStatus.PAUSED,
        PausedReason.SKIN_REACTION,
    )
    assert reply.reply == sore_text("RollerCare")
    assert upcoming(container, enrolled.id) is None
    assert counts == {"cancelled": 4, "scheduled": 1}  # the safety notice still goes


def test_a_negated_reaction_pauses_nothing(container: Container) -> None:
    enrolled = enroll(container)

    reply = text(container, "my skin is not sore at all")

    assert user(container, enrolled.id).status is UserStatus.ACTIVE
    assert reply.reply == keywords_text("RollerCare")
