"""Planning in local wall time: plans, quiet hours, DST and freshness.

The only place where local wall times become UTC instants (R6).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from reminders.domain.errors import (
    InvalidInput,
    InvalidPlan,
    InvalidQuietHours,
    QuietHoursConflict,
)
from reminders.domain.model import (
    PLAN_STEPS,
    ROLL_FRESH_HOURS,
    PlannedReminder,
    PlannedSession,
    Schedule,
    Step,
    format_wall_time,
)

DAY = timedelta(days=1)


# --- plan (R4, R5) -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlanStep:
    """A step at `days` local calendar days before the session's wall time, or at a real
    duration `before` the session start. Exactly one of the two is non-zero (or both zero)."""

    step: Step
    days: int = 0
    before: timedelta = timedelta(0)

    def describe(self) -> str:
        if self.days:
            return f"{self.step}@-{self.days}d"
        if not self.before:
            return f"{self.step}@0s"
        return f"{self.step}@-{int(self.before.total_seconds())}s"


@dataclass(frozen=True, slots=True)
class Plan:
    steps: tuple[PlanStep, ...]

    def __str__(self) -> str:
        return ",".join(s.describe() for s in self.steps)


DEFAULT_PLAN_TEXT = "heads_up@-1d,makeup_removal@-45m,peeling@-20m,roll@0s"
_OFFSET = re.compile(r"^(?:-([0-9]+)([dhms])|(0)[dhms]?)$")  # ASCII digits only
_UNITS = {"h": 3600, "m": 60, "s": 1}


def parse_plan(text: str) -> Plan:
    """Parse `step@offset,...` such as the default `heads_up@-1d,...,roll@0s`.

    `-Nd` is N local calendar days before at the session's wall time; `-Nh`, `-Nm`, `-Ns` are
    real durations. `roll` must be present at offset 0; other steps may be left out.
    Raises InvalidPlan naming the part that is wrong and what is accepted.
    """
    names = ", ".join(s.value for s in PLAN_STEPS)
    seen: dict[Step, PlanStep] = {}
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise InvalidPlan("REMINDERS_PLAN is empty; it needs at least 'roll@0s'")
    for part in parts:
        name, sep, offset = part.partition("@")
        try:
            step = Step(name.strip())
        except ValueError:
            step = None
        if step is None or step not in PLAN_STEPS:
            raise InvalidPlan(f"REMINDERS_PLAN step '{name.strip()[:30]}' is unknown; use {names}")
        if step in seen:
            raise InvalidPlan(f"REMINDERS_PLAN names '{step}' twice")
        match = _OFFSET.match(offset.strip()) if sep else None
        if match is None:
            raise InvalidPlan(
                f"REMINDERS_PLAN offset '{offset.strip()[:20]}' of '{step}' is not one of -Nd,"
                " -Nh, -Nm, -Ns or 0s (steps come before the session)"
            )
        if match.group(3) is not None:
            plan_step = PlanStep(step)
        elif match.group(2) == "d":
            plan_step = PlanStep(step, days=int(match.group(1)))
        else:
            plan_step = PlanStep(
                step, before=timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])
            )
        if plan_step.days > 7 or plan_step.before > timedelta(days=7):
            raise InvalidPlan(f"REMINDERS_PLAN offset of '{step}' is more than 7 days before")
        seen[step] = plan_step
    roll = seen.get(Step.ROLL)
    if roll is None or roll.days or roll.before:
        raise InvalidPlan("REMINDERS_PLAN must contain 'roll@0s': the roll is the session itself")
    ordered = sorted(seen.values(), key=lambda s: (-s.days, -s.before))
    return Plan(tuple(ordered))


DEFAULT_PLAN = parse_plan(DEFAULT_PLAN_TEXT)


# --- quiet hours (R7) -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A local window [start, end) in which no SMS is sent; it may wrap midnight."""

    start: time
    end: time

    def __str__(self) -> str:
        return f"{format_wall_time(self.start)}-{format_wall_time(self.end)}"

    def contains(self, wall: time) -> bool:
        if self.start <= self.end:
            return self.start <= wall < self.end
        return wall >= self.start or wall < self.end

    def contains_instant(self, at: datetime, zone: ZoneInfo) -> bool:
        return self.contains(at.astimezone(zone).time())

    def end_after(self, at: datetime, zone: ZoneInfo) -> datetime:
        """The first instant at or after `at` that is outside the window (UTC).

        Across DST (R6): when the window's end falls in an autumn fold and its first
        occurrence is already past, the second one counts; when it falls in a spring gap, it
        moves to the gap's end, and if that is inside the window again the next end counts."""
        for _ in range(3):
            local = at.astimezone(zone)
            if not self.contains(local.time()):
                return at
            end_date = local.date()
            if self.start > self.end and local.time() >= self.start:
                end_date += DAY
            end = local_instant(end_date, self.end, zone)
            if end <= at:  # a fold: the end's first occurrence came before `at`
                naive = datetime.combine(end_date, self.end)
                end = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
            if end <= at:
                end = local_instant(end_date + DAY, self.end, zone)
            at = end
        return at


