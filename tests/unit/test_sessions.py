"""R2, R3, R8, R9, R10, R11: freshness, the first session, the next one, restarts, schedule
changes, extra sessions, LATER and the end of a session."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from reminders.domain.errors import InvalidInput
from reminders.domain.model import (
    Schedule,
    Session,
    SessionKind,
    SessionStatus,
    Step,
    parse_cadence,
)
from reminders.domain.planning import (
    DEFAULT_PLAN,
    DEFAULT_QUIET_HOURS,
    parse_plan,
    plan_session,
)
from reminders.domain.sessions import (
    check_first_session_date,
    consent_request,
    earliest_feasible_date,
    ended_on,
    extra_session,
    later_date,
    next_session_date,
    rescheduled_date,
    restart_date,
    takes_done,
    unconfirmed_cutoff,
)

LONDON = Schedule("Europe/London", time(20, 0), 14)


def test_prep_steps_and_heads_up_expire_at_the_session_start_and_roll_two_hours_after() -> None:
    session = plan_session(date(2026, 6, 10), LONDON, DEFAULT_PLAN)

    expiries = {r.step: r.expires_at - session.starts_at for r in session.reminders}
    assert expiries == {
        Step.HEADS_UP: timedelta(0),
        Step.MAKEUP_REMOVAL: timedelta(0),
        Step.PEELING: timedelta(0),
        Step.ROLL: timedelta(hours=2),
    }


@pytest.mark.parametrize("days", [7, 14, 28])
def test_cadence_from_7_to_28_days_is_accepted(days: int) -> None:
    assert parse_cadence(days) == days


@pytest.mark.parametrize(
    ("days", "says"), [(6, "at most once a week"), (29, "7 to 28"), (0, "at most once a week")]
)
def test_cadence_outside_7_to_28_days_is_refused(days: int, says: str) -> None:
    with pytest.raises(InvalidInput, match=says):
        parse_cadence(days)


def test_first_session_is_the_earliest_date_with_every_step_ahead() -> None:
    # 19:00 in London on 10 June: today's heads-up (9 June 20:00) has passed, tomorrow's
    # (10 June 20:00) is ahead.
    now = datetime(2026, 6, 10, 18, 0, tzinfo=UTC)

    assert earliest_feasible_date(now, LONDON, DEFAULT_PLAN) == date(2026, 6, 11)


def test_first_session_can_be_today_when_the_plan_has_no_heads_up() -> None:
    now = datetime(2026, 6, 10, 10, 0, tzinfo=UTC)

    assert earliest_feasible_date(now, LONDON, parse_plan("peeling@-20m,roll@0s")) == date(
        2026, 6, 10
    )


def test_first_session_uses_the_users_local_date_not_utcs() -> None:
    tokyo = Schedule("Asia/Tokyo", time(9, 0), 14)
    now = datetime(2026, 6, 10, 23, 0, tzinfo=UTC)  # 08:00 on 11 June in Tokyo

    assert earliest_feasible_date(now, tokyo, parse_plan("roll@0s")) == date(2026, 6, 11)


def test_next_session_is_the_last_one_plus_the_cadence() -> None:
    now = datetime(2026, 6, 10, 21, 0, tzinfo=UTC)

    day = next_session_date(
        now=now, schedule=LONDON, plan=DEFAULT_PLAN, last_session_date=date(2026, 6, 10)
    )

    assert day == date(2026, 6, 24)


def test_next_session_is_never_fewer_than_7_days_after_the_last() -> None:
    now = datetime(2026, 6, 10, 21, 0, tzinfo=UTC)

    daily = Schedule("Europe/London", time(20, 0), 1)  # a cadence R3 refuses: R2 still holds

    day = next_session_date(
        now=now, schedule=daily, plan=DEFAULT_PLAN, last_session_date=date(2026, 6, 10)
    )

    assert day == date(2026, 6, 17)


def test_next_session_is_never_in_the_past() -> None:
    now = datetime(2026, 8, 1, 12, 0, tzinfo=UTC)

    day = next_session_date(
        now=now, schedule=LONDON, plan=DEFAULT_PLAN, last_session_date=date(2026, 6, 10)
    )

    assert day == date(2026, 8, 2)


@pytest.mark.parametrize(
    ("zone", "day"),
    [("America/New_York", date(2026, 11, 1)), ("Australia/Sydney", date(2026, 4, 5))],
)
def test_step_that_a_fold_pushes_into_quiet_hours_waits_for_the_window_end(
    zone: str, day: date
) -> None:
    # On the wall clock 16:00 minus 20 h is 20:00, allowed; in real time the fold adds an
    # hour, so the SMS would go at 21:00, inside quiet hours.
    schedule = Schedule(zone, time(16, 0), 14)
    plan = parse_plan("makeup_removal@-20h,roll@0s")

    session = plan_session(day, schedule, plan, DEFAULT_QUIET_HOURS)

    local = session.reminders[0].send_at.astimezone(ZoneInfo(zone))
    assert (local.date(), local.time()) == (day, time(8, 0))


def test_a_restart_is_planned_at_the_earliest_but_never_within_7_days_of_the_last() -> None:
    now = datetime(2026, 6, 12, 10, 0, tzinfo=UTC)

    soon_after = restart_date(
        now=now, schedule=LONDON, plan=DEFAULT_PLAN, last_session_date=date(2026, 6, 10)
    )
    long_after = restart_date(
        now=now, schedule=LONDON, plan=DEFAULT_PLAN, last_session_date=date(2026, 5, 1)
    )

    assert (soon_after, long_after) == (date(2026, 6, 17), date(2026, 6, 13))


def test_a_new_cadence_moves_the_upcoming_session_to_the_last_one_plus_the_cadence() -> None:
    now = datetime(2026, 6, 12, 10, 0, tzinfo=UTC)
    weekly = Schedule("Europe/London", time(20, 0), 7)

    day = rescheduled_date(
        now=now,
        schedule=weekly,
        plan=DEFAULT_PLAN,
        last_session_date=date(2026, 6, 10),
        planned_date=date(2026, 6, 24),
        new_cadence=True,
    )

    assert day == date(2026, 6, 17)


def test_a_new_time_keeps_the_planned_date_unless_it_is_within_7_days_of_the_last() -> None:
    now = datetime(2026, 6, 12, 10, 0, tzinfo=UTC)

    kept = rescheduled_date(
        now=now,
        schedule=LONDON,
        plan=DEFAULT_PLAN,
        last_session_date=date(2026, 6, 10),
        planned_date=date(2026, 6, 24),
        new_cadence=False,
    )
    floored = rescheduled_date(
        now=now,
        schedule=LONDON,
        plan=DEFAULT_PLAN,
        last_session_date=date(2026, 6, 10),
        planned_date=date(2026, 6, 14),
        new_cadence=False,
    )

    assert (kept, floored) == (date(2026, 6, 24), date(2026, 6, 17))


@pytest.mark.parametrize(
    ("last", "too_soon"), [(date(2026, 6, 4), True), (date(2026, 6, 3), False), (None, False)]
)
def test_an_extra_session_is_too_soon_fewer_than_7_days_after_the_last(
    last: date | None, too_soon: bool
) -> None:
    now = datetime(2026, 6, 10, 21, 0, tzinfo=UTC)  # 22:00 on 10 June in London

    extra = extra_session(now, LONDON, last)

    assert extra.too_soon is too_soon
    assert extra.session.local_date == extra.last_session_date == date(2026, 6, 10)
    assert (extra.session.starts_at, extra.session.reminders) == (now, ())


def test_an_extra_session_before_the_last_one_leaves_the_last_date() -> None:
    now = datetime(2026, 6, 10, 21, 0, tzinfo=UTC)

    extra = extra_session(now, LONDON, date(2026, 6, 11))

    assert extra.last_session_date == date(2026, 6, 11)


def _session(day: date, starts_at: datetime, *, later_count: int = 0) -> Session:
    return Session(
        1, 1, day, starts_at, SessionStatus.PLANNED, SessionKind.PLANNED, later_count, None
    )


def test_later_moves_a_session_a_day_at_most_3_times() -> None:
    starts_at = datetime(2026, 6, 10, 19, 0, tzinfo=UTC)

    moves = [later_date(_session(date(2026, 6, 10), starts_at, later_count=n)) for n in range(4)]

    assert moves == [date(2026, 6, 11)] * 3 + [None]


def test_done_early_counts_on_the_day_it_was_done_and_any_other_end_on_the_planned_day() -> None:
    session = _session(date(2026, 6, 10), datetime(2026, 6, 10, 19, 0, tzinfo=UTC))
    evening_before = datetime(2026, 6, 9, 20, 0, tzinfo=UTC)
    morning_after = datetime(2026, 6, 11, 6, 0, tzinfo=UTC)

    assert ended_on(session, SessionStatus.DONE, evening_before, LONDON) == date(2026, 6, 9)
    assert ended_on(session, SessionStatus.DONE, morning_after, LONDON) == date(2026, 6, 10)
    assert ended_on(session, SessionStatus.SKIPPED, evening_before, LONDON) == date(2026, 6, 10)


def test_a_session_takes_done_from_its_first_sms_until_12_hours_after_its_start() -> None:
    starts_at = datetime(2026, 6, 10, 19, 0, tzinfo=UTC)  # 20:00 in London
    session = _session(date(2026, 6, 10), starts_at)
    heads_up = starts_at - timedelta(days=1)

    def takes(at: datetime) -> bool:
        return takes_done(session, LONDON, DEFAULT_PLAN, at)

    assert not takes(heads_up - timedelta(seconds=1))
    assert takes(heads_up)
    assert takes(starts_at + timedelta(hours=12) - timedelta(seconds=1))
    assert not takes(starts_at + timedelta(hours=12))


def test_a_session_with_no_reply_ends_unconfirmed_12_hours_after_its_start() -> None:
    now = datetime(2026, 6, 11, 7, 0, tzinfo=UTC)

    assert unconfirmed_cutoff(now) == datetime(2026, 6, 10, 19, 0, tzinfo=UTC)


def test_the_consent_request_is_sent_at_once_and_expires_after_a_day() -> None:
    now = datetime(2026, 6, 10, 9, 30, tzinfo=UTC)

    request = consent_request(now)

    assert (request.step, request.send_at, request.expires_at) == (
        Step.CONSENT_REQUEST,
        now,
        now + timedelta(days=1),
    )


@pytest.mark.parametrize(
    ("day", "says"),
    [
        (date(2026, 6, 9), "in the past"),
        (date(2026, 6, 10), "in the past"),  # today, but 20:00 has gone in London
        (date(2027, 6, 12), "too far ahead"),
    ],
)
def test_a_first_session_date_that_is_gone_or_over_a_year_ahead_is_refused(
    day: date, says: str
) -> None:
    now = datetime(2026, 6, 10, 19, 30, tzinfo=UTC)

    with pytest.raises(InvalidInput, match=says):
        check_first_session_date(day, now, LONDON)


def test_a_first_session_date_later_today_is_accepted() -> None:
    check_first_session_date(date(2026, 6, 10), datetime(2026, 6, 10, 18, 0, tzinfo=UTC), LONDON)
