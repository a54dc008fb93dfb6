"""A user's whole life over HTTP, with the service's JSON logging on at DEBUG: no log line may
hold a phone number (other than masked), a message body, the admin token or the Twilio auth
token.

The SMS go through FakeSmsSender: the console backend logs each body on purpose (it is the
SMS display in development), so it is not the backend under test here. The admin token is
set, so bootstrap has no generated token to announce."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from reminders.bootstrap import Container
from reminders.domain.messages import safety_notice_text
from reminders.entrypoints.api import create_app
from reminders.log import configure_logging
from tests.e2e.conftest import AUTH, TOKEN
from tests.fakes import FakeClock, FakeSmsSender
from tests.twilio_webhooks import FakeTwilioWebhooks, new_sid

PHONE = "+14155550123"
TWILIO_AUTH_TOKEN = "privacy-test-twilio-auth-token"
PUBLIC_URL = "https://sms.example.com"
INBOUND_TEXTS = ["Yes please, sign me up", "DONE and it felt wonderful tonight"]


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Puts pytest's own log handlers back after a test that configured the service's."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def container(make_container: Callable[..., Container]) -> Container:
    return make_container(
        TWILIO_AUTH_TOKEN=TWILIO_AUTH_TOKEN,
        TWILIO_ACCOUNT_SID="AC" + "0" * 32,
        public_url=PUBLIC_URL,
    )


def _live_a_users_life(
    container: Container, clock: FakeClock, sender: FakeSmsSender
) -> list[str | None]:
    """Enrol, consent, the safety notice and a delivered session, DONE, pause, resume, erase;
    returns the replies."""
    with TestClient(create_app(container), headers=AUTH) as client:
        twilio = FakeTwilioWebhooks(client, public_url=PUBLIC_URL, auth_token=TWILIO_AUTH_TOKEN)
        replies: list[str | None] = []
        user = client.post("/v1/users", json={"phone": "(415) 555-0123", "timezone": "Nowhere"})
        user = client.post("/v1/users", json={"phone": PHONE}).json()
        client.post("/v1/users", json={"phone": PHONE})  # 409
        clock.set(datetime.fromisoformat("2026-03-02T09:00:00-08:00"))
        container.dispatch_due()  # the consent question
        replies.append(twilio.text(PHONE, INBOUND_TEXTS[0], sid=new_sid()))
        schedule = client.get(f"/v1/users/{user['id']}/schedule").json()
        for reminder in schedule["sessions"][0]["reminders"]:
            clock.set(datetime.fromisoformat(reminder["send_at"]))
            container.dispatch_due()
        for sent in sender.sent:
            twilio.status(sent.sid, "delivered")
        replies.append(twilio.text(PHONE, INBOUND_TEXTS[1], sid=new_sid()))
        clock.advance(timedelta(minutes=5))
        client.get(f"/v1/users/{user['id']}/history")
        client.get("/v1/stats")
        client.get("/metrics")
        client.patch(f"/v1/users/{user['id']}", json={"status": "paused"})
        client.patch(f"/v1/users/{user['id']}", json={"status": "active"})
        client.get("/v1/users", headers={"Authorization": "Bearer wrong-token"})
        client.delete(f"/v1/users/{user['id']}")
    return replies


def test_no_log_line_holds_a_number_a_body_or_a_secret(
    container: Container,
    clock: FakeClock,
    sender: FakeSmsSender,
    restore_logging: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("DEBUG")  # here, where capsys captures what it writes to stdout
    replies = _live_a_users_life(container, clock, sender)
    lines = capsys.readouterr().out.splitlines()

    secrets = [PHONE, PHONE[1:], "4155550123", "555-0123", "5550123", TOKEN, TWILIO_AUTH_TOKEN]
    bodies = [s.body for s in sender.sent] + [r for r in replies if r] + INBOUND_TEXTS
    # Decoded, so a body with quotes or line breaks (escaped in JSON) is found all the same.
    entries = [" ".join(str(v) for v in json.loads(line).values()) for line in lines]
    leaks = [
        (found, entry)
        for entry in entries
        for found in secrets + [b[:40] for b in bodies]
        if found in entry
    ]
    # The scenario really ran: the consent question, the safety notice, the session's 4 SMS.
    assert len(sender.sent) == 6 and all(replies)
    assert sender.sent[1].body == safety_notice_text(container.policy.brand)
    assert any("+1*******0123" in line for line in lines)  # numbers are logged, masked
    assert leaks == []


def test_every_log_line_is_one_json_object(
    container: Container,
    clock: FakeClock,
    sender: FakeSmsSender,
    restore_logging: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("DEBUG")
    _live_a_users_life(container, clock, sender)

    lines = capsys.readouterr().out.splitlines()

    assert lines
    assert all(isinstance(json.loads(line), dict) for line in lines)
