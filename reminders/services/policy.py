"""The operator's choices that rules depend on, passed to every use case."""

from __future__ import annotations

from dataclasses import dataclass

from reminders.domain.checkin import DEFAULT_CHECKIN, CheckInTiming
from reminders.domain.planning import DEFAULT_PLAN, DEFAULT_QUIET_HOURS, Plan, QuietHours


@dataclass(frozen=True, slots=True)
class Policy:
    plan: Plan = DEFAULT_PLAN
    quiet_hours: QuietHours | None = DEFAULT_QUIET_HOURS
    brand: str = "RollerCare"
    help_contact: str = "help@example.com"
    checkin: CheckInTiming | None = DEFAULT_CHECKIN  # None: no check-in after sessions
