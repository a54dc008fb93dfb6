"""R2, R3, R8, R10, R11: freshness, the first session and the next one."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from reminders.domain.errors import InvalidInput
from reminders.domain.model import Schedule, Step, parse_cadence
from reminders.domain.planning import (
    DEFAULT_PLAN,
    DEFAULT_QUIET_HOURS,
    earliest_feasible_date,
    next_session_date,
    parse_plan,
    plan_session,
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
