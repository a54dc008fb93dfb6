"""R7: quiet hours, the allowed session-time window, and messages due inside quiet hours."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from reminders.domain.errors import InvalidQuietHours, QuietHoursConflict
from reminders.domain.planning import (
    DEFAULT_PLAN,
    DEFAULT_QUIET_HOURS,
    QuietHours,
    allowed_session_times,
    check_session_time,
    decide_send,
    parse_plan,
    parse_quiet_hours,
)

NY = ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    ("wall", "quiet"),
    [
        (time(21, 0), True),
        (time(23, 59), True),
        (time(0, 0), True),
        (time(7, 59, 59), True),
        (time(8, 0), False),
        (time(20, 59, 59), False),
    ],
)
def test_default_quiet_window_is_21_to_8_with_end_exclusive(wall: time, quiet: bool) -> None:
    assert DEFAULT_QUIET_HOURS.contains(wall) is quiet


def test_quiet_window_need_not_cross_midnight() -> None:
    window = QuietHours(time(13, 0), time(14, 0))

    assert window.contains(time(13, 30))
    assert not window.contains(time(14, 0))
    assert not window.contains(time(12, 59))


def test_parse_quiet_hours_off_disables_it() -> None:
    assert parse_quiet_hours("off") is None


@pytest.mark.parametrize("text", ["21-8", "25:00-08:00", "21:00-21:00", "evening"])
def test_bad_quiet_hours_are_refused_naming_the_setting(text: str) -> None:
    with pytest.raises(InvalidQuietHours, match="REMINDERS_QUIET_HOURS"):
        parse_quiet_hours(text)


def test_default_plan_allows_sessions_from_0845_to_2059() -> None:
    assert allowed_session_times(DEFAULT_PLAN, DEFAULT_QUIET_HOURS) == [(time(8, 45), time(20, 59))]


@pytest.mark.parametrize("wall", [time(8, 45), time(12, 0), time(20, 59)])
def test_session_times_inside_the_window_are_accepted(wall: time) -> None:
    check_session_time(wall, DEFAULT_PLAN, DEFAULT_QUIET_HOURS)


@pytest.mark.parametrize("wall", [time(8, 44), time(21, 0), time(3, 0)])
def test_session_time_that_puts_a_step_in_quiet_hours_is_refused_with_the_window(
    wall: time,
) -> None:
    with pytest.raises(QuietHoursConflict) as error:
        check_session_time(wall, DEFAULT_PLAN, DEFAULT_QUIET_HOURS)

    assert "allowed session times are 08:45-20:59" in str(error.value)
    assert error.value.field == "session_time"


def test_any_session_time_is_accepted_when_quiet_hours_are_off() -> None:
    check_session_time(time(3, 0), DEFAULT_PLAN, None)


def test_window_across_midnight_is_reported_as_one_range() -> None:
    plan = parse_plan("roll@0s")

    assert allowed_session_times(plan, QuietHours(time(2, 0), time(6, 0))) == [
        (time(6, 0), time(1, 59))
    ]


def test_plan_that_cannot_fit_outside_quiet_hours_allows_nothing() -> None:
    plan = parse_plan("makeup_removal@-12h,roll@0s")
    daytime_quiet = QuietHours(time(8, 0), time(21, 0))  # 11 h allowed: no two 12 h apart

    assert allowed_session_times(plan, daytime_quiet) == []


def test_due_message_inside_quiet_hours_waits_for_the_window_end_while_fresh() -> None:
    now = datetime(2026, 6, 2, 2, 0, tzinfo=UTC)  # 22:00 in New York
    expires_at = datetime(2026, 6, 2, 23, 0, tzinfo=UTC)

    decision = decide_send(now=now, expires_at=expires_at, zone=NY, quiet=DEFAULT_QUIET_HOURS)

    assert decision.action == "wait"
    assert decision.wait_until == datetime(2026, 6, 2, 12, 0, tzinfo=UTC)  # 08:00 EDT


def test_due_message_inside_quiet_hours_expires_when_stale_by_the_window_end() -> None:
    now = datetime(2026, 6, 2, 2, 0, tzinfo=UTC)
    expires_at = datetime(2026, 6, 2, 3, 0, tzinfo=UTC)

    decision = decide_send(now=now, expires_at=expires_at, zone=NY, quiet=DEFAULT_QUIET_HOURS)

    assert decision.action == "expire"


def test_message_is_never_sent_at_or_after_its_expiry() -> None:
    expires_at = datetime(2026, 6, 2, 16, 0, tzinfo=UTC)

    at_expiry = decide_send(now=expires_at, expires_at=expires_at, zone=NY, quiet=None)
    just_before = decide_send(
        now=expires_at - timedelta(seconds=1), expires_at=expires_at, zone=NY, quiet=None
    )

    assert (at_expiry.action, just_before.action) == ("expire", "send")


NEW_YORK = ZoneInfo("America/New_York")


def test_quiet_hours_ending_in_an_autumn_fold_end_at_the_occurrence_after_now() -> None:
    quiet = QuietHours(time(1, 0), time(1, 45))
    second_0120 = datetime(2026, 11, 1, 6, 20, tzinfo=UTC)  # 01:20 EST, after the fold

    ends = quiet.end_after(second_0120, NEW_YORK)

    assert ends == datetime(2026, 11, 1, 6, 45, tzinfo=UTC)  # 01:45 EST, not 01:45 EDT


def test_quiet_hours_ending_in_a_spring_gap_inside_the_window_end_at_the_next_end() -> None:
    quiet = QuietHours(time(2, 30), time(2, 15))  # 02:15 does not exist on 8 March
    at = datetime(2026, 3, 8, 6, 0, tzinfo=UTC)  # 01:00 EST

    ends = quiet.end_after(at, NEW_YORK)

    assert ends == datetime(2026, 3, 9, 6, 15, tzinfo=UTC)  # 02:15 EDT the next day
    assert not quiet.contains_instant(ends, NEW_YORK)
