"""Graceful shutdown of the real process: SIGTERM exits 0 within 10 s, also while a send hangs
on a slow SMS provider, and the hanging reminder is kept for a retry, not lost."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, create_engine, select

from reminders.adapters.db import reminder_rows
from tests.fake_twilio import TEST_ACCOUNT_SID, TEST_AUTH_TOKEN, TEST_FROM_NUMBER
from tests.system.service import FakeTwilioProcess, ServiceProcess, free_port, wait_for

pytestmark = pytest.mark.system

TOKEN = "shutdown-test-admin-token"


def start(tmp_path: Path, twilio: FakeTwilioProcess) -> tuple[ServiceProcess, str]:
    database = f"sqlite:///{tmp_path / 'reminders.db'}"
    port = free_port()
    service = ServiceProcess(
        tmp_path / "service.log",
        {
            "REMINDERS_DATABASE_URL": database,
            "REMINDERS_PORT": str(port),
            "REMINDERS_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "REMINDERS_ADMIN_TOKEN": TOKEN,
            "REMINDERS_QUIET_HOURS": "off",
            "REMINDERS_DISPATCH_INTERVAL_SECONDS": "0.2",
            "REMINDERS_SMS_BACKEND": "twilio",
            "REMINDERS_TWILIO_API_URL": twilio.url,
            "TWILIO_ACCOUNT_SID": TEST_ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": TEST_AUTH_TOKEN,
            "TWILIO_FROM_NUMBER": TEST_FROM_NUMBER,
        },
    )
    return service, database


def reminder_status(engine: Engine) -> str:
    with engine.connect() as connection:
        return str(connection.execute(select(reminder_rows.c.status)).scalar_one())


def stop_timed(service: ServiceProcess) -> tuple[int, float]:
    started = time.monotonic()
    code = service.stop(timeout_seconds=15)
    return code, time.monotonic() - started


def test_sigterm_when_idle_exits_0_at_once(tmp_path: Path) -> None:
    twilio = FakeTwilioProcess(tmp_path / "twilio.log")
    service, _ = start(tmp_path, twilio)

    code, seconds = stop_timed(service)

    twilio.stop()
    assert code == 0
    assert seconds < 10


def test_sigterm_while_a_send_hangs_exits_0_within_10_s_and_keeps_the_reminder(
    tmp_path: Path,
) -> None:
    twilio = FakeTwilioProcess(tmp_path / "twilio.log")
    twilio.http.post("/_fake/faults", json={"faults": [{"delay_seconds": 30, "times": None}]})
    service, database = start(tmp_path, twilio)
    enrolled = httpx.post(
        f"{service.url}/v1/users",
        json={"phone": "+14155550123", "timezone": "America/New_York"},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert enrolled.status_code == 201, enrolled.text
    engine = create_engine(database)
    wait_for(  # the consent question is claimed and on its way; the provider does not answer
        "the reminder to be claimed",
        lambda: reminder_status(engine) == "sending" or None,
        timeout_seconds=10,
    )
    time.sleep(0.5)  # the request is now inside the provider's 30 s delay

    code, seconds = stop_timed(service)

    twilio.stop()
    status = reminder_status(engine)
    engine.dispose()
    assert code == 0
    assert seconds < 10
    assert status == "scheduled"  # will be sent again, not stuck in `sending`