_QUIET = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")


def parse_quiet_hours(text: str) -> QuietHours | None:
    """Parse "21:00-08:00" or "off". Raises InvalidQuietHours."""
    value = text.strip().lower()
    if value in ("off", "none", ""):
        return None
    match = _QUIET.match(value)
    if match is None:
        raise InvalidQuietHours(
            f"REMINDERS_QUIET_HOURS '{text[:20]}' is not 'HH:MM-HH:MM' (such as '21:00-08:00')"
            " or 'off'"
        )
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59 or (h1, m1) == (h2, m2):
        raise InvalidQuietHours(
            f"REMINDERS_QUIET_HOURS '{text[:20]}' needs two different 24-hour times, such as"
            " '21:00-08:00'"
        )
    return QuietHours(time(h1, m1), time(h2, m2))


DEFAULT_QUIET_HOURS = QuietHours(time(21, 0), time(8, 0))


def _step_wall_seconds(session_seconds: int, plan_step: PlanStep) -> int:
    return (session_seconds - int(plan_step.before.total_seconds())) % 86400


def allowed_session_times(plan: Plan, quiet: QuietHours | None) -> list[tuple[time, time]]:
    """The ranges of whole-minute session times (inclusive) that keep every step out of quiet
    hours, computed on the wall clock. Empty when none is possible."""
    if quiet is None:
        return [(time(0, 0), time(23, 59))]
    ok = []
    for minute in range(1440):
        seconds = minute * 60
        ok.append(
            all(
                not quiet.contains(_seconds_to_time(_step_wall_seconds(seconds, s)))
                for s in plan.steps
            )
        )
    ranges: list[tuple[int, int]] = []
    start: int | None = None
    for minute, good in enumerate(ok + [False]):
        if good and start is None:
            start = minute
        elif not good and start is not None:
            ranges.append((start, minute - 1))
            start = None
    # A range ending at 23:59 and one starting at 00:00 are one window across midnight.
    if len(ranges) > 1 and ranges[0][0] == 0 and ranges[-1][1] == 1439:
        ranges = [(ranges[-1][0], ranges[0][1])] + ranges[1:-1]
    return [(_seconds_to_time(a * 60), _seconds_to_time(b * 60)) for a, b in ranges]


def describe_windows(windows: list[tuple[time, time]]) -> str:
    if not windows:
        return "none"
    return " or ".join(f"{format_wall_time(a)}-{format_wall_time(b)}" for a, b in windows)


