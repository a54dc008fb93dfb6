"""Test doubles: a clock tests move by hand and an SMS sender that records."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from reminders.domain.errors import SmsSendError
from reminders.domain.model import PhoneNumber
from reminders.ports import SentSms


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
    """Records every send. `fail_with` makes the next sends raise, one error per send."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.sent: list[SentRecord] = []
        self.errors: list[SmsSendError] = []
        self.before_send: Callable[[PhoneNumber, str], None] | None = None
        self._clock = clock
        self._lock = threading.Lock()

    def fail_with(self, *errors: SmsSendError) -> None:
        with self._lock:
            self.errors.extend(errors)

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

    def bodies_to(self, phone: str) -> list[str]:
        return [s.body for s in self.sent if s.to == phone]
