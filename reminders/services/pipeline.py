"""The sending pipeline: threads that send claimed reminders in parallel, inside a window that
bounds how many sends can be started but not yet recorded.

The executor's threads run one lane each for the whole dispatch, taking sends from an inbox
once the window has room. The calling thread records outcomes every `record_every` finished
sends, or sooner once `record_after` seconds have passed, and refills the inbox from the
next claimed batch while half of the last one is still waiting to be sent, so that the lanes
never stand idle while a claim is made. What to send and what an answer means are not
decided here: see sending.py.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, wait
from dataclasses import dataclass, field
from queue import Empty, SimpleQueue
from threading import Condition, Semaphore

from reminders.services.sending import Attempt, ToSend

logger = logging.getLogger(__name__)


@dataclass
class _Window:
    """What the sending lanes share with the thread recording their outcomes: the sends not
    yet taken (None tells a lane to stop), a slot per send that may be in flight or finished
    but not yet recorded, and the finished attempts."""

    slots: Semaphore
    inbox: SimpleQueue[ToSend | None] = field(default_factory=SimpleQueue)
    finished: list[Attempt] = field(default_factory=list)
    wanted: int = 1  # how many finished attempts the recording thread waits for
    changed: Condition = field(default_factory=Condition)

    def put(self, attempt: Attempt) -> None:
        with self.changed:
            self.finished.append(attempt)
            if len(self.finished) >= self.wanted:
                self.changed.notify()

    def take(self, count: int, patience: float) -> list[Attempt]:
        """Wait until `count` attempts have finished, or at least one has and `patience`
        seconds have passed; take every finished one."""
        with self.changed:
            self.wanted = count
            if not self.changed.wait_for(lambda: len(self.finished) >= count, patience):
                self.wanted = 1
                self.changed.wait_for(lambda: len(self.finished) >= 1)
            taken, self.finished = self.finished, []
            return taken


@dataclass(frozen=True)
class Pipeline:
    """Sends through `send` on `lanes` threads of `executor`, and hands finished attempts to
    `record`. `send` must never raise: a lane that died would leave its batch waiting for it
    forever. At most `window` sends are ever in flight or finished but unrecorded."""

    executor: Executor
    send: Callable[[ToSend], Attempt]
    record: Callable[[list[Attempt]], None]
    lanes: int
    window: int
    record_every: int
    record_after: float
    refill_below: int  # sends waiting in the inbox below which the next batch is taken

    def run(self, batches: Iterator[list[ToSend]]) -> None:
        """Send every batch, recording outcomes as sends finish, until the batches run out
        (or fail: what is already claimed is still sent and recorded). On leaving early, the
        lanes stop taking sends and what they have not taken stays claimed, unrecorded."""
        window = _Window(slots=Semaphore(self.window))
        unrecorded = 0
        more = True

        def refill() -> None:
            nonlocal unrecorded, more
            while more and window.inbox.qsize() < self.refill_below:
                try:
                    to_send = next(batches, None)
                except Exception:
                    # A claim, or the record of what it settled without sending, failed:
                    # what is already claimed is still sent and recorded; the rest waits
                    # for its lease or the next tick.
                    logger.exception("could not claim or settle due reminders")
                    to_send = None
                if to_send is None:
                    more = False
                    return
                for item in to_send:
                    window.inbox.put(item)
                unrecorded += len(to_send)

        refill()
        if not unrecorded:
            return
        lanes = [self.executor.submit(self._lane, window) for _ in range(self.lanes)]
        try:
            while unrecorded:
                finished = window.take(min(self.record_every, unrecorded), self.record_after)
                unrecorded -= len(finished)
                self.record(finished)
                window.slots.release(len(finished))
                refill()
        finally:
            while True:  # when leaving early: the lanes stop taking sends
                try:
                    window.inbox.get_nowait()
                except Empty:
                    break
            for _ in lanes:
                window.inbox.put(None)
            window.slots.release(len(lanes))
            wait(lanes)

    def _lane(self, window: _Window) -> None:
        """One sending thread's loop: send while there is something to send and room in
        the window."""
        send = self.send
        while (item := window.inbox.get()) is not None:
            window.slots.acquire()
            window.put(send(item))
