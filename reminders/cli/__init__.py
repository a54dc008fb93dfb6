"""The operator's command line: `python -m reminders` (or the `reminders` console script).

Tables for people by default; `--json` prints the objects of the HTTP API for scripts. Phone
numbers are always masked here: terminal output ends up in shell history, tickets and CI logs.
Exit status: 0 done, 1 refused (unknown user, a value not accepted, a conflict), 2 bad usage or
settings.

The commands call the same use cases as the HTTP API and the webhooks (services/operations.py,
services/intake.py): arguments.py reads the command line, users.py and reports.py carry out
the commands, output.py prints."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from reminders.bootstrap import BadSettings, Container, bootstrap, read_settings
from reminders.cli import reports, users
from reminders.cli.arguments import parse_args
from reminders.domain.errors import InvalidInput, ReminderError

__all__ = ["main", "parse_args", "run"]

# The option an operator typed, for each field a service names in an error.
_OPTIONS = {
    "phone": "PHONE",
    "timezone": "--timezone",
    "session_time": "--time",
    "cadence_days": "--cadence",
    "first_session_date": "--first-date",
    "cursor": "--cursor",
}

_COMMANDS: dict[str, Callable[[argparse.Namespace, Container], int]] = {
    "users": users.run_action,
    "schedule": reports.schedule,
    "history": reports.history,
    "stats": reports.stats,
    "inbound": reports.inbound,
}


def run(args: argparse.Namespace, container: Container) -> int:
    """Carry out parsed arguments; errors the service refuses print one line and return 1."""
    try:
        return _COMMANDS[args.command](args, container)
    except InvalidInput as exc:
        option = _OPTIONS.get(exc.field)
        print(f"error: {option + ': ' if option else ''}{exc}", file=sys.stderr)
    except ReminderError as exc:
        print(f"error: {exc}", file=sys.stderr)
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line, read the settings, run the command; returns the exit status."""
    args = parse_args(argv)
    try:
        settings = read_settings()
    except BadSettings as exc:
        for line in exc.problems:
            print(line, file=sys.stderr)
        return 2
    container = bootstrap(
        settings, make_executor=lambda _n: None, announce_token=False, keep_webhooks=False
    )
    try:
        return run(args, container)
    finally:
        container.close()
