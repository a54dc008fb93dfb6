"""The operator's command line: `python -m reminders` (or the `reminders` console script).

Tables for people by default; `--json` prints the objects of the HTTP API for scripts. Phone
numbers are always masked here: terminal output ends up in shell history, tickets and CI logs.
Exit status: 0 done, 1 refused (unknown user, a value not accepted, a conflict), 2 bad usage or
settings."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ValidationError

from config.settings import Settings, describe_errors
from reminders.bootstrap import Container, bootstrap
from reminders.domain.errors import InvalidInput, ReminderError
from reminders.domain.messages import format_when
from reminders.domain.model import DEFAULT_CADENCE_DAYS, UserStatus, mask_phone
from reminders.domain.planning import zone_for
from reminders.entrypoints import operator
from reminders.entrypoints.schemas import (
    MAX_PAGE,
    MAX_SCHEDULE_SESSIONS,
    UserOut,
    UserPage,
    history_out,
    schedule_out,
    stats_out,
    user_out,
)

DESCRIPTION = "The operator's command line of the roller reminders service."
EPILOG = (
    "Settings come from the environment, as for the service (REMINDERS_DATABASE_URL ...). "
    "Phone numbers are shown masked. Exit status: 0 done; 1 refused (unknown user, a value "
    "not accepted, a conflict); 2 bad usage or settings."
)

# The option an operator typed, for each field a service names in an error.
_OPTIONS = {
    "phone": "PHONE",
    "timezone": "--timezone",
    "session_time": "--time",
    "cadence_days": "--cadence",
    "first_session_date": "--first-date",
    "cursor": "--cursor",
}


def _bounded(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text[:20]}' is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is not from {low} to {high}")
        return value

    return parse


_user_id = _bounded(1, operator.MAX_ID)
_whole_number = _bounded(-operator.MAX_ID, operator.MAX_ID)  # the service says what fits


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
            help=f"days between sessions, 7-28 (default {DEFAULT_CADENCE_DAYS})",
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
    update.add_argument("--cadence", type=_whole_number, help="new cadence in days, 7-28")
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
    command(commands, "stats", "users, sessions and SMS by status; adherence")
    inbound = command(commands, "inbound", "simulate an SMS from a user (the reply is printed)")
    inbound.add_argument("phone")
    inbound.add_argument("text")

    args = parser.parse_args(argv)
    if args.command == "enroll":
        args.command, args.action = "users", "add"
    if args.command == "users" and args.action is None:
        args.action = "list"
    return args


# --- output ---------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        zone = value.tzinfo
        return format_when(value, zone) if isinstance(zone, ZoneInfo) else value.isoformat()
    if isinstance(value, float):
        return f"{value:.0%}"
    return str(value)


def print_table(rows: list[dict[str, Any]], title: str | None = None) -> None:
    """Aligned columns headed by the keys of the first row."""
    if title:
        print(title)
    if not rows:
        print("(none)")
        return
    columns = list(rows[0])
    cells = [[_cell(row[c]) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    headings = [c.upper() for c in columns]
    for line in [headings, *cells]:
        print("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())


def print_json(value: BaseModel | dict[str, Any]) -> None:
    data = value.model_dump(mode="json") if isinstance(value, BaseModel) else value
    json.dump(data, sys.stdout, indent=2)
    print()


def _masked(out: UserOut) -> UserOut:
    return out.model_copy(update={"phone": mask_phone(out.phone)})


def _user_row(out: UserOut) -> dict[str, Any]:
    zone = zone_for(out.timezone)
    return {
        "id": out.id,
        "phone": out.phone,
        "status": out.status.value,
        "timezone": out.timezone,
        "session_time": out.session_time,
        "cadence_days": out.cadence_days,
        "next_session": format_when(out.next_session_at, zone) if out.next_session_at else None,
    }


# --- commands -------------------------------------------------------------------------------


def _users(args: argparse.Namespace, container: Container) -> int:
    action = args.action
    if action == "list":
        status = UserStatus(args.status) if args.status else None
        views, next_cursor = operator.list_users(
            container, status=status, limit=args.limit, cursor=args.cursor
        )
        outs = [_masked(user_out(v.user, v.next_session)) for v in views]
        if args.json:
            print_json(UserPage(items=outs, next_cursor=next_cursor))
            return 0
        print_table([_user_row(o) for o in outs])
        if next_cursor:
            again = f" --status {args.status}" if args.status else ""
            print(f"more: reminders users list{again} --limit {args.limit} --cursor {next_cursor}")
        return 0
    if action == "add":
        view = operator.enroll_user(
            container,
            phone=args.phone,
            timezone=args.timezone,
            session_time=args.time,
            cadence_days=args.cadence,
            first_session_date=args.first_date,
            consent_confirmed=args.confirmed,
        )
    elif action == "show":
        view = operator.show_user(container, args.user_id)
        out = _masked(user_out(view.user, view.next_session))
        if args.json:
            print_json(out)
            return 0
        details = _user_row(out) | {
            "last_session": out.last_session_date,
            "created": out.created_at,
        }
        print_table([{"field": k, "value": _cell(v)} for k, v in details.items()])
        return 0
    elif action == "update":
        view = operator.update_user(
            container,
            args.user_id,
            session_time=args.time,
            cadence_days=args.cadence,
            timezone=args.timezone,
        )
    elif action in ("pause", "resume"):
        status = UserStatus.PAUSED if action == "pause" else UserStatus.ACTIVE
        view = operator.update_user(container, args.user_id, status=status)
    else:
        if not args.yes:
            print(
                f"error: erasing user {args.user_id} deletes their number and message bodies "
                "and cannot be undone; add --yes to do it",
                file=sys.stderr,
            )
            return 2
        operator.delete_user(container, args.user_id)
        if args.json:
            print_json({"id": args.user_id, "erased": True})
        else:
            print(f"user {args.user_id} erased")
        return 0
    out = _masked(user_out(view.user, view.next_session))
    if args.json:
        print_json(out)
    else:
        print_table([_user_row(out)])
    return 0


def _schedule(args: argparse.Namespace, container: Container) -> int:
    user, sessions = operator.user_schedule(container, args.user_id, args.sessions)
    out = schedule_out(user, sessions)
    if args.json:
        print_json(out)
        return 0
    print_table(
        [
            {"session": s.starts_at, "step": r.step.value, "send_at": r.send_at, "status": r.status}
            for s in out.sessions
            for r in s.reminders
        ]
    )
    return 0


def _history(args: argparse.Namespace, container: Container) -> int:
    user, history = operator.user_history(container, args.user_id)
    out = history_out(user, history)
    if args.json:
        print_json(out)
        return 0
    print_table(
        [
            {
                "session": s.starts_at,
                "status": s.status.value,
                "kind": s.kind,
                "moved": s.later_count,
                "outcome_at": s.outcome_at,
            }
            for s in out.sessions
        ],
        title="Sessions",
    )
    print()
    print_table(
        [
            {
                "at": m.at,
                "direction": m.direction,
                "about": m.step.value if m.step else m.keyword,
                "status": m.status,
                "error": m.error_code,
            }
            for m in out.messages
        ],
        title="Messages",
    )
    return 0


def _stats(args: argparse.Namespace, container: Container) -> int:
    out = stats_out(operator.service_stats(container))
    if args.json:
        print_json(out)
        return 0
    rows = [{"of": "users", "status": k, "count": v} for k, v in out.users.items()]
    rows += [{"of": "sessions", "status": k, "count": v} for k, v in out.sessions.items()]
    rows += [{"of": "reminders", "status": k, "count": v} for k, v in out.reminders.items()]
    for direction, counts in out.messages.items():
        rows += [{"of": f"sms {direction}", "status": k, "count": v} for k, v in counts.items()]
    print_table(rows)
    print(f"adherence: {_cell(out.adherence)} of ended sessions done")
    return 0


def _inbound(args: argparse.Namespace, container: Container) -> int:
    result = operator.simulate_inbound(container, args.phone, args.text)
    if args.json:
        print_json({"keyword": result.keyword.value, "reply": result.reply})
    else:
        print_table([{"keyword": result.keyword.value, "reply": result.reply or "(no reply)"}])
    return 0


_COMMANDS: dict[str, Callable[[argparse.Namespace, Container], int]] = {
    "users": _users,
    "schedule": _schedule,
    "history": _history,
    "stats": _stats,
    "inbound": _inbound,
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
    args = parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        for line in describe_errors(exc):
            print(line, file=sys.stderr)
        return 2
    container = bootstrap(settings, make_executor=lambda _n: None, announce_token=False)
    try:
        return run(args, container)
    finally:
        container.close()
