"""Test doubles: a clock tests move by hand, an SMS sender that records, and an in-memory
unit of work implementing the repository ports of reminders/ports.py."""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from types import TracebackType

from reminders.domain.errors import Conflict, SmsLookupError, SmsSendError
from reminders.domain.model import (
    ACTIVE_REMINDER_STATUSES,
    Direction,
    DispatcherBeat,
    DueReminder,
    InboundMessage,
    MessageRecord,
    OutboundMessage,
    PhoneNumber,
    PlannedReminder,
    PlannedSession,
    Reminder,
    ReminderStatus,
    Schedule,
    SendOutcome,
    Session,
    SessionKind,
    SessionStatus,
    Step,
    TakenOver,
    User,
    UserStatus,
)
from reminders.ports import (
    DatabaseUnavailable,
    DispatcherRepository,
    MessageRepository,
    ReminderRepository,
    ReplyLogRepository,
    SentSms,
    SessionRepository,
    UserRepository,
)


class FakeClock:
    def __init__(self, start: datetime) -> None:
        assert start.tzinfo is not None
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._now += delta
            return self._now

    def set(self, at: datetime) -> None:
        with self._lock:
            self._now = at.astimezone(UTC)


@dataclass(frozen=True)
class SentRecord:
    to: str
    body: str
    at: datetime
    sid: str


class FakeSmsSender:
    """Records every send. `fail_with` makes the next sends raise, one error per send.

    `find_sent` answers from the record, as the provider would: the earliest send to that
    number with exactly that body at or after `since`. `lookups` counts the lookups made;
    `fail_lookups_with` makes the next lookups raise, one error each, and `lookups_fail`
    makes every lookup raise until it is set back to False.
    """

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.sent: list[SentRecord] = []
        self.errors: list[SmsSendError] = []
        self.before_send: Callable[[PhoneNumber, str], None] | None = None
        self.lookups = 0
        self.lookup_errors: list[SmsLookupError] = []
        self.lookups_fail = False
        self._clock = clock
        self._lock = threading.Lock()

    def fail_with(self, *errors: SmsSendError) -> None:
        with self._lock:
            self.errors.extend(errors)

    def fail_lookups_with(self, *errors: SmsLookupError) -> None:
        with self._lock:
            self.lookup_errors.extend(errors)

    def send(self, to: PhoneNumber, body: str) -> SentSms:
        if self.before_send is not None:
            self.before_send(to, body)
        with self._lock:
            if self.errors:
                raise self.errors.pop(0)
            sid = f"SMfake{len(self.sent):026d}"
            at = self._clock.now() if self._clock else datetime.now(UTC)
            self.sent.append(SentRecord(to.e164, body, at, sid))
        return SentSms(sid, "queued")

    def find_sent(self, to: PhoneNumber, body: str, since: datetime) -> SentSms | None:
        assert since.tzinfo is not None, "since must be timezone-aware"
        with self._lock:
            self.lookups += 1
            if self.lookup_errors:
                raise self.lookup_errors.pop(0)
            if self.lookups_fail:
                raise SmsLookupError("fake provider cannot be asked")
            matches = [s for s in self.sent if s.to == to.e164 and s.body == body and s.at >= since]
        if not matches:
            return None
        first = min(matches, key=lambda s: s.at)
        return SentSms(first.sid, "queued")

    def bodies_to(self, phone: str) -> list[str]:
        return [s.body for s in self.sent if s.to == phone]


# --- An in-memory database behind the repository ports -------------------------------------
#
# The same semantics as the SQL repositories in reminders/adapters/repository/, without SQL:
# ids from 1 in insertion order, conditional updates that report whether they changed
# anything, erased users never found. A unit of work changes a copy of the tables and swaps
# it in on commit; leaving it without a commit discards the copy. Units of work are not
# isolated from each other beyond that (the last commit wins): unit tests run one at a time.

