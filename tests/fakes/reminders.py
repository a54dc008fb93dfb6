"""The in-memory reminder repository: claims, take-overs and outcomes as the SQL one."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from reminders.domain.model import (
    ACTIVE_REMINDER_STATUSES,
    Direction,
    DueReminder,
    OutboundMessage,
    PlannedReminder,
    Reminder,
    ReminderStatus,
    SendOutcome,
    Step,
    TakenOver,
)
from tests.fakes.tables import CLAIMER, ReminderRow, TableRepository, insert_message


class InMemoryReminderRepository(TableRepository):
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

    def cancel_for_user(self, user_id: int, now: datetime, *, keep: Sequence[Step] = ()) -> int:
        rows = (
            r for r in self._t.reminders.values() if r.user_id == user_id and r.step not in keep
        )
        return self._cancel(rows, now)

    def has_step(self, user_id: int, step: Step, statuses: Sequence[ReminderStatus]) -> bool:
        return any(
            r.user_id == user_id and r.step is step and r.status in statuses
            for r in self._t.reminders.values()
        )

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
        result = [TakenOver(self._due(r), r.claimed_at, r.provider_sid) for r in taken]
        return sorted(result, key=lambda t: (t.due.send_at, t.due.id))

    def finish(
        self,
        outcomes: Sequence[SendOutcome],
        now: datetime,
        sent: Sequence[OutboundMessage] = (),
        *,
        claimer: str | None = None,
    ) -> None:
        if claimer is not None and not CLAIMER.fullmatch(claimer):
            raise ValueError("a dispatcher id is 1 to 32 letters and digits")
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
        # A unique index in SQL, whose conflicts the insert skips: a message recorded already
        # (or earlier in `sent`) stays as it is.
        recorded = {m.provider_sid for m in self._t.messages.values()}
        for message in sent:
            if message.provider_sid is not None and message.provider_sid in recorded:
                continue
            recorded.add(message.provider_sid)
            insert_message(self._t, message, Direction.OUT, message.status, now)

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
