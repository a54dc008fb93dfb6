"""Which dispatchers are alive, judged from the beats they count in the database.

Each dispatcher adds one to its row's count at least every `beat_every_seconds`, and starts a
send only within `send_within_seconds` of a beat that reached the database. Another
dispatcher judges it dead only when both hold:
- it has watched the count stand still for `watch_seconds` of its own monotonic time, in
  reads that all reached the database (what it saw before an outage of its own says nothing);
- the last beat is older than `dead_after` by the watcher's clock.
The first makes a clock that jumps, or a replica that has just started, judge nobody; the
second makes the judgement wait until nothing the dead dispatcher started can still reach the
provider: `dead_after` exceeds `send_within_seconds` plus the longest a send may take.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from reminders.domain.model import DispatcherBeat

BEAT_EVERY_SECONDS = 0.5
SEND_WITHIN_SECONDS = 1.5
WATCH_SECONDS = 2.0


def dead_after(send_timeout_seconds: float) -> timedelta:
    """How old a stopped dispatcher's last beat must be before its claims are settled."""
    return timedelta(seconds=SEND_WITHIN_SECONDS + send_timeout_seconds + 0.5)


def new_dispatcher_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class Beat:
    """What a beat made: `alive` as a bare outcome would say it (True, False when the row was
    gone, None when the database could not be reached), and `started`, the monotonic time
    taken just before the beat statement, with the database time it wrote. The send
    allowance counts from it, not from when the commit returned: `dead_after` assumes the
    beat's time in the database and the allowance start together."""

    alive: bool | None
    started: float | None = None


@dataclass
class Liveness:
    """This dispatcher's beat, and what it has seen of the others'."""

    dead_after: timedelta
    dispatcher_id: str = field(default_factory=new_dispatcher_id)
    monotonic: Callable[[], float] = time.monotonic
    beat_every_seconds: float = BEAT_EVERY_SECONDS
    send_within_seconds: float = SEND_WITHIN_SECONDS
    watch_seconds: float = WATCH_SECONDS
    evicted: bool = False  # another dispatcher judged this one dead and took its claims
    _last_beat: float | None = None
    _seen: dict[str, tuple[int, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def keep_fresh(self, beat: Callable[[str], bool | Beat | None]) -> bool:
        """Beat through `beat(dispatcher_id)` (True, False when the row was gone, None when the
        database could not be reached, or a Beat saying so with the time it started) unless a
        beat reached the database in the last `beat_every_seconds`. Returns whether a send may
        start now: a beat reached the database within `send_within_seconds` and this
        dispatcher was not judged dead."""
        with self._lock:
            if self._last_beat is None or self._age() >= self.beat_every_seconds:
                self._record(beat(self.dispatcher_id))
            return self.may_send()

    def record(self, beat_reached_database: bool | Beat | None) -> None:
        """Note the outcome of a beat made elsewhere: True, False (the row was gone: this
        dispatcher was judged dead), or None (the database could not be reached); or a Beat
        saying so with the time it started."""
        with self._lock:
            self._record(beat_reached_database)

    def _record(self, beat: bool | Beat | None) -> None:
        outcome, started = (beat.alive, beat.started) if isinstance(beat, Beat) else (beat, None)
        if outcome is None:
            self._seen.clear()
            return
        # A beat whose start is unknown counts from now, when its outcome is known.
        at = self.monotonic() if started is None else started
        if self._last_beat is None or at > self._last_beat:
            self._last_beat = at
        if outcome is False:
            self.evicted = True

    def may_send(self) -> bool:
        return (
            not self.evicted
            and self._last_beat is not None
            and self._age() < self.send_within_seconds
        )

    def renew(self) -> None:
        """After an eviction: carry on under a new id, holding no claims."""
        with self._lock:
            self.dispatcher_id = new_dispatcher_id()
            self.evicted = False
            self._last_beat = None

    def _age(self) -> float:
        assert self._last_beat is not None
        return self.monotonic() - self._last_beat

    def dead(self, beats: list[DispatcherBeat], now: datetime) -> list[DispatcherBeat]:
        """The dispatchers among `beats` (a fresh read of every row) judged dead now."""
        at = self.monotonic()
        seen: dict[str, tuple[int, float]] = {}
        dead: list[DispatcherBeat] = []
        for beat in beats:
            if beat.dispatcher_id == self.dispatcher_id:
                continue
            before = self._seen.get(beat.dispatcher_id)
            if before is None or before[0] != beat.beats:
                seen[beat.dispatcher_id] = (beat.beats, at)
                continue
            seen[beat.dispatcher_id] = before
            if at - before[1] >= self.watch_seconds and now - beat.beat_at >= self.dead_after:
                dead.append(beat)
        self._seen = seen
        return dead
