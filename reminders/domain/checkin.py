"""The tolerance check-in: when the `skin_check` SMS after a session goes out.

`REMINDERS_CHECKIN` says when: `+Nd` is N local calendar days after, at the session's wall
time (R6); `+Nh`, `+Nm`, `+Ns` are real durations after the session start; `off` sends none.
Like the plan's steps, a check-in is never sent inside quiet hours (R7) nor stale (R8).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from reminders.domain.errors import InvalidInput
from reminders.domain.model import parse_whole_number
from reminders.domain.planning import DAY, QuietHours, local_instant

MAX_CHECKIN_DAYS = 7
MAX_CHECKIN_AFTER = timedelta(days=MAX_CHECKIN_DAYS)
CHECKIN_FRESH = timedelta(days=1)  # a check-in not sent within a day of its time is not sent

_OFFSET = re.compile(r"\+([0-9]+)([dhms])")
_UNITS = {"h": 3600, "m": 60, "s": 1}  # the largest first: str() picks the first that fits
_ACCEPTED = "+Nd (N from 1 to 7), +Nh, +Nm or +Ns (more than 0, at most 7 days) or 'off'"


class InvalidCheckIn(InvalidInput):
    """REMINDERS_CHECKIN cannot be parsed or is out of range."""

    def __init__(self, message: str) -> None:
        super().__init__("checkin", message)


@dataclass(frozen=True, slots=True)
class CheckInTiming:
    """The check-in `days` local calendar days after the session, at its wall time, or a real
    duration `after` the session start. Exactly one of the two is non-zero."""

    days: int = 0
    after: timedelta = timedelta(0)

    def __post_init__(self) -> None:
        if not (0 <= self.days <= MAX_CHECKIN_DAYS and timedelta(0) <= self.after):
            raise ValueError(f"check-in timing out of range: days={self.days} after={self.after}")
        if bool(self.days) == bool(self.after):
            raise ValueError("a check-in timing needs exactly one of days and after")
        if self.after > MAX_CHECKIN_AFTER or self.after % timedelta(seconds=1):
            raise ValueError(f"check-in timing out of range: after={self.after}")

    def __str__(self) -> str:
        if self.days:
            return f"+{self.days}d"
        seconds = self.after // timedelta(seconds=1)
        for unit, size in _UNITS.items():
            if seconds % size == 0:
                return f"+{seconds // size}{unit}"
        raise AssertionError("unreachable: every whole number of seconds has a unit")


DEFAULT_CHECKIN_TEXT = "+1d"


def _shown(value: str) -> str:
    # The rejected value as it goes into a one-line message: at most 20 characters, none of
    # them a line break or another control character.
    return "".join(c if c.isprintable() else "?" for c in value[:20])


def parse_checkin(text: str) -> CheckInTiming | None:
    """Parse REMINDERS_CHECKIN such as the default `+1d`, `+90m` or `off` (None).

    Only ASCII digits count, and no sign but `+`: the check-in comes after the session.
    Raises InvalidCheckIn naming the value and what is accepted.
    """
    value = text.strip()
    if value.lower() in ("off", "none"):
        return None
    if not value:
        raise InvalidCheckIn(f"REMINDERS_CHECKIN is empty; use {_ACCEPTED}")
    match = _OFFSET.fullmatch(value)
    if match is None:
        raise InvalidCheckIn(f"REMINDERS_CHECKIN '{_shown(value)}' is not one of {_ACCEPTED}")
    # Leading zeros aside, more than 7 digits is more than 7 days in any unit.
    number = parse_whole_number(match.group(1).lstrip("0") or "0", 7)
    unit = match.group(2)
    if number == 0:
        raise InvalidCheckIn(
            f"REMINDERS_CHECKIN '{_shown(value)}' is not after the session; use {_ACCEPTED}"
        )
    if unit == "d":
        if number is None or number > MAX_CHECKIN_DAYS:
            raise InvalidCheckIn(
                f"REMINDERS_CHECKIN '{_shown(value)}' is more than 7 days after; use {_ACCEPTED}"
            )
        return CheckInTiming(days=number)
    after = timedelta(seconds=number * _UNITS[unit]) if number is not None else None
    if after is None or after > MAX_CHECKIN_AFTER:
        raise InvalidCheckIn(
            f"REMINDERS_CHECKIN '{_shown(value)}' is more than 7 days after; use {_ACCEPTED}"
        )
    return CheckInTiming(after=after)


DEFAULT_CHECKIN = CheckInTiming(days=1)  # DEFAULT_CHECKIN_TEXT parsed


@dataclass(frozen=True, slots=True)
class CheckInTimes:
    """When a check-in is sent and when it goes stale (both UTC)."""

    send_at: datetime
    expires_at: datetime


def checkin_wanted_at(timing: CheckInTiming, starts_at: datetime, zone: ZoneInfo) -> datetime:
    """When the check-in after the session starting at `starts_at` is due, quiet hours aside:
    `+Nd` at the session's wall time N local calendar days later (R6: a gap moves it to the
    gap's end, a fold takes the first occurrence), any other timing a real duration later."""
    _require_aware(starts_at, "starts_at")
    if timing.days:
        local = starts_at.astimezone(zone)
        wall = local.time().replace(fold=0)
        return local_instant(local.date() + timing.days * DAY, wall, zone)
    return (starts_at + timing.after).astimezone(UTC)


def checkin_times(
    timing: CheckInTiming,
    starts_at: datetime,
    zone: ZoneInfo,
    quiet: QuietHours | None,
    now: datetime,
) -> CheckInTimes | None:
    """When the check-in after the session that started at `starts_at` goes out, decided at
    `now`, when the session is recorded done; None when it is not sent at all.

    Freshness: it expires CHECKIN_FRESH after it is due. A DONE that comes after it is due
    sends it at once (now), unless it has expired. One that is due inside quiet hours is moved
    to the end of quiet hours (R7), or left out when that is at or after the expiry.
    """
    _require_aware(now, "now")
    wanted = checkin_wanted_at(timing, starts_at, zone)
    expires_at = wanted + CHECKIN_FRESH
    if now >= expires_at:
        return None
    send_at = max(wanted, now.astimezone(UTC))  # a late DONE sends it at once
    if quiet is not None:
        moved = _out_of_quiet_hours(send_at, quiet, zone, expires_at)
        if moved is None:
            return None
        send_at = moved
    return CheckInTimes(send_at, expires_at)


def _out_of_quiet_hours(
    at: datetime, quiet: QuietHours, zone: ZoneInfo, expires_at: datetime
) -> datetime | None:
    """The first instant at or after `at` outside quiet hours (DST bends handled by
    QuietHours.end_after), or None if it is not before `expires_at`."""
    end = quiet.end_after(at, zone)
    return end if end < expires_at else None


def _require_aware(at: datetime, name: str) -> None:
    # A naive datetime would be read in the machine's zone: a bug, never a user's input.
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime (UTC), not {at!r}")
