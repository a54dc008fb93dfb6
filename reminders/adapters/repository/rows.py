"""Rows to domain objects and domain objects to row values, and the predicate of the partial due
index."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Row, text
from sqlalchemy.dialects import postgresql, sqlite

from reminders.adapters.db import ACTIVE
from reminders.domain.model import (
    ACTIVE_REMINDER_STATUSES,
    RECEIVED,
    CheckIn,
    Direction,
    InboundMessage,
    MessageRecord,
    OutboundMessage,
    PausedReason,
    PhoneNumber,
    Reminder,
    ReminderStatus,
    Schedule,
    Session,
    SessionKind,
    SessionStatus,
    Step,
    User,
    UserStatus,
    format_wall_time,
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
        # Only a paused user has a reason (an older replica's RESUME may leave one behind).
        paused_reason=(
            PausedReason(row.paused_reason)
            if row.paused_reason and row.status == UserStatus.PAUSED.value
            else None
        ),
        safety_notice_at=row.safety_notice_at,
        checkin_due=bool(row.checkin_due),
        done_asked_at=row.done_asked_at,
    )


def schedule_values(schedule: Schedule) -> dict[str, object]:
    """The columns of `users` that hold a schedule."""
    return {
        "timezone": schedule.timezone,
        "session_time": format_wall_time(schedule.session_time),
        "cadence_days": schedule.cadence_days,
    }


def session_from(row: Row[Any]) -> Session:
    return Session(
        id=row.id,
        user_id=row.user_id,
        local_date=row.local_date,
        starts_at=row.starts_at,
        status=SessionStatus(row.status),
        kind=SessionKind(row.kind),
        later_count=row.later_count,
        outcome_at=row.outcome_at,
        checkin=CheckIn(row.checkin) if row.checkin else None,
    )


def inbound_values(message: InboundMessage) -> dict[str, object]:
    """A row of `messages` for an SMS received."""
    return {
        "user_id": message.user_id,
        "reminder_id": None,
        "direction": Direction.IN.value,
        "step": None,
        "keyword": message.keyword,
        "body": message.body,
        "status": RECEIVED,
        "provider_sid": message.provider_sid,
    }


def outbound_values(message: OutboundMessage) -> dict[str, object]:
    """A row of `messages` for an SMS sent or replied; every such row has the same keys."""
    return {
        "user_id": message.user_id,
        "reminder_id": message.reminder_id,
        "direction": Direction.OUT.value,
        "step": message.step.value if message.step is not None else None,
        "keyword": message.keyword,
        "body": message.body,
        "status": message.status,
        "provider_sid": message.provider_sid,
    }


def message_from(row: Row[Any]) -> MessageRecord:
    return MessageRecord(
        id=row.id,
        user_id=row.user_id,
        reminder_id=row.reminder_id,
        direction=Direction(row.direction),
        step=Step(row.step) if row.step else None,
        keyword=row.keyword,
        status=row.status,
        error_code=row.error_code,
        created_at=row.created_at,
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
