"""Changing and erasing users over HTTP: the same rules as the SMS commands, and consent is
the user's alone (docs/rules.md: R2, R7)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from reminders.adapters.db import messages, users
from reminders.bootstrap import Container
from reminders.domain.errors import SmsSendError
from tests.fakes import FakeClock, FakeSmsSender
from tests.routine_driver import text

Enroll = Callable[..., dict[str, Any]]
PHONE = "+14155550123"


# --- PATCH: schedule ------------------------------------------------------------------------


def test_patch_moves_the_upcoming_session_to_the_new_time(
    client: TestClient, enroll: Enroll
) -> None:
    user = enroll()

    changed = client.patch(f"/v1/users/{user['id']}", json={"session_time": "19:00"}).json()

    assert changed["session_time"] == "19:00"
    assert changed["next_session_at"] == "2026-03-03T19:00:00-08:00"


def test_patch_changes_the_cadence(client: TestClient, enroll: Enroll) -> None:
    user = enroll()

    changed = client.patch(f"/v1/users/{user['id']}", json={"cadence_days": 21}).json()

    assert changed["cadence_days"] == 21


def test_patch_moves_the_user_to_another_zone(client: TestClient, enroll: Enroll) -> None:
    user = enroll()

    changed = client.patch(f"/v1/users/{user['id']}", json={"timezone": "America/New_York"}).json()

    assert changed["timezone"] == "America/New_York"
    assert changed["next_session_at"].endswith("20:00:00-05:00")


def test_patch_refuses_a_time_that_puts_a_step_in_quiet_hours(
    client: TestClient, enroll: Enroll
) -> None:
    user = enroll()

    response = client.patch(f"/v1/users/{user['id']}", json={"session_time": "22:30"})

    assert response.status_code == 422
    assert response.json()["field"] == "session_time"
    assert "allowed session times are" in response.json()["error"]


def test_patch_refuses_an_unknown_zone(client: TestClient, enroll: Enroll) -> None:
    user = enroll()

    response = client.patch(f"/v1/users/{user['id']}", json={"timezone": "Mars/Base"})

    assert response.status_code == 422
    assert response.json()["error"] == (
        "timezone 'Mars/Base' is not an IANA name such as 'Europe/Kyiv'"
    )


def test_refused_patch_changes_nothing(client: TestClient, enroll: Enroll) -> None:
    user = enroll()

    client.patch(f"/v1/users/{user['id']}", json={"cadence_days": 21, "timezone": "Mars/Base"})

    shown = client.get(f"/v1/users/{user['id']}").json()
    assert shown.pop("adherence") == {"done": 0, "skipped": 0, "unconfirmed": 0, "streak": 0}
    assert shown == user


def test_empty_patch_changes_nothing(client: TestClient, enroll: Enroll) -> None:
    user = enroll()

    response = client.patch(f"/v1/users/{user['id']}", json={})

    assert response.status_code == 200
    assert response.json() == user


def test_patch_answers_404_for_an_unknown_user(client: TestClient) -> None:
    assert client.patch("/v1/users/42", json={"cadence_days": 21}).status_code == 404


# --- PATCH: status --------------------------------------------------------------------------


def test_pause_stops_every_reminder(
    client: TestClient,
    enroll: Enroll,
    container: Container,
    clock: FakeClock,
    sender: FakeSmsSender,
) -> None:
    user = enroll()

    paused = client.patch(f"/v1/users/{user['id']}", json={"status": "paused"}).json()
    clock.advance(timedelta(days=3))
    container.dispatch_due()

    assert (paused["status"], paused["next_session_at"]) == ("paused", None)
    assert sender.sent == []


def test_resume_plans_the_next_session(client: TestClient, enroll: Enroll) -> None:
    user = enroll()
    client.patch(f"/v1/users/{user['id']}", json={"status": "paused"})

    resumed = client.patch(f"/v1/users/{user['id']}", json={"status": "active"}).json()

    assert resumed["status"] == "active"
    assert resumed["next_session_at"] == "2026-03-03T20:00:00-08:00"


def test_pausing_a_paused_user_changes_nothing(client: TestClient, enroll: Enroll) -> None:
    user = enroll()
    paused = client.patch(f"/v1/users/{user['id']}", json={"status": "paused"}).json()

    again = client.patch(f"/v1/users/{user['id']}", json={"status": "paused"})

    assert again.status_code == 200
    assert again.json() == paused


def test_patch_changes_the_schedule_and_pauses_at_once(client: TestClient, enroll: Enroll) -> None:
    user = enroll()

    changed = client.patch(
        f"/v1/users/{user['id']}", json={"cadence_days": 7, "status": "paused"}
    ).json()

    assert (changed["cadence_days"], changed["status"]) == (7, "paused")


def test_operator_cannot_activate_a_user_who_has_not_said_yes(client: TestClient) -> None:
    user = client.post("/v1/users", json={"phone": PHONE}).json()

    response = client.patch(f"/v1/users/{user['id']}", json={"status": "active"})

    assert response.status_code == 409
    assert "reply YES" in response.json()["error"]
    assert client.get(f"/v1/users/{user['id']}").json()["status"] == "pending"


def test_operator_cannot_pause_a_user_who_has_not_said_yes(client: TestClient) -> None:
    user = client.post("/v1/users", json={"phone": PHONE}).json()

    response = client.patch(f"/v1/users/{user['id']}", json={"status": "paused"})

    assert response.status_code == 409


def test_operator_cannot_resubscribe_a_user_who_opted_out(
    client: TestClient, enroll: Enroll, container: Container
) -> None:
    user = enroll()
    text(container, "STOP", sid="SM-stop")

    response = client.patch(f"/v1/users/{user['id']}", json={"status": "active"})

    assert response.status_code == 409
    assert "START" in response.json()["error"]
    assert client.get(f"/v1/users/{user['id']}").json()["status"] == "opted_out"


def test_operator_cannot_activate_an_invalid_number(
    client: TestClient,
    enroll: Enroll,
    container: Container,
    clock: FakeClock,
    sender: FakeSmsSender,
) -> None:
    user = enroll()
    sender.fail_with(SmsSendError("invalid", code=21211, permanent=True))
    clock.set(clock.now() + timedelta(hours=13))  # the heads-up, 20:00 in Los Angeles
    container.dispatch_due()

    response = client.patch(f"/v1/users/{user['id']}", json={"status": "active"})

    assert client.get(f"/v1/users/{user['id']}").json()["status"] == "invalid"
    assert response.status_code == 409


def test_refused_status_change_keeps_the_schedule_change_out(client: TestClient) -> None:
    user = client.post("/v1/users", json={"phone": PHONE}).json()

    client.patch(f"/v1/users/{user['id']}", json={"cadence_days": 21, "status": "active"})

    assert client.get(f"/v1/users/{user['id']}").json()["cadence_days"] == 14


# --- DELETE ---------------------------------------------------------------------------------


def test_delete_answers_204_without_a_body(client: TestClient, enroll: Enroll) -> None:
    user = enroll()

    response = client.delete(f"/v1/users/{user['id']}")

    assert response.status_code == 204
    assert response.content == b""


def test_deleted_user_is_gone(client: TestClient, enroll: Enroll) -> None:
    user = enroll()

    client.delete(f"/v1/users/{user['id']}")

    assert client.get(f"/v1/users/{user['id']}").status_code == 404
    assert client.get("/v1/users").json()["items"] == []


def test_deleting_twice_answers_404(client: TestClient, enroll: Enroll) -> None:
    user = enroll()
    client.delete(f"/v1/users/{user['id']}")

    assert client.delete(f"/v1/users/{user['id']}").status_code == 404


def test_deleted_users_number_can_enrol_again(client: TestClient, enroll: Enroll) -> None:
    first = enroll(PHONE)
    client.delete(f"/v1/users/{first['id']}")

    response = client.post("/v1/users", json={"phone": PHONE})

    assert response.status_code == 201
    assert response.json()["id"] != first["id"]


def test_delete_erases_the_number_and_every_message_body(
    client: TestClient, enroll: Enroll, container: Container
) -> None:
    user = enroll()
    text(container, "NEXT", sid="SM-next")

    client.delete(f"/v1/users/{user['id']}")

    with container.engine.connect() as connection:
        phone = connection.execute(select(users.c.phone).where(users.c.id == user["id"]))
        bodies = connection.execute(select(messages.c.body).where(messages.c.user_id == user["id"]))
        assert phone.scalar_one() is None
        assert [b for (b,) in bodies] == [None, None]  # the NEXT and its reply


def test_delete_cancels_every_reminder(
    client: TestClient,
    enroll: Enroll,
    container: Container,
    clock: FakeClock,
    sender: FakeSmsSender,
) -> None:
    user = enroll()

    client.delete(f"/v1/users/{user['id']}")
    clock.advance(timedelta(days=3))
    container.dispatch_due()

    assert sender.sent == []


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
def test_unknown_user_answers_404_in_the_error_shape(client: TestClient, method: str) -> None:
    response = client.request(method, "/v1/users/7", json={} if method == "PATCH" else None)

    assert response.status_code == 404
    assert response.json() == {"error": "user 7 does not exist", "field": None, "errors": []}
