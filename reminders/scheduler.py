"""The heartbeat: APScheduler runs our jobs on an interval; reminder state stays in our tables."""

from __future__ import annotations

import logging
from collections.abc import Callable

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler

logger = logging.getLogger(__name__)

DISPATCH_JOB_ID = "dispatch_due"
SESSIONS_JOB_ID = "close_unconfirmed"


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
    sessions_interval_seconds: float = 60.0,
) -> BackgroundScheduler:
    """A UTC BackgroundScheduler with an in-memory job store and two interval jobs; not started."""
    # In memory on purpose: APScheduler 3 job stores cannot be shared between replicas, so
    # reminder state lives in our tables and the jobs only beat the heart.
    scheduler = BackgroundScheduler(timezone="UTC", jobstores={"default": MemoryJobStore()})
    for job_id, func, seconds in (
        (DISPATCH_JOB_ID, dispatch, dispatch_interval_seconds),
        (SESSIONS_JOB_ID, close_sessions, sessions_interval_seconds),
    ):
        scheduler.add_job(
            _guarded(job_id, func),
            "interval",
            seconds=seconds,
            id=job_id,
            replace_existing=True,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )
    return scheduler
