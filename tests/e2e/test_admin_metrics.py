"""/metrics: Prometheus text, behind the bearer token, one registry per app."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine

from reminders.bootstrap import Container
from reminders.domain.errors import SmsSendError
from reminders.entrypoints.api import create_app
from tests.e2e.conftest import AUTH
from tests.fakes import FakeClock, FakeSmsSender

Enroll = Callable[..., dict[str, Any]]
Deliver = Callable[[int], datetime]
HEADS_UP_AT = datetime.fromisoformat("2026-03-02T20:00:00-08:00")  # of the first session
SESSION_AT = datetime.fromisoformat("2026-03-03T20:00:00-08:00")


def send_the_safety_notice(container: Container, clock: FakeClock) -> None:
    """Dispatch the safety notice planned at enrolment, due before the first heads-up."""
    clock.set(HEADS_UP_AT - timedelta(hours=1))
    container.dispatch_due()


def sample(client: TestClient, name: str, **labels: str) -> float | None:
    """The value of one sample of the scrape, or None when it is not there."""
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return float(s.value)
    return None


def test_metrics_are_prometheus_text(client: TestClient) -> None:
    response = client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "# TYPE reminders_sms_total counter" in response.text


def test_counts_sent_sms_by_step(
    client: TestClient, enroll: Enroll, deliver_next_session: Deliver
) -> None:
    user = enroll()

    deliver_next_session(user["id"])

    assert sample(client, "reminders_sms_total", step="roll", status="sent") == 1
    assert sample(client, "reminders_sms_total", step="heads_up", status="sent") == 1


def test_counts_expired_sms_by_step(
    client: TestClient, enroll: Enroll, container: Container, clock: FakeClock
) -> None:
    enroll()
    clock.set(SESSION_AT + timedelta(hours=3))  # every step's freshness is over

    container.dispatch_due()

    assert sample(client, "reminders_sms_total", step="peeling", status="expired") == 1
    assert sample(client, "reminders_sms_total", step="roll", status="expired") == 1


def test_counts_failed_sms_by_step(
    client: TestClient,
    enroll: Enroll,
    container: Container,
    clock: FakeClock,
    sender: FakeSmsSender,
) -> None:
    enroll()
    send_the_safety_notice(container, clock)
    sender.fail_with(SmsSendError("unreachable", code=30003, permanent=True))
    clock.set(HEADS_UP_AT)

    container.dispatch_due()

    assert sample(client, "reminders_sms_total", step="heads_up", status="failed") == 1


def test_observes_how_late_each_sms_went_out(
    client: TestClient, enroll: Enroll, container: Container, clock: FakeClock
) -> None:
    enroll()
    clock.set(HEADS_UP_AT + timedelta(seconds=7))

    container.dispatch_due()

    assert sample(client, "reminders_dispatch_lag_seconds_count", step="heads_up") == 1
    assert sample(client, "reminders_dispatch_lag_seconds_sum", step="heads_up") == 7
    assert sample(client, "reminders_dispatch_lag_seconds_bucket", step="heads_up", le="5.0") == 0


def test_reports_the_due_backlog_at_scrape_time(
    client: TestClient, enroll: Enroll, container: Container, clock: FakeClock
) -> None:
    enroll()
    send_the_safety_notice(container, clock)
    clock.set(SESSION_AT - timedelta(minutes=30))  # heads-up and makeup removal due, not sent

    assert sample(client, "reminders_due_backlog") == 2


def test_backlog_is_empty_once_dispatched(
    client: TestClient, enroll: Enroll, container: Container, clock: FakeClock
) -> None:
    enroll()
    clock.set(SESSION_AT - timedelta(minutes=30))

    container.dispatch_due()

    assert sample(client, "reminders_due_backlog") == 0


def test_reports_users_by_status(client: TestClient, enroll: Enroll) -> None:
    enroll("+14155550101")
    client.post("/v1/users", json={"phone": "+14155550102"})

    assert sample(client, "reminders_users", status="active") == 1
    assert sample(client, "reminders_users", status="pending") == 1
    assert sample(client, "reminders_users", status="paused") == 0


def test_counts_inbound_sms_by_keyword(client: TestClient, container: Container) -> None:
    container.metrics.inbound("DONE")
    container.metrics.inbound("DONE")

    assert sample(client, "reminders_inbound_messages_total", keyword="DONE") == 2


def test_reports_when_the_dispatcher_last_ran(
    client: TestClient, container: Container, clock: FakeClock
) -> None:
    container.dispatch_due()

    assert sample(client, "reminders_dispatch_last_tick_timestamp_seconds") == (
        clock.now().timestamp()
    )


def test_each_app_counts_only_its_own(
    make_container: Callable[..., Container], tmp_path: Path
) -> None:
    first = make_container()
    second = make_container(database_url=f"sqlite:///{tmp_path / 'other.db'}")
    first.metrics.inbound("HELP")

    with TestClient(create_app(second), headers=AUTH) as other:
        value = sample(other, "reminders_inbound_messages_total", keyword="HELP")

    assert value is None


def test_reports_the_database_down_instead_of_failing(
    client: TestClient, container: Container, tmp_path: Path
) -> None:
    working = container.engine
    container.engine = create_engine(f"sqlite:///{tmp_path / 'missing' / 'reminders.db'}")
    try:
        response = client.get("/metrics")
    finally:
        container.engine.dispose()
        container.engine = working

    assert response.status_code == 200
    assert "reminders_database_up 0.0" in response.text
