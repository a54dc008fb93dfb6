"""A real database error about a phone number, logged with its traceback through the service's
logging: SQLite's `[parameters: ...]` and PostgreSQL's `DETAIL:  Key (phone)=(...)` carry the
number, and no log line may.

The engine is a plain one, without `hide_parameters`: the formatter's masking must hold on its
own, whatever the engine is told."""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, insert
from sqlalchemy.exc import IntegrityError

from reminders.adapters.db import users
from reminders.log import configure_logging
from tests.conftest import DATABASES, both_databases

PHONE = "+14155557003"
FULL_NUMBER = [PHONE, PHONE[1:], "4155557003", "555-7003", "5557003"]
NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest) -> str:
    return both_databases(request)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Puts pytest's own log handlers back after a test that configured the service's."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def duplicate_phone_error(database_url: str) -> IntegrityError:
    """The error of inserting a user whose number is already taken."""
    engine = create_engine(database_url)
    row = {
        "phone": PHONE,
        "status": "active",
        "timezone": "America/Los_Angeles",
        "session_time": "19:30",
        "cadence_days": 14,
        "created_at": NOW,
        "updated_at": NOW,
    }
    try:
        users.create(engine)
        with engine.begin() as connection:
            connection.execute(insert(users), row)
        with pytest.raises(IntegrityError) as raised, engine.begin() as connection:
            connection.execute(insert(users), row)
        return raised.value
    finally:
        engine.dispose()


def test_a_duplicate_phone_error_is_logged_with_the_number_masked(
    database_url: str,
    restore_logging: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    error = duplicate_phone_error(database_url)
    raw = "".join(traceback.format_exception(error))
    assert PHONE in raw  # the number is there to be masked
    if database_url.startswith("postgresql"):
        assert f"Key (phone)=({PHONE}) already exists" in raw

    configure_logging("INFO")
    logger = logging.getLogger("reminders.adapters.unit_of_work")
    try:
        raise error
    except IntegrityError as exc:
        logger.exception("could not enrol: %s", exc, extra={"error": exc, "cause": exc.orig})

    lines = capsys.readouterr().out.splitlines()
    entries = [json.loads(line) for line in lines]
    assert len(lines) == 1 and all(isinstance(entry, dict) for entry in entries)
    leaks = [
        (key, found)
        for entry in entries
        for key, value in entry.items()
        for found in FULL_NUMBER
        if found in str(value)
    ]
    assert leaks == []
    assert "+1*******7003" in entries[0]["msg"]
    assert "+1*******7003" in entries[0]["error"]
    assert "+1*******7003" in entries[0]["exc"]
    if database_url.startswith("postgresql"):  # the driver's own error names the key
        assert "+1*******7003" in entries[0]["cause"]
    assert "IntegrityError" in entries[0]["exc"]
