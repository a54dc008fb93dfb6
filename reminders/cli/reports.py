"""`reminders schedule`, `history`, `stats` and `inbound`: what an operator reads, and an SMS
simulated through the same use case as Twilio's webhook."""

from __future__ import annotations

import argparse
import uuid

from reminders.bootstrap import Container
from reminders.cli.output import cell, print_json, print_table
from reminders.entrypoints.phones import parse_phone
from reminders.entrypoints.schemas import history_out, schedule_out, stats_out


def schedule(args: argparse.Namespace, container: Container) -> int:
    user, sessions = container.operations.schedule(args.user_id, args.sessions)
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


def history(args: argparse.Namespace, container: Container) -> int:
    user, past = container.operations.history(args.user_id)
    out = history_out(user, past)
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


def stats(args: argparse.Namespace, container: Container) -> int:
    out = stats_out(container.operations.stats())
    if args.json:
        print_json(out)
        return 0
    rows = [{"of": "users", "status": k, "count": v} for k, v in out.users.items()]
    rows += [{"of": "paused", "status": k, "count": v} for k, v in out.paused.items()]
    rows += [{"of": "sessions", "status": k, "count": v} for k, v in out.sessions.items()]
    rows += [{"of": "reminders", "status": k, "count": v} for k, v in out.reminders.items()]
    for direction, counts in out.messages.items():
        rows += [{"of": f"sms {direction}", "status": k, "count": v} for k, v in counts.items()]
    rows += [{"of": "check-ins", "status": k, "count": v} for k, v in out.checkins.items()]
    print_table(rows)
    print(f"adherence: {cell(out.adherence)} of ended sessions done")
    return 0


def inbound(args: argparse.Namespace, container: Container) -> int:
    phone = parse_phone(args.phone, container.settings.default_region)
    # The reply is printed, not sent; a MessageSid of our own keeps it apart from Twilio's.
    answer = container.intake.inbound_sms(phone, args.text, "CLI" + uuid.uuid4().hex)
    if args.json:
        print_json({"keyword": answer.keyword.value, "reply": answer.reply})
    else:
        print_table([{"keyword": answer.keyword.value, "reply": answer.reply or "(no reply)"}])
    return 0
