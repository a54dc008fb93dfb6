"""The service's ports: what services need from the outside world, by role, in domain types.

Adapters implement them (the database in adapters/repository/, the SMS provider in
adapters/twilio_sms.py); tests/fakes/ implements them in memory."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from types import TracebackType
from typing import Protocol

from reminders.domain.model import (
    CheckIn,
    Direction,
    DispatcherBeat,
    DueReminder,
    InboundMessage,
    MessageRecord,
    OutboundMessage,
    PausedReason,
    PhoneNumber,
    PlannedReminder,
    PlannedSession,
    Reminder,
    ReminderStatus,
    Schedule,
    SendOutcome,
    SentSms,
    Session,
    SessionKind,
    SessionStatus,
    Step,
    TakenOver,
    User,
    UserStatus,
)
from reminders.domain.reply_limit import ReplyWindow

__all__ = ["SentSms"]  # a domain value, named here too for the senders that return it


class ConcurrentUpdate(Exception):
    """A unit of work lost a race with another one (a deadlock, a serialization failure, a
    row lock it could not have) and was rolled back: running it again from the start is
    safe."""


class DatabaseUnavailable(Exception):
    """The database could not be reached or stopped answering; nothing was changed."""


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware UTC."""
        ...


class SmsSender(Protocol):
    def send(self, to: PhoneNumber, body: str) -> SentSms:
        """Send one SMS. Returns the provider's message id and status.

        Raises SmsSendError with the provider's error code and whether it is permanent
        (never retried) or transient (retried with backoff while the message is fresh).
        Implementations must be safe to call from several threads at once.
        """
        ...

    def find_sent(
        self, to: PhoneNumber, body: str, since: datetime, *, excluding: str | None = None
    ) -> SentSms | None:
        """Ask the provider whether it already took an SMS: the message it accepted for `to`
        with exactly `body`, created at or after `since` (timezone-aware UTC).

        `excluding` is a provider message id known not to be the message looked for (an
        earlier send of the same reminder, already recorded): that message never matches, and
        the earliest other match is returned.

        Returns the provider's message id and current status word for the earliest such
        message (any status: a message that later failed was still taken), or None when the
        provider answered and holds no such message. It is asked before sending again a
        message whose last attempt has no recorded outcome (a crash between the provider
        accepting it and our commit), so None means the provider was read back to `since`.
        A search bounded in length that stops before `since` but has found a match returns
        the oldest match it read: the provider took the message either way.

        `since` is compared with the provider's own clock at its resolution (Twilio keeps
        whole seconds, so a message created in the same second counts): a caller that fears
        clock skew passes an earlier `since`.

        Raises SmsLookupError when the provider cannot be asked or its answer cannot be
        trusted: a timeout or broken connection, a 5xx or 429, refused credentials, an
        unreadable answer, or a bounded search that stopped before reaching `since` with no
        match (it could not be sure). Implementations may also raise it when they keep no
        record at all. A lookup never sends anything and, like `send`, must be safe to call
        from several threads at once.
        """
        ...


class DispatchObserver(Protocol):
    """Told what the dispatcher did, for metrics. Every method must be cheap."""

    def sent(self, step: str, lateness_seconds: float) -> None: ...

    def finished(self, step: str, status: str, count: int = 1) -> None: ...

    def tick(self, at: datetime) -> None: ...


class IntakeObserver(Protocol):
    """Told what became of the provider's webhooks, for metrics. Every method must be cheap."""

    def inbound(self, keyword: str) -> None:
        """One new inbound SMS (not a retried webhook), by the keyword it was read as."""
        ...

    def reaction(self) -> None:
        """One new inbound SMS read as a skin reaction."""
        ...

    def checkin_answered(self, answer: str) -> None:
        """One new inbound SMS that answered a check-in: 'ok' or 'reaction'."""
        ...

    def spool_kept(self, kind: str) -> None:
        """One webhook of this kind kept in the spool."""
        ...

    def spool_replayed(self, kind: str, count: int) -> None:
        """Webhooks of this kind applied from the spool."""
        ...


