"""The state of the in-memory database: one list of rows per table, copied by each unit of
work and swapped in on commit."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from reminders.domain.model import (
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
)

# --- An in-memory database behind the repository ports -------------------------------------
#
# The same semantics as the SQL repositories in reminders/adapters/repository/, without SQL:
# ids from 1 in insertion order, conditional updates that report whether they changed
# anything, erased users never found. A unit of work changes a copy of the tables and swaps
# it in on commit; leaving it without a commit discards the copy. Units of work are not
# isolated from each other beyond that (the last commit wins): unit tests run one at a time.

CLAIMER = re.compile(r"[0-9A-Za-z]{1,32}")


@dataclass(slots=True)
class UserRow:
    id: int
    phone: PhoneNumber | None  # None once erased
    status: UserStatus
    schedule: Schedule
    last_session_date: date | None
    created_at: datetime
    updated_at: datetime
    erased_at: datetime | None = None
    paused_reason: PausedReason | None = None
    safety_notice_at: datetime | None = None
    checkin_due: bool = False
    done_asked_at: datetime | None = None

    def user(self) -> User:
        return User(
            self.id,
            self.phone,
            self.status,
            self.schedule,
            self.last_session_date,
            self.created_at,
            self.paused_reason,
            self.safety_notice_at,
            self.checkin_due,
            self.done_asked_at,
        )


@dataclass(slots=True)
class SessionRow:
    id: int
    user_id: int
    local_date: date
    starts_at: datetime
    status: SessionStatus
    kind: SessionKind
    later_count: int
    outcome_at: datetime | None
    checkin: CheckIn | None = None

    def session(self) -> Session:
        return Session(
            self.id,
            self.user_id,
            self.local_date,
            self.starts_at,
            self.status,
            self.kind,
            self.later_count,
            self.outcome_at,
            self.checkin,
        )


@dataclass(slots=True)
class ReminderRow:
    id: int
    user_id: int
    session_id: int | None
    step: Step
    send_at: datetime
    expires_at: datetime
    due_at: datetime
    status: ReminderStatus
    updated_at: datetime
    attempts: int = 0
    claims: int = 0
    provider_sid: str | None = None
    error_code: int | None = None
    sent_at: datetime | None = None
    claimed_by: str | None = None
    claimed_at: datetime | None = None

    def reminder(self) -> Reminder:
        return Reminder(
            self.id,
            self.user_id,
            self.session_id,
            self.step,
            self.send_at,
            self.expires_at,
            self.due_at,
            self.status,
            self.attempts,
            self.error_code,
            self.sent_at,
        )


@dataclass(slots=True)
class MessageRow:
    id: int
    user_id: int | None
    reminder_id: int | None
    direction: Direction
    step: Step | None
    keyword: str | None
    body: str | None  # None once erased
    status: str
    provider_sid: str | None
    error_code: int | None
    created_at: datetime
    updated_at: datetime

    def record(self) -> MessageRecord:
        return MessageRecord(
            self.id,
            self.user_id,
            self.reminder_id,
            self.direction,
            self.step,
            self.keyword,
            self.status,
            self.error_code,
            self.created_at,
        )


@dataclass(slots=True)
class DispatcherRow:
    id: str
    beats: int
    started_at: datetime
    beat_at: datetime


@dataclass(slots=True)
class ReplyLogRow:
    phone: str
    window_started_at: datetime
    replies_in_window: int
    not_enrolled_at: datetime | None = None
    text_key: str | None = None
    text_repeats: int = 0
    muted_until: datetime | None = None


@dataclass
class Tables:
    """Every table's rows by primary key. Users, sessions, reminders and messages are never
    deleted, so the next id is one more than how many there are."""

    users: dict[int, UserRow] = field(default_factory=dict)
    sessions: dict[int, SessionRow] = field(default_factory=dict)
    reminders: dict[int, ReminderRow] = field(default_factory=dict)
    messages: dict[int, MessageRow] = field(default_factory=dict)
    dispatchers: dict[str, DispatcherRow] = field(default_factory=dict)
    reply_log: dict[str, ReplyLogRow] = field(default_factory=dict)

    def copy(self) -> Tables:
        return Tables(
            {k: replace(v) for k, v in self.users.items()},
            {k: replace(v) for k, v in self.sessions.items()},
            {k: replace(v) for k, v in self.reminders.items()},
            {k: replace(v) for k, v in self.messages.items()},
            {k: replace(v) for k, v in self.dispatchers.items()},
            {k: replace(v) for k, v in self.reply_log.items()},
        )


class InMemoryStore:
    """The committed state of the tables. `tables` is for tests to read (never to change);
    with `unavailable`, every unit of work fails to begin as with a database out of reach."""

    def __init__(self) -> None:
        self._tables = Tables()
        self._lock = threading.Lock()
        self.unavailable = False
        self.commits = 0

    @property
    def tables(self) -> Tables:
        with self._lock:
            return self._tables

    def snapshot(self) -> Tables:
        with self._lock:
            return self._tables.copy()

    def swap(self, tables: Tables) -> None:
        with self._lock:
            self._tables = tables
            self.commits += 1


class OpenWork:
    """The tables a unit of work changes, between its `with` and its end."""

    def __init__(self) -> None:
        self.current: Tables | None = None

    @property
    def tables(self) -> Tables:
        if self.current is None:
            raise RuntimeError("a repository used outside its unit of work's `with` block")
        return self.current


class TableRepository:
    def __init__(self, work: OpenWork) -> None:
        self._work = work

    @property
    def _t(self) -> Tables:
        return self._work.tables


def insert_message(
    tables: Tables,
    message: InboundMessage | OutboundMessage,
    direction: Direction,
    status: str,
    now: datetime,
) -> None:
    outbound = message if isinstance(message, OutboundMessage) else None
    row = MessageRow(
        id=len(tables.messages) + 1,
        user_id=message.user_id,
        reminder_id=outbound.reminder_id if outbound else None,
        direction=direction,
        step=outbound.step if outbound else None,
        keyword=message.keyword,
        body=message.body,
        status=status,
        provider_sid=message.provider_sid,
        error_code=None,
        created_at=now,
        updated_at=now,
    )
    tables.messages[row.id] = row
