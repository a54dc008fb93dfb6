"""Bad input for every field, query and path parameter: 422 naming the field and what is
accepted, never a 500, and nothing changed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from reminders.services.operations import encode_cursor
from tests.fakes import FakeSmsSender

Enroll = Callable[..., dict[str, Any]]

BAD_ENROLMENTS = [
    ("phone", {}),
    ("phone", {"phone": ""}),
    ("phone", {"phone": "call me maybe"}),
    ("phone", {"phone": "+1555"}),
    ("phone", {"phone": "4155550123"}),  # national, and no default region is set
    ("phone", {"phone": 14155550123}),
    ("phone", {"phone": None}),
    ("phone", {"phone": "+1" + "4" * 40}),
    ("timezone", {"timezone": "Mars/Base"}),
    ("timezone", {"timezone": ""}),
    ("timezone", {"timezone": "UTC+2"}),
    ("timezone", {"timezone": "../../etc/passwd"}),
    ("timezone", {"timezone": 2}),
    ("timezone", {"timezone": "Europe/" + "x" * 80}),
    ("session_time", {"session_time": "25:00"}),
    ("session_time", {"session_time": "8pm"}),
    ("session_time", {"session_time": ""}),
    ("session_time", {"session_time": 2000}),
    ("session_time", {"session_time": "22:30"}),  # the roll would be in quiet hours
    ("session_time", {"session_time": "08:15"}),  # the makeup-removal SMS would be
    ("cadence_days", {"cadence_days": 6}),
    ("cadence_days", {"cadence_days": 29}),
    ("cadence_days", {"cadence_days": 0}),
    ("cadence_days", {"cadence_days": -14}),
    ("cadence_days", {"cadence_days": "14"}),
    ("cadence_days", {"cadence_days": 14.5}),
    ("cadence_days", {"cadence_days": True}),
    ("cadence_days", {"cadence_days": None}),
    ("cadence_days", {"cadence_days": 10**30}),
    ("first_session_date", {"first_session_date": "2026-02-30", "consent": "confirmed"}),
    ("first_session_date", {"first_session_date": "next tuesday", "consent": "confirmed"}),
    ("first_session_date", {"first_session_date": "2026-03-01", "consent": "confirmed"}),
    ("first_session_date", {"first_session_date": "2027-06-01", "consent": "confirmed"}),
    ("first_session_date", {"first_session_date": "9999-12-31", "consent": "confirmed"}),
    ("first_session_date", {"first_session_date": "0001-01-01", "consent": "confirmed"}),
    ("first_session_date", {"first_session_date": "2026-03-10"}),  # consent still pending
    ("consent", {"consent": "yes"}),
    ("consent", {"consent": True}),
    ("consent", {"consent": ""}),
    ("cadence", {"cadence": 14}),
]


@pytest.mark.parametrize(("field", "changes"), BAD_ENROLMENTS)
def test_enrol_refuses_a_bad_value_naming_the_field(
    client: TestClient, field: str, changes: dict[str, Any]
) -> None:
    body = {"phone": "+14155550123"} | changes if field != "phone" else changes

    response = client.post("/v1/users", json=body)

    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    assert field in response.json()["error"]


@pytest.mark.parametrize(("field", "changes"), BAD_ENROLMENTS)
def test_refused_enrolment_changes_nothing(
    client: TestClient, sender: FakeSmsSender, field: str, changes: dict[str, Any]
) -> None:
    body = {"phone": "+14155550123"} | changes if field != "phone" else changes

    client.post("/v1/users", json=body)

    assert client.get("/v1/users").json()["items"] == []
    assert client.get("/v1/stats").json()["reminders"]["scheduled"] == 0


@pytest.mark.parametrize(
    ("field", "accepted"),
    [
        ("cadence_days", "7 to 28"),
        ("session_time", "'HH:MM'"),
        ("consent", "'pending' or 'confirmed'"),
        ("timezone", "IANA"),
        ("phone", "E.164"),
    ],
)
def test_enrol_error_says_what_is_accepted(client: TestClient, field: str, accepted: str) -> None:
    body: dict[str, Any] = {"phone": "+14155550123", field: 3}

    response = client.post("/v1/users", json=body)

    assert accepted in response.json()["error"]


def test_enrol_error_lists_every_bad_field(client: TestClient) -> None:
    response = client.post(
        "/v1/users", json={"phone": "+14155550123", "cadence_days": 3, "consent": "no"}
    )

    assert [p["field"] for p in response.json()["errors"]] == ["cadence_days", "consent"]


def test_unknown_field_error_lists_the_fields_accepted(client: TestClient) -> None:
    response = client.post("/v1/users", json={"phone": "+14155550123", "cadence": 14})

    assert response.json()["error"] == (
        "cadence is not a field of this request; accepted fields: phone, timezone, "
        "session_time, cadence_days, first_session_date, consent"
    )


def test_error_never_echoes_a_phone_number(client: TestClient) -> None:
    response = client.post("/v1/users", json={"phone": "+1555123"})

    assert "555123" not in response.text


@pytest.mark.parametrize(
    "content", [b"{not json", b"[]", b"null", b'"+14155550123"', b""], ids=repr
)
def test_enrol_refuses_a_body_that_is_not_a_json_object(client: TestClient, content: bytes) -> None:
    response = client.post(
        "/v1/users", content=content, headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 422
    assert response.json()["field"] == "body"
    assert "JSON object" in response.json()["error"]


BAD_PATCHES = [
    ("session_time", {"session_time": "24:00"}),
    ("session_time", {"session_time": "06:00"}),
    ("cadence_days", {"cadence_days": 5}),
    ("cadence_days", {"cadence_days": "21"}),
    ("timezone", {"timezone": "Nowhere"}),
    ("status", {"status": "opted_out"}),
    ("status", {"status": "pending"}),
    ("status", {"status": "ACTIVE"}),
    ("phone", {"phone": "+14155550199"}),  # a number is not changed; erase and enrol
]


@pytest.mark.parametrize(("field", "changes"), BAD_PATCHES)
def test_patch_refuses_a_bad_value_naming_the_field(
    client: TestClient, enroll: Enroll, field: str, changes: dict[str, Any]
) -> None:
    user = enroll()

    response = client.patch(f"/v1/users/{user['id']}", json=changes)

    assert response.status_code == 422, response.text
    assert response.json()["field"] == field


@pytest.mark.parametrize(("field", "changes"), BAD_PATCHES)
def test_refused_patch_leaves_the_user_as_it_was(
    client: TestClient, enroll: Enroll, field: str, changes: dict[str, Any]
) -> None:
    user = enroll()

    client.patch(f"/v1/users/{user['id']}", json=changes)

    shown = client.get(f"/v1/users/{user['id']}").json()
    assert shown.pop("adherence") == {"done": 0, "skipped": 0, "unconfirmed": 0, "streak": 0}
    assert shown == user


def test_patch_status_error_says_what_is_accepted(client: TestClient, enroll: Enroll) -> None:
    user = enroll()

    response = client.patch(f"/v1/users/{user['id']}", json={"status": "opted_out"})

    assert "'active' or 'paused'" in response.json()["error"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "gone"}, "status"),
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "%%%"}, "cursor"),
        ({"cursor": "dTE6LTE"}, "cursor"),  # decodes to u1:-1
        ({"cursor": encode_cursor(2**63)}, "cursor"),
        ({"cursor": "x" * 65}, "cursor"),
    ],
)
def test_list_refuses_a_bad_query_naming_it(
    client: TestClient, params: dict[str, Any], field: str
) -> None:
    response = client.get("/v1/users", params=params)

    assert response.status_code == 422
    assert response.json()["field"] == field


@pytest.mark.parametrize("sessions", ["0", "27", "many", "-1"])
def test_schedule_refuses_a_bad_session_count(
    client: TestClient, enroll: Enroll, sessions: str
) -> None:
    user = enroll()

    response = client.get(f"/v1/users/{user['id']}/schedule", params={"sessions": sessions})

    assert response.status_code == 422
    assert response.json()["field"] == "sessions"


@pytest.mark.parametrize("user_id", ["0", "-1", "abc", "1.5", str(2**31), str(2**63)])
@pytest.mark.parametrize(
    ("method", "suffix"),
    [("GET", ""), ("PATCH", ""), ("DELETE", ""), ("GET", "/schedule"), ("GET", "/history")],
)
def test_user_paths_refuse_an_id_that_is_not_a_user_id(
    client: TestClient, method: str, suffix: str, user_id: str
) -> None:
    response = client.request(
        method, f"/v1/users/{user_id}{suffix}", json={} if method == "PATCH" else None
    )

    assert response.status_code == 422
    assert response.json()["field"] == "id"


def test_largest_possible_id_is_simply_not_found(client: TestClient) -> None:
    # users.id is an INTEGER column, four bytes on PostgreSQL.
    assert client.get(f"/v1/users/{2**31 - 1}").status_code == 404
