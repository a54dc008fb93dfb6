"""The fake Twilio server's message list, read over plain HTTP as Twilio documents it."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.fake_twilio import (
    TEST_ACCOUNT_SID,
    TEST_AUTH_TOKEN,
    TEST_FROM_NUMBER,
    TEST_MESSAGING_SERVICE_SID,
    FakeTwilio,
    Fault,
    running_fake_twilio,
)
from tests.fakes import FakeClock

TO = "+14155550123"
OTHER = "+14155550199"
MESSAGES_PATH = f"/2010-04-01/Accounts/{TEST_ACCOUNT_SID}/Messages.json"
T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
PAGE_KEYS = {
    "end",
    "first_page_uri",
    "messages",
    "next_page_uri",
    "page",
    "page_size",
    "previous_page_uri",
    "start",
    "uri",
}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def fake(clock: FakeClock) -> Iterator[FakeTwilio]:
    with running_fake_twilio(clock=clock.now) as server:
        yield server


def call(
    fake: FakeTwilio,
    method: str,
    path: str,
    params: dict[str, str] | list[tuple[str, str]] | None = None,
    token: str = TEST_AUTH_TOKEN,
) -> tuple[int, dict[str, Any]]:
    """One authenticated request: a form for POST, a query for GET."""
    encoded = urlencode(params or {})
    url = f"{fake.url}{path}"
    data = None
    if method == "GET":
        url += f"?{encoded}" if encoded else ""
    else:
        data = encoded.encode()
    request = urllib.request.Request(url, data=data, method=method)
    credentials = base64.b64encode(f"{TEST_ACCOUNT_SID}:{token}".encode()).decode()
    request.add_header("Authorization", f"Basic {credentials}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.load(error)


def send(fake: FakeTwilio, to: str = TO, body: str = "hello", **extra: str) -> dict[str, Any]:
    params = {"To": to, "Body": body, **(extra or {"From": TEST_FROM_NUMBER})}
    status, message = call(fake, "POST", MESSAGES_PATH, params)
    assert status == 201
    return message


def list_messages(fake: FakeTwilio, **params: str) -> dict[str, Any]:
    status, page = call(fake, "GET", MESSAGES_PATH, params)
    assert status == 200, page
    return page


def follow(fake: FakeTwilio, uri: str) -> dict[str, Any]:
    status, page = call(fake, "GET", uri)
    assert status == 200, page
    return page


def test_lists_newest_first_in_a_page_shaped_like_twilios(
    fake: FakeTwilio, clock: FakeClock
) -> None:
    first = send(fake, body="first")
    clock.advance(timedelta(seconds=1))
    second = send(fake, body="second")

    page = list_messages(fake)

    assert set(page) == PAGE_KEYS
    assert page["messages"] == [second, first]  # each exactly as the create call answered
    assert (page["page"], page["page_size"], page["start"], page["end"]) == (0, 50, 0, 1)
    assert page["next_page_uri"] is None and page["previous_page_uri"] is None
    assert page["uri"] == f"{MESSAGES_PATH}?PageSize=50&Page=0"
    assert page["first_page_uri"] == page["uri"]


def test_messages_created_in_the_same_second_list_newest_first(fake: FakeTwilio) -> None:
    sids = [send(fake, body=f"n{n}")["sid"] for n in range(3)]

    page = list_messages(fake)

    assert [m["sid"] for m in page["messages"]] == sids[::-1]


def test_dates_are_rfc_2822_and_a_queued_message_has_no_date_sent(fake: FakeTwilio) -> None:
    send(fake)

    [message] = list_messages(fake)["messages"]

    assert message["date_created"] == "Mon, 02 Mar 2026 15:00:00 +0000"
    assert message["date_sent"] is None
    assert message["status"] == "queued"


def test_filters_by_to_and_from(fake: FakeTwilio) -> None:
    mine = send(fake, TO)
    send(fake, OTHER)
    by_service = send(fake, TO, MessagingServiceSid=TEST_MESSAGING_SERVICE_SID)

    assert list_messages(fake, To=TO)["messages"] == [by_service, mine]
    assert list_messages(fake, To=TO, From=TEST_FROM_NUMBER)["messages"] == [mine]


def test_filters_by_to_appear_in_the_page_uris(fake: FakeTwilio) -> None:
    send(fake)

    page = list_messages(fake, To=TO, PageSize="5")

    assert page["uri"] == f"{MESSAGES_PATH}?To=%2B14155550123&PageSize=5&Page=0"


def test_date_sent_filters_miss_a_message_twilio_still_queues(
    fake: FakeTwilio, clock: FakeClock
) -> None:
    queued = send(fake, body="queued")
    delivered = send(fake, body="delivered")
    fake.set_status(delivered["sid"], "delivered", at=T0 + timedelta(seconds=2))

    for params in (
        {"DateSent>": "2026-03-02"},
        {"DateSent<": "2026-03-02"},
        {"DateSent": "2026-03-02"},
        {"DateSent>": "2026-03-02T15:00:00Z"},
    ):
        sids = [m["sid"] for m in list_messages(fake, **params)["messages"]]
        assert sids == [delivered["sid"]], params
    assert queued["sid"] in [m["sid"] for m in list_messages(fake)["messages"]]


def test_date_sent_after_and_before_are_inclusive(fake: FakeTwilio) -> None:
    message = send(fake)
    fake.set_status(message["sid"], "sent", at=T0 + timedelta(seconds=5))

    def found(**params: str) -> bool:
        return bool(list_messages(fake, **params)["messages"])

    assert found(**{"DateSent>": "2026-03-02T15:00:05Z"})
    assert not found(**{"DateSent>": "2026-03-02T15:00:06Z"})
    assert found(**{"DateSent<": "Mon, 02 Mar 2026 15:00:05 +0000"})
    assert not found(**{"DateSent<": "2026-03-02 15:00:04"})
    assert not found(**{"DateSent>": "2026-03-03"})
    assert found(**{"DateSent<": "2026-03-02"})


def test_set_status_gives_a_sent_message_its_date_sent(fake: FakeTwilio) -> None:
    message = send(fake)

    fake.set_status(message["sid"], "delivered", at=T0 + timedelta(seconds=3))

    [listed] = list_messages(fake)["messages"]
    assert listed["status"] == "delivered"
    assert listed["date_sent"] == "Mon, 02 Mar 2026 15:00:03 +0000"


def test_page_tokens_walk_the_list_and_newer_messages_do_not_shift_it(
    fake: FakeTwilio, clock: FakeClock
) -> None:
    sids = []
    for n in range(5):
        clock.advance(timedelta(seconds=1))
        sids.append(send(fake, body=f"n{n}")["sid"])
    newest_first = sids[::-1]

    first = list_messages(fake, To=TO, PageSize="2")
    clock.advance(timedelta(seconds=1))
    send(fake, body="created while paging")
    second = follow(fake, first["next_page_uri"])
    third = follow(fake, second["next_page_uri"])

    assert [m["sid"] for m in first["messages"]] == newest_first[0:2]
    assert [m["sid"] for m in second["messages"]] == newest_first[2:4]
    assert [m["sid"] for m in third["messages"]] == newest_first[4:5]
    assert first["next_page_uri"] == (
        f"{MESSAGES_PATH}?To=%2B14155550123&PageSize=2&Page=1&PageToken=PA{newest_first[1]}"
    )
    assert (second["page"], second["start"], second["end"]) == (1, 2, 3)
    assert third["next_page_uri"] is None
    back = follow(fake, third["previous_page_uri"])
    assert [m["sid"] for m in back["messages"]] == newest_first[2:4]


def test_page_without_a_token_counts_from_the_newest(fake: FakeTwilio, clock: FakeClock) -> None:
    sids = []
    for n in range(3):
        clock.advance(timedelta(seconds=1))
        sids.append(send(fake, body=f"n{n}")["sid"])

    page = list_messages(fake, PageSize="2", Page="1")

    assert [m["sid"] for m in page["messages"]] == [sids[0]]


def test_page_size_is_at_most_1000(fake: FakeTwilio) -> None:
    send(fake)

    assert list_messages(fake, PageSize="1000")["page_size"] == 1000
    for size in ("1001", "0", "many"):
        status, error = call(fake, "GET", MESSAGES_PATH, {"PageSize": size})
        assert (status, error["code"]) == (400, 20001), size


def test_a_bad_date_or_token_is_refused(fake: FakeTwilio) -> None:
    for params in ({"DateSent>": "yesterday"}, {"PageToken": "PAnot-a-sid"}, {"Page": "-1"}):
        status, error = call(fake, "GET", MESSAGES_PATH, params)
        assert (status, error["code"]) == (400, 20001), params


def test_lists_only_the_accounts_own_messages(clock: FakeClock) -> None:
    other = "AC" + "f" * 32
    with running_fake_twilio(account_sid=None, clock=clock.now) as fake:
        mine = send(fake)
        credentials = base64.b64encode(f"{other}:{TEST_AUTH_TOKEN}".encode()).decode()
        request = urllib.request.Request(
            f"{fake.url}/2010-04-01/Accounts/{other}/Messages.json",
            data=urlencode({"To": TO, "Body": "theirs", "From": TEST_FROM_NUMBER}).encode(),
            headers={"Authorization": f"Basic {credentials}"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 201

        page = list_messages(fake)

    assert page["messages"] == [mine]


def test_a_wrong_token_is_refused(fake: FakeTwilio) -> None:
    status, error = call(fake, "GET", MESSAGES_PATH, token="wrong")

    assert (status, error["code"]) == (401, 20003)


def test_list_faults_answer_lists_only(fake: FakeTwilio) -> None:
    fake.add_faults(Fault.rate_limited(on="list"))

    sent = send(fake)
    status, error = call(fake, "GET", MESSAGES_PATH)
    page = list_messages(fake)

    assert (status, error["code"]) == (429, 20429)
    assert page["messages"] == [sent]


def test_send_faults_leave_lists_alone(fake: FakeTwilio) -> None:
    fake.add_faults(Fault.server_error())

    list_messages(fake)
    status, _ = call(fake, "POST", MESSAGES_PATH, {"To": TO, "Body": "x", "From": "+15005550006"})

    assert status == 500


def test_a_list_fault_for_a_number_answers_lists_filtered_to_it(fake: FakeTwilio) -> None:
    fake.add_faults(Fault.error(20500, status=500, to=OTHER, on="list"))

    list_messages(fake, To=TO)
    status, _ = call(fake, "GET", MESSAGES_PATH, {"To": OTHER})

    assert status == 500


def test_list_requests_are_recorded_but_are_not_messages(fake: FakeTwilio) -> None:
    list_messages(fake, To=TO)

    [request] = fake.requests()
    assert (request.method, request.params, request.status) == ("GET", {"To": TO}, 200)
    assert fake.messages() == []


def test_list_faults_come_over_http(fake: FakeTwilio) -> None:
    body = json.dumps({"faults": [{"status": 503, "code": 20503, "on": "list"}]}).encode()
    request = urllib.request.Request(f"{fake.url}/_fake/faults", data=body, method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200

    status, error = call(fake, "GET", MESSAGES_PATH)

    assert (status, error["code"]) == (503, 20503)


def test_a_fault_for_an_unknown_kind_of_request_is_refused() -> None:
    with pytest.raises(ValueError, match="'send' or 'list'"):
        Fault.from_json({"status": 500, "on": "fetch"})


def test_forgetting_messages_empties_the_list(fake: FakeTwilio) -> None:
    send(fake)
    request = urllib.request.Request(f"{fake.url}/_fake/messages", method="DELETE")
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 204

    assert list_messages(fake)["messages"] == []
    assert fake.counts_by_account() == {TEST_ACCOUNT_SID: 1}
