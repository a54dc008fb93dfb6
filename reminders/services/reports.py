"""Read-only views for operators: a user's history and the service's figures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from reminders.domain.model import (
    ReminderStatus,
    Session,
    SessionStatus,
    User,
    UserStatus,
)
from reminders.ports import UnitOfWork

ENDED_SESSION_STATUSES = (SessionStatus.DONE, SessionStatus.SKIPPED, SessionStatus.UNCONFIRMED)


@dataclass(frozen=True, slots=True)
class MessageEntry:
    """One SMS in or out, without its body."""

    direction: str  # "in" | "out"
    step: str | None  # the plan step of a reminder
    keyword: str | None  # the keyword an inbound message was read as, or a reply answered
    status: str
    error_code: int | None
    at: datetime


@dataclass(frozen=True, slots=True)
class History:
    sessions: list[Session]  # newest first, ended ones only
    messages: list[MessageEntry]  # newest first


def history(
    uow: UnitOfWork, user: User, *, session_limit: int = 100, message_limit: int = 200
) -> History:
    """The user's ended sessions with their outcomes and their messages, newest first."""
    sessions = uow.sessions.for_user(user.id, planned=False, limit=session_limit)
    messages = [
        MessageEntry(
            direction=row.direction,
            step=row.step,
            keyword=row.keyword,
            status=row.status,
            error_code=row.error_code,
            at=row.created_at,
        )
        for row in uow.messages.for_user(user.id, limit=message_limit)
    ]
    return History(sessions, messages)


@dataclass(frozen=True, slots=True)
class Stats:
    users: dict[str, int]  # every user status, erased users left out
    sessions: dict[str, int]  # every session status
    reminders: dict[str, int]  # every reminder status: each reminder is one planned SMS
    messages: dict[str, dict[str, int]]  # direction -> provider or reply status -> count
    adherence: float | None  # done / (done + skipped + unconfirmed); None before any ended


def stats(uow: UnitOfWork) -> Stats:
    """Counts by status and adherence: the share of ended sessions the user did."""
    users = {s.value: 0 for s in UserStatus} | uow.users.count_by_status()
    sessions = {s.value: 0 for s in SessionStatus} | uow.sessions.count_by_status()
    reminders = {s.value: 0 for s in ReminderStatus} | uow.reminders.count_by_status()
    messages: dict[str, dict[str, int]] = {"in": {}, "out": {}}
    for key, count in uow.messages.count_by_status().items():
        direction, _, status = key.partition(":")
        messages.setdefault(direction, {})[status] = count
    ended = sum(sessions[s.value] for s in ENDED_SESSION_STATUSES)
    adherence = sessions[SessionStatus.DONE.value] / ended if ended else None
    return Stats(users, sessions, reminders, messages, adherence)
