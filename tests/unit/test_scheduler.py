"""The APScheduler heartbeat: two in-memory interval jobs, registered but not started here."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.jobstores.memory import MemoryJobStore

from reminders.scheduler import DISPATCH_JOB_ID, SESSIONS_JOB_ID, WATCH_JOB_ID, build_scheduler


def test_registers_the_dispatch_and_session_jobs_with_fixed_ids() -> None:
    scheduler = build_scheduler(
        dispatch=lambda: None, close_sessions=lambda: None, dispatch_interval_seconds=0.5
    )

    jobs = {job.id: job for job in scheduler.get_jobs()}

    assert set(jobs) == {DISPATCH_JOB_ID, SESSIONS_JOB_ID}
    assert jobs[DISPATCH_JOB_ID].trigger.interval.total_seconds() == 0.5
    assert not scheduler.running


@pytest.mark.parametrize("job_id", [DISPATCH_JOB_ID, SESSIONS_JOB_ID])
def test_jobs_never_overlap_and_coalesce_missed_runs(job_id: str) -> None:
    scheduler = build_scheduler(
        dispatch=lambda: None, close_sessions=lambda: None, dispatch_interval_seconds=1
    )

    job = scheduler.get_job(job_id)

    assert (job.max_instances, job.coalesce) == (1, True)


def test_reminder_state_never_lives_in_a_job_store() -> None:
    scheduler = build_scheduler(
        dispatch=lambda: None, close_sessions=lambda: None, dispatch_interval_seconds=1
    )

    stores = scheduler._jobstores  # noqa: SLF001 - no public accessor in APScheduler 3

    assert list(stores) == ["default"]
    assert isinstance(stores["default"], MemoryJobStore)
    assert str(scheduler.timezone) == "UTC"


def test_a_failing_job_is_logged_and_does_not_raise(caplog: pytest.LogCaptureFixture) -> None:
    def boom() -> None:
        raise RuntimeError("database went away")

    scheduler = build_scheduler(
        dispatch=boom, close_sessions=lambda: None, dispatch_interval_seconds=1
    )

    scheduler.get_job(DISPATCH_JOB_ID).func()

    assert "job failed" in caplog.text


def test_a_tick_skipped_while_the_dispatcher_drains_is_not_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    build_scheduler(dispatch=lambda: None, close_sessions=lambda: None, dispatch_interval_seconds=1)
    apscheduler_log = logging.getLogger("apscheduler.scheduler")

    with caplog.at_level(logging.WARNING, logger="apscheduler.scheduler"):
        apscheduler_log.warning(  # what APScheduler 3 says when a tick finds the job running
            'Execution of job "%s" skipped: maximum number of running instances reached (%d)',
            DISPATCH_JOB_ID,
            1,
        )
        apscheduler_log.warning("Run time of job %s was missed by %s", DISPATCH_JOB_ID, "0:00:02")

    assert [r.getMessage() for r in caplog.records] == [
        f"Run time of job {DISPATCH_JOB_ID} was missed by 0:00:02"
    ]


def test_jobs_are_named_by_their_ids_in_apscheduler_logs() -> None:
    scheduler = build_scheduler(
        dispatch=lambda: None, close_sessions=lambda: None, dispatch_interval_seconds=1
    )

    assert {job.name for job in scheduler.get_jobs()} == {DISPATCH_JOB_ID, SESSIONS_JOB_ID}


def test_the_dispatcher_beats_as_soon_as_the_scheduler_starts_not_one_interval_later() -> None:
    before = datetime.now(UTC)
    scheduler = build_scheduler(
        dispatch=lambda: None, close_sessions=lambda: None, dispatch_interval_seconds=30
    )

    first_run = scheduler.get_job(DISPATCH_JOB_ID).next_run_time

    assert first_run is not None and first_run <= datetime.now(UTC) + timedelta(seconds=1)
    assert first_run >= before - timedelta(seconds=1)


def test_the_session_job_first_runs_one_interval_after_the_start() -> None:
    scheduler = build_scheduler(
        dispatch=lambda: None,
        close_sessions=lambda: None,
        dispatch_interval_seconds=1,
        sessions_interval_seconds=60,
    )
    scheduler.start(paused=True)
    try:
        first_run = scheduler.get_job(SESSIONS_JOB_ID).next_run_time
    finally:
        scheduler.shutdown(wait=False)

    assert first_run is not None  # scheduled, not paused
    assert first_run >= datetime.now(UTC) + timedelta(seconds=55)


def test_the_watch_runs_as_its_own_job_so_beats_go_on_during_a_long_dispatch() -> None:
    scheduler = build_scheduler(
        dispatch=lambda: None,
        close_sessions=lambda: None,
        dispatch_interval_seconds=1,
        watch=lambda: None,
        watch_interval_seconds=0.5,
    )

    job = scheduler.get_job(WATCH_JOB_ID)

    assert job.trigger.interval.total_seconds() == 0.5
    assert (job.max_instances, job.coalesce) == (1, True)
