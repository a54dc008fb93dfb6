"""The in-memory repositories (the reminders' in reminders.py), its unit of work and the
factory that makes them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from types import TracebackType

from reminders.domain.conversation import Keyword
from reminders.domain.errors import Conflict
from reminders.domain.model import (
    ENDED_SESSION_STATUSES,
    CheckIn,
    Direction,
    DispatcherBeat,
    InboundMessage,
    MessageRecord,
    OutboundMessage,
    PausedReason,
    PhoneNumber,
    PlannedSession,
    ReminderStatus,
    Schedule,
    Session,
    SessionKind,
    SessionStatus,
    Step,
    User,
    UserStatus,
)
from reminders.domain.reply_limit import ReplyWindow
from reminders.ports import (
    DatabaseUnavailable,
    DispatcherRepository,
    MessageRepository,
    ReminderRepository,
    ReplyLogRepository,
    SessionRepository,
    UserRepository,
)
from tests.fakes.reminders import InMemoryReminderRepository
from tests.fakes.tables import (
    DispatcherRow,
    InMemoryStore,
    MessageRow,
    OpenWork,
    ReplyLogRow,
    SessionRow,
    TableRepository,
    UserRow,
    insert_message,
)


class InMemoryUserRepository(TableRepository):
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

    def set_status(
        self,
        user_id: int,
        status: UserStatus,
        now: datetime,
        *,
        paused_reason: PausedReason | None = None,
    ) -> None:
        if row := self._change(user_id, now):
            row.status = status
            row.paused_reason = paused_reason if status is UserStatus.PAUSED else None

    def set_safety_notice(self, user_ids: Sequence[int], at: datetime) -> None:
        for user_id in user_ids:
            if row := self._change(user_id, at):
                row.checkin_due = row.checkin_due or row.safety_notice_at is None
                row.safety_notice_at = at

    def set_checkin_due(self, user_id: int, due: bool, now: datetime) -> None:
        if row := self._change(user_id, now):
            row.checkin_due = due

    def set_done_asked(self, user_id: int, at: datetime | None) -> None:
        if row := self._t.users.get(user_id):
            row.done_asked_at = at

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

    def count_paused_by_reason(self) -> dict[PausedReason, int]:
        return dict(
            Counter(
                r.paused_reason
                for r in self._t.users.values()
                if r.erased_at is None and r.status is UserStatus.PAUSED and r.paused_reason
            )
        )

    def erase(self, user_id: int, now: datetime) -> None:
        if row := self._change(user_id, now):
            row.phone, row.erased_at, row.status = None, now, UserStatus.OPTED_OUT
            row.paused_reason = row.done_asked_at = None


class InMemorySessionRepository(TableRepository):
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

    def outcomes(self, user_id: int) -> list[SessionStatus]:
        rows = [
            r
            for r in self._t.sessions.values()
            if r.user_id == user_id and r.status in ENDED_SESSION_STATUSES
        ]
        rows.sort(key=lambda r: (r.starts_at, r.id), reverse=True)
        return [r.status for r in rows]

    def set_checkin(self, session_id: int, checkin: CheckIn) -> None:
        if row := self._t.sessions.get(session_id):
            row.checkin = checkin

    def _checkins_sent(self, since: datetime | None = None) -> list[tuple[datetime, SessionRow]]:
        sent = []
        for reminder in self._t.reminders.values():
            session = self._t.sessions.get(reminder.session_id or 0)
            if (
                session is not None
                and session.checkin is CheckIn.ASKED
                and reminder.step is Step.SKIN_CHECK
                and reminder.status in (ReminderStatus.SENT, ReminderStatus.DELIVERED)
                and reminder.sent_at is not None
                and (since is None or reminder.sent_at >= since)
            ):
                sent.append((reminder.sent_at, session))
        return sent

    def awaiting_checkin(self, user_id: int, sent_since: datetime) -> Session | None:
        sent = [(at, s) for at, s in self._checkins_sent(sent_since) if s.user_id == user_id]
        return max(sent, key=lambda pair: pair[0])[1].session() if sent else None

    def count_checkins(self) -> dict[CheckIn, int]:
        counts = Counter(
            r.checkin
            for r in self._t.sessions.values()
            if r.checkin in (CheckIn.OK, CheckIn.REACTION)
        )
        result: dict[CheckIn, int] = {k: v for k, v in counts.items() if k is not None}
        result[CheckIn.ASKED] = len(self._checkins_sent())
        return result


class InMemoryMessageRepository(TableRepository):
    def _by_sid(self, provider_sid: str) -> MessageRow | None:
        for row in self._t.messages.values():
            if row.provider_sid == provider_sid:
                return row
        return None

    def add_inbound(self, message: InboundMessage, now: datetime) -> bool:
        if self._by_sid(message.provider_sid) is not None:
            return False
        insert_message(self._t, message, Direction.IN, "received", now)
        return True

    def add_outbound(self, message: OutboundMessage, now: datetime) -> None:
        if message.provider_sid is not None and self._by_sid(message.provider_sid) is not None:
            return  # recorded already: nothing is recorded twice
        insert_message(self._t, message, Direction.OUT, message.status, now)

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

    def opted_out_since(self, user_id: int, since: datetime) -> bool:
        return any(
            r.user_id == user_id
            and r.direction is Direction.IN
            and r.keyword == Keyword.STOP.value
            and r.created_at > since
            for r in self._t.messages.values()
        )

    def erase_bodies(self, user_id: int, now: datetime) -> None:
        for row in self._t.messages.values():
            if row.user_id == user_id:
                row.body, row.updated_at = None, now

    def count_by_status(self) -> dict[tuple[Direction, str], int]:
        return dict(Counter((r.direction, r.status) for r in self._t.messages.values()))


class InMemoryReplyLogRepository(TableRepository):
    def window(self, phone: PhoneNumber) -> ReplyWindow | None:
        row = self._t.reply_log.get(phone.e164)
        if row is None:
            return None
        return ReplyWindow(
            row.window_started_at,
            row.replies_in_window,
            row.text_key,
            row.text_repeats,
            row.muted_until,
        )

    def save_window(self, phone: PhoneNumber, window: ReplyWindow) -> None:
        row = self._t.reply_log.get(phone.e164)
        if row is None:
            row = self._t.reply_log[phone.e164] = ReplyLogRow(phone.e164, window.started_at, 0)
        row.window_started_at, row.replies_in_window = window.started_at, window.replies
        row.text_key, row.text_repeats = window.text_key, window.repeats
        row.muted_until = window.muted_until

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


class InMemoryDispatcherRepository(TableRepository):
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
        self._work = OpenWork()
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