class UserRepository(Protocol):
    """Users. Erased users keep their row (for anonymous figures) but are never found."""

    def add(
        self, phone: PhoneNumber, status: UserStatus, schedule: Schedule, now: datetime
    ) -> User:
        """Raises Conflict when the number is enrolled already."""
        ...

    def add_many(
        self, entries: Sequence[tuple[PhoneNumber, UserStatus, Schedule]], now: datetime
    ) -> list[int]:
        """Insert many users; their ids in the order given. The caller has left out numbers
        that are enrolled already."""
        ...

    def enrolled_phones(self, phones: Sequence[PhoneNumber]) -> set[PhoneNumber]:
        """Those of `phones` that belong to a user."""
        ...

    def get(self, user_id: int) -> User | None: ...

    def lock(self, user_id: int) -> User | None:
        """The user as committed now, locked until the unit of work ends. Every change to a
        user's data locks the user first, then sessions, then reminders: one lock order."""
        ...

    def by_phone(self, phone: PhoneNumber, *, lock: bool = False) -> User | None:
        """The user with this number; with `lock`, locked as by `lock()`."""
        ...

    def set_status(
        self,
        user_id: int,
        status: UserStatus,
        now: datetime,
        *,
        paused_reason: PausedReason | None = None,
    ) -> None:
        """Set the status; the reason is kept with a paused status and cleared with any
        other."""
        ...

    def set_safety_notice(self, user_ids: Sequence[int], at: datetime) -> None:
        """Record that these users' safety notice was planned `at`. For a user whose first
        notice this is (their first consent), the next session done is followed by a
        check-in."""
        ...

    def set_checkin_due(self, user_id: int, due: bool, now: datetime) -> None: ...

    def set_done_asked(self, user_id: int, at: datetime | None) -> None:
        """Record when a DONE was asked to be sent again (None: no DONE is waiting)."""
        ...

    def set_schedule(self, user_id: int, schedule: Schedule, now: datetime) -> None: ...

    def set_last_session_date(self, user_id: int, day: date, now: datetime) -> None: ...

    def page(self, status: UserStatus | None, after_id: int, limit: int) -> list[User]:
        """Up to `limit` users with ids above `after_id`, by id; only `status` ones if given."""
        ...

    def count_by_status(self) -> dict[UserStatus, int]:
        """Users by status, erased ones left out; statuses with none are missing."""
        ...

    def count_paused_by_reason(self) -> dict[PausedReason, int]:
        """Paused users by reason, erased ones left out; reasons with none are missing."""
        ...

    def erase(self, user_id: int, now: datetime) -> None:
        """Forget the number; the user counts as opted out and is never found again."""
        ...


class SessionRepository(Protocol):
    def add(
        self,
        user_id: int,
        planned: PlannedSession,
        now: datetime,
        *,
        status: SessionStatus = SessionStatus.PLANNED,
        kind: SessionKind = SessionKind.PLANNED,
    ) -> Session:
        """Record a session; one with another status than planned ended `now`."""
        ...

    def add_many(self, planned: Sequence[tuple[int, PlannedSession]], now: datetime) -> list[int]:
        """Record many planned sessions (user id, session); ids in the order given."""
        ...

    def get(self, session_id: int) -> Session | None: ...

    def upcoming(self, user_id: int) -> Session | None:
        """The user's planned (not yet ended) session, if any."""
        ...

    def upcoming_for(self, user_ids: Sequence[int]) -> dict[int, Session]:
        """The planned session of each of these users that has one."""
        ...

    def end(
        self, session_id: int, status: SessionStatus, now: datetime, *, on_date: date | None = None
    ) -> bool:
        """End a planned session as `status` (recording the local date it happened on, when
        given). True when this call ended it; False when it was no longer planned."""
        ...

    def move(self, session_id: int, planned: PlannedSession, later_count: int) -> Session:
        """Move a session to the date and start of `planned`; returns it as moved."""
        ...

    def open_until(self, cutoff: datetime, limit: int) -> list[Session]:
        """Planned sessions that started at or before `cutoff`, earliest first."""
        ...

    def ended_for(self, user_id: int, limit: int) -> list[Session]:
        """The user's ended sessions, newest first."""
        ...

    def count_by_status(self) -> dict[SessionStatus, int]: ...

    def outcomes(self, user_id: int) -> list[SessionStatus]:
        """The statuses of the user's sessions that ended done, skipped or unconfirmed,
        newest first (by start)."""
        ...

    def set_checkin(self, session_id: int, checkin: CheckIn) -> None: ...

    def awaiting_checkin(self, user_id: int, sent_since: datetime) -> Session | None:
        """The user's latest session whose check-in was sent at or after `sent_since` and
        not answered yet, if any."""
        ...

    def count_checkins(self) -> dict[CheckIn, int]:
        """Check-ins answered ok, with a reaction, and (as `asked`) sent but unanswered."""
        ...