def _seconds_to_time(seconds: int) -> time:
    return time(seconds // 3600, seconds % 3600 // 60, seconds % 60)


def check_session_time(
    session_time: time, plan: Plan, quiet: QuietHours | None, field: str = "session_time"
) -> None:
    """R7: raise QuietHoursConflict naming the first step that would fall in quiet hours and
    the allowed session-time window."""
    if quiet is None:
        return
    seconds = session_time.hour * 3600 + session_time.minute * 60
    for plan_step in plan.steps:
        wall = _seconds_to_time(_step_wall_seconds(seconds, plan_step))
        if quiet.contains(wall):
            allowed = describe_windows(allowed_session_times(plan, quiet))
            raise QuietHoursConflict(
                field,
                f"{field} {format_wall_time(session_time)} would send the {plan_step.step} SMS at "
                f"{format_wall_time(wall)}, inside quiet hours {quiet}; allowed session times "
                f"are {allowed}",
                allowed,
            )


# --- local time (R6) ------------------------------------------------------------------------


@cache
def _iana_names() -> frozenset[str]:
    # The names the zone database lists, read once. ZoneInfo alone would also open the
    # right/ and posix/ variants (leap-second and POSIX-rule copies) and any other file under
    # the zone directories; available_timezones() leaves those out.
    return frozenset(available_timezones())


def zone_for(name: str, field: str = "timezone") -> ZoneInfo:
    """The IANA zone `name`: an Area/Location name the zone database lists, or 'UTC'. Raises
    InvalidInput naming the field for anything else (right/ and posix/ variants included)."""
    if (
        not isinstance(name, str)
        or ("/" not in name and name != "UTC")
        or (name not in _iana_names())
    ):
        raise InvalidInput(
            field, f"{field} '{str(name)[:40]}' is not an IANA name such as 'Europe/Kyiv'"
        )
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidInput(
            field, f"{field} '{name[:40]}' is not an IANA name such as 'Europe/Kyiv'"
        ) from None


def local_instant(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of wall time `wall` on local date `day` (R6).

    A wall time in a spring-forward gap moves forward to the first valid instant (the end of
    the gap); an ambiguous one in an autumn fold takes the first occurrence.
    """
    naive = datetime.combine(day, wall.replace(tzinfo=None))
    first = naive.replace(tzinfo=zone, fold=0)
    utc = first.astimezone(UTC)
    if utc.astimezone(zone).replace(tzinfo=None) == naive:
        return utc  # exists (fold=0 is the first occurrence of an ambiguous time)
    # In a gap: fold=1 resolves with the earlier offset's successor, giving an instant before
    # the transition; fold=0 one after. The transition lies between: find it to the second.
    low = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    high = utc
    if low > high:
        low, high = high, low
    after_offset = high.astimezone(zone).utcoffset()
    while high - low > timedelta(seconds=1):
        mid = low + (high - low) / 2
        mid = mid.replace(microsecond=0)
        if mid.astimezone(zone).utcoffset() == after_offset:
            high = mid
        else:
            low = mid
    return high


def local_date(at: datetime, zone: ZoneInfo) -> date:
    return at.astimezone(zone).date()


# --- a session's SMS (R4, R6, R8) ------------------------------------------------------------


def step_send_at(
    plan_step: PlanStep, day: date, schedule: Schedule, zone: ZoneInfo, starts_at: datetime
) -> datetime:
    """When `plan_step` of the session on local date `day`, starting at `starts_at`, is due,
    quiet hours aside (R5, R6): `-Nd` at the session's wall time N local calendar days
    before, any other offset a real duration before the start."""
    if plan_step.days:
        return local_instant(day - plan_step.days * DAY, schedule.session_time, zone)
    return starts_at - plan_step.before


def session_start(day: date, schedule: Schedule) -> datetime:
    """The instant the session on local date `day` starts: the schedule's wall time (R6)."""
    return local_instant(day, schedule.session_time, zone_for(schedule.timezone))


def plan_session(
    day: date, schedule: Schedule, plan: Plan, quiet: QuietHours | None = None
) -> PlannedSession:
    """The session on local date `day` with one reminder per plan step.

    Freshness (R8): prep steps and heads_up expire at the session start; roll 2 h after it.
    A step that DST pushes into quiet hours is moved to the end of quiet hours, or left out when
    that would be too late to help.
    """
    zone = zone_for(schedule.timezone)
    starts_at = session_start(day, schedule)
    reminders = []
    for plan_step in plan.steps:
        send_at = step_send_at(plan_step, day, schedule, zone, starts_at)
        expires_at = (
            starts_at + timedelta(hours=ROLL_FRESH_HOURS)
            if plan_step.step is Step.ROLL
            else starts_at
        )
        if quiet is not None and quiet.contains_instant(send_at, zone):
            send_at = quiet.end_after(send_at, zone)
        if send_at > expires_at or (send_at == expires_at and plan_step.step is not Step.ROLL):
            continue
        reminders.append(PlannedReminder(plan_step.step, send_at, expires_at))
    return PlannedSession(day, starts_at, tuple(reminders))


def first_send_at(day: date, schedule: Schedule, plan: Plan) -> datetime:
    """When the earliest step of the session on `day` is due (ignoring quiet hours)."""
    zone = zone_for(schedule.timezone)
    starts_at = session_start(day, schedule)
    return min([starts_at, *(step_send_at(s, day, schedule, zone, starts_at) for s in plan.steps)])


# --- at send time (R7, R8) ------------------------------------------------------------------


class SendAction(StrEnum):
    SEND = "send"
    WAIT = "wait"  # until quiet hours end
    EXPIRE = "expire"  # too late to help


@dataclass(frozen=True, slots=True)
class SendDecision:
    """What to do with a due reminder now: send, wait until `wait_until`, or expire."""

    action: SendAction
    wait_until: datetime | None = None


def decide_send(
    *, now: datetime, expires_at: datetime, zone: ZoneInfo, quiet: QuietHours | None
) -> SendDecision:
    """R7 and R8 at send time: never late, never inside quiet hours."""
    if now >= expires_at:
        return SendDecision(SendAction.EXPIRE)
    if quiet is not None and quiet.contains_instant(now, zone):
        end = quiet.end_after(now, zone)
        if end >= expires_at:
            return SendDecision(SendAction.EXPIRE)
        return SendDecision(SendAction.WAIT, end)
    return SendDecision(SendAction.SEND)
