"""Request limits: who may send a body and how large, checked on the bytes actually read and
before any parsing or authentication work (chunked uploads and lying Content-Length too)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from reminders.bootstrap import Container
from reminders.entrypoints.api import create_app
from reminders.entrypoints.limits import Refusal, RequestLimits, Route
from tests.e2e.conftest import AUTH
from tests.e2e.webhook_support import twilio_container
from tests.twilio_webhooks import INBOUND_PATH, FakeTwilioWebhooks

LIMIT = 64 * 1024
PHONE = "+14155550123"


@pytest.fixture
def container(make_container: Any) -> Container:
    return twilio_container(make_container)


@pytest.fixture
def http(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container)) as client:
        yield client


def _chunks(total: int, size: int = 16 * 1024) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        yield b"x" * min(size, total - sent)
        sent += size


def _users(http: TestClient) -> list[Any]:
    return list(http.get("/v1/users", headers=AUTH).json()["items"])


# --- over HTTP -------------------------------------------------------------------------------


def test_an_oversized_json_body_with_a_valid_token_is_413_and_enrols_nobody(
    http: TestClient,
) -> None:
    body = json.dumps({"phone": PHONE, "timezone": "America/New_York", "pad": "x" * LIMIT})

    response = http.post("/v1/users", content=body, headers=AUTH)

    assert response.status_code == 413
    assert response.json()["error"].startswith("the request body is larger than 65536 bytes")
    assert _users(http) == []


def test_a_chunked_json_body_over_the_limit_is_413(http: TestClient) -> None:
    response = http.post(
        "/v1/users",
        content=_chunks(LIMIT * 4),
        headers={**AUTH, "Content-Type": "application/json"},
    )

    assert response.status_code == 413


def test_an_oversized_body_without_a_token_is_401(http: TestClient) -> None:
    response = http.post("/v1/users", content=b"{" + b" " * (LIMIT * 4) + b"}")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json()["error"].startswith("a valid bearer token is required")


def test_a_wrong_token_is_refused_before_the_body(http: TestClient) -> None:
    response = http.post(
        "/v1/users", json={"phone": PHONE}, headers={"Authorization": "Bearer wrong"}
    )

    assert response.status_code == 401


def test_a_body_within_the_limit_is_read_as_before(http: TestClient) -> None:
    response = http.post(
        "/v1/users",
        json={"phone": PHONE, "timezone": "America/New_York", "consent": "confirmed"},
        headers=AUTH,
    )

    assert response.status_code == 201


def test_a_chunked_webhook_upload_over_the_limit_is_413(http: TestClient) -> None:
    response = http.post(
        INBOUND_PATH,
        content=_chunks(LIMIT * 8),
        headers={
            "X-Twilio-Signature": "c2lnbmF0dXJl",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )

    assert response.status_code == 413


def test_a_webhook_without_a_signature_is_refused_before_its_body(http: TestClient) -> None:
    response = http.post(INBOUND_PATH, content=_chunks(LIMIT * 8))

    assert response.status_code == 403


def test_a_signed_webhook_within_the_limit_is_answered(
    http: TestClient, container: Container
) -> None:
    twilio = FakeTwilioWebhooks(
        http, public_url=container.settings.public_url, auth_token="e2e-twilio-auth-token"
    )

    assert twilio.post(INBOUND_PATH, twilio.inbound_params(PHONE, "hi")).status_code == 200


def test_health_checks_stay_open(http: TestClient) -> None:
    assert http.get("/healthz").status_code == 200


# --- the middleware itself: how much of a body it reads --------------------------------------


class _Upload:
    """An ASGI request body in chunks, counting how many the server pulled."""

    def __init__(self, chunks: int, size: int) -> None:
        self.chunks, self.size, self.pulled = chunks, size, 0

    async def receive(self) -> dict[str, Any]:
        self.pulled += 1
        more = self.pulled < self.chunks
        return {"type": "http.request", "body": b"x" * self.size, "more_body": more}


def _call(
    middleware: RequestLimits, upload: _Upload, headers: list[tuple[bytes, bytes]]
) -> tuple[int, bytes]:
    answer: dict[str, Any] = {"body": b""}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        else:
            answer["body"] += message.get("body", b"")

    scope = {"type": "http", "method": "POST", "path": "/in", "headers": headers}
    asyncio.run(middleware(scope, upload.receive, send))  # type: ignore[arg-type]
    return answer["status"], answer["body"]


async def _echo_length(scope: Any, receive: Any, send: Any) -> None:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(len(body)).encode()})


def test_reading_stops_at_the_first_chunk_past_the_limit() -> None:
    middleware = RequestLimits(_echo_length, [Route("/in", max_body_bytes=1000)])
    upload = _Upload(chunks=1000, size=300)

    status, _ = _call(middleware, upload, [])

    assert status == 413
    assert upload.pulled == 4  # 1,200 bytes: one chunk past 1,000, of 300,000 offered


def test_a_content_length_that_lies_small_is_no_way_past_the_limit() -> None:
    middleware = RequestLimits(_echo_length, [Route("/in", max_body_bytes=1000)])
    upload = _Upload(chunks=100, size=300)

    status, _ = _call(middleware, upload, [(b"content-length", b"10")])

    assert status == 413 and upload.pulled == 4


def test_a_content_length_over_the_limit_is_refused_unread() -> None:
    middleware = RequestLimits(_echo_length, [Route("/in", max_body_bytes=1000)])
    upload = _Upload(chunks=1, size=300)

    status, _ = _call(middleware, upload, [(b"content-length", b"200000000")])

    assert status == 413 and upload.pulled == 0


def test_a_content_length_that_is_not_a_number_is_400() -> None:
    middleware = RequestLimits(_echo_length, [Route("/in")])
    upload = _Upload(chunks=1, size=10)

    status, body = _call(middleware, upload, [(b"content-length", b"1_0")])

    assert status == 400 and b"Content-Length" in body and upload.pulled == 0


def test_a_refusing_gate_answers_before_any_byte_is_read() -> None:
    middleware = RequestLimits(
        _echo_length, [Route("/in", gate=lambda _headers, _path: Refusal(401, "no"))]
    )
    upload = _Upload(chunks=10, size=10)

    status, _ = _call(middleware, upload, [])

    assert status == 401 and upload.pulled == 0


def test_a_body_that_fits_reaches_the_app_whole() -> None:
    middleware = RequestLimits(_echo_length, [Route("/in", max_body_bytes=1000)])
    upload = _Upload(chunks=3, size=300)

    status, body = _call(middleware, upload, [])

    assert (status, body) == (200, b"900")
