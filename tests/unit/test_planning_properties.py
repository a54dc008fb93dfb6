"""Property tests (hypothesis): no SMS is ever due inside quiet hours, none is sent stale."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from reminders.domain.model import Schedule
from reminders.domain.planning import (
    Plan,
    PlanStep,
    QuietHours,
    Step,
    allowed_session_times,
    decide_send,
    plan_session,
)

ZONES = [
    "America/New_York",
    "Europe/Berlin",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "America/Santiago",
    "Asia/Kolkata",
    "Pacific/Chatham",
    "UTC",
]

zones = st.sampled_from(ZONES)
days = st.dates(min_value=date(2026, 1, 1), max_value=date(2028, 12, 31))
walls = st.times().map(lambda t: t.replace(second=0, microsecond=0))


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    steps = [PlanStep(Step.ROLL)]
    if draw(st.booleans()):
        steps.append(PlanStep(Step.HEADS_UP, days=draw(st.integers(1, 3))))
    for step in (Step.MAKEUP_REMOVAL, Step.PEELING):
        if draw(st.booleans()):
            before = timedelta(seconds=draw(st.integers(1, 6 * 3600)))
            steps.append(PlanStep(step, before=before))
    return Plan(tuple(sorted(steps, key=lambda s: (-s.days, -s.before))))


@st.composite
def quiet_windows(draw: st.DrawFn) -> QuietHours:
    start = draw(walls)
    end = draw(walls)
    assume(start != end)
    return QuietHours(start, end)


@st.composite
def allowed_schedules(draw: st.DrawFn) -> tuple[Schedule, Plan, QuietHours]:
    plan = draw(plans())
    quiet = draw(quiet_windows())
    windows = allowed_session_times(plan, quiet)
    assume(windows)
    first, last = draw(st.sampled_from(windows))
    minutes_first = first.hour * 60 + first.minute
    length = (last.hour * 60 + last.minute - minutes_first) % 1440
    pick = (minutes_first + draw(st.integers(0, length))) % 1440
    wall = time(pick // 60, pick % 60)
    return Schedule(draw(zones), wall, 14), plan, quiet


@settings(max_examples=150, deadline=None)
@given(allowed_schedules(), days)
def test_no_planned_sms_is_due_inside_quiet_hours(
    setup: tuple[Schedule, Plan, QuietHours], day: date
) -> None:
    schedule, plan, quiet = setup

    session = plan_session(day, schedule, plan, quiet)

    zone = ZoneInfo(schedule.timezone)
    for reminder in session.reminders:
        assert not quiet.contains_instant(reminder.send_at, zone), reminder
        assert reminder.send_at <= reminder.expires_at


@settings(max_examples=150, deadline=None)
@given(
    zones,
    quiet_windows(),
    st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31)),
    st.integers(0, 48 * 3600),
)
def test_dispatcher_never_sends_inside_quiet_hours_or_after_expiry(
    zone_name: str, quiet: QuietHours, naive_now: datetime, fresh_seconds: int
) -> None:
    zone = ZoneInfo(zone_name)
    now = naive_now.replace(tzinfo=UTC)
    expires_at = now + timedelta(seconds=fresh_seconds)

    decision = decide_send(now=now, expires_at=expires_at, zone=zone, quiet=quiet)

    if decision.action == "send":
        assert not quiet.contains_instant(now, zone)
        assert now < expires_at
    elif decision.action == "wait":
        assert decision.wait_until is not None
        assert now < decision.wait_until < expires_at
        assert not quiet.contains_instant(decision.wait_until, zone)


quarter_walls = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))
# Instants around the DST changes of 2026 and 2027 in the zones above, and anywhere else.
near_changes = st.one_of(
    st.datetimes(min_value=datetime(2026, 3, 7), max_value=datetime(2026, 4, 6)),
    st.datetimes(min_value=datetime(2026, 9, 26), max_value=datetime(2026, 11, 3)),
    st.datetimes(min_value=datetime(2027, 3, 12), max_value=datetime(2027, 4, 5)),
    st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31)),
)


@settings(max_examples=400, deadline=None)
@given(zones, quarter_walls, quarter_walls, near_changes)
def test_the_end_of_quiet_hours_is_never_before_and_never_inside_them(
    zone: str, start: time, end: time, at: datetime
) -> None:
    assume(start != end)
    quiet = QuietHours(start, end)
    instant = at.replace(tzinfo=UTC)

    ends = quiet.end_after(instant, ZoneInfo(zone))

    assert ends >= instant
    assert not quiet.contains_instant(ends, ZoneInfo(zone))
