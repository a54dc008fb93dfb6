"""The log formatter masks anything that looks like a phone number in every string it writes:
the message, every extra field, the traceback and the stack. What it must mask
and what it must leave alone are listed here, one case a line."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator

import pytest
import uvicorn
from fastapi import FastAPI

from reminders.domain.model import PhoneNumber
from reminders.log import JsonFormatter, configure_logging, mask_phone_numbers

PHONE = "+14155550123"
# The number in every shape a leak could take; none may be in a log line.
FULL_NUMBER = [PHONE, PHONE[1:], "4155550123", "555-0123", "5550123"]

MUST_MASK = [
    ("+14155550123", "+1*******0123"),
    ("+1 415-555-0123", "+1*******0123"),
    ("+1 (415) 555-0123", "+1*******0123"),
    ("+1.415.555.0123", "+1*******0123"),
    ("+44 20 7183 8750", "+4*******8750"),
    ("+44 (0)20 7183 8750", "+4*******8750"),
    ("+442071838750", "+4*******8750"),
    ("+3545551234", "+3*******1234"),
    ("+1234567", "*******"),  # as mask_phone: too short to show any digit
    ("Key (phone)=(+14155557003) already exists.", "Key (phone)=(+1*******7003) already exists."),
    (
        "[parameters: ('+14155555000', 'active', 'America/New_York', '19:30', 14)]",
        "[parameters: ('+1*******5000', 'active', 'America/New_York', '19:30', 14)]",
    ),
    ("{'phone': '+14155550123'}", "{'phone': '+1*******0123'}"),
    ("From=%2B14155550123&To=%2B15005550006", "From=%2B1*******0123&To=%2B1*******0006"),
    ("from=%2b14155550123", "from=%2b1*******0123"),
    ("whatsapp:+14155550123", "whatsapp:+1*******0123"),
    ("sent to +14155550123 5 times", "sent to +1*******0123 5 times"),
    ("14155550123", "*******0123"),
    ("4155550123", "*******0123"),
    ("5550123", "*******0123"),
    ("tel:4155550123, then 4155550124.", "tel:*******0123, then *******0124."),
    ("/v1/users/4155550123/history", "/v1/users/*******0123/history"),
    ("(415) 555-0123", "*******0123"),
    ("(415)555-0123", "*******0123"),
    ("415-555-0123", "*******0123"),
    ("415.555.0123", "*******0123"),
    ("415 555 0123", "*******0123"),
    ("1-415-555-0123", "*******0123"),
    ("call 555-0123 now", "call *******0123 now"),
    ("number '4155550123' is not E.164", "number '*******0123' is not E.164"),
]

MUST_KEEP = [
    "2026-12-01T15:13:00.123456+00:00",
    "2026-12-01T15:13:00.123+00:00",
    "2026-12-01 15:13:00",
    "2026-12-01",
    "15:13:00.1234567",
    "Tue, 01 Dec 2026 15:13:00 +0000",
    "UTC+05:30",
    "0.1234567",
    "12345.678901",
    "took 1234.5678 ms",
    "lateness 123.4567 s",
    "SM3f2a9c07e1d84b6a9f0c5e7d21b4a8c6",
    "SM12345678901234567890123456789012",
    "AC" + "0" * 32,
    "MG1234567890abcdef1234567890abcdef",
    "123e4567-e89b-12d3-a456-426614174000",
    "12345678-1234-1234-1234-123456789012",
    "deadbeef12345678",
    "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "<Engine at 0x7f3a2b1c4d50>",
    "127.0.0.1:5432",
    "192.168.100.200:54321",
    "reminder 48213 of user 9127",
    "error_code 30005",
    "SELECT users.id FROM users WHERE users.phone = ? LIMIT 200 OFFSET 1000",
    '  File "/srv/app/reminders/services/dispatch.py", line 1967, in _send',
    "pytest-1234567",
    "1234567890123456789",
    "+1*******0123",
    "*******0123",
    "v1.2.3",
]


@pytest.mark.parametrize(("text", "expected"), MUST_MASK)
def test_what_looks_like_a_phone_number_is_masked(text: str, expected: str) -> None:
    assert mask_phone_numbers(text) == expected


@pytest.mark.parametrize("text", MUST_KEEP)
def test_what_is_not_a_phone_number_is_left_alone(text: str) -> None:
    assert mask_phone_numbers(text) == text


@pytest.mark.parametrize("text", [masked for _, masked in MUST_MASK] + MUST_KEEP)
def test_masking_a_masked_string_changes_nothing(text: str) -> None:
    assert mask_phone_numbers(text) == text


def test_a_number_masked_by_the_caller_is_kept_as_it_is() -> None:
    masked = PhoneNumber(PHONE).masked()

    assert mask_phone_numbers(f"auto-reply to {masked}") == f"auto-reply to {masked}"
    assert mask_phone_numbers(PHONE) == masked


def test_the_formatter_masks_the_message_every_extra_the_traceback_and_the_stack() -> None:
    try:
        raise LookupError(f"no user with phone {PHONE}")
    except LookupError:
        exc_info = sys.exc_info()
    stack = f'Stack (most recent call last):\n  File "x.py", line 12, in send\n    send("{PHONE}")'
    record = logging.getLogger("reminders.test").makeRecord(
        "reminders.test",
        logging.ERROR,
        "x.py",
        12,
        "lookup of %s failed",
        (PHONE,),
        exc_info,
        extra={"to": PHONE, "payload": {"From": PHONE}, "reminder_id": 7},
        sinfo=stack,
    )

    line = JsonFormatter().format(record)

    entry = json.loads(line)
    assert "\n" not in line
    assert [found for found in FULL_NUMBER if found in line] == []
    assert entry["msg"] == "lookup of +1*******0123 failed"
    assert entry["to"] == "+1*******0123"
    assert entry["payload"] == "{'From': '+1*******0123'}"
    assert entry["reminder_id"] == 7
    assert entry["exc"].endswith("LookupError: no user with phone +1*******0123")
    assert entry["stack"].endswith('send("+1*******0123")')


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Puts pytest's own log handlers back after a test that configured the service's."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_uvicorn_and_library_records_go_through_the_same_masking(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO")
    uvicorn.Config(FastAPI(), log_config=None)  # as run_service.py configures it

    try:
        raise ValueError(f"bad header From: {PHONE}")
    except ValueError:
        logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
    logging.getLogger("sqlalchemy.pool.impl.QueuePool").warning("connection for %s", PHONE)
    logging.getLogger("apscheduler.executors.default").error("Job raised: %s", PHONE)

    lines = capsys.readouterr().out.splitlines()
    entries = [json.loads(line) for line in lines]
    assert [entry["logger"] for entry in entries] == [
        "uvicorn.error",
        "sqlalchemy.pool.impl.QueuePool",
        "apscheduler.executors.default",
    ]
    assert "+1*******0123" in entries[0]["exc"]
    assert [found for line in lines for found in FULL_NUMBER if found in line] == []
