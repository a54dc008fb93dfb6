"""`reminders users ACTION` (and `enroll`): one function per action, chosen from ACTIONS."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from reminders.bootstrap import Container
from reminders.cli.output import cell, masked, print_json, print_table, user_row
from reminders.domain.model import UserStatus
from reminders.entrypoints.phones import phone_and_zone
from reminders.entrypoints.schemas import UserPage, user_detail_out, user_out
from reminders.services.operations import UserView


def _print_user(args: argparse.Namespace, view: UserView) -> int:
    out = masked(user_out(view.user, view.next_session))
    if args.json:
        print_json(out)
    else:
        print_table([user_row(out)])
    return 0


def list_users(args: argparse.Namespace, container: Container) -> int:
    status = UserStatus(args.status) if args.status else None
    page = container.operations.list_users(status=status, limit=args.limit, cursor=args.cursor)
    outs = [masked(user_out(v.user, v.next_session)) for v in page.users]
    if args.json:
        print_json(UserPage(items=outs, next_cursor=page.next_cursor))
        return 0
    print_table([user_row(o) for o in outs])
    if page.next_cursor:
        again = f" --status {args.status}" if args.status else ""
        print(f"more: reminders users list{again} --limit {args.limit} --cursor {page.next_cursor}")
    return 0


def add_user(args: argparse.Namespace, container: Container) -> int:
    phone, zone = phone_and_zone(args.phone, container.settings.default_region, args.timezone)
    view = container.operations.enroll(
        phone=phone,
        timezone=zone,
        session_time=args.time,
        cadence_days=args.cadence,
        first_session_date=args.first_date,
        consent_confirmed=args.confirmed,
    )
    return _print_user(args, view)


def show_user(args: argparse.Namespace, container: Container) -> int:
    detail = container.operations.show(args.user_id)
    out = masked(user_detail_out(detail.user, detail.next_session, detail.adherence))
    if args.json:
        print_json(out)
        return 0
    row = user_row(out)
    done = out.adherence
    details = {
        "id": row.pop("id"),
        "phone": row.pop("phone"),
        "status": row.pop("status"),
        "paused_reason": out.paused_reason.value if out.paused_reason else None,
        **row,
        "last_session": out.last_session_date,
        "created": out.created_at,
        "adherence": f"{done.done} done, {done.skipped} skipped, {done.unconfirmed} unconfirmed",
        "streak": f"{done.streak} done in a row",
    }
    print_table([{"field": k, "value": cell(v)} for k, v in details.items()])
    return 0


def update_user(args: argparse.Namespace, container: Container) -> int:
    view = container.operations.change(
        args.user_id, session_time=args.time, cadence_days=args.cadence, timezone=args.timezone
    )
    return _print_user(args, view)


def pause_user(args: argparse.Namespace, container: Container) -> int:
    return _print_user(args, container.operations.pause(args.user_id))


def resume_user(args: argparse.Namespace, container: Container) -> int:
    return _print_user(args, container.operations.resume(args.user_id))


def delete_user(args: argparse.Namespace, container: Container) -> int:
    if not args.yes:
        print(
            f"error: erasing user {args.user_id} deletes their number and message bodies "
            "and cannot be undone; add --yes to do it",
            file=sys.stderr,
        )
        return 2
    container.operations.delete(args.user_id)
    if args.json:
        print_json({"id": args.user_id, "erased": True})
    else:
        print(f"user {args.user_id} erased")
    return 0


ACTIONS: dict[str, Callable[[argparse.Namespace, Container], int]] = {
    "list": list_users,
    "add": add_user,
    "show": show_user,
    "update": update_user,
    "pause": pause_user,
    "resume": resume_user,
    "delete": delete_user,
}


def run_action(args: argparse.Namespace, container: Container) -> int:
    """Carry out the users action the arguments name. Raises KeyError for an action not in
    ACTIONS: nothing is done that was not asked for by name."""
    return ACTIONS[args.action](args, container)
