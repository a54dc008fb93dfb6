"""The tolerance check-in: REMINDERS_CHECKIN, its local wall time across DST (R6), quiet hours
(R7) and freshness (R8)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from reminders.domain.checkin import (
    CHECKIN_FRESH,
    DEFAULT_CHECKIN,
    DEFAULT_CHECKIN_TEXT,
    CheckInTimes,
    CheckInTiming,
    InvalidCheckIn,
    checkin_times,
    parse_checkin,
)
from reminders.domain.errors import InvalidInput
from reminders.domain.planning import QuietHours, local_instant

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
QUIET = QuietHours(time(21, 0), time(8, 0))


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def local(at: datetime, zone: ZoneInfo) -> tuple[date, time, timedelta | None]:
    shown = at.astimezone(zone)
    return shown.date(), shown.time(), shown.utcoffset()


# --- REMINDERS_CHECKIN ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "timing"),
    [
        (DEFAULT_CHECKIN_TEXT, CheckInTiming(days=1)),
        ("+1d", CheckInTiming(days=1)),
        ("+2d", CheckInTiming(days=2)),
        ("+7d", CheckInTiming(days=7)),
        ("+90m", CheckInTiming(after=timedelta(minutes=90))),
        ("+2h", CheckInTiming(after=timedelta(hours=2))),
        ("+30s", CheckInTiming(after=timedelta(seconds=30))),
        ("+168h", CheckInTiming(after=timedelta(days=7))),
        ("+007d", CheckInTiming(days=7)),
        ("  +2h\n", CheckInTiming(after=timedelta(hours=2))),
    ],
)
def test_checkin_timing_is_parsed(text: str, timing: CheckInTiming) -> None:
    assert parse_checkin(text) == timing


def test_default_checkin_is_the_next_day_at_the_session_time() -> None:
    assert parse_checkin(DEFAULT_CHECKIN_TEXT) == DEFAULT_CHECKIN == CheckInTiming(days=1)


@pytest.mark.parametrize("text", ["off", "OFF", "none", "None", " off ", "\toff\n"])
def test_checkin_can_be_turned_off(text: str) -> None:
    assert parse_checkin(text) is None


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("+1d", "+1d"),
        ("+2d", "+2d"),
        ("+90m", "+90m"),
        ("+120m", "+2h"),
        ("+2h", "+2h"),
        ("+30s", "+30s"),
        ("+3600s", "+1h"),
        ("+86400s", "+24h"),
        ("+61s", "+61s"),
    ],
)
def test_checkin_timing_round_trips_through_its_text(text: str, shown: str) -> None:
    timing = parse_checkin(text)

    assert str(timing) == shown
    assert parse_checkin(shown) == timing


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "is empty"),
        ("   ", "is empty"),
        ("1d", "'1d' is not one of"),
        ("+0h", "'+0h' is not after the session"),
        ("+0d", "'+0d' is not after the session"),
        ("+8d", "'+8d' is more than 7 days"),
        ("+169h", "'+169h' is more than 7 days"),
        ("+604801s", "'+604801s' is more than 7 days"),
        ("-1d", "'-1d' is not one of"),
        ("+1x", "'+1x' is not one of"),
        ("+1.5h", "'+1.5h' is not one of"),
        ("+1 h", "'+1 h' is not one of"),
        ("+1D", "'+1D' is not one of"),
        ("++1d", "'++1d' is not one of"),
        ("+1d,+2d", "'+1d,+2d' is not one of"),
        ("+99999999999999999999d", "'+9999999999999999999' is more than 7 days"),
        ("+" + "9" * 5000 + "s", "is more than 7 days"),
        ("+١d", "'+١d' is not one of"),  # ARABIC-INDIC DIGIT ONE
        ("+²h", "is not one of"),
        ("+1d\n+2d", "'+1d?+2d' is not one of"),
    ],
)
def test_bad_checkin_is_refused_naming_the_setting_and_what_is_accepted(
    text: str, says: str
) -> None:
    with pytest.raises(InvalidCheckIn) as error:
        parse_checkin(text)

    message = str(error.value)
    assert "REMINDERS_CHECKIN" in message
    assert says in message
    assert "+Nd" in message and "'off'" in message
    assert "\n" not in message
    assert len(message) < 200
    assert isinstance(error.value, InvalidInput)
    assert error.value.field == "checkin"


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"days": 1, "after": timedelta(hours=1)},
        {"days": 8},
        {"days": -1},
        {"after": timedelta(days=7, seconds=1)},
        {"after": timedelta(seconds=-1)},
        {"after": timedelta(milliseconds=1500)},
    ],
)
def test_a_timing_out_of_range_cannot_be_built(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        CheckInTiming(**kwargs)  # type: ignore[arg-type]


# --- the next day across DST (R6) -----------------------------------------------------------


@pytest.mark.parametrize(
    ("zone_name", "session_day", "real_hours", "plus_24h_wall"),
    [
        ("America/New_York", date(2026, 3, 7), 23, time(21, 0)),  # spring forward on the 8th
        ("America/New_York", date(2026, 10, 31), 25, time(19, 0)),  # fall back on 1 November
        ("Europe/Berlin", date(2026, 3, 28), 23, time(21, 0)),
        ("Europe/Berlin", date(2026, 10, 24), 25, time(19, 0)),
        ("Australia/Sydney", date(2026, 10, 3), 23, time(21, 0)),  # southern spring
        ("Australia/Sydney", date(2026, 4, 4), 25, time(19, 0)),  # southern autumn
        ("Pacific/Chatham", date(2026, 9, 26), 23, time(21, 0)),
        ("Pacific/Chatham", date(2026, 4, 4), 25, time(19, 0)),
    ],
)
def test_next_day_checkin_keeps_the_session_wall_time_across_dst(
    zone_name: str, session_day: date, real_hours: int, plus_24h_wall: time
) -> None:
    zone = ZoneInfo(zone_name)
    starts_at = local_instant(session_day, time(20, 0), zone)

    next_day = checkin_times(CheckInTiming(days=1), starts_at, zone, None, starts_at)
    plus_24h = checkin_times(
        CheckInTiming(after=timedelta(hours=24)), starts_at, zone, None, starts_at
    )

    assert next_day is not None and plus_24h is not None
    next_date = session_day + timedelta(days=1)
    assert local(next_day.send_at, zone)[:2] == (next_date, time(20, 0))
    assert next_day.send_at - starts_at == timedelta(hours=real_hours)
    assert local(plus_24h.send_at, zone)[:2] == (next_date, plus_24h_wall)
    assert plus_24h.send_at - starts_at == timedelta(hours=24)


def test_checkin_times_are_utc() -> None:
    starts_at = local_instant(date(2026, 3, 7), time(20, 0), NEW_YORK)

    times = checkin_times(CheckInTiming(days=1), starts_at, NEW_YORK, None, starts_at)

    assert times == CheckInTimes(utc(2026, 3, 9, 0, 0), utc(2026, 3, 10, 0, 0))
    assert times.send_at.utcoffset() == timedelta(0)
    assert times.expires_at.utcoffset() == timedelta(0)


def test_several_days_count_local_calendar_days() -> None:
    # Berlin, Thursday 26 March 20:00 CET; the clocks go forward on Sunday the 29th.
    starts_at = local_instant(date(2026, 3, 26), time(20, 0), BERLIN)

    times = checkin_times(CheckInTiming(days=4), starts_at, BERLIN, QUIET, starts_at)

    assert times is not None
    assert local(times.send_at, BERLIN) == (date(2026, 3, 30), time(20, 0), timedelta(hours=2))
    assert times.send_at - starts_at == timedelta(days=4, hours=-1)


def test_session_wall_time_in_the_next_days_gap_moves_to_the_gaps_end() -> None:
    starts_at = local_instant(date(2026, 3, 7), time(2, 30), NEW_YORK)  # 07:30 UTC, EST

    times = checkin_times(CheckInTiming(days=1), starts_at, NEW_YORK, None, starts_at)

    # 8 March has no 02:30: the clocks go from 02:00 EST to 03:00 EDT.
    assert times is not None
    assert times.send_at == utc(2026, 3, 8, 7, 0)
    assert local(times.send_at, NEW_YORK) == (date(2026, 3, 8), time(3, 0), timedelta(hours=-4))
    assert times.expires_at == times.send_at + CHECKIN_FRESH


def test_session_wall_time_in_the_next_days_fold_takes_the_first_occurrence() -> None:
    starts_at = local_instant(date(2026, 10, 31), time(1, 30), NEW_YORK)  # 05:30 UTC, EDT

    times = checkin_times(CheckInTiming(days=1), starts_at, NEW_YORK, None, starts_at)

    # 1 November has 01:30 twice, EDT then EST: the first is the one.
    assert times is not None
    assert times.send_at == utc(2026, 11, 1, 5, 30)
    assert local(times.send_at, NEW_YORK) == (
        date(2026, 11, 1),
        time(1, 30),
        timedelta(hours=-4),
    )


def test_session_in_the_second_occurrence_of_a_fold_keeps_its_wall_time() -> None:
    starts_at = utc(2026, 11, 1, 6, 30)  # 01:30 EST, the second 01:30 of the day

    times = checkin_times(CheckInTiming(days=1), starts_at, NEW_YORK, None, starts_at)

    assert times is not None
    assert local(times.send_at, NEW_YORK) == (date(2026, 11, 2), time(1, 30), timedelta(hours=-5))


# --- real durations -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "starts_at", "wall"),
    [
        (NEW_YORK, utc(2026, 3, 8, 6, 30), time(4, 30)),  # 01:30 EST; the gap is at 02:00
        (NEW_YORK, utc(2026, 11, 1, 4, 30), time(1, 30)),  # 00:30 EDT; the fold is at 02:00
        (BERLIN, utc(2026, 3, 29, 0, 30), time(4, 30)),  # 01:30 CET
        (BERLIN, utc(2026, 10, 25, 0, 0), time(3, 0)),  # 02:00 CEST; an hour on the wall
    ],
)
def test_hours_are_real_hours_across_dst(zone: ZoneInfo, starts_at: datetime, wall: time) -> None:
    times = checkin_times(CheckInTiming(after=timedelta(hours=2)), starts_at, zone, None, starts_at)

    assert times is not None
    assert times.send_at == starts_at + timedelta(hours=2)
    assert times.send_at.astimezone(zone).time() == wall
    assert times.expires_at == starts_at + timedelta(hours=2) + CHECKIN_FRESH


def test_seconds_and_minutes_are_real_durations() -> None:
    starts_at = utc(2026, 6, 10, 12, 0, 0)

    seconds = checkin_times(
        CheckInTiming(after=timedelta(seconds=30)), starts_at, BERLIN, QUIET, starts_at
    )
    minutes = checkin_times(
        CheckInTiming(after=timedelta(minutes=90)), starts_at, BERLIN, QUIET, starts_at
    )

    assert seconds is not None and minutes is not None
    assert seconds.send_at == utc(2026, 6, 10, 12, 0, 30)
    assert minutes.send_at == utc(2026, 6, 10, 13, 30)


# --- quiet hours (R7) and freshness (R8) ----------------------------------------------------


def test_checkin_inside_quiet_hours_moves_to_their_end() -> None:
    starts_at = local_instant(date(2026, 6, 10), time(20, 0), BERLIN)

    times = checkin_times(
        CheckInTiming(after=timedelta(hours=2)), starts_at, BERLIN, QUIET, starts_at
    )

    # Due at 22:00, inside 21:00-08:00: sent at 08:00 the next morning, still fresh.
    assert times is not None
    assert local(times.send_at, BERLIN)[:2] == (date(2026, 6, 11), time(8, 0))
    assert times.expires_at == starts_at + timedelta(hours=2) + CHECKIN_FRESH
    assert times.expires_at == utc(2026, 6, 11, 20, 0)


def test_end_of_quiet_hours_is_read_on_the_local_clock_across_a_gap() -> None:
    starts_at = local_instant(date(2026, 3, 7), time(20, 0), NEW_YORK)  # 01:00 UTC on the 8th

    times = checkin_times(
        CheckInTiming(after=timedelta(hours=2)), starts_at, NEW_YORK, QUIET, starts_at
    )

    # Due at 22:00 EST; quiet hours end at 08:00 EDT, 9 h of real time later (not 10).
    assert times is not None
    assert times.send_at == utc(2026, 3, 8, 12, 0)
    assert local(times.send_at, NEW_YORK) == (date(2026, 3, 8), time(8, 0), timedelta(hours=-4))


def test_next_day_checkin_at_a_quiet_session_time_waits_for_morning() -> None:
    # A 22:30 session (an extra one, say): the next day's 22:30 is quiet too.
    starts_at = local_instant(date(2026, 6, 10), time(22, 30), BERLIN)

    times = checkin_times(CheckInTiming(days=1), starts_at, BERLIN, QUIET, starts_at)

    assert times is not None
    assert local(times.send_at, BERLIN)[:2] == (date(2026, 6, 12), time(8, 0))
    assert times.send_at < times.expires_at


def test_checkin_is_left_out_when_quiet_hours_end_at_its_expiry() -> None:
    # 25-hour day: due 20:00 EDT on 31 October, expires 24 h later, at 19:00 EST on 1 November;
    # quiet hours 20:00-19:00 end exactly then.
    starts_at = local_instant(date(2026, 10, 31), time(19, 0), NEW_YORK)
    timing = CheckInTiming(after=timedelta(hours=1))

    assert (
        checkin_times(timing, starts_at, NEW_YORK, QuietHours(time(20), time(19)), starts_at)
        is None
    )
    just_in_time = checkin_times(
        timing, starts_at, NEW_YORK, QuietHours(time(20), time(18, 59)), starts_at
    )
    assert just_in_time is not None
    assert just_in_time.send_at == utc(2026, 11, 1, 23, 59)
    assert just_in_time.expires_at == utc(2026, 11, 2, 0, 0)


def test_late_done_sends_the_checkin_now() -> None:
    starts_at = local_instant(date(2026, 6, 10), time(10, 0), BERLIN)
    timing = CheckInTiming(after=timedelta(hours=1))  # due 11:00
    now = local_instant(date(2026, 6, 10), time(15, 0), BERLIN)

    times = checkin_times(timing, starts_at, BERLIN, QUIET, now)

    assert times == CheckInTimes(now, starts_at + timedelta(hours=1) + CHECKIN_FRESH)


def test_late_done_inside_quiet_hours_waits_for_their_end() -> None:
    starts_at = local_instant(date(2026, 6, 10), time(10, 0), BERLIN)
    now = local_instant(date(2026, 6, 10), time(23, 0), BERLIN)

    times = checkin_times(CheckInTiming(after=timedelta(hours=1)), starts_at, BERLIN, QUIET, now)

    assert times is not None
    assert local(times.send_at, BERLIN)[:2] == (date(2026, 6, 11), time(8, 0))


def test_late_done_inside_quiet_hours_past_the_expiry_leaves_the_checkin_out() -> None:
    starts_at = local_instant(date(2026, 6, 10), time(20, 0), BERLIN)
    timing = CheckInTiming(after=timedelta(hours=2))  # due 22:00, expires 22:00 the next day
    now = local_instant(date(2026, 6, 11), time(21, 30), BERLIN)  # quiet until 08:00 on the 12th

    assert checkin_times(timing, starts_at, BERLIN, QUIET, now) is None


def test_done_past_the_expiry_leaves_the_checkin_out() -> None:
    starts_at = local_instant(date(2026, 6, 10), time(10, 0), BERLIN)
    timing = CheckInTiming(after=timedelta(hours=1))
    expires_at = starts_at + timedelta(hours=1) + CHECKIN_FRESH

    assert checkin_times(timing, starts_at, BERLIN, None, expires_at) is None
    assert checkin_times(timing, starts_at, BERLIN, None, expires_at + timedelta(days=3)) is None
    last = checkin_times(timing, starts_at, BERLIN, None, expires_at - timedelta(seconds=1))
    assert last == CheckInTimes(expires_at - timedelta(seconds=1), expires_at)


def test_done_before_the_session_start_still_waits_for_the_checkin() -> None:
    starts_at = utc(2026, 6, 10, 12, 0)

    times = checkin_times(
        CheckInTiming(days=1), starts_at, BERLIN, QUIET, starts_at - timedelta(hours=1)
    )

    assert times == CheckInTimes(utc(2026, 6, 11, 12, 0), utc(2026, 6, 12, 12, 0))


def test_quiet_hours_ending_in_a_fold_end_at_the_second_occurrence() -> None:
    # The DONE comes at 01:20 EST, the second 01:20 of 1 November; quiet hours 01:00-01:45.
    # Their end on the wall clock first came at 01:45 EDT, an hour before now: the end that
    # counts is 01:45 EST.
    starts_at = utc(2026, 10, 31, 12, 0)
    now = utc(2026, 11, 1, 6, 20)

    times = checkin_times(
        CheckInTiming(after=timedelta(hours=1)),
        starts_at,
        NEW_YORK,
        QuietHours(time(1), time(1, 45)),
        now,
    )

    assert times is not None
    assert times.send_at == utc(2026, 11, 1, 6, 45)
    assert local(times.send_at, NEW_YORK) == (date(2026, 11, 1), time(1, 45), timedelta(hours=-5))


def test_quiet_hours_ending_in_a_gap_that_leaves_the_window() -> None:
    # Quiet 02:30-02:15 leaves only 02:15-02:30 free; 8 March has no such wall time, and its
    # "end" (03:00 EDT, the gap's end) is quiet again: the next free minute is on the 9th.
    quiet = QuietHours(time(2, 30), time(2, 15))
    starts_at = local_instant(date(2026, 3, 7), time(20, 0), NEW_YORK)

    times = checkin_times(
        CheckInTiming(after=timedelta(hours=6)), starts_at, NEW_YORK, quiet, starts_at
    )

    assert times is not None
    assert local(times.send_at, NEW_YORK)[:2] == (date(2026, 3, 9), time(2, 15))
    assert not quiet.contains_instant(times.send_at, NEW_YORK)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        checkin_times(DEFAULT_CHECKIN, datetime(2026, 6, 10, 12), BERLIN, None, utc(2026, 6, 10))
    with pytest.raises(ValueError, match="aware"):
        checkin_times(DEFAULT_CHECKIN, utc(2026, 6, 10), BERLIN, None, datetime(2026, 6, 10, 12))


# --- properties -----------------------------------------------------------------------------

ZONES = [
    "America/New_York",
    "Europe/Berlin",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "America/Santiago",
    "Pacific/Chatham",
    "Asia/Kolkata",
    "UTC",
]

zones = st.sampled_from(ZONES).map(ZoneInfo)
days = st.dates(min_value=date(2026, 1, 1), max_value=date(2027, 12, 31))
walls = st.times().map(lambda t: t.replace(microsecond=0))
timings = st.one_of(
    st.integers(1, 7).map(lambda n: CheckInTiming(days=n)),
    st.integers(1, 7 * 86400).map(lambda s: CheckInTiming(after=timedelta(seconds=s))),
)


@st.composite
def quiet_windows(draw: st.DrawFn) -> QuietHours | None:
    if draw(st.booleans()):
        return None
    minute = st.integers(0, 1439).map(lambda m: time(m // 60, m % 60))
    start, end = draw(minute), draw(minute)
    assume(start != end)
    return QuietHours(start, end)


def exists(day: date, wall: time, zone: ZoneInfo) -> bool:
    naive = datetime.combine(day, wall)
    return naive.replace(tzinfo=zone).astimezone(UTC).astimezone(zone).replace(tzinfo=None) == naive


@settings(max_examples=400, deadline=None)
@given(timings)
def test_every_timing_round_trips_through_its_text(timing: CheckInTiming) -> None:
    assert parse_checkin(str(timing)) == timing


@settings(max_examples=400, deadline=None)
@given(
    zones,
    days,
    walls,
    timings,
    quiet_windows(),
    st.integers(-3600, 9 * 86400),
)
def test_checkin_is_never_quiet_stale_early_or_off_its_wall_time(
    zone: ZoneInfo,
    day: date,
    wall: time,
    timing: CheckInTiming,
    quiet: QuietHours | None,
    done_after: int,
) -> None:
    starts_at = local_instant(day, wall, zone)
    now = starts_at + timedelta(seconds=done_after)

    times = checkin_times(timing, starts_at, zone, quiet, now)

    if times is None:
        # Only freshness or quiet hours leave a check-in out.
        wanted = checkin_times(timing, starts_at, zone, None, starts_at - timedelta(days=8))
        assert wanted is not None
        assert quiet is not None or now >= wanted.expires_at
        return
    wanted_at = times.expires_at - CHECKIN_FRESH
    assert times.send_at.utcoffset() == timedelta(0)
    assert times.expires_at.utcoffset() == timedelta(0)
    assert times.send_at >= now
    assert times.send_at >= wanted_at
    assert times.send_at < times.expires_at
    if quiet is not None:
        assert not quiet.contains_instant(times.send_at, zone)
    elif now <= wanted_at:
        assert times.send_at == wanted_at
    else:
        assert times.send_at == now
    if timing.days:
        session = starts_at.astimezone(zone)
        due = wanted_at.astimezone(zone)
        due_day = session.date() + timedelta(days=timing.days)
        if exists(due_day, session.time(), zone):
            assert (due.date(), due.time()) == (due_day, session.time())
            # In a fold, the first occurrence.
            first = datetime.combine(due_day, session.time(), tzinfo=zone).replace(fold=0)
            assert wanted_at == first.astimezone(UTC)
        else:
            # In a gap: the first valid instant after it, on the same day, an instant after
            # the offset changed.
            assert due.date() == due_day
            assert due.time() > session.time()
            before = (wanted_at - timedelta(seconds=1)).astimezone(zone)
            assert before.utcoffset() != due.utcoffset()
    else:
        assert wanted_at == starts_at + timing.after
