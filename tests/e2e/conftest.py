"""The bootstrapped app over HTTP: FastAPI's TestClient, a fake clock and a fake SMS sender."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.exceptions import StarletteDeprecationWarning

from reminders.bootstrap import Container
from reminders.entrypoints.api import create_app
from tests.fakes import FakeClock

with warnings.catch_warnings():
    # Starlette warns once, at import, when httpx2 is not installed; the client works the same.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

TOKEN = "test-admin-token"  # what make_settings in tests/conftest.py sets
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def app(container: Container) -> FastAPI:
    return create_app(container)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, headers=AUTH) as test_client:
        yield test_client


@pytest.fixture
def anonymous(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def enroll(client: TestClient) -> Callable[..., dict[str, Any]]:
    """Enrol a user over HTTP (consent confirmed unless told) and return the response body."""

    def make(phone: str = "+14155550123", **fields: Any) -> dict[str, Any]:
        body = {"phone": phone, "consent": "confirmed", **fields}
        response = client.post("/v1/users", json=body)
        assert response.status_code == 201, response.text
        return dict(response.json())

    return make


@pytest.fixture
def deliver_next_session(
    client: TestClient, container: Container, clock: FakeClock
) -> Callable[[int], datetime]:
    """Move the clock to each SMS of the user's upcoming session in turn and dispatch, as the
    scheduler would; returns the session's start, where the clock is left."""

    def deliver(user_id: int) -> datetime:
        schedule = client.get(f"/v1/users/{user_id}/schedule", params={"sessions": 1}).json()
        session = schedule["sessions"][0]
        for reminder in session["reminders"]:
            clock.set(datetime.fromisoformat(reminder["send_at"]))
            container.dispatch_due()
        return datetime.fromisoformat(session["starts_at"])

    return deliver
