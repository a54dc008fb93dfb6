"""find_sent on the senders without a provider: the console backend and the test double."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from reminders.adapters.console_sms import ConsoleSmsSender
from reminders.domain.errors import SmsLookupError
from reminders.domain.model import PhoneNumber
from tests.fakes import FakeClock, FakeSmsSender

TO = PhoneNumber("+14155550123")
BODY = "RollerCare: roll in 20 min. Peel first."
T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def test_console_backend_cannot_say_what_it_sent() -> None:
    console = ConsoleSmsSender()
    console.send(TO, BODY)

    with pytest.raises(SmsLookupError, match="keeps no record"):
        console.find_sent(TO, BODY, T0)


def test_fake_finds_the_earliest_matching_send_since() -> None:
    clock = FakeClock(T0)
    sender = FakeSmsSender(clock)
    sender.send(TO, BODY)
    clock.advance(timedelta(minutes=1))
    first_since = sender.send(TO, BODY)
    clock.advance(timedelta(minutes=1))
    sender.send(TO, BODY)

    found = sender.find_sent(TO, BODY, T0 + timedelta(seconds=30))

    assert found is not None and found.provider_sid == first_since.provider_sid
    assert sender.lookups == 1


def test_fake_finds_nothing_for_another_body_number_or_time() -> None:
    clock = FakeClock(T0)
    sender = FakeSmsSender(clock)
    sender.send(TO, BODY)

    assert sender.find_sent(TO, BODY + "!", T0) is None
    assert sender.find_sent(PhoneNumber("+14155550199"), BODY, T0) is None
    assert sender.find_sent(TO, BODY, T0 + timedelta(seconds=1)) is None
    assert sender.lookups == 3


def test_fake_lookups_fail_one_error_each_then_answer() -> None:
    sender = FakeSmsSender(FakeClock(T0))
    sender.send(TO, BODY)
    sender.fail_lookups_with(SmsLookupError("HTTP 503", status=503))

    with pytest.raises(SmsLookupError, match="HTTP 503"):
        sender.find_sent(TO, BODY, T0)
    assert sender.find_sent(TO, BODY, T0) is not None
    assert sender.lookups == 2


def test_fake_lookups_fail_while_switched_off() -> None:
    sender = FakeSmsSender(FakeClock(T0))
    sender.lookups_fail = True

    for _ in range(2):
        with pytest.raises(SmsLookupError):
            sender.find_sent(TO, BODY, T0)
    sender.lookups_fail = False

    assert sender.find_sent(TO, BODY, T0) is None
    assert sender.lookups == 3


def test_fake_lookups_send_nothing() -> None:
    sender = FakeSmsSender(FakeClock(T0))

    sender.find_sent(TO, BODY, T0)

    assert sender.sent == []


def test_fake_passes_over_the_excluded_send() -> None:
    clock = FakeClock(T0)
    sender = FakeSmsSender(clock)
    earlier = sender.send(TO, BODY)
    clock.advance(timedelta(seconds=20))
    retry = sender.send(TO, BODY)

    found = sender.find_sent(TO, BODY, T0, excluding=earlier.provider_sid)

    assert found is not None and found.provider_sid == retry.provider_sid
    assert sender.find_sent(TO, BODY, T0, excluding=retry.provider_sid) is not None
    clock.advance(timedelta(seconds=20))
    assert (
        sender.find_sent(TO, BODY, T0 + timedelta(seconds=10), excluding=retry.provider_sid) is None
    )


def test_console_backend_cannot_say_what_it_sent_whatever_it_excludes() -> None:
    with pytest.raises(SmsLookupError, match="keeps no record"):
        ConsoleSmsSender().find_sent(TO, BODY, T0, excluding="SM" + "0" * 32)
