"""The heartbeat: APScheduler runs our jobs on an interval; reminder state stays in our tables.
The jobs are the container's (bootstrap.py), which call the use cases."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.util import undefined

logger = logging.getLogger(__name__)

DISPATCH_JOB_ID = "dispatch_due"
SESSIONS_JOB_ID = "close_unconfirmed"
WATCH_JOB_ID = "watch_dispatchers"
# Applies the webhooks kept in the spool during a database outage (services/intake.py).
REPLAY_JOB_ID = "replay_spool"
REPLAY_INTERVAL_SECONDS = 2.0


class _SkipWhileRunning(logging.Filter):
    """Drops APScheduler's warning that a tick was skipped because the job is still running.
    For the dispatcher that is the normal state while it drains a backlog (it loops until
    nothing is due), and a warning every interval would bury the warnings that matter."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in str(record.msg)


_SKIP_FILTER = _SkipWhileRunning()


def _guarded(name: str, job: Callable[[], object]) -> Callable[[], None]:
    def run() -> None:
        try:
            job()
        except Exception:
            logger.exception("job failed; it runs again at its next interval", extra={"job": name})

    return run


def build_scheduler(
    *,
    dispatch: Callable[[], object],
    close_sessions: Callable[[], object],
    dispatch_interval_seconds: float,
    watch: Callable[[], object] | None = None,
    watch_interval_seconds: float = 0.5,
    sessions_interval_seconds: float = 60.0,
    replay: Callable[[], object] | None = None,
    replay_interval_seconds: float = REPLAY_INTERVAL_SECONDS,
) -> BackgroundScheduler:
    """A UTC BackgroundScheduler with an in-memory job store and its interval jobs (the
    dispatcher, closing unconfirmed sessions, and, when given, the dispatchers' watch and the
    replay of spooled webhooks); not started."""
    # In memory on purpose: APScheduler 3 job stores cannot be shared between replicas, so
    # reminder state lives in our tables and the jobs only beat the heart.
    scheduler = BackgroundScheduler(timezone="UTC", jobstores={"default": MemoryJobStore()})
    logging.getLogger("apscheduler.scheduler").addFilter(_SKIP_FILTER)  # a no-op when present
    jobs: list[tuple[str, Callable[[], object], float, Any]] = [
        # The dispatcher beats once as soon as the scheduler starts, on its own thread: a
        # backlog left by downtime starts draining at once while the HTTP server answers.
        (DISPATCH_JOB_ID, dispatch, dispatch_interval_seconds, datetime.now(UTC)),
        (SESSIONS_JOB_ID, close_sessions, sessions_interval_seconds, undefined),
    ]
    if watch is not None:
        # Its own job, so the beat goes on while a dispatch waits on a slow provider.
        jobs.append((WATCH_JOB_ID, watch, watch_interval_seconds, datetime.now(UTC)))
    if replay is not None:
        # At once as well, for webhooks kept before a restart.
        jobs.append((REPLAY_JOB_ID, replay, replay_interval_seconds, datetime.now(UTC)))
    for job_id, func, seconds, first_run in jobs:
        scheduler.add_job(
            _guarded(job_id, func),
            "interval",
            seconds=seconds,
            id=job_id,
            name=job_id,
            replace_existing=True,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
            next_run_time=first_run,  # `undefined`: one interval after the start
        )
    return scheduler
