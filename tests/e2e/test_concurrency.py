"""Many requests on one user at the same moment, on SQLite and PostgreSQL: no 5xx, no inbound
message lost, the reply limiter exact, and the stored state still obeys every rule.

Before one lock order, these gave deadlocks and unique violations (500s that lost a STOP or a
YES), 10-47 replies where 5 were allowed, and erased or paused users with planned sessions and
scheduled reminders."""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from reminders.bootstrap import Container
from reminders.domain.messages import keywords_text, limited_text
from reminders.entrypoints.api import create_app
from tests.conftest import DATABASES, both_databases
from tests.e2e.conftest import AUTH
from tests.e2e.webhook_support import AUTH_TOKEN, PUBLIC_URL, twilio_container
from tests.system import invariants
from tests.twilio_webhooks import INBOUND_PATH, FakeTwilioWebhooks, new_sid, reply_of

PHONE = "+14155550123"
STRANGER = "+14155550199"
PARALLEL = 50
ROUNDS = 3
ALLOWED = {200, 201, 204, 404, 409, 422}


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest) -> str:
    return both_databases(request)


@pytest.fixture
def container(make_container: Callable[..., Container]) -> Container:
    return twilio_container(make_container)


@pytest.fixture
def http(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container), headers=AUTH) as client:
        yield client


@pytest.fixture
def twilio(http: TestClient) -> FakeTwilioWebhooks:
    return FakeTwilioWebhooks(http, public_url=PUBLIC_URL, auth_token=AUTH_TOKEN)


def _enroll(http: TestClient) -> int:
    body = {"phone": PHONE, "timezone": "America/New_York", "consent": "confirmed"}
    response = http.post("/v1/users", json=body)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _all_at_once(calls: list[Callable[[], httpx.Response]]) -> list[httpx.Response]:
    """Run every call on its own thread, released together."""
    start = threading.Barrier(len(calls))

    def run(call: Callable[[], httpx.Response]) -> httpx.Response:
        start.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def _storm(http: TestClient, twilio: FakeTwilioWebhooks, user_id: int) -> list[Any]:
    """50 requests on one user: the operator's changes, the user's commands, one erasure.
    Returns (kind, response, MessageSid or None) for each."""
    url = f"/v1/users/{user_id}"
    changes: list[dict[str, Any]] = [
        {"session_time": "19:30"},
        {"session_time": "20:00"},
        {"cadence_days": 7},
        {"cadence_days": 21},
        {"timezone": "America/Chicago"},
        {"timezone": "America/New_York"},
        {"status": "paused"},
        {"status": "active"},
    ]
    texts = ["PAUSE", "RESUME", "SKIP", "LATER", "DONE", "TIME 19:45", "EVERY 10", "STOP"]
    texts += ["START", "NEXT"]
    plan: list[tuple[str, Callable[[], httpx.Response], str | None]] = []
    for index in range(PARALLEL - 1):
        if index % 2 == 0:
            change = changes[index // 2 % len(changes)]
            plan.append(("patch", lambda c=change: http.patch(url, json=c), None))
        else:
            sid = new_sid()
            params = twilio.inbound_params(PHONE, texts[index // 2 % len(texts)], sid=sid)
            plan.append(("inbound", lambda p=params: twilio.post(INBOUND_PATH, p), sid))
    plan.insert(random.randrange(len(plan)), ("delete", lambda: http.delete(url), None))
    responses = _all_at_once([call for _, call, _ in plan])
    return [(kind, response, sid) for (kind, _, sid), response in zip(plan, responses, strict=True)]


def test_a_storm_on_one_user_gives_no_5xx_and_breaks_no_rule(
    container: Container, http: TestClient, twilio: FakeTwilioWebhooks
) -> None:
    sent: set[str] = set()
    acked: set[str] = set()
    failures: list[str] = []
    found: dict[str, set[Any]] = {kind: set() for kind in invariants.KINDS}

    for _ in range(ROUNDS):
        results = _storm(http, twilio, _enroll(http))
        for kind, response, sid in results:
            if response.status_code not in ALLOWED:
                failures.append(f"{kind} {response.status_code} {response.text[:200]}")
            if sid is not None:
                sent.add(sid)
                if response.status_code == 200:
                    acked.add(sid)
        for kind, keys in invariants.check(container.engine, sent, acked).items():
            found[kind] |= keys

    assert failures == []
    assert {kind: keys for kind, keys in found.items() if keys} == {}
    assert acked == sent and len(sent) == ROUNDS * (PARALLEL // 2 - 1)


def test_fifty_simultaneous_messages_from_a_member_get_exactly_five_replies_and_one_notice(
    container: Container, http: TestClient, twilio: FakeTwilioWebhooks
) -> None:
    """The same text 50 times at once: the limiter's window is read and written under the
    user's lock, so the answers are exactly those of 50 in a row."""
    _enroll(http)
    calls = [
        lambda: twilio.post(INBOUND_PATH, twilio.inbound_params(PHONE, "what?"))
        for _ in range(PARALLEL)
    ]

    responses = _all_at_once(calls)

    brand = container.policy.brand
    assert {r.status_code for r in responses} == {200}
    assert Counter(reply_of(r) for r in responses) == {
        keywords_text(brand): 5,
        limited_text(brand, 30): 1,
        None: PARALLEL - 6,  # an empty <Response/>
    }


def test_fifty_simultaneous_yes_from_a_stranger_get_one_not_enrolled_reply(
    twilio: FakeTwilioWebhooks,
) -> None:
    calls = [
        lambda: twilio.post(INBOUND_PATH, twilio.inbound_params(STRANGER, "YES"))
        for _ in range(PARALLEL)
    ]

    responses = _all_at_once(calls)

    assert {r.status_code for r in responses} == {200}
    assert sum(reply_of(r) is not None for r in responses) == 1


def test_one_message_delivered_fifty_times_at_once_is_applied_once(
    container: Container, http: TestClient, twilio: FakeTwilioWebhooks
) -> None:
    user_id = _enroll(http)
    params = twilio.inbound_params(PHONE, "LATER", sid=new_sid())

    responses = _all_at_once([lambda: twilio.post(INBOUND_PATH, params)] * PARALLEL)

    assert {r.status_code for r in responses} == {200}
    assert sum(reply_of(r) is not None for r in responses) == 1
    with container.uow(read_only=True) as uow:
        session = uow.sessions.upcoming(user_id)
    assert session is not None and session.later_count == 1
