"""Read-only views for operators: a user's history and the service's figures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from reminders.domain.model import (
    ENDED_SESSION_STATUSES,
    CheckIn,
    Direction,
    PausedReason,
    ReminderStatus,
    Session,
    SessionStatus,
    Step,
    User,
    UserStatus,
)
from reminders.ports import UnitOfWork

# How the figures name the check-ins: answered ok, with a reaction, or sent and not answered.
CHECKIN_ANSWERS = {CheckIn.OK: "ok", CheckIn.REACTION: "reaction", CheckIn.ASKED: "none"}


@dataclass(frozen=True, slots=True)
class MessageEntry:
    """One SMS in or out, without its body."""

    direction: Direction
    step: Step | None  # the plan step of a reminder
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
    sessions = uow.sessions.ended_for(user.id, session_limit)
    messages = [
        MessageEntry(
            direction=m.direction,
            step=m.step,
            keyword=m.keyword,
            status=m.status,
            error_code=m.error_code,
            at=m.created_at,
        )
        for m in uow.messages.for_user(user.id, message_limit)
    ]
    return History(sessions, messages)


@dataclass(frozen=True, slots=True)
class Stats:
    users: dict[str, int]  # every user status, erased users left out
    paused: dict[str, int]  # paused users by every reason, erased users left out
    sessions: dict[str, int]  # every session status
    reminders: dict[str, int]  # every reminder status: each reminder is one planned SMS
    messages: dict[str, dict[str, int]]  # direction -> provider or reply status -> count
    checkins: dict[str, int]  # check-ins sent, by answer: ok, reaction, none (not answered)
    adherence: float | None  # done / (done + skipped + unconfirmed); None before any ended


def stats(uow: UnitOfWork) -> Stats:
    """Counts by status, paused users by reason, check-ins by answer, and adherence: the share
    of ended sessions the user did."""
    users = uow.users.count_by_status()
    paused = uow.users.count_paused_by_reason()
    checkins = uow.sessions.count_checkins()
    sessions = uow.sessions.count_by_status()
    reminders = uow.reminders.count_by_status()
    messages: dict[str, dict[str, int]] = {d.value: {} for d in Direction}
    for (direction, status), count in uow.messages.count_by_status().items():
        messages[direction.value][status] = count
    ended = sum(sessions.get(s, 0) for s in ENDED_SESSION_STATUSES)
    adherence = sessions.get(SessionStatus.DONE, 0) / ended if ended else None
    return Stats(
        users={s.value: users.get(s, 0) for s in UserStatus},
        paused={r.value: paused.get(r, 0) for r in PausedReason},
        sessions={s.value: sessions.get(s, 0) for s in SessionStatus},
        reminders={s.value: reminders.get(s, 0) for s in ReminderStatus},
        messages=messages,
        checkins={name: checkins.get(c, 0) for c, name in CHECKIN_ANSWERS.items()},
        adherence=adherence,
    )
