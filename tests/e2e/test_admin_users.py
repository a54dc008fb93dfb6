"""Enrolling, listing and reading users over HTTP.

The clock starts at START, Monday 2 March 2026, morning in Los Angeles, where a +1 415 number
lives. With the default plan and 20:00 sessions the first session is Tuesday 3 March (the
heads-up of a Monday session would have been due on Sunday)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from reminders.bootstrap import Container
from tests.conftest import START
from tests.fakes import FakeClock, FakeSmsSender

Enroll = Callable[..., dict[str, Any]]
LOS_ANGELES = ZoneInfo("America/Los_Angeles")


def test_enrol_answers_201_with_the_user(client: TestClient) -> None:
    response = client.post(
        "/v1/users",
        json={"phone": "+14155550123", "session_time": "19:30", "consent": "confirmed"},
    )

    assert response.status_code == 201
    assert response.json() == {
        "id": 1,
        "phone": "+14155550123",
        "status": "active",
        "paused_reason": None,
        "timezone": "America/Los_Angeles",
        "session_time": "19:30",
        "cadence_days": 14,
        "next_session_at": "2026-03-03T19:30:00-08:00",
        "last_session_date": None,
        "created_at": START.astimezone(LOS_ANGELES).isoformat(),
    }


def test_enrol_gives_the_location_of_the_new_user(client: TestClient) -> None:
    response = client.post("/v1/users", json={"phone": "+14155550123"})

    assert response.headers["Location"] == "/v1/users/1"


def test_enrol_defaults_to_pending_consent_20_00_and_every_14_days(client: TestClient) -> None:
    user = client.post("/v1/users", json={"phone": "+14155550123"}).json()

    assert (user["status"], user["session_time"], user["cadence_days"]) == ("pending", "20:00", 14)
    assert user["next_session_at"] is None


def test_pending_user_is_asked_for_consent_by_sms(
    client: TestClient, container: Container, sender: FakeSmsSender, clock: FakeClock
) -> None:
    client.post("/v1/users", json={"phone": "+14155550123"})
    clock.set(datetime(2026, 3, 2, 9, 0, tzinfo=LOS_ANGELES))  # after quiet hours

    container.dispatch_due()

    assert len(sender.bodies_to("+14155550123")) == 1
    assert "YES" in sender.bodies_to("+14155550123")[0]


def test_confirmed_user_gets_no_consent_question(
    client: TestClient, container: Container, sender: FakeSmsSender
) -> None:
    client.post("/v1/users", json={"phone": "+14155550123", "consent": "confirmed"})

    container.dispatch_due()

    assert sender.sent == []


def test_enrol_infers_the_zone_of_a_single_zone_country(client: TestClient) -> None:
    user = client.post("/v1/users", json={"phone": "+380501234567"}).json()

    assert user["timezone"] == "Europe/Kyiv"


def test_enrol_needs_a_zone_for_a_number_of_several_zones(client: TestClient) -> None:
    response = client.post("/v1/users", json={"phone": "+61412345678"})

    assert response.status_code == 422
    assert response.json()["field"] == "timezone"
    assert "IANA" in response.json()["error"]


def test_enrol_takes_the_given_zone_over_the_inferred_one(client: TestClient) -> None:
    user = client.post(
        "/v1/users", json={"phone": "+14155550123", "timezone": "America/New_York"}
    ).json()

    assert user["timezone"] == "America/New_York"


def test_enrol_reads_a_national_number_with_the_default_region(
    make_container: Callable[..., Container],
) -> None:
    from reminders.entrypoints.api import create_app

    app = create_app(make_container(default_region="GB"))
    with TestClient(app, headers={"Authorization": "Bearer test-admin-token"}) as client:
        response = client.post(
            "/v1/users", json={"phone": "07400 123456", "timezone": "Europe/London"}
        )

    assert response.json()["phone"] == "+447400123456"


def test_enrol_normalises_a_formatted_number_to_e164(client: TestClient) -> None:
    user = client.post("/v1/users", json={"phone": "+1 (415) 555-0123"}).json()

    assert user["phone"] == "+14155550123"


def test_enrol_plans_the_first_session_on_the_given_date(client: TestClient) -> None:
    user = client.post(
        "/v1/users",
        json={
            "phone": "+14155550123",
            "consent": "confirmed",
            "first_session_date": "2026-03-10",
        },
    ).json()

    assert user["next_session_at"] == "2026-03-10T20:00:00-07:00"


def test_enrol_refuses_an_enrolled_number_with_409(client: TestClient, enroll: Enroll) -> None:
    enroll("+14155550123")

    response = client.post("/v1/users", json={"phone": "+14155550123"})

    assert response.status_code == 409
    assert response.json()["field"] == "phone"
    assert "already enrolled" in response.json()["error"]


def test_enrol_refuses_the_same_number_written_another_way(
    client: TestClient, enroll: Enroll
) -> None:
    enroll("+14155550123")

    response = client.post("/v1/users", json={"phone": "+1 415-555-0123"})

    assert response.status_code == 409


def test_refused_duplicate_leaves_one_user(client: TestClient, enroll: Enroll) -> None:
    enroll("+14155550123")

    client.post("/v1/users", json={"phone": "+14155550123"})

    assert len(client.get("/v1/users").json()["items"]) == 1


def test_show_returns_the_user(client: TestClient, enroll: Enroll) -> None:
    created = enroll()

    response = client.get(f"/v1/users/{created['id']}")

    assert response.status_code == 200
    assert response.json() == created | {
        "adherence": {"done": 0, "skipped": 0, "unconfirmed": 0, "streak": 0}
    }


def test_show_answers_404_for_an_unknown_user(client: TestClient) -> None:
    response = client.get("/v1/users/42")

    assert response.status_code == 404
    assert response.json()["error"] == "user 42 does not exist"


def test_next_session_carries_the_users_offset_across_dst(
    client: TestClient, enroll: Enroll
) -> None:
    user = enroll("+14155550123", first_session_date="2026-03-09")

    starts = datetime.fromisoformat(user["next_session_at"])

    assert starts.utcoffset() is not None
    assert user["next_session_at"].endswith("-07:00")  # PDT began on 8 March


def test_list_returns_users_oldest_first(client: TestClient, enroll: Enroll) -> None:
    enroll("+14155550101")
    enroll("+14155550102")

    page = client.get("/v1/users").json()

    assert [u["phone"] for u in page["items"]] == ["+14155550101", "+14155550102"]
    assert page["next_cursor"] is None


def test_list_is_empty_without_users(client: TestClient) -> None:
    assert client.get("/v1/users").json() == {"items": [], "next_cursor": None}


def test_list_filters_by_status(client: TestClient, enroll: Enroll) -> None:
    enroll("+14155550101")
    client.post("/v1/users", json={"phone": "+14155550102"})

    page = client.get("/v1/users", params={"status": "pending"}).json()

    assert [u["phone"] for u in page["items"]] == ["+14155550102"]


def test_list_pages_with_a_cursor_until_it_is_null(client: TestClient, enroll: Enroll) -> None:
    for last in range(5):
        enroll(f"+1415555010{last}")

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get("/v1/users", params=params).json()
        seen += [u["phone"] for u in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == [f"+1415555010{last}" for last in range(5)]
    assert pages == 3


def test_last_full_page_has_no_cursor(client: TestClient, enroll: Enroll) -> None:
    enroll("+14155550101")
    enroll("+14155550102")

    page = client.get("/v1/users", params={"limit": 2}).json()

    assert page["next_cursor"] is None


def test_cursor_keeps_the_status_filter_of_the_request(client: TestClient, enroll: Enroll) -> None:
    enroll("+14155550101")
    client.post("/v1/users", json={"phone": "+14155550102"})
    enroll("+14155550103")
    first = client.get("/v1/users", params={"status": "active", "limit": 1}).json()

    second = client.get(
        "/v1/users", params={"status": "active", "limit": 1, "cursor": first["next_cursor"]}
    ).json()

    assert [u["phone"] for u in second["items"]] == ["+14155550103"]


def test_list_shows_each_users_next_session(client: TestClient, enroll: Enroll) -> None:
    enroll("+14155550101")
    client.post("/v1/users", json={"phone": "+14155550102"})

    items = client.get("/v1/users").json()["items"]

    assert [u["next_session_at"] for u in items] == ["2026-03-03T20:00:00-08:00", None]
