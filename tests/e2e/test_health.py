"""Liveness and readiness: /readyz is 503 until the dispatcher beats, when its beat is stale,
or when the database does not answer; a long backlog drain keeps it ready."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy.exc import OperationalError

from reminders.bootstrap import Container
from reminders.domain.model import PhoneNumber
from tests.e2e.conftest import TestClient
from tests.fakes import FakeClock, FakeSmsSender
from tests.routine_driver import enroll


def test_healthz_answers_without_a_token(anonymous: TestClient) -> None:
    assert anonymous.get("/healthz").json() == {"status": "ok"}


def test_readyz_is_unavailable_until_the_dispatcher_has_run(anonymous: TestClient) -> None:
    answer = anonymous.get("/readyz")

    assert answer.status_code == 503
    assert answer.json()["problems"] == ["scheduler not running"]


def test_readyz_is_ready_once_the_dispatcher_has_run(
    container: Container, anonymous: TestClient
) -> None:
    container.dispatch_due()

    assert anonymous.get("/readyz").status_code == 200


def test_readyz_is_unavailable_when_the_dispatcher_beat_is_stale(
    container: Container, anonymous: TestClient, clock: FakeClock
) -> None:
    container.dispatch_due()

    clock.advance(timedelta(seconds=31))

    assert anonymous.get("/readyz").status_code == 503


def test_readyz_is_unavailable_when_the_database_does_not_answer(
    container: Container, anonymous: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    container.dispatch_due()

    def unreachable() -> None:
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(container, "uow", unreachable)
    answer = anonymous.get("/readyz")

    assert answer.status_code == 503
    assert answer.json()["problems"] == ["database unreachable"]


def test_a_long_backlog_drain_keeps_the_dispatcher_beat_fresh(
    make_container: Callable[..., Container], clock: FakeClock, sender: FakeSmsSender
) -> None:
    container = make_container(dispatch_batch_size=1)
    for index in range(4):
        enroll(container, phone=f"+1415555010{index}", confirmed=False)
    ages: list[timedelta | None] = []

    def slow_provider(_to: PhoneNumber, _body: str) -> None:
        ages.append(container.heartbeat_age())
        clock.advance(timedelta(seconds=20))  # each send takes 20 s of the clock

    sender.before_send = slow_provider
    container.dispatch_due()

    assert len(ages) == 4
    assert all(age is not None and age <= timedelta(seconds=20) for age in ages)
