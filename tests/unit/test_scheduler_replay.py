"""The replay of the webhook spool is a heartbeat job like the others: fixed id, never
overlapping, first run at once (for webhooks kept before a restart)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from reminders.scheduler import REPLAY_INTERVAL_SECONDS, REPLAY_JOB_ID, build_scheduler


def test_the_replay_job_runs_every_couple_of_seconds_never_overlapping() -> None:
    scheduler = build_scheduler(
        dispatch=lambda: None,
        close_sessions=lambda: None,
        dispatch_interval_seconds=1,
        replay=lambda: None,
    )

    job = scheduler.get_job(REPLAY_JOB_ID)

    assert job.trigger.interval.total_seconds() == REPLAY_INTERVAL_SECONDS == 2.0
    assert (job.max_instances, job.coalesce, job.name) == (1, True, REPLAY_JOB_ID)
    assert not scheduler.running


def test_the_replay_job_first_runs_as_soon_as_the_scheduler_starts() -> None:
    scheduler = build_scheduler(
        dispatch=lambda: None,
        close_sessions=lambda: None,
        dispatch_interval_seconds=30,
        replay=lambda: None,
    )

    first_run = scheduler.get_job(REPLAY_JOB_ID).next_run_time

    assert first_run is not None and first_run <= datetime.now(UTC) + timedelta(seconds=1)


def test_no_replay_job_without_a_replay() -> None:
    scheduler = build_scheduler(
        dispatch=lambda: None, close_sessions=lambda: None, dispatch_interval_seconds=1
    )

    assert scheduler.get_job(REPLAY_JOB_ID) is None


def test_a_failing_replay_is_logged_and_does_not_raise(caplog: pytest.LogCaptureFixture) -> None:
    def boom() -> None:
        raise RuntimeError("disk gone")

    scheduler = build_scheduler(
        dispatch=lambda: None, close_sessions=lambda: None, dispatch_interval_seconds=1, replay=boom
    )

    scheduler.get_job(REPLAY_JOB_ID).func()

    assert "job failed" in caplog.text
