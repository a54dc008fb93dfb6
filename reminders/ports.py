"""The service's ports: what services need from the outside world, by role."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from types import TracebackType
from typing import TYPE_CHECKING, Protocol

from reminders.domain.model import PhoneNumber

if TYPE_CHECKING:
    from reminders.adapters.repository import (
        DispatcherRepository,
        MessageRepository,
        ReminderRepository,
        ReplyLogRepository,
        SessionRepository,
        UserRepository,
    )


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


@dataclass(frozen=True, slots=True)
class SentSms:
    """What the provider answered for an accepted message."""

    provider_sid: str
    status: str  # the provider's status word: queued, accepted, sent ...


class SmsSender(Protocol):
    def send(self, to: PhoneNumber, body: str) -> SentSms:
        """Send one SMS. Returns the provider's message id and status.

        Raises SmsSendError with the provider's error code and whether it is permanent
        (never retried) or transient (retried with backoff while the message is fresh).
        Implementations must be safe to call from several threads at once.
        """
        ...

    def find_sent(self, to: PhoneNumber, body: str, since: datetime) -> SentSms | None:
        """Ask the provider whether it already took an SMS: the message it accepted for `to`
        with exactly `body`, created at or after `since` (timezone-aware UTC).

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

    def tick(self, at: datetime, backlog: int | None) -> None: ...


class UnitOfWork(Protocol):
    """One database transaction and its repositories (see adapters/repository.py).

    Used as a context manager; changes are kept only after `commit()`."""

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

    def ping(self) -> None: ...


UnitOfWorkFactory = Callable[[], UnitOfWork]


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
