"""Test doubles: a clock tests move by hand, an SMS sender that records, and an in-memory
unit of work implementing the repository ports of reminders/ports.py (tables.py holds its
state, repositories.py and reminders.py its repositories)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from reminders.domain.errors import SmsLookupError, SmsSendError
from reminders.domain.model import PhoneNumber
from reminders.ports import SentSms
from tests.fakes.repositories import InMemoryUnitOfWork, InMemoryUnitOfWorkFactory
from tests.fakes.tables import (
    DispatcherRow,
    InMemoryStore,
    MessageRow,
    ReminderRow,
    ReplyLogRow,
    SessionRow,
    Tables,
    UserRow,
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
    number with exactly that body at or after `since`, other than `excluding`. `lookups`
    counts the lookups made; `fail_lookups_with` makes the next lookups raise, one error each,
    and `lookups_fail` makes every lookup raise until it is set back to False.
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

    def find_sent(
        self, to: PhoneNumber, body: str, since: datetime, *, excluding: str | None = None
    ) -> SentSms | None:
        assert since.tzinfo is not None, "since must be timezone-aware"
        with self._lock:
            self.lookups += 1
            if self.lookup_errors:
                raise self.lookup_errors.pop(0)
            if self.lookups_fail:
                raise SmsLookupError("fake provider cannot be asked")
            matches = [
                s
                for s in self.sent
                if s.to == to.e164 and s.body == body and s.at >= since and s.sid != excluding
            ]
        if not matches:
            return None
        first = min(matches, key=lambda s: s.at)
        return SentSms(first.sid, "queued")

    def bodies_to(self, phone: str) -> list[str]:
        return [s.body for s in self.sent if s.to == phone]


__all__ = [
    "DispatcherRow",
    "FakeClock",
    "FakeSmsSender",
    "InMemoryStore",
    "InMemoryUnitOfWork",
    "InMemoryUnitOfWorkFactory",
    "MessageRow",
    "ReminderRow",
    "ReplyLogRow",
    "SentRecord",
    "SessionRow",
    "Tables",
    "UserRow",
]
