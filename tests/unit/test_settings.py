"""Fail-fast settings: every bad value gives one line naming the variable, and the service
exits with code 2 before anything starts."""

from __future__ import annotations

import logging
import os
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

import run_service
from config.settings import Settings
from reminders.bootstrap import bootstrap
from reminders.domain.checkin import CheckInTiming

SID = "AC" + "0" * 32


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("REMINDERS_", "TWILIO_")):
            monkeypatch.delenv(name)


def test_no_settings_at_all_start_on_sqlite_with_the_console_backend() -> None:
    settings = Settings()

    assert settings.database_url.startswith("sqlite:///")
    assert settings.resolved_sms_backend == "console"
    assert settings.port == 8080


def test_twilio_credentials_choose_the_twilio_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", SID)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "secret")
    monkeypatch.setenv("TWILIO_FROM_NUMBER", "+14155550100")

    assert Settings().resolved_sms_backend == "twilio"


BAD = [
    ("REMINDERS_DATABASE_URL", "mysql://db", "sqlite:///"),
    ("REMINDERS_ADMIN_TOKEN", "short", "at least 16"),
    ("REMINDERS_HOST", "my host", "IP address"),
    ("REMINDERS_PORT", "70000", "65535"),
    ("REMINDERS_PORT", "eighty", "integer"),
    ("REMINDERS_PUBLIC_URL", "sms.example.com", "http:// or https://"),
    ("REMINDERS_BRAND_NAME", "A brand name far too long", "at most 20"),
    ("REMINDERS_BRAND_NAME", "Glow \N{SPARKLES}", "GSM-7"),
    ("REMINDERS_HELP_CONTACT", "a-very-long-help-address@example.com", "at most 20"),
    ("REMINDERS_DEFAULT_REGION", "USA", "two-letter"),
    ("REMINDERS_QUIET_HOURS", "9pm-8am", "HH:MM-HH:MM"),
    ("REMINDERS_PLAN", "roll@0s,massage@-1m", "unknown"),
    ("REMINDERS_PLAN", "heads_up@-1d", "roll@0s"),
    ("REMINDERS_CHECKIN", "tomorrow", "+Nd (N from 1 to 7)"),
    ("REMINDERS_CHECKIN", "+8d", "more than 7 days after"),
    ("REMINDERS_CHECKIN", "+0h", "not after the session"),
    ("REMINDERS_CHECKIN", "-1d", "'off'"),
    ("REMINDERS_SMS_BACKEND", "pigeon", "'twilio' or 'console'"),
    ("REMINDERS_TWILIO_API_URL", "api.twilio.com", "http:// or https://"),
    ("REMINDERS_DISPATCH_INTERVAL_SECONDS", "0", "greater than 0"),
    ("REMINDERS_DISPATCH_BATCH_SIZE", "0", "greater than or equal to 1"),
    ("REMINDERS_DISPATCH_CONCURRENCY", "1000", "less than or equal to 64"),
    ("REMINDERS_LEASE_SECONDS", "1", "greater than or equal to 10"),
    ("REMINDERS_LOG_LEVEL", "LOUD", "'DEBUG', 'INFO', 'WARNING' or 'ERROR'"),
    ("TWILIO_ACCOUNT_SID", "12345", "AC followed by 32 hex digits"),
    ("TWILIO_MESSAGING_SERVICE_SID", "MG1", "MG followed by 32 hex digits"),
    ("TWILIO_FROM_NUMBER", "555-0100", "E.164"),
]


@pytest.mark.parametrize(("name", "value", "accepted"), BAD, ids=[f"{n}={v}" for n, v, _ in BAD])
def test_bad_setting_stops_start_up_with_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
    value: str,
    accepted: str,
) -> None:
    monkeypatch.setenv(name, value)

    code = run_service.main()

    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(lines) == 1, lines
    assert name in lines[0] and accepted in lines[0], lines[0]


def test_sqlite_too_old_for_our_statements_stops_start_up_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("REMINDERS_DATABASE_URL", f"sqlite:///{tmp_path / 'r.db'}")
    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 31, 1))
    monkeypatch.setattr(sqlite3, "sqlite_version", "3.31.1")

    code = run_service.main()

    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(lines) == 1, lines
    assert "REMINDERS_DATABASE_URL" in lines[0] and "SQLite 3.35 or newer" in lines[0]
    assert "3.31.1" in lines[0] and "PostgreSQL" in lines[0]
    assert not (tmp_path / "r.db").exists()


def test_several_bad_settings_give_one_line_each(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("REMINDERS_PORT", "0")
    monkeypatch.setenv("REMINDERS_QUIET_HOURS", "always")

    code = run_service.main()

    assert code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 2


def test_twilio_backend_without_credentials_names_what_is_missing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("REMINDERS_SMS_BACKEND", "twilio")

    code = run_service.main()

    err = capsys.readouterr().err
    assert code == 2
    assert "TWILIO_ACCOUNT_SID" in err and "TWILIO_AUTH_TOKEN" in err
    assert "TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID" in err


@pytest.mark.parametrize(
    ("value", "timing"),
    [
        (None, CheckInTiming(days=1)),
        ("+2d", CheckInTiming(days=2)),
        ("+90m", CheckInTiming(after=timedelta(minutes=90))),
        (" OFF ", None),
    ],
    ids=["default", "days", "minutes", "off"],
)
def test_checkin_setting_becomes_the_policys_check_in_timing(
    monkeypatch: pytest.MonkeyPatch, value: str | None, timing: CheckInTiming | None
) -> None:
    if value is not None:
        monkeypatch.setenv("REMINDERS_CHECKIN", value)
    settings = Settings(database_url="sqlite://", sms_backend="console")

    container = bootstrap(
        settings,
        run_migrations=False,
        make_executor=lambda _n: None,
        announce_token=False,
        keep_webhooks=False,
    )
    container.close()

    assert container.policy.checkin == timing


def test_plan_that_cannot_fit_outside_quiet_hours_is_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("REMINDERS_PLAN", "makeup_removal@-12h,roll@0s")
    monkeypatch.setenv("REMINDERS_QUIET_HOURS", "08:00-21:00")

    code = run_service.main()

    assert code == 2
    assert "REMINDERS_PLAN and REMINDERS_QUIET_HOURS" in capsys.readouterr().err


def test_secret_values_never_appear_in_the_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("REMINDERS_ADMIN_TOKEN", "tiny-secret")

    run_service.main()

    assert "tiny-secret" not in capsys.readouterr().err


def test_a_bad_proxy_for_twilio_stops_start_up_with_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("REMINDERS_DATABASE_URL", f"sqlite:///{tmp_path / 'r.db'}")
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", SID)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "a-token")
    monkeypatch.setenv("TWILIO_FROM_NUMBER", "+15005550006")
    for name in ("NO_PROXY", "no_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "ftp://user:secret@proxy.internal:21")
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        code = run_service.main()
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)

    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert lines == ["HTTPS_PROXY must be a proxy URL such as http://proxy.internal:3128"]
