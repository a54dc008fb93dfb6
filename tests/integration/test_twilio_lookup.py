"""TwilioSmsSender.find_sent through the real twilio client against the fake Twilio server."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from reminders.adapters.twilio_sms import LOOKUP_MAX_PAGES, LOOKUP_PAGE_SIZE, TwilioSmsSender
from reminders.domain.errors import SmsLookupError
from reminders.domain.model import PhoneNumber
from tests.fake_twilio import (
    TEST_ACCOUNT_SID,
    TEST_AUTH_TOKEN,
    TEST_MESSAGING_SERVICE_SID,
    FakeTwilio,
    Fault,
    running_fake_twilio,
)
from tests.fakes import FakeClock
from tests.integration.twilio_support import make_sender

TO = PhoneNumber("+14155550123")
OTHER = PhoneNumber("+14155550199")
BODY = "RollerCare: roll in 20 min. Peel first."
MESSAGES_PATH = f"/2010-04-01/Accounts/{TEST_ACCOUNT_SID}/Messages.json"
T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


@pytest.fixture
def twilio_clock() -> FakeClock:
    """The fake Twilio's clock: it sets each message's date_created."""
    return FakeClock(T0)


@pytest.fixture
def fake(twilio_clock: FakeClock) -> Iterator[FakeTwilio]:
    with running_fake_twilio(clock=twilio_clock.now) as server:
        yield server


@pytest.fixture
def sender(fake: FakeTwilio) -> Iterator[TwilioSmsSender]:
    with make_sender(fake) as sms_sender:
        yield sms_sender


def list_requests(fake: FakeTwilio) -> list[dict[str, str]]:
    return [r.params for r in fake.requests() if r.method == "GET" and r.path == MESSAGES_PATH]


def send_others(sender: TwilioSmsSender, clock: FakeClock, count: int) -> None:
    """`count` messages to TO with other bodies, one second apart."""
    for n in range(count):
        clock.advance(timedelta(seconds=1))
        sender.send(TO, f"other message {n}")


def lookup_error(sender: TwilioSmsSender, since: datetime = T0) -> SmsLookupError:
    with pytest.raises(SmsLookupError) as caught:
        sender.find_sent(TO, BODY, since)
    return caught.value


def test_finds_the_message_twilio_took_after_since(sender: TwilioSmsSender) -> None:
    sent = sender.send(TO, BODY)

    found = sender.find_sent(TO, BODY, T0)

    assert found == sent
    assert found is not None and found.status == "queued"


def test_asks_for_the_number_only_newest_first_in_small_pages(
    fake: FakeTwilio, sender: TwilioSmsSender
) -> None:
    sender.send(TO, BODY)

    sender.find_sent(TO, BODY, T0)

    assert list_requests(fake) == [{"To": "+14155550123", "PageSize": str(LOOKUP_PAGE_SIZE)}]


def test_finds_a_message_created_in_the_same_second_as_since(
    sender: TwilioSmsSender, twilio_clock: FakeClock
) -> None:
    twilio_clock.set(T0 + timedelta(microseconds=200_000))
    sent = sender.send(TO, BODY)  # Twilio shows 15:00:00, earlier than `since` below

    found = sender.find_sent(TO, BODY, T0 + timedelta(microseconds=700_000))

    assert found == sent


def test_finds_a_message_after_twilio_sent_it(
    fake: FakeTwilio, sender: TwilioSmsSender, twilio_clock: FakeClock
) -> None:
    sent = sender.send(TO, BODY)
    fake.set_status(sent.provider_sid, "delivered", at=T0 + timedelta(seconds=3))

    found = sender.find_sent(TO, BODY, T0)

    assert found is not None
    assert (found.provider_sid, found.status) == (sent.provider_sid, "delivered")


def test_finds_a_message_a_messaging_service_has_not_given_a_sender_yet(fake: FakeTwilio) -> None:
    with make_sender(
        fake, from_number=None, messaging_service_sid=TEST_MESSAGING_SERVICE_SID
    ) as sender:
        sent = sender.send(TO, BODY)

        found = sender.find_sent(TO, BODY, T0)

    assert found == sent
    assert found is not None and found.status == "accepted"


def test_a_message_sent_before_a_change_of_sender_is_still_found(fake: FakeTwilio) -> None:
    with make_sender(fake) as before:
        sent = before.send(TO, BODY)

    with make_sender(
        fake, from_number=None, messaging_service_sid=TEST_MESSAGING_SERVICE_SID
    ) as after:
        found = after.find_sent(TO, BODY, T0)

    assert found == sent


def test_another_body_is_not_found(sender: TwilioSmsSender) -> None:
    sender.send(TO, BODY + " ")

    assert sender.find_sent(TO, BODY, T0) is None


def test_another_number_is_not_found(sender: TwilioSmsSender) -> None:
    sender.send(OTHER, BODY)

    assert sender.find_sent(TO, BODY, T0) is None


def test_a_message_created_before_since_is_not_found(
    sender: TwilioSmsSender, twilio_clock: FakeClock
) -> None:
    sender.send(TO, BODY)
    twilio_clock.advance(timedelta(minutes=1))

    assert sender.find_sent(TO, BODY, T0 + timedelta(seconds=30)) is None


def test_nothing_at_all_is_not_found(sender: TwilioSmsSender) -> None:
    assert sender.find_sent(TO, BODY, T0) is None


def test_returns_the_earliest_of_several_matches(
    sender: TwilioSmsSender, twilio_clock: FakeClock
) -> None:
    twilio_clock.advance(timedelta(seconds=5))
    first = sender.send(TO, BODY)
    twilio_clock.advance(timedelta(minutes=1))
    sender.send(TO, BODY)

    assert sender.find_sent(TO, BODY, T0) == first


def test_reads_further_pages_until_it_reaches_since(
    fake: FakeTwilio, sender: TwilioSmsSender, twilio_clock: FakeClock
) -> None:
    sent = sender.send(TO, BODY)
    send_others(sender, twilio_clock, 2 * LOOKUP_PAGE_SIZE + 5)  # the match is on page 3

    found = sender.find_sent(TO, BODY, T0)

    assert found == sent
    pages = list_requests(fake)
    assert len(pages) == 3
    assert [p.get("Page") for p in pages] == [None, "1", "2"]
    assert all(p["To"] == "+14155550123" and "DateSent>" not in p for p in pages)


def test_stops_reading_at_the_first_message_older_than_since(
    fake: FakeTwilio, sender: TwilioSmsSender, twilio_clock: FakeClock
) -> None:
    send_others(sender, twilio_clock, 3 * LOOKUP_PAGE_SIZE)  # all before `since`
    twilio_clock.advance(timedelta(minutes=1))
    since = twilio_clock.now()
    sender.send(TO, "after since")

    assert sender.find_sent(TO, BODY, since) is None
    assert len(list_requests(fake)) == 1


def test_stopping_at_the_page_cap_before_since_is_a_lookup_error(
    fake: FakeTwilio, sender: TwilioSmsSender, twilio_clock: FakeClock
) -> None:
    send_others(sender, twilio_clock, LOOKUP_MAX_PAGES * LOOKUP_PAGE_SIZE + 1)

    error = lookup_error(sender)

    assert "could not be sure" in str(error)
    assert len(list_requests(fake)) == LOOKUP_MAX_PAGES


def test_a_match_found_before_the_page_cap_is_returned(
    sender: TwilioSmsSender, twilio_clock: FakeClock
) -> None:
    send_others(sender, twilio_clock, LOOKUP_MAX_PAGES * LOOKUP_PAGE_SIZE)
    twilio_clock.advance(timedelta(seconds=1))
    sent = sender.send(TO, BODY)  # newest: on the first page

    assert sender.find_sent(TO, BODY, T0) == sent


@pytest.mark.parametrize(
    "fault",
    [
        Fault.server_error(500, on="list"),
        Fault.server_error(503, on="list"),
        Fault.rate_limited(on="list"),
    ],
    ids=["500", "503", "429"],
)
def test_a_refused_lookup_is_a_lookup_error(
    fake: FakeTwilio, sender: TwilioSmsSender, fault: Fault
) -> None:
    sender.send(TO, BODY)
    fake.add_faults(fault)

    error = lookup_error(sender)

    assert (error.status, error.code) == (fault.status, fault.code)


def test_a_refused_later_page_is_a_lookup_error(
    fake: FakeTwilio, sender: TwilioSmsSender, twilio_clock: FakeClock
) -> None:
    sender.send(TO, BODY)
    send_others(sender, twilio_clock, LOOKUP_PAGE_SIZE + 1)
    # a fault with neither delay nor status lets the first page answer normally
    fake.add_faults(Fault(on="list"), Fault.server_error(on="list"))

    error = lookup_error(sender)

    assert error.status == 500
    assert len(list_requests(fake)) == 2


def test_refused_credentials_are_a_lookup_error(fake: FakeTwilio) -> None:
    with make_sender(fake, auth_token="not-the-token") as sender:
        error = lookup_error(sender)

    assert (error.status, error.code) == (401, 20003)


def test_a_timeout_is_a_lookup_error(fake: FakeTwilio) -> None:
    fake.add_faults(Fault.delay(30, on="list"))

    with make_sender(fake, timeout_seconds=0.2) as sender:
        error = lookup_error(sender)

    assert "curl error 28" in str(error)  # operation timed out


def test_a_dropped_connection_is_a_lookup_error(fake: FakeTwilio, sender: TwilioSmsSender) -> None:
    fake.add_faults(Fault.dropped_connection(on="list"))

    error = lookup_error(sender)

    assert error.status is None


def test_a_refused_connection_is_a_lookup_error(fake: FakeTwilio) -> None:
    with make_sender(fake) as sender:
        fake.stop()

        error = lookup_error(sender)

    assert error.status is None


def test_an_answer_that_is_not_a_page_of_messages_is_a_lookup_error(
    fake: FakeTwilio, sender: TwilioSmsSender
) -> None:
    fake.add_faults(Fault(status=200, code=20500, on="list"))  # 200 with an error body

    error = lookup_error(sender)

    assert "unreadable answer" in str(error)


def test_send_faults_leave_lookups_alone(fake: FakeTwilio, sender: TwilioSmsSender) -> None:
    sent = sender.send(TO, BODY)
    fake.add_faults(Fault.server_error(times=None))

    assert sender.find_sent(TO, BODY, T0) == sent


def test_a_naive_since_is_refused(sender: TwilioSmsSender) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        sender.find_sent(TO, BODY, datetime(2026, 3, 2, 15, 0))


def test_since_in_another_zone_means_the_same_instant(
    sender: TwilioSmsSender, twilio_clock: FakeClock
) -> None:
    sender.send(TO, BODY)
    twilio_clock.advance(timedelta(hours=1))
    a_minute_later_in_new_york = (T0 + timedelta(minutes=1)).astimezone(
        ZoneInfo("America/New_York")
    )

    assert sender.find_sent(TO, BODY, a_minute_later_in_new_york) is None


def test_lookups_never_log_the_number_or_the_body(
    fake: FakeTwilio, sender: TwilioSmsSender, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sender.send(TO, BODY)
    # libcurl sends again, once, a request whose kept-alive connection closed unanswered
    fake.add_faults(Fault.server_error(on="list"), Fault.dropped_connection(on="list", times=2))

    errors = [lookup_error(sender), lookup_error(sender)]
    found = sender.find_sent(TO, BODY, T0)

    assert found is not None
    for text in (*map(str, errors), caplog.text):
        assert "4155550123" not in text  # neither +14155550123 nor its URL-encoded form
        assert BODY not in text
        assert TEST_AUTH_TOKEN not in text
    assert TO.masked() in caplog.text


def test_an_excluded_earlier_send_is_passed_over_for_the_next_match(
    sender: TwilioSmsSender, twilio_clock: FakeClock
) -> None:
    twilio_clock.advance(timedelta(seconds=5))
    earlier = sender.send(TO, BODY)  # recorded already, then undelivered
    twilio_clock.advance(timedelta(seconds=20))
    retry = sender.send(TO, BODY)

    assert sender.find_sent(TO, BODY, T0, excluding=earlier.provider_sid) == retry
    assert sender.find_sent(TO, BODY, T0, excluding=retry.provider_sid) == earlier


def test_nothing_but_the_excluded_send_is_not_found(sender: TwilioSmsSender) -> None:
    earlier = sender.send(TO, BODY)

    assert sender.find_sent(TO, BODY, T0, excluding=earlier.provider_sid) is None
