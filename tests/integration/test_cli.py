"""The operator's command line against a real SQLite database, a fake clock and a fake sender.

`run(parse_args(argv), container)` is what `main` does once settings are read; the clock
starts at START, Monday 2 March 2026, so a Los Angeles user's first 20:00 session is Tuesday."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reminders import cli
from reminders.bootstrap import Container

PHONE = "+14155550123"
MASKED = "+1*******0123"
Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(container: Container, capsys: pytest.CaptureFixture[str]) -> Run:
    """Run one command line; returns the exit status, stdout and stderr."""

    def invoke(*argv: str) -> tuple[int, str, str]:
        status = cli.run(cli.parse_args(argv), container)
        out, err = capsys.readouterr()
        return status, out, err

    return invoke


def run_json(run: Run, *argv: str) -> Any:
    status, out, _ = run("--json", *argv)
    assert status == 0
    return json.loads(out)


# --- users add / enroll ---------------------------------------------------------------------


def test_enroll_prints_the_new_user(run: Run) -> None:
    status, out, _ = run("enroll", PHONE, "--time", "19:30", "--confirmed")

    assert status == 0
    header, row = out.splitlines()
    assert header.split() == [
        "ID",
        "PHONE",
        "STATUS",
        "TIMEZONE",
        "SESSION_TIME",
        "CADENCE_DAYS",
        "NEXT_SESSION",
    ]
    assert row.split() == [
        "1",
        MASKED,
        "active",
        "America/Los_Angeles",
        "19:30",
        "14",
        "Tue",
        "3",
        "Mar",
        "19:30",
    ]


def test_users_add_is_the_same_as_enroll(run: Run) -> None:
    run("users", "add", PHONE, "--confirmed", "--cadence", "21")

    user = run_json(run, "users", "show", "1")

    assert (user["status"], user["cadence_days"]) == ("active", 21)


def test_enroll_without_confirmed_leaves_the_user_pending(run: Run) -> None:
    run("enroll", PHONE)

    assert run_json(run, "users", "show", "1")["status"] == "pending"


def test_enroll_refuses_a_time_in_quiet_hours_naming_the_option(run: Run) -> None:
    status, _, err = run("enroll", PHONE, "--time", "23:00")

    assert status == 1
    assert err.startswith("error: --time: session_time 23:00")
    assert "allowed session times are" in err


def test_enroll_refuses_a_first_date_without_consent(run: Run) -> None:
    status, _, err = run("enroll", PHONE, "--first-date", "2026-03-10")

    assert status == 1
    assert "--first-date" in err


def test_enroll_refuses_an_enrolled_number(run: Run) -> None:
    run("enroll", PHONE)

    status, _, err = run("enroll", PHONE)

    assert (status, err) == (1, "error: phone is already enrolled\n")


def test_enroll_needs_a_zone_for_a_number_of_several_zones(run: Run) -> None:
    status, _, err = run("enroll", "+61412345678")

    assert status == 1
    assert err.startswith("error: --timezone: timezone is required")


# --- users / users list ---------------------------------------------------------------------


def test_users_without_an_action_lists(run: Run) -> None:
    run("enroll", PHONE)

    assert run("users")[1] == run("users", "list")[1]


def test_users_lists_with_masked_numbers(run: Run) -> None:
    run("enroll", PHONE)

    out = run("users")[1]

    assert MASKED in out
    assert PHONE not in out


@pytest.mark.parametrize(
    "argv", [("users", "--status", "pending"), ("users", "list", "--status", "pending")]
)
def test_users_filters_by_status(run: Run, argv: tuple[str, ...]) -> None:
    run("enroll", "+14155550101", "--confirmed")
    run("enroll", "+14155550102")

    page = run_json(run, *argv)

    assert [u["id"] for u in page["items"]] == [2]


def test_json_may_follow_the_command(run: Run) -> None:
    run("enroll", PHONE)

    status, out, _ = run("users", "list", "--json")

    assert status == 0
    assert json.loads(out)["items"][0]["phone"] == MASKED


def test_users_json_is_the_apis_page(run: Run) -> None:
    run("enroll", PHONE, "--confirmed")

    page = run_json(run, "users")

    assert page == {
        "items": [
            {
                "id": 1,
                "phone": MASKED,
                "status": "active",
                "paused_reason": None,
                "timezone": "America/Los_Angeles",
                "session_time": "20:00",
                "cadence_days": 14,
                "next_session_at": "2026-03-03T20:00:00-08:00",
                "last_session_date": None,
                "created_at": page["items"][0]["created_at"],
            }
        ],
        "next_cursor": None,
    }


def test_users_tells_how_to_get_the_next_page(run: Run) -> None:
    run("enroll", "+14155550101")
    run("enroll", "+14155550102")

    out = run("users", "--limit", "1")[1]

    assert "more: reminders users list --limit 1 --cursor " in out


def test_users_follows_the_cursor(run: Run) -> None:
    run("enroll", "+14155550101")
    run("enroll", "+14155550102")
    first = run_json(run, "users", "--limit", "1")

    second = run_json(run, "users", "list", "--limit", "1", "--cursor", first["next_cursor"])

    assert [u["id"] for u in second["items"]] == [2]


def test_users_refuses_a_cursor_it_did_not_give(run: Run) -> None:
    status, _, err = run("users", "--cursor", "bogus")

    assert (status, err.startswith("error: --cursor: cursor is not one")) == (1, True)


def test_users_with_nobody_says_none(run: Run) -> None:
    assert run("users")[1] == "(none)\n"


# --- users show / update / pause / resume / delete -------------------------------------------


def test_users_show_prints_one_field_a_line(run: Run) -> None:
    run("enroll", PHONE, "--confirmed")

    out = run("users", "show", "1")[1]

    assert "status         active" in out
    assert "paused_reason  -" in out
    assert "next_session   Tue 3 Mar 20:00" in out
    assert "adherence      0 done, 0 skipped, 0 unconfirmed" in out
    assert "streak         0 done in a row" in out


def test_users_show_gives_why_a_user_is_paused_and_their_adherence(run: Run) -> None:
    run("enroll", PHONE, "--confirmed")
    run("inbound", PHONE, "DONE")
    run("inbound", PHONE, "DONE")  # no session under way: a DONE counts when said again
    run("inbound", PHONE, "my skin is sore")

    out = run("users", "show", "1")[1]

    assert "status         paused" in out
    assert "paused_reason  skin_reaction" in out
    assert "adherence      1 done, 0 skipped, 0 unconfirmed" in out
    assert "streak         1 done in a row" in out


def test_users_show_json_gives_the_paused_reason_and_adherence(run: Run) -> None:
    run("enroll", PHONE, "--confirmed")
    run("users", "pause", "1")

    user = run_json(run, "users", "show", "1")

    assert (user["status"], user["paused_reason"], user["phone"]) == ("paused", "operator", MASKED)
    assert user["adherence"] == {"done": 0, "skipped": 0, "unconfirmed": 0, "streak": 0}


def test_users_show_refuses_an_unknown_user(run: Run) -> None:
    status, _, err = run("users", "show", "9")

    assert (status, err) == (1, "error: user 9 does not exist\n")


def test_users_show_refuses_an_id_that_is_not_a_number(run: Run) -> None:
    with pytest.raises(SystemExit) as exit_:
        run("users", "show", "abc")

    assert exit_.value.code == 2


def test_users_delete_refuses_an_id_in_another_scripts_digits_and_erases_nobody(
    run: Run, capsys: pytest.CaptureFixture[str]
) -> None:
    run("enroll", PHONE)

    with pytest.raises(SystemExit) as exit_:
        run("users", "delete", "\u0661", "--yes")  # ARABIC-INDIC DIGIT ONE

    assert exit_.value.code == 2
    assert "'\u0661' is not a whole number" in capsys.readouterr().err
    assert run("users", "show", "1")[0] == 0


@pytest.mark.parametrize(
    "argv",
    [
        ("users", "show", "1_0"),
        ("users", "show", " 7"),
        ("users", "show", "7\n"),
        ("users", "show", "+3"),
        ("users", "show", "\uff11"),  # FULLWIDTH DIGIT ONE
        ("users", "--limit", "1_0"),
        ("schedule", "1", "--sessions", "+3"),
        ("users", "update", "1", "--cadence", "\u0662\u0661"),
        ("users", "update", "1", "--cadence", "1_4"),
        ("users", "update", "1", "--cadence", "-\u0665"),
    ],
)
def test_numbers_are_ascii_digits_only_as_the_api_reads_them(
    run: Run, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    run("enroll", PHONE, "--confirmed")

    with pytest.raises(SystemExit) as exit_:
        run(*argv)

    assert exit_.value.code == 2
    assert f"'{argv[-1]}' is not a whole number" in capsys.readouterr().err
    assert run_json(run, "users", "show", "1")["cadence_days"] == 14


def test_a_negative_cadence_reaches_the_service_which_says_what_fits(run: Run) -> None:
    run("enroll", PHONE, "--confirmed")

    status, _, err = run("users", "update", "1", "--cadence", "-5")

    assert status == 1
    assert "at most once a week" in err


def test_a_negative_user_id_is_out_of_bounds(run: Run, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        run("users", "show", "-1")

    assert "-1 is not from 1 to" in capsys.readouterr().err


def test_users_update_changes_the_session_time(run: Run) -> None:
    run("enroll", PHONE, "--confirmed")

    run("users", "update", "1", "--time", "19:00")

    assert run_json(run, "users", "show", "1")["next_session_at"] == "2026-03-03T19:00:00-08:00"


def test_users_update_refuses_a_cadence_under_a_week(run: Run) -> None:
    run("enroll", PHONE, "--confirmed")

    status, _, err = run("users", "update", "1", "--cadence", "5")

    assert status == 1
    assert "at most once a week" in err


def test_users_pause_stops_the_reminders(run: Run) -> None:
    run("enroll", PHONE, "--confirmed")

    paused = run_json(run, "users", "pause", "1")

    assert (paused["status"], paused["next_session_at"]) == ("paused", None)


def test_users_resume_plans_again(run: Run) -> None:
    run("enroll", PHONE, "--confirmed")
    run("users", "pause", "1")

    resumed = run_json(run, "users", "resume", "1")

    assert resumed["status"] == "active"
    assert resumed["next_session_at"] is not None


def test_users_resume_cannot_give_consent_for_the_user(run: Run) -> None:
    run("enroll", PHONE)

    status, _, err = run("users", "resume", "1")

    assert status == 1
    assert "reply YES" in err


def test_users_delete_asks_for_yes(run: Run) -> None:
    run("enroll", PHONE)

    status, _, err = run("users", "delete", "1")

    assert status == 2
    assert "--yes" in err
    assert run("users", "show", "1")[0] == 0


def test_users_delete_erases_and_frees_the_number(run: Run) -> None:
    run("enroll", PHONE)

    status, out, _ = run("users", "delete", "1", "--yes")

    assert (status, out) == (0, "user 1 erased\n")
    assert run("enroll", PHONE)[0] == 0


def test_a_users_action_not_in_the_table_is_refused_and_erases_nobody(
    run: Run, container: Container
) -> None:
    run("enroll", PHONE)
    args = cli.parse_args(["users", "delete", "1", "--yes"])
    args.action = "purge"

    with pytest.raises(KeyError):
        cli.run(args, container)

    assert run("users", "show", "1")[0] == 0


# --- schedule, history, stats, inbound ------------------------------------------------------


def test_schedule_prints_each_sms_of_the_next_sessions(run: Run) -> None:
    run("enroll", PHONE, "--confirmed")

    lines = run("schedule", "1", "--sessions", "2")[1].splitlines()

    assert lines[0].split() == ["SESSION", "STEP", "SEND_AT", "STATUS"]
    assert lines[1].split() == "Tue 3 Mar 20:00 heads_up Mon 2 Mar 20:00 scheduled".split()
    assert len(lines) == 1 + 8


def test_schedule_json_is_the_apis_schedule(run: Run) -> None:
    run("enroll", PHONE, "--confirmed")

    schedule = run_json(run, "schedule", "1", "--sessions", "1")

    assert schedule["sessions"][0]["starts_at"] == "2026-03-03T20:00:00-08:00"


def test_schedule_refuses_more_than_26_sessions(run: Run) -> None:
    with pytest.raises(SystemExit):
        run("schedule", "1", "--sessions", "27")


def test_inbound_prints_the_reply(run: Run) -> None:
    run("enroll", PHONE)

    status, out, _ = run("inbound", PHONE, "YES")

    assert status == 0
    assert out.splitlines()[1].startswith("YES      ")
    assert "Reply HELP for help" in out


def test_inbound_json_gives_keyword_and_reply(run: Run) -> None:
    run("enroll", PHONE)

    result = run_json(run, "inbound", PHONE, "HELP")

    assert result["keyword"] == "HELP"
    assert "STOP" in result["reply"]


def test_history_lists_sessions_and_messages(run: Run) -> None:
    run("enroll", PHONE, "--confirmed")
    run("inbound", PHONE, "DONE")
    run("inbound", PHONE, "DONE")  # no session under way: a DONE counts when said again

    out = run("history", "1")[1]

    assert out.startswith("Sessions\nSESSION")
    assert "done" in out
    assert "Messages\nAT" in out


def test_history_json_has_no_bodies(run: Run) -> None:
    run("enroll", PHONE, "--confirmed")
    run("inbound", PHONE, "DONE")

    history = run_json(run, "history", "1")

    assert [m["direction"] for m in history["messages"]] == ["out", "in"]
    assert all("body" not in m for m in history["messages"])


def test_stats_prints_counts_and_adherence(run: Run) -> None:
    run("enroll", PHONE, "--confirmed")
    run("inbound", PHONE, "DONE")
    run("inbound", PHONE, "DONE")  # no session under way: a DONE counts when said again

    out = run("stats")[1]

    assert "users      active         1" in out
    assert out.endswith("adherence: 100% of ended sessions done\n")


def test_stats_prints_paused_users_by_reason_and_check_ins(run: Run) -> None:
    run("enroll", PHONE, "--confirmed")
    run("enroll", "+14155550124", "--confirmed")
    run("users", "pause", "1")
    run("inbound", "+14155550124", "RASH")

    out = run("stats")[1]

    assert "paused     user           0" in out
    assert "paused     operator       1" in out
    assert "paused     skin_reaction  1" in out
    assert "check-ins  ok             0" in out
    assert "check-ins  none           0" in out


def test_stats_json_gives_paused_users_by_reason_and_check_ins(run: Run) -> None:
    run("enroll", PHONE, "--confirmed")
    run("inbound", PHONE, "PAUSE")

    stats = run_json(run, "stats")

    assert stats["paused"] == {"user": 1, "operator": 0, "skin_reaction": 0}
    assert stats["checkins"] == {"ok": 0, "reaction": 0, "none": 0}


def test_stats_json_is_the_apis_stats(run: Run) -> None:
    stats = run_json(run, "stats")

    assert stats["adherence"] is None
    assert set(stats) == {
        "users",
        "paused",
        "sessions",
        "reminders",
        "messages",
        "checkins",
        "adherence",
    }


# --- main -----------------------------------------------------------------------------------


def test_main_refuses_bad_settings_with_one_line_each(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("REMINDERS_QUIET_HOURS", "late")

    status = cli.main(["users"])

    assert status == 2
    assert capsys.readouterr().err.startswith("setting REMINDERS_QUIET_HOURS: ")


def test_main_reads_the_database_from_the_settings(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("REMINDERS_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("REMINDERS_SMS_BACKEND", "console")

    status = cli.main(["users"])

    assert (status, capsys.readouterr().out) == (0, "(none)\n")
    assert (tmp_path / "cli.db").exists()


def test_main_opens_no_webhook_spool_the_service_replays(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("REMINDERS_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("REMINDERS_SMS_BACKEND", "console")

    status = cli.main(["inbound", PHONE, "HELP"])

    assert status == 0
    assert not (tmp_path / "spool").exists()
