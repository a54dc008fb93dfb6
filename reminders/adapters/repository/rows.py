"""Rows to domain objects, and the predicate of the partial due index."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Row, text
from sqlalchemy.dialects import postgresql, sqlite

from reminders.adapters.db import ACTIVE
from reminders.domain.model import (
    ACTIVE_REMINDER_STATUSES,
    PhoneNumber,
    Reminder,
    ReminderStatus,
    Schedule,
    Session,
    SessionStatus,
    Step,
    User,
    UserStatus,
    parse_wall_time,
)

ACTIVE_VALUES = [s.value for s in ACTIVE_REMINDER_STATUSES]
# The partial due index is defined on this literal predicate; a query must repeat it
# literally (not with bound parameters) for SQLite and PostgreSQL to see it applies.
IS_ACTIVE = text(ACTIVE)


def upsert(connection: Connection) -> Callable[..., Any]:
    """The dialect's INSERT construct, which knows ON CONFLICT (PostgreSQL and SQLite)."""
    if connection.dialect.name == "postgresql":
        return postgresql.insert
    return sqlite.insert


def user_from(row: Row[Any]) -> User:
    return User(
        id=row.id,
        phone=PhoneNumber(row.phone) if row.phone else None,
        status=UserStatus(row.status),
        schedule=Schedule(row.timezone, parse_wall_time(row.session_time), row.cadence_days),
        last_session_date=row.last_session_date,
        created_at=row.created_at,
    )


def session_from(row: Row[Any]) -> Session:
    return Session(
        id=row.id,
        user_id=row.user_id,
        local_date=row.local_date,
        starts_at=row.starts_at,
        status=SessionStatus(row.status),
        kind=row.kind,
        later_count=row.later_count,
        outcome_at=row.outcome_at,
    )


def reminder_from(row: Row[Any]) -> Reminder:
    return Reminder(
        id=row.id,
        user_id=row.user_id,
        session_id=row.session_id,
        step=Step(row.step),
        send_at=row.send_at,
        expires_at=row.expires_at,
        due_at=row.due_at,
        status=ReminderStatus(row.status),
        attempts=row.attempts,
        error_code=row.error_code,
        sent_at=row.sent_at,
    )
