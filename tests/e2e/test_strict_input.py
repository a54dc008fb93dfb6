"""Input read strictly, one finding at a time: a path id, a query count, a date or a zone has
one spelling, and anything else is a 422 that names the field; numbers from Twilio in other
scripts or of any length are answered 200 and change nothing. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from reminders.adapters.db import messages
from reminders.bootstrap import Container
from reminders.domain.model import UserStatus
from tests.conftest import DATABASES, both_databases
from tests.e2e.webhook_support import PHONE, current, enroll_user, twilio_container, webhooks_for
from tests.fakes import FakeSmsSender
from tests.twilio_webhooks import STATUS_PATH, FakeTwilioWebhooks

Enroll = Callable[..., dict[str, Any]]

LONG_DIGITS = "9" * 5000
CADENCE_REFUSED = "at most once a week"


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest) -> str:
    return both_databases(request)


@pytest.fixture
def container(make_container: Callable[..., Container]) -> Container:
    """The app with the Twilio webhooks on, for the tests that go through them."""
    return twilio_container(make_container)


@pytest.fixture
def twilio(container: Container) -> Iterator[FakeTwilioWebhooks]:
    with webhooks_for(container) as webhooks:
        yield webhooks


@pytest.fixture
def ten_users(enroll: Enroll) -> list[int]:
    return [enroll(phone=f"+1415555{n:04d}")["id"] for n in range(100, 110)]


def assert_refused(response: Any, field: str) -> None:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["field"] == field
    assert body["error"].startswith(field)
    assert "accepted:" in body["error"]


# --- path ids ---------------------------------------------------------------------------------


def test_delete_of_user_1_0_is_refused_and_erases_nobody(
    client: TestClient, ten_users: list[int]
) -> None:
    response = client.delete("/v1/users/1_0")

    assert_refused(response, "id")
    assert client.get("/v1/users/10").status_code == 200
    assert client.get("/v1/users/1").status_code == 200


def test_user_1_point_0_is_refused(client: TestClient, ten_users: list[int]) -> None:
    response = client.get("/v1/users/1.0")

    assert_refused(response, "id")
    assert "plain digits" in response.json()["error"]


@pytest.mark.parametrize(
    "user_id",
    ["1_0", "1.0", "+1", "%201", "1%20", "-1", "0", "%D9%A1", "%C2%B9", "%EF%BC%91", "1e1", "0x1"],
)
def test_a_user_id_that_is_not_plain_digits_is_refused_on_every_user_path(
    client: TestClient, enroll: Enroll, user_id: str
) -> None:
    enroll()

    responses = [
        client.request(method, f"/v1/users/{user_id}{suffix}", json=body)
        for method, suffix, body in [
            ("GET", "", None),
            ("PATCH", "", {"cadence_days": 21}),
            ("DELETE", "", None),
            ("GET", "/schedule", None),
            ("GET", "/history", None),
        ]
    ]

    for response in responses:
        assert_refused(response, "id")
    assert client.get("/v1/users/1").json()["cadence_days"] == 14


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
@pytest.mark.parametrize("user_id", ["2147483648", "9223372036854775808", LONG_DIGITS])
def test_a_user_id_beyond_what_the_database_holds_is_refused(
    client: TestClient, method: str, user_id: str
) -> None:
    response = client.request(
        method, f"/v1/users/{user_id}", json={} if method == "PATCH" else None
    )

    assert_refused(response, "id")


def test_the_largest_user_id_is_looked_up(client: TestClient) -> None:
    response = client.get("/v1/users/2147483647")

    assert response.status_code == 404, response.text


# --- query counts -----------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["1_0", "2.0", "+2", " 2", "١", "²", "", LONG_DIGITS])
def test_a_page_size_that_is_not_plain_digits_is_refused(client: TestClient, value: str) -> None:
    response = client.get("/v1/users", params={"limit": value})

    assert_refused(response, "limit")


@pytest.mark.parametrize("value", ["1_0", "2.0", "+2", " 2", "١", "²", "", LONG_DIGITS])
def test_a_session_count_that_is_not_plain_digits_is_refused(
    client: TestClient, enroll: Enroll, value: str
) -> None:
    enroll()

    response = client.get("/v1/users/1/schedule", params={"sessions": value})

    assert_refused(response, "sessions")


def test_plain_digits_still_page_and_count(client: TestClient, ten_users: list[int]) -> None:
    page = client.get("/v1/users", params={"limit": "3"})
    schedule = client.get("/v1/users/10/schedule", params={"sessions": "2"})

    assert [user["id"] for user in page.json()["items"]] == [1, 2, 3]
    assert schedule.json()["user_id"] == 10 and len(schedule.json()["sessions"]) == 2


def test_the_api_description_still_says_integer(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]

    def schema(path: str, name: str) -> dict[str, Any]:
        parameters = paths[path]["get"]["parameters"]
        return next(p["schema"] for p in parameters if p["name"] == name)

    assert schema("/v1/users/{id}", "id")["type"] == "integer"
    assert schema("/v1/users/{id}", "id")["maximum"] == 2**31 - 1
    assert schema("/v1/users", "limit")["type"] == "integer"
    assert schema("/v1/users/{id}/schedule", "sessions")["type"] == "integer"


# --- dates and zones --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["2026-12-25T00:00:00", "2026-12-25T00:00:00Z", "2026-12-25 00:00", "1767225600", 1767225600]
    + ["20261225", "+2026-12-25", "٢٠٢٦-١٢-٢٥", "2026-12-25\n"],
)
def test_a_first_session_date_that_is_not_a_plain_date_is_refused(
    client: TestClient, sender: FakeSmsSender, value: object
) -> None:
    body = {"phone": PHONE, "consent": "confirmed", "first_session_date": value}

    response = client.post("/v1/users", json=body)

    assert_refused(response, "first_session_date")
    assert "YYYY-MM-DD" in response.json()["error"]
    assert client.get("/v1/users").json()["items"] == []


def test_a_plain_first_session_date_is_taken(client: TestClient) -> None:
    body = {"phone": PHONE, "consent": "confirmed", "first_session_date": "2026-03-10"}

    response = client.post("/v1/users", json=body)

    assert response.status_code == 201, response.text
    assert response.json()["next_session_at"].startswith("2026-03-10T20:00:00")


@pytest.mark.parametrize(
    "zone", ["right/UTC", "posix/Europe/London", "right/America/New_York", "localtime", "Factory"]
)
def test_a_zone_outside_the_iana_names_is_refused_at_enrolment(
    client: TestClient, zone: str
) -> None:
    response = client.post("/v1/users", json={"phone": PHONE, "timezone": zone})

    assert response.status_code == 422, response.text
    assert response.json()["field"] == "timezone"
    assert response.json()["error"] == (
        f"timezone '{zone}' is not an IANA name such as 'Europe/Kyiv'"
    )


@pytest.mark.parametrize("zone", ["right/UTC", "posix/Europe/London"])
def test_a_zone_outside_the_iana_names_is_refused_as_a_change(
    client: TestClient, enroll: Enroll, zone: str
) -> None:
    user = enroll(timezone="Europe/London")

    response = client.patch(f"/v1/users/{user['id']}", json={"timezone": zone})

    assert response.status_code == 422, response.text
    assert response.json()["field"] == "timezone"
    assert client.get(f"/v1/users/{user['id']}").json()["timezone"] == "Europe/London"


# --- through the signed webhook ---------------------------------------------------------------


@pytest.fixture
def sent_sid(container: Container, sender: FakeSmsSender) -> str:
    """The SID of the consent question just sent to a pending user."""
    enroll_user(container, confirmed=False)
    container.dispatch_due()
    return sender.sent[-1].sid


def stored_error_code(container: Container, sid: str) -> tuple[str, int | None]:
    with container.engine.connect() as connection:
        row = connection.execute(
            select(messages.c.status, messages.c.error_code).where(messages.c.provider_sid == sid)
        ).one()
    return row.status, row.error_code


@pytest.mark.parametrize("code", ["²", LONG_DIGITS, "2147483648", "-30005", "٣٠٠٠٥", " 2 1610"])
def test_a_status_callback_with_an_error_code_twilio_never_sends_is_answered_200(
    container: Container, twilio: FakeTwilioWebhooks, sent_sid: str, code: str
) -> None:
    params = twilio.status_params(sent_sid, "failed")
    params["ErrorCode"] = code

    response = twilio.post(STATUS_PATH, params)

    assert response.status_code == 200, response.text
    assert stored_error_code(container, sent_sid) == ("failed", None)


def test_a_status_callback_with_a_five_digit_error_code_still_records_it(
    container: Container, twilio: FakeTwilioWebhooks, sent_sid: str
) -> None:
    response = twilio.status(sent_sid, "failed", error_code=30005)

    assert response.status_code == 200, response.text
    assert stored_error_code(container, sent_sid) == ("failed", 30005)


@pytest.mark.parametrize(
    "body", ["EVERY " + LONG_DIGITS, "EVERY ²", "EVERY ١٤", "EVERY 2147483648"]
)
def test_every_with_a_number_that_is_not_plain_digits_gets_the_cadence_refused_reply(
    container: Container, twilio: FakeTwilioWebhooks, body: str
) -> None:
    user = enroll_user(container)

    reply = twilio.text(PHONE, body)

    assert reply is not None and CADENCE_REFUSED in reply
    after = current(container, user)
    assert (after.schedule.cadence_days, after.status) == (14, UserStatus.ACTIVE)
