"""R6: local wall time to UTC across DST gaps and folds, in several zones."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from reminders.domain.model import Schedule, Step
from reminders.domain.planning import DEFAULT_PLAN, local_instant, plan_session


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("zone", "day", "wall", "expected"),
    [
        # spring-forward gaps move forward to the first valid instant (the end of the gap)
        ("America/New_York", date(2026, 3, 8), time(2, 30), utc(2026, 3, 8, 7, 0)),
        ("Europe/Berlin", date(2026, 3, 29), time(2, 30), utc(2026, 3, 29, 1, 0)),
        ("Australia/Sydney", date(2026, 10, 4), time(2, 30), utc(2026, 10, 3, 16, 0)),
        ("Australia/Lord_Howe", date(2026, 10, 4), time(2, 15), utc(2026, 10, 3, 15, 30)),
    ],
)
def test_wall_time_in_spring_gap_moves_to_end_of_gap(
    zone: str, day: date, wall: time, expected: datetime
) -> None:
    assert local_instant(day, wall, ZoneInfo(zone)) == expected


@pytest.mark.parametrize(
    ("zone", "day", "wall", "expected"),
    [
        # autumn folds take the first occurrence
        ("America/New_York", date(2026, 11, 1), time(1, 30), utc(2026, 11, 1, 5, 30)),
        ("Europe/Berlin", date(2026, 10, 25), time(2, 30), utc(2026, 10, 25, 0, 30)),
        ("Australia/Sydney", date(2026, 4, 5), time(2, 30), utc(2026, 4, 4, 15, 30)),
    ],
)
def test_ambiguous_wall_time_in_autumn_fold_takes_first_occurrence(
    zone: str, day: date, wall: time, expected: datetime
) -> None:
    assert local_instant(day, wall, ZoneInfo(zone)) == expected


def test_ordinary_wall_time_converts_with_the_days_offset() -> None:
    assert local_instant(date(2026, 7, 1), time(20, 0), ZoneInfo("Europe/Kyiv")) == utc(
        2026, 7, 1, 17, 0
    )


@pytest.mark.parametrize(
    ("zone", "session_day"),
    [
        ("America/New_York", date(2026, 3, 8)),  # the day after the heads-up is 23 h long
        ("Europe/Berlin", date(2026, 10, 25)),  # 25 h long
        ("Australia/Sydney", date(2026, 10, 4)),
        ("Australia/Sydney", date(2026, 4, 5)),
    ],
)
def test_heads_up_keeps_the_wall_time_of_the_previous_day_across_dst(
    zone: str, session_day: date
) -> None:
    schedule = Schedule(zone, time(20, 0), 14)

    session = plan_session(session_day, schedule, DEFAULT_PLAN)

    heads_up = next(r for r in session.reminders if r.step is Step.HEADS_UP)
    local = heads_up.send_at.astimezone(ZoneInfo(zone))
    assert (local.date(), local.time()) == (session_day - timedelta(days=1), time(20, 0))


@pytest.mark.parametrize(
    ("zone", "day"),
    [("America/New_York", date(2026, 3, 8)), ("Australia/Sydney", date(2026, 10, 4))],
)
def test_minute_offsets_are_real_durations_across_a_gap(zone: str, day: date) -> None:
    schedule = Schedule(zone, time(3, 30), 14)

    session = plan_session(day, schedule, DEFAULT_PLAN)

    makeup = next(r for r in session.reminders if r.step is Step.MAKEUP_REMOVAL)
    peeling = next(r for r in session.reminders if r.step is Step.PEELING)
    assert session.starts_at - makeup.send_at == timedelta(minutes=45)
    assert session.starts_at - peeling.send_at == timedelta(minutes=20)


def test_session_in_a_gap_starts_at_the_end_of_the_gap() -> None:
    schedule = Schedule("America/New_York", time(2, 30), 14)

    session = plan_session(date(2026, 3, 8), schedule, DEFAULT_PLAN)

    assert session.starts_at == utc(2026, 3, 8, 7, 0)
