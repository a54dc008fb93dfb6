"""REMINDERS_SPOOL_DIR: where the webhook spool lives by default, and a folder that cannot be
used stops the start with one line naming the setting, before the database is touched."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import run_service
from config.settings import Settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("REMINDERS_", "TWILIO_")):
            monkeypatch.delenv(name)


def test_the_default_spool_is_in_the_data_folder_next_to_the_default_database() -> None:
    assert Settings().resolved_spool_dir == Path("data") / "spool"


def test_the_default_spool_follows_a_sqlite_database_to_its_folder() -> None:
    settings = Settings(database_url="sqlite:////srv/reminders/reminders.db")

    assert settings.resolved_spool_dir == Path("/srv/reminders/spool")


def test_with_postgresql_the_default_spool_is_in_the_data_folder() -> None:
    settings = Settings(database_url="postgresql://app@db.internal/reminders")

    assert settings.resolved_spool_dir == Path("data") / "spool"


def test_a_spool_folder_given_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REMINDERS_SPOOL_DIR", "/var/spool/reminders")

    assert Settings().resolved_spool_dir == Path("/var/spool/reminders")


def test_an_empty_spool_setting_means_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REMINDERS_SPOOL_DIR", " ")

    assert Settings().resolved_spool_dir == Path("data") / "spool"


def test_a_file_given_as_the_spool_folder_stops_start_up_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    file = tmp_path / "notes.txt"
    file.write_text("")
    monkeypatch.setenv("REMINDERS_SPOOL_DIR", str(file))

    code = run_service.main()

    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert lines == [
        f"setting REMINDERS_SPOOL_DIR: {file} is a file, not a folder; name a"
        " folder such as data/spool"
    ]


def test_a_spool_folder_that_cannot_be_made_stops_start_up_before_the_database_is_touched(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    database = tmp_path / "reminders.db"
    monkeypatch.setenv("REMINDERS_DATABASE_URL", f"sqlite:///{database}")
    monkeypatch.setenv("REMINDERS_SPOOL_DIR", str(blocker / "spool"))

    code = run_service.main()

    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(lines) == 1
    assert lines[0].startswith(f"setting REMINDERS_SPOOL_DIR: {blocker / 'spool'} cannot be used")
    assert not database.exists()
