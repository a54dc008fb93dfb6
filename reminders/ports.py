"""The service's ports: what services need from the outside world, by role."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Protocol

from reminders.domain.model import PhoneNumber

if TYPE_CHECKING:
    from reminders.adapters.repository import (
        MessageRepository,
        ReminderRepository,
        ReplyLogRepository,
        SessionRepository,
        UserRepository,
    )


class ConcurrentUpdate(Exception):
    """A unit of work lost a race with another one (a deadlock, a serialization failure, a
    lock it waited too long for) and was rolled back: running it again from the start is
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
