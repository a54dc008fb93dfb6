"""The operator's command line: `python -m reminders` (or the `reminders` console script)."""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from pydantic import ValidationError

from config.settings import Settings, describe_errors
from reminders.bootstrap import Container, bootstrap
from reminders.domain.errors import ReminderError
from reminders.domain.messages import format_when
from reminders.domain.model import DEFAULT_CADENCE_DAYS, User, UserStatus
from reminders.domain.planning import zone_for
from reminders.entrypoints.phones import parse_phone, single_timezone
from reminders.services import routine
from reminders.services.conversation import handle_inbound


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reminders", description=__doc__)
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    commands = parser.add_subparsers(dest="command", required=True)

    enroll = commands.add_parser("enroll", help="enrol a user")
    enroll.add_argument(
        "phone", help="E.164 (+14155550123) or national with REMINDERS_DEFAULT_REGION"
    )
    enroll.add_argument("--timezone", help="IANA zone; may be left out when the number has one")
    enroll.add_argument("--time", default="20:00", help="session time HH:MM (default 20:00)")
    enroll.add_argument("--cadence", type=int, default=DEFAULT_CADENCE_DAYS, help="days, 7-28")
    enroll.add_argument("--first-date", type=date.fromisoformat, help="YYYY-MM-DD, local")
    enroll.add_argument(
        "--confirmed",
        action="store_true",
        help="the operator already holds consent (else a YES confirmation SMS is sent)",
    )

    users = commands.add_parser("users", help="list users")
    users.add_argument("--status", choices=[s.value for s in UserStatus])
    users.add_argument("--limit", type=int, default=50)

    schedule = commands.add_parser("schedule", help="a user's next sessions and their SMS")
    schedule.add_argument("user_id", type=int)
    schedule.add_argument("--sessions", type=int, default=3)

    inbound = commands.add_parser("inbound", help="simulate an SMS from a user")
    inbound.add_argument("phone")
    inbound.add_argument("text")
    return parser


def _user_dict(user: User, next_at: str | None) -> dict[str, Any]:
    return {
        "id": user.id,
        "phone": user.phone.masked() if user.phone else None,
        "status": user.status.value,
        "timezone": user.schedule.timezone,
        "session_time": user.schedule.session_time.strftime("%H:%M"),
        "cadence_days": user.schedule.cadence_days,
        "next_session": next_at,
    }


def _print_table(rows: list[dict[str, Any]]) -> None:
    if not rows:
        print("(none)")
        return
    columns = list(rows[0])
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in columns}
    print("  ".join(c.upper().ljust(widths[c]) for c in columns))
    for row in rows:
        print("  ".join(str(row[c]).ljust(widths[c]) for c in columns))


def _next_at(container: Container, user: User) -> str | None:
    with container.uow() as uow:
        session = uow.sessions.upcoming(user.id)
    if session is None:
        return None
    return format_when(session.starts_at, zone_for(user.schedule.timezone))


def run(args: argparse.Namespace, container: Container) -> int:
    now = container.clock.now()
    policy = container.policy
    region = container.settings.default_region
    if args.command == "enroll":
        phone = parse_phone(args.phone, region)
        timezone = args.timezone or single_timezone(phone)
        if timezone is None:
            raise ReminderError("timezone is needed: this number's country has several zones")
        schedule = routine.make_schedule(
            policy, timezone=timezone, session_time=args.time, cadence_days=args.cadence
        )
        with container.uow() as uow:
            user = routine.enroll(
                uow,
                policy,
                now,
                phone=phone,
                schedule=schedule,
                first_session_date=args.first_date,
                consent_confirmed=args.confirmed,
            )
            uow.commit()
        rows = [_user_dict(user, _next_at(container, user))]
    elif args.command == "users":
        with container.uow() as uow:
            status = UserStatus(args.status) if args.status else None
            found = uow.users.page(status, 0, args.limit)
        rows = [_user_dict(u, _next_at(container, u)) for u in found]
    elif args.command == "schedule":
        with container.uow() as uow:
            user = routine.get_user(uow, args.user_id)
            sessions = routine.upcoming_schedule(uow, policy, user, now, args.sessions)
        zone = zone_for(user.schedule.timezone)
        rows = [
            {
                "session": format_when(s.starts_at, zone),
                "step": step.value,
                "send_at": format_when(send_at, zone),
                "status": status,
            }
            for s in sessions
            for step, send_at, status in s.reminders
        ]
    else:
        phone = parse_phone(args.phone, region)
        with container.uow() as uow:
            result = handle_inbound(
                uow, policy, now, phone=phone, body=args.text, message_sid="CLI" + uuid.uuid4().hex
            )
            uow.commit()
        rows = [{"keyword": result.keyword.value, "reply": result.reply or "(no reply)"}]
    if args.json:
        json.dump(rows, sys.stdout, indent=2, default=str)
        print()
    else:
        _print_table(rows)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        for line in describe_errors(exc):
            print(line, file=sys.stderr)
        return 2
    container = bootstrap(settings, make_executor=lambda _n: None, announce_token=False)
    try:
        return run(args, container)
    except ReminderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        container.close()