class ReminderRepository(Protocol):
    def add(
        self,
        user_id: int,
        session_id: int | None,
        planned: Sequence[PlannedReminder],
        now: datetime,
    ) -> None:
        """Schedule reminders of a user (of a session, or none for a consent request)."""
        ...

    def add_many(
        self, planned: Sequence[tuple[int, int | None, PlannedReminder]], now: datetime
    ) -> None:
        """Schedule many reminders given as (user id, session id, reminder)."""
        ...

    def for_sessions(self, session_ids: Sequence[int]) -> list[Reminder]:
        """The reminders of these sessions, by send time."""
        ...

    def cancel_for_user(self, user_id: int, now: datetime, *, keep: Sequence[Step] = ()) -> int:
        """Cancel every scheduled or claimed reminder of the user but those of the `keep`
        steps; returns how many."""
        ...

    def has_step(self, user_id: int, step: Step, statuses: Sequence[ReminderStatus]) -> bool:
        """Whether the user has a reminder of `step` in one of `statuses`."""
        ...

    def cancel_for_session(self, session_id: int, now: datetime) -> int:
        """Cancel every scheduled or claimed reminder of the session; returns how many."""
        ...

    def claim_due(
        self, now: datetime, lease_until: datetime, limit: int, claimer: str | None = None
    ) -> list[DueReminder]:
        """Claim up to `limit` due scheduled reminders for dispatcher `claimer` (None: no
        dispatcher: the claim waits out its lease), oldest due first, by send time. A row is
        never claimed twice, by this replica or another."""
        ...

    def take_over(
        self,
        now: datetime,
        lease_until: datetime,
        limit: int,
        claimer: str,
        dead: Sequence[str],
    ) -> list[TakenOver]:
        """Claim for `claimer` up to `limit` reminders left claimed by dispatchers that are
        gone: by one of `dead`, by one whose liveness row is gone, with no dispatcher and past
        their lease, or by `claimer` itself and past their lease."""
        ...

    def finish(
        self,
        outcomes: Sequence[SendOutcome],
        now: datetime,
        sent: Sequence[OutboundMessage] = (),
        *,
        claimer: str | None = None,
    ) -> None:
        """Record what became of claimed reminders, and the messages the provider took for
        them. Only reminders still claimed change (with `claimer`, still claimed by that
        dispatcher): one cancelled or taken over meanwhile keeps its state. The messages are
        recorded whatever became of their reminders."""
        ...

    def sent_as(self, reminder_id: int, provider_sid: str) -> Reminder | None:
        """The reminder whose latest send has this provider SID."""
        ...

    def set_delivery(
        self,
        reminder_id: int,
        status: ReminderStatus,
        error_code: int | None,
        now: datetime,
        *,
        only_from: Sequence[ReminderStatus] | None = None,
    ) -> bool:
        """Record what the provider said about a sent reminder; with `only_from`, only a
        reminder in one of those statuses changes. True when it changed."""
        ...

    def reschedule_sent(
        self, reminder_id: int, due_at: datetime, error_code: int | None, now: datetime
    ) -> bool:
        """A sent reminder the provider could not deliver is scheduled again at `due_at`.
        True when it changed (it was still sent)."""
        ...

    def backlog(self, now: datetime) -> int:
        """How many scheduled or claimed reminders are due at `now`."""
        ...

    def count_by_status(self) -> dict[ReminderStatus, int]: ...


class MessageRepository(Protocol):
    def add_inbound(self, message: InboundMessage, now: datetime) -> bool:
        """Record an SMS received; False when its provider SID is recorded already (a
        webhook retried), so that nothing is applied twice."""
        ...

    def add_outbound(self, message: OutboundMessage, now: datetime) -> None:
        """Record an SMS sent or replied."""
        ...

    def by_provider_sid(self, provider_sid: str) -> MessageRecord | None: ...

    def set_status(
        self,
        provider_sid: str,
        status: str,
        error_code: int | None,
        now: datetime,
        *,
        only_from: Sequence[str] | None = None,
    ) -> bool:
        """Set a message's provider status word; with `only_from`, only a message in one of
        those statuses changes. True when it changed."""
        ...

    def for_user(self, user_id: int, limit: int) -> list[MessageRecord]:
        """The user's messages, newest first."""
        ...

    def opted_out_since(self, user_id: int, since: datetime) -> bool:
        """True when the user sent a message read as STOP that was received after `since`."""
        ...

    def erase_bodies(self, user_id: int, now: datetime) -> None: ...

    def count_by_status(self) -> dict[tuple[Direction, str], int]:
        """Messages by direction and status word."""
        ...


