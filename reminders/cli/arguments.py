"""The command line's grammar: commands, options, their help and how values are read."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from reminders.domain.model import (
    DEFAULT_CADENCE_DAYS,
    MAX_CADENCE_DAYS,
    MIN_CADENCE_DAYS,
    UserStatus,
    parse_whole_number,
)
from reminders.entrypoints.schemas import MAX_PAGE, MAX_SCHEDULE_SESSIONS
from reminders.services.operations import MAX_USER_ID

_CADENCES = f"{MIN_CADENCE_DAYS}-{MAX_CADENCE_DAYS}"
DESCRIPTION = "The operator's command line of the roller reminders service."
EPILOG = (
    "Settings come from the environment, as for the service (REMINDERS_DATABASE_URL ...). "
    "Phone numbers are shown masked. Exit status: 0 done; 1 refused (unknown user, a value "
    "not accepted, a conflict); 2 bad usage or settings."
)


# Longer than any bound here, short enough that reading it costs nothing.
_MAX_DIGITS = 20


def _bounded(low: int, high: int) -> Callable[[str], int]:
    """A whole number from `low` to `high`, read as the API reads one: ASCII digits only, after
    a '-' at most (no other script's digits, '_', '+' or white space, which `int()` takes)."""

    def parse(text: str) -> int:
        negative = text.startswith("-")
        magnitude = parse_whole_number(text[1:] if negative else text, max_digits=_MAX_DIGITS)
        if magnitude is None:
            raise argparse.ArgumentTypeError(f"'{text[:20]}' is not a whole number")
        value = -magnitude if negative else magnitude
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is not from {low} to {high}")
        return value

    return parse


_user_id = _bounded(1, MAX_USER_ID)
_whole_number = _bounded(-MAX_USER_ID, MAX_USER_ID)  # the service says what fits


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text[:20]}' is not a date YYYY-MM-DD") from None


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line; `--json` may come before or after the command."""
    json_flag = argparse.ArgumentParser(add_help=False)
    json_flag.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="print JSON for scripts"
    )
    parser = argparse.ArgumentParser(prog="reminders", description=DESCRIPTION, epilog=EPILOG)
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(
        group: argparse._SubParsersAction[argparse.ArgumentParser], name: str, text: str
    ) -> argparse.ArgumentParser:
        return group.add_parser(name, help=text, description=text, parents=[json_flag])

    def list_options(target: argparse.ArgumentParser, default: Any) -> None:
        statuses = [s.value for s in UserStatus]
        target.add_argument("--status", choices=statuses, default=default, help="only these")
        target.add_argument(
            "--limit",
            type=_bounded(1, MAX_PAGE),
            default=default if default is argparse.SUPPRESS else 50,
            help=f"page size, 1-{MAX_PAGE} (default 50)",
        )
        target.add_argument("--cursor", default=default, help="next_cursor of the last page")

    def add_options(target: argparse.ArgumentParser) -> None:
        target.add_argument(
            "phone", help="E.164 (+14155550123) or national with REMINDERS_DEFAULT_REGION"
        )
        target.add_argument("--timezone", help="IANA zone; may be left out when the number has one")
        target.add_argument("--time", default="20:00", help="session time HH:MM (default 20:00)")
        target.add_argument(
            "--cadence",
            type=_whole_number,
            default=DEFAULT_CADENCE_DAYS,
            help=f"days between sessions, {_CADENCES} (default {DEFAULT_CADENCE_DAYS})",
        )
        target.add_argument(
            "--first-date", type=_date, help="local date of the first session (with --confirmed)"
        )
        target.add_argument(
            "--confirmed",
            action="store_true",
            help="the operator already holds consent (else an SMS asks the user for YES)",
        )

    users = command(commands, "users", "list users, or manage one (see: users -h)")
    list_options(users, None)
    actions = users.add_subparsers(dest="action", metavar="ACTION")
    list_options(
        command(actions, "list", "list users, a page at a time (the default)"), argparse.SUPPRESS
    )
    add_options(command(actions, "add", "enrol a user"))
    command(actions, "show", "one user").add_argument("user_id", type=_user_id)
    update = command(actions, "update", "change a user's session time, cadence or zone")
    update.add_argument("user_id", type=_user_id)
    update.add_argument("--time", help="new session time HH:MM")
    update.add_argument("--cadence", type=_whole_number, help=f"new cadence in days, {_CADENCES}")
    update.add_argument("--timezone", help="new IANA zone")
    command(actions, "pause", "stop a user's reminders").add_argument("user_id", type=_user_id)
    command(actions, "resume", "resume a paused user").add_argument("user_id", type=_user_id)
    delete = command(actions, "delete", "erase a user: number and message bodies are deleted")
    delete.add_argument("user_id", type=_user_id)
    delete.add_argument("--yes", action="store_true", help="confirm: erasing cannot be undone")

    add_options(command(commands, "enroll", "enrol a user (same as: users add)"))
    schedule = command(commands, "schedule", "a user's next sessions and their SMS")
    schedule.add_argument("user_id", type=_user_id)
    schedule.add_argument(
        "--sessions",
        type=_bounded(1, MAX_SCHEDULE_SESSIONS),
        default=3,
        help=f"how many sessions, 1-{MAX_SCHEDULE_SESSIONS} (default 3)",
    )
    history = command(commands, "history", "a user's past sessions and SMS, newest first")
    history.add_argument("user_id", type=_user_id)
    command(commands, "stats", "users, sessions, SMS by status; paused users by reason; check-ins")
    inbound = command(commands, "inbound", "simulate an SMS from a user (the reply is printed)")
    inbound.add_argument("phone")
    inbound.add_argument("text")

    args = parser.parse_args(argv)
    if args.command == "enroll":
        args.command, args.action = "users", "add"
    if args.command == "users" and args.action is None:
        args.action = "list"
    return args
