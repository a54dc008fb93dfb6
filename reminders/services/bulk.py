"""Enrolling many users at once (imports, benchmarks): the same rules as one at a time, in
a few statements per batch instead of several per user."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from reminders.domain.model import (
    PhoneNumber,
    PlannedReminder,
    PlannedSession,
    Schedule,
    UserStatus,
)
from reminders.domain.planning import plan_session
from reminders.domain.sessions import check_first_session_date, consent_request, next_session_date
from reminders.ports import UnitOfWork
from reminders.services.policy import Policy
from reminders.services.routine import plan_safety_notice


@dataclass(frozen=True, slots=True)
class Enrollment:
    phone: PhoneNumber
    schedule: Schedule
    consent_confirmed: bool = False
    first_session_date: date | None = None


@dataclass(frozen=True, slots=True)
class BulkResult:
    enrolled: int
    already_enrolled: int


def enroll_many(
    uow: UnitOfWork, policy: Policy, now: datetime, entries: Sequence[Enrollment]
) -> BulkResult:
    """Enrol a batch (validated schedules expected, as from `routine.make_schedule`). Numbers
    already enrolled, or repeated within the batch, are left out and counted."""
    for entry in entries:
        if entry.first_session_date is not None:
            check_first_session_date(entry.first_session_date, now, entry.schedule)
    taken = uow.users.enrolled_phones([e.phone for e in entries])
    fresh: list[Enrollment] = []
    for entry in entries:
        if entry.phone not in taken:
            taken.add(entry.phone)
            fresh.append(entry)
    statuses = [UserStatus.ACTIVE if e.consent_confirmed else UserStatus.PENDING for e in fresh]
    user_ids = uow.users.add_many(
        [(e.phone, status, e.schedule) for e, status in zip(fresh, statuses, strict=True)], now
    )
    planned: list[tuple[int, PlannedSession]] = []
    reminders: list[tuple[int, int | None, PlannedReminder]] = []
    for user_id, entry in zip(user_ids, fresh, strict=True):
        if not entry.consent_confirmed:
            reminders.append((user_id, None, consent_request(now)))
            continue
        day = entry.first_session_date or next_session_date(
            now=now, schedule=entry.schedule, plan=policy.plan, last_session_date=None
        )
        planned.append(
            (user_id, plan_session(day, entry.schedule, policy.plan, policy.quiet_hours))
        )
    consented = [
        (user_id, entry.schedule)
        for user_id, entry in zip(user_ids, fresh, strict=True)
        if entry.consent_confirmed
    ]
    plan_safety_notice(uow, policy, consented, now)
    session_ids = uow.sessions.add_many(planned, now)
    for session_id, (user_id, session) in zip(session_ids, planned, strict=True):
        reminders.extend((user_id, session_id, r) for r in session.still_ahead(now))
    uow.reminders.add_many(reminders, now)
    return BulkResult(len(fresh), len(entries) - len(fresh))