class ReplyLogRepository(Protocol):
    """Auto-replies per number. A member's window is read and written under their user's
    lock; the "not enrolled" claim is one atomic statement."""

    def window(self, phone: PhoneNumber) -> ReplyWindow | None:
        """The reply limiter's window for `phone`, if it has one."""
        ...

    def save_window(self, phone: PhoneNumber, window: ReplyWindow) -> None: ...

    def claim_not_enrolled(self, phone: PhoneNumber, now: datetime, every: timedelta) -> bool:
        """True, with `now` recorded, when `phone` was not told it is not enrolled in the last
        `every`; False otherwise."""
        ...

    def forget(self, phone: PhoneNumber) -> None: ...


class DispatcherRepository(Protocol):
    """Liveness rows: each running dispatcher beats its own."""

    def register(self, dispatcher_id: str, now: datetime) -> None: ...

    def beat(self, dispatcher_id: str, now: datetime) -> bool:
        """Count one beat; False when the row is gone (another dispatcher judged it dead)."""
        ...

    def all(self) -> list[DispatcherBeat]: ...

    def remove(self, dispatcher_id: str, beats: int | None = None) -> bool:
        """Remove a dispatcher's row; with `beats`, only while its count is still that. True
        when this call removed it."""
        ...


class UnitOfWork(Protocol):
    """One database transaction and its repositories. Used as a context manager; changes are
    kept only after `commit()`."""

    users: UserRepository
    sessions: SessionRepository
    reminders: ReminderRepository
    messages: MessageRepository
    reply_log: ReplyLogRepository
    dispatchers: DispatcherRepository

    def __enter__(self) -> UnitOfWork: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None: ...

    def ping(self) -> None:
        """Raise DatabaseUnavailable when the database cannot be reached."""
        ...


class UnitOfWorkFactory(Protocol):
    def __call__(self, *, read_only: bool = False, one_statement: bool = False) -> UnitOfWork:
        """A new unit of work. `read_only` ones never wait for writers. `one_statement` is a
        hint for work that is a single statement (a claim, a beat, outcomes that stop no
        user): where the database runs each statement as a transaction of its own, the unit
        of work may skip BEGIN and COMMIT."""
        ...


class SpoolError(Exception):
    """The spool could not keep a record: it is full (its caps on records and bytes) or its
    disk failed. Nothing was kept."""


class WebhookKind(StrEnum):
    INBOUND = "inbound"  # an SMS from a user
    STATUS = "status"  # a delivery status for a message we sent


@dataclass(frozen=True, slots=True)
class WebhookRecord:
    """One provider webhook as the service uses it: its kind, when it was received, and the
    form parameters that matter (MessageSid always; From, Body and OptOutType of an inbound
    SMS; MessageStatus and ErrorCode of a status callback)."""

    kind: WebhookKind
    received_at: datetime
    params: Mapping[str, str]

    @property
    def message_sid(self) -> str:
        return self.params["MessageSid"]


@dataclass(frozen=True, slots=True)
class SpoolEntry:
    """A record in the spool and the key it is kept under."""

    key: str
    record: WebhookRecord


class Spool(Protocol):
    """Webhooks kept durably while the database cannot take them, to apply once it can.

    Records hold personal data (phone numbers, message bodies) until they are removed."""

    def append(self, record: WebhookRecord) -> None:
        """Keep `record` after every record kept before it; it is on stable storage when this
        returns. Raises SpoolError when it cannot be kept (full, or the disk failed)."""
        ...

    def pending(self) -> Iterator[SpoolEntry]:
        """The records kept, oldest first. A record that cannot be read is set aside (and
        logged) rather than returned."""
        ...

    def remove(self, entry: SpoolEntry) -> None:
        """Forget a record once it has been applied; removing one already gone is no error."""
        ...

    def set_aside(self, entry: SpoolEntry) -> None:
        """Keep a record that cannot be applied out of the way of the others, for an
        operator to look at."""
        ...

    def waiting(self) -> int:
        """How many records are kept and not yet applied; cheap (no disk access)."""
        ...
