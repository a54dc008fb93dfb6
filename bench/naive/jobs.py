"""Job function for the naive APScheduler benchmark.

It lives in its own importable module so that APScheduler pickles a stable textual
reference (``bench.naive.jobs:send_reminder``) that a restarted process can resolve,
rather than ``__main__:...``.
"""

from __future__ import annotations

import threading
import time

_lock = threading.Lock()
_ran_at: list[float] = []


def send_reminder(reminder_id: int) -> None:
    """Stand-in for sending one SMS: record the wall-clock time at which it ran."""
    del reminder_id  # only the fact that it ran, and when, matters here
    now = time.time()
    with _lock:
        _ran_at.append(now)


def reset() -> None:
    """Forget all recorded runs."""
    with _lock:
        _ran_at.clear()


def ran_at() -> list[float]:
    """Return a copy of the wall-clock times (``time.time()``) at which jobs ran."""
    with _lock:
        return list(_ran_at)