_CLAIMER = re.compile(r"[0-9A-Za-z]{1,32}")


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

    def user(self) -> User:
        return User(
            self.id, self.phone, self.status, self.schedule, self.last_session_date, self.created_at
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


class _Open:
    """The tables a unit of work changes, between its `with` and its end."""

    def __init__(self) -> None:
        self.current: Tables | None = None

    @property
    def tables(self) -> Tables:
        if self.current is None:
            raise RuntimeError("a repository used outside its unit of work's `with` block")
        return self.current


class _Repository:
    def __init__(self, work: _Open) -> None:
        self._work = work

    @property
    def _t(self) -> Tables:
        return self._work.tables


class InMemoryUserRepository(_Repository):
    def add(
        self, phone: PhoneNumber, status: UserStatus, schedule: Schedule, now: datetime
    ) -> User:
        return self._insert(phone, status, schedule, now).user()

    def add_many(
        self, entries: Sequence[tuple[PhoneNumber, UserStatus, Schedule]], now: datetime
    ) -> list[int]:
        return [
            self._insert(phone, status, schedule, now).id for phone, status, schedule in entries
        ]

    def _insert(
        self, phone: PhoneNumber, status: UserStatus, schedule: Schedule, now: datetime
    ) -> UserRow:
        users = self._t.users
        if any(row.phone == phone for row in users.values()):
            raise Conflict("phone is already enrolled")
        row = UserRow(len(users) + 1, phone, status, schedule, None, now, now)
        users[row.id] = row
        return row

    def enrolled_phones(self, phones: Sequence[PhoneNumber]) -> set[PhoneNumber]:
        wanted = set(phones)
        return {row.phone for row in self._t.users.values() if row.phone in wanted and row.phone}

    def _found(self, user_id: int) -> UserRow | None:
        row = self._t.users.get(user_id)
        return row if row is not None and row.erased_at is None else None

    def get(self, user_id: int) -> User | None:
        row = self._found(user_id)
        return row.user() if row else None

    def lock(self, user_id: int) -> User | None:
        return self.get(user_id)

    def by_phone(self, phone: PhoneNumber, *, lock: bool = False) -> User | None:
        for row in self._t.users.values():
            if row.phone == phone:
                return row.user()
        return None

    def _change(self, user_id: int, now: datetime) -> UserRow | None:
        row = self._t.users.get(user_id)
        if row is not None:
            row.updated_at = now
        return row

    def set_status(self, user_id: int, status: UserStatus, now: datetime) -> None:
        if row := self._change(user_id, now):
            row.status = status

    def set_schedule(self, user_id: int, schedule: Schedule, now: datetime) -> None:
        if row := self._change(user_id, now):
            row.schedule = schedule

    def set_last_session_date(self, user_id: int, day: date, now: datetime) -> None:
        if row := self._change(user_id, now):
            row.last_session_date = day

    def page(self, status: UserStatus | None, after_id: int, limit: int) -> list[User]:
        rows = [
            row
            for row in sorted(self._t.users.values(), key=lambda r: r.id)
            if row.id > after_id and row.erased_at is None and status in (None, row.status)
        ]
        return [row.user() for row in rows[:limit]]

    def count_by_status(self) -> dict[UserStatus, int]:
        return dict(Counter(r.status for r in self._t.users.values() if r.erased_at is None))

    def erase(self, user_id: int, now: datetime) -> None:
        if row := self._change(user_id, now):
            row.phone, row.erased_at, row.status = None, now, UserStatus.OPTED_OUT


class InMemorySessionRepository(_Repository):
    def add(
        self,
        user_id: int,
        planned: PlannedSession,
        now: datetime,
        *,
        status: SessionStatus = SessionStatus.PLANNED,
        kind: SessionKind = SessionKind.PLANNED,
    ) -> Session:
        sessions = self._t.sessions
        outcome_at = None if status is SessionStatus.PLANNED else now
        row = SessionRow(
            len(sessions) + 1,
            user_id,
            planned.local_date,
            planned.starts_at,
            status,
            kind,
            0,
            outcome_at,
        )
        sessions[row.id] = row
        return row.session()

    def add_many(self, planned: Sequence[tuple[int, PlannedSession]], now: datetime) -> list[int]:
        return [self.add(user_id, session, now).id for user_id, session in planned]

    def get(self, session_id: int) -> Session | None:
        row = self._t.sessions.get(session_id)
        return row.session() if row else None

    def _planned(self) -> list[SessionRow]:
        """Planned sessions, earliest start first."""
        rows = (r for r in self._t.sessions.values() if r.status is SessionStatus.PLANNED)
        return sorted(rows, key=lambda r: (r.starts_at, r.id))

    def upcoming(self, user_id: int) -> Session | None:
        return next((r.session() for r in self._planned() if r.user_id == user_id), None)

    def upcoming_for(self, user_ids: Sequence[int]) -> dict[int, Session]:
        wanted = set(user_ids)
        found: dict[int, Session] = {}
        for row in self._planned():
            if row.user_id in wanted and row.user_id not in found:
                found[row.user_id] = row.session()
        return found

    def end(
        self, session_id: int, status: SessionStatus, now: datetime, *, on_date: date | None = None
    ) -> bool:
        row = self._t.sessions.get(session_id)
        if row is None or row.status is not SessionStatus.PLANNED:
            return False
        row.status, row.outcome_at = status, now
        if on_date is not None:
            row.local_date = on_date
        return True

    def move(self, session_id: int, planned: PlannedSession, later_count: int) -> Session:
        row = self._t.sessions[session_id]
        row.local_date, row.starts_at, row.later_count = (
            planned.local_date,
            planned.starts_at,
            later_count,
        )
        return row.session()

    def open_until(self, cutoff: datetime, limit: int) -> list[Session]:
        return [r.session() for r in self._planned() if r.starts_at <= cutoff][:limit]

    def ended_for(self, user_id: int, limit: int) -> list[Session]:
        rows = [
            r
            for r in self._t.sessions.values()
            if r.user_id == user_id and r.status is not SessionStatus.PLANNED
        ]
        rows.sort(key=lambda r: (r.starts_at, r.id), reverse=True)
        return [r.session() for r in rows[:limit]]

    def count_by_status(self) -> dict[SessionStatus, int]:
        return dict(Counter(r.status for r in self._t.sessions.values()))


class InMemoryReminderRepository(_Repository):
    def add(
        self,
        user_id: int,
        session_id: int | None,
        planned: Sequence[PlannedReminder],
        now: datetime,
    ) -> None:
        self.add_many([(user_id, session_id, p) for p in planned], now)

    def add_many(
        self, planned: Sequence[tuple[int, int | None, PlannedReminder]], now: datetime
    ) -> None:
        reminders = self._t.reminders
        for user_id, session_id, p in planned:
            row_id = len(reminders) + 1
            reminders[row_id] = ReminderRow(
                row_id,
                user_id,
                session_id,
                p.step,
                p.send_at,
                p.expires_at,
                due_at=p.send_at,
                status=ReminderStatus.SCHEDULED,
                updated_at=now,
            )

    def for_sessions(self, session_ids: Sequence[int]) -> list[Reminder]:
        wanted = set(session_ids)
        rows = [r for r in self._t.reminders.values() if r.session_id in wanted]
        return [r.reminder() for r in sorted(rows, key=lambda r: (r.send_at, r.id))]

    def _cancel(self, rows: Iterable[ReminderRow], now: datetime) -> int:
        cancelled = 0
        for row in rows:
            if row.status in ACTIVE_REMINDER_STATUSES:
                row.status, row.updated_at = ReminderStatus.CANCELLED, now
                cancelled += 1
        return cancelled

    def cancel_for_user(self, user_id: int, now: datetime) -> int:
        return self._cancel((r for r in self._t.reminders.values() if r.user_id == user_id), now)

    def cancel_for_session(self, session_id: int, now: datetime) -> int:
        rows = (r for r in self._t.reminders.values() if r.session_id == session_id)
        return self._cancel(rows, now)

    def _due(self, row: ReminderRow) -> DueReminder:
        user = self._t.users[row.user_id]
        session = self._t.sessions.get(row.session_id) if row.session_id is not None else None
        return DueReminder(
            id=row.id,
            user_id=row.user_id,
            step=row.step,
            send_at=row.send_at,
            expires_at=row.expires_at,
            attempts=row.attempts,
            phone=user.phone,
            user_status=user.status,
            timezone=user.schedule.timezone,
            session_starts_at=session.starts_at if session else None,
        )

    def _oldest_due(self, wanted: Callable[[ReminderRow], bool], limit: int) -> list[ReminderRow]:
        rows = [r for r in self._t.reminders.values() if wanted(r)]
        return sorted(rows, key=lambda r: (r.due_at, r.id))[:limit]

    def claim_due(
        self, now: datetime, lease_until: datetime, limit: int, claimer: str | None = None
    ) -> list[DueReminder]:
        def wanted(row: ReminderRow) -> bool:
            return row.status is ReminderStatus.SCHEDULED and row.due_at <= now

        claimed = self._oldest_due(wanted, limit)
        for row in claimed:
            row.status, row.due_at, row.claimed_by = ReminderStatus.SENDING, lease_until, claimer
            row.updated_at = row.claimed_at = now
            row.claims += 1
        return sorted((self._due(r) for r in claimed), key=lambda d: (d.send_at, d.id))

    def take_over(
        self,
        now: datetime,
        lease_until: datetime,
        limit: int,
        claimer: str,
        dead: Sequence[str],
    ) -> list[TakenOver]:
        live = set(self._t.dispatchers)

        def wanted(row: ReminderRow) -> bool:
            if row.status is not ReminderStatus.SENDING or row.due_at > lease_until:
                return False
            due = row.due_at <= now
            if row.claimed_by is None:  # a claim with no dispatcher waits out its lease
                return due
            return (
                row.claimed_by in dead
                or row.claimed_by not in live
                or (row.claimed_by == claimer and due)
            )

        taken = self._oldest_due(wanted, limit)
        for row in taken:
            row.due_at, row.claimed_by, row.updated_at = lease_until, claimer, now
        result = [TakenOver(self._due(r), r.claimed_at) for r in taken]
        return sorted(result, key=lambda t: (t.due.send_at, t.due.id))

    def finish(
        self,
        outcomes: Sequence[SendOutcome],
        now: datetime,
        sent: Sequence[OutboundMessage] = (),
        *,
        claimer: str | None = None,
    ) -> None:
        if claimer is not None and not _CLAIMER.fullmatch(claimer):
            raise ValueError("a dispatcher id is 1 to 32 letters and digits")
        sids = [m.provider_sid for m in sent if m.provider_sid is not None]
        recorded = {m.provider_sid for m in self._t.messages.values()}
        if len(set(sids)) < len(sids) or recorded.intersection(sids):
            raise ValueError("a provider SID is recorded already")  # a unique index in SQL
        for outcome in outcomes:
            row = self._t.reminders.get(outcome.reminder_id)
            if row is None or row.status is not ReminderStatus.SENDING:
                continue  # cancelled meanwhile: it stays cancelled
            if claimer is not None and row.claimed_by != claimer:
                continue  # taken over meanwhile: left to its new holder
            row.status, row.updated_at = outcome.status, now
            if outcome.provider_sid is not None:  # taken: this send's SID, and no error
                row.provider_sid, row.sent_at = outcome.provider_sid, outcome.sent_at
                row.attempts, row.error_code = _attempts(outcome), None
                continue
            if outcome.attempts is not None:  # refused: this attempt's error code, or none
                row.attempts, row.error_code = outcome.attempts, outcome.error_code
            if outcome.due_at is not None:
                row.due_at = outcome.due_at
        for message in sent:
            _insert_message(self._t, message, Direction.OUT, message.status, now)

    def sent_as(self, reminder_id: int, provider_sid: str) -> Reminder | None:
        row = self._t.reminders.get(reminder_id)
        return row.reminder() if row and row.provider_sid == provider_sid else None

    def set_delivery(
        self,
        reminder_id: int,
        status: ReminderStatus,
        error_code: int | None,
        now: datetime,
        *,
        only_from: Sequence[ReminderStatus] | None = None,
    ) -> bool:
        row = self._t.reminders.get(reminder_id)
        if row is None or (only_from is not None and row.status not in only_from):
            return False
        row.status, row.error_code, row.updated_at = status, error_code, now
        return True

    def reschedule_sent(
        self, reminder_id: int, due_at: datetime, error_code: int | None, now: datetime
    ) -> bool:
        row = self._t.reminders.get(reminder_id)
        if row is None or row.status is not ReminderStatus.SENT:
            return False
        row.status, row.due_at, row.error_code = ReminderStatus.SCHEDULED, due_at, error_code
        row.updated_at = now
        return True

    def backlog(self, now: datetime) -> int:
        return sum(
            1
            for r in self._t.reminders.values()
            if r.status in ACTIVE_REMINDER_STATUSES and r.due_at <= now
        )

    def count_by_status(self) -> dict[ReminderStatus, int]:
        return dict(Counter(r.status for r in self._t.reminders.values()))


def _attempts(outcome: SendOutcome) -> int:
    if outcome.attempts is None:
        raise ValueError("a send the provider took counts its attempt")  # NOT NULL in SQL
    return outcome.attempts


def _insert_message(
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


class InMemoryMessageRepository(_Repository):
    def _by_sid(self, provider_sid: str) -> MessageRow | None:
        for row in self._t.messages.values():
            if row.provider_sid == provider_sid:
                return row
        return None

    def add_inbound(self, message: InboundMessage, now: datetime) -> bool:
        if self._by_sid(message.provider_sid) is not None:
            return False
        _insert_message(self._t, message, Direction.IN, "received", now)
        return True

    def add_outbound(self, message: OutboundMessage, now: datetime) -> None:
        if message.provider_sid is not None and self._by_sid(message.provider_sid) is not None:
            return  # recorded already: nothing is recorded twice
        _insert_message(self._t, message, Direction.OUT, message.status, now)

    def by_provider_sid(self, provider_sid: str) -> MessageRecord | None:
        row = self._by_sid(provider_sid)
        return row.record() if row else None

    def set_status(
        self,
        provider_sid: str,
        status: str,
        error_code: int | None,
        now: datetime,
        *,
        only_from: Sequence[str] | None = None,
    ) -> bool:
        row = self._by_sid(provider_sid)
        if row is None or (only_from is not None and row.status not in only_from):
            return False
        row.status, row.error_code, row.updated_at = status, error_code, now
        return True

    def for_user(self, user_id: int, limit: int) -> list[MessageRecord]:
        rows = [r for r in self._t.messages.values() if r.user_id == user_id]
        rows.sort(key=lambda r: (r.created_at, r.id), reverse=True)
        return [r.record() for r in rows[:limit]]

    def erase_bodies(self, user_id: int, now: datetime) -> None:
        for row in self._t.messages.values():
            if row.user_id == user_id:
                row.body, row.updated_at = None, now

    def count_by_status(self) -> dict[tuple[Direction, str], int]:
        return dict(Counter((r.direction, r.status) for r in self._t.messages.values()))


class InMemoryReplyLogRepository(_Repository):
    def count_reply(self, phone: PhoneNumber, now: datetime, window: timedelta) -> int:
        row = self._t.reply_log.get(phone.e164)
        if row is None:
            row = self._t.reply_log[phone.e164] = ReplyLogRow(phone.e164, now, 1)
        elif row.window_started_at <= now - window:
            row.window_started_at, row.replies_in_window = now, 1
        else:
            row.replies_in_window += 1
        return row.replies_in_window

    def claim_not_enrolled(self, phone: PhoneNumber, now: datetime, every: timedelta) -> bool:
        row = self._t.reply_log.get(phone.e164)
        if row is None:
            self._t.reply_log[phone.e164] = ReplyLogRow(phone.e164, now, 0, now)
            return True
        if row.not_enrolled_at is not None and row.not_enrolled_at > now - every:
            return False
        row.not_enrolled_at = now
        return True

    def forget(self, phone: PhoneNumber) -> None:
        self._t.reply_log.pop(phone.e164, None)


class InMemoryDispatcherRepository(_Repository):
    def register(self, dispatcher_id: str, now: datetime) -> None:
        if dispatcher_id in self._t.dispatchers:
            raise ValueError(f"dispatcher {dispatcher_id} is registered already")
        self._t.dispatchers[dispatcher_id] = DispatcherRow(dispatcher_id, 0, now, now)

    def beat(self, dispatcher_id: str, now: datetime) -> bool:
        row = self._t.dispatchers.get(dispatcher_id)
        if row is None:
            return False
        row.beats, row.beat_at = row.beats + 1, now
        return True

    def all(self) -> list[DispatcherBeat]:
        return [DispatcherBeat(r.id, r.beats, r.beat_at) for r in self._t.dispatchers.values()]

    def remove(self, dispatcher_id: str, beats: int | None = None) -> bool:
        row = self._t.dispatchers.get(dispatcher_id)
        if row is None or (beats is not None and row.beats != beats):
            return False
        del self._t.dispatchers[dispatcher_id]
        return True


class InMemoryUnitOfWork:
    """A transaction on an InMemoryStore: changes are kept only after `commit()`."""

    users: UserRepository
    sessions: SessionRepository
    reminders: ReminderRepository
    messages: MessageRepository
    reply_log: ReplyLogRepository
    dispatchers: DispatcherRepository

    def __init__(
        self, store: InMemoryStore, *, read_only: bool = False, one_statement: bool = False
    ) -> None:
        self.store = store
        self.read_only = read_only
        self.one_statement = one_statement
        self._work = _Open()
        self.users = InMemoryUserRepository(self._work)
        self.sessions = InMemorySessionRepository(self._work)
        self.reminders = InMemoryReminderRepository(self._work)
        self.messages = InMemoryMessageRepository(self._work)
        self.reply_log = InMemoryReplyLogRepository(self._work)
        self.dispatchers = InMemoryDispatcherRepository(self._work)

    def __enter__(self) -> InMemoryUnitOfWork:
        if self.store.unavailable:
            raise DatabaseUnavailable("the in-memory database is set unavailable")
        self._work.current = self.store.snapshot()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._work.current = None  # what was not committed is gone

    def commit(self) -> None:
        """Keep the changes; the work goes on with a fresh copy, as with the next SQL
        transaction."""
        self.store.swap(self._work.tables)
        self._work.current = self.store.snapshot()

    def ping(self) -> None:
        if self.store.unavailable:
            raise DatabaseUnavailable("the in-memory database is set unavailable")


class InMemoryUnitOfWorkFactory:
    """The UnitOfWorkFactory port on one InMemoryStore; `opened` records how each unit of work
    was asked for, as (read_only, one_statement)."""

    def __init__(self, store: InMemoryStore | None = None) -> None:
        self.store = store if store is not None else InMemoryStore()
        self.opened: list[tuple[bool, bool]] = []

    def __call__(
        self, *, read_only: bool = False, one_statement: bool = False
    ) -> InMemoryUnitOfWork:
        self.opened.append((read_only, one_statement))
        return InMemoryUnitOfWork(self.store, read_only=read_only, one_statement=one_statement)
