"""What must hold in the database after any storm of requests, checked with read-only SQL.

Each check returns the keys of what breaks it (reminder ids, user ids, pairs of session ids,
message SIDs), so a drill can count distinct violations across rounds instead of counting one
stale row once per round.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Hashable
from datetime import date

from sqlalchemy import Connection, Engine, and_, func, or_, select

from reminders.adapters.db import messages, reminder_rows, sessions, users

MIN_DAYS_APART = 7  # R2, docs/rules.md

KINDS = {
    "live_reminder_of_stopped_user": "inv: live reminder, stopped user",
    "paused_reason_without_pause": "inv: paused w/o reason, or reason w/o pause",
    "several_safety_notices": "inv: 2+ safety notices live or sent",
    "several_planned_sessions": "inv: several planned sessions",
    "sessions_under_7_days_apart": "inv: planned < 7 days after other",
    "inbound_2xx_not_recorded": "inv: inbound 2xx, not recorded",
    "inbound_recorded_without_2xx": "inv: inbound recorded, no 2xx",
}

# A reminder claimed just before a STOP may still be in flight for a moment (docs/operations.md);
# it must be settled (sent or cancelled) by then.
SENDING_SETTLES_SECONDS = 3.0


def live_reminders_of_stopped_users(connection: Connection) -> dict[int, str]:
    """Reminders still scheduled or sending for an erased, paused, opted-out, invalid or
    pending user, with their status; but a pending user's consent question, and a paused
    user's safety notice (a pause keeps it: it is not a reminder to roll)."""
    stopped = or_(
        users.c.erased_at.is_not(None),
        users.c.status.in_(("paused", "opted_out", "invalid", "pending")),
    )
    kept = or_(
        and_(users.c.status == "pending", reminder_rows.c.step == "consent_request"),
        and_(users.c.status == "paused", reminder_rows.c.step == "safety_notice"),
    )
    rows = connection.execute(
        select(reminder_rows.c.id, reminder_rows.c.status)
        .join(users, users.c.id == reminder_rows.c.user_id)
        .where(
            reminder_rows.c.status.in_(("scheduled", "sending")),
            stopped,
            ~and_(users.c.erased_at.is_(None), kept),
        )
    )
    return {row.id: row.status for row in rows}


def paused_reasons_astray(connection: Connection) -> set[int]:
    """Users paused with no reason (user, operator, skin_reaction), or with a reason while not
    paused: the reason is kept with a paused status and cleared with any other."""
    known = users.c.paused_reason.in_(("user", "operator", "skin_reaction"))
    rows = connection.execute(
        select(users.c.id).where(
            or_(
                and_(users.c.status == "paused", or_(users.c.paused_reason.is_(None), ~known)),
                and_(users.c.status != "paused", users.c.paused_reason.is_not(None)),
            )
        )
    )
    return {row.id for row in rows}


def users_with_several_safety_notices(connection: Connection) -> set[int]:
    """Users with more than one safety notice scheduled, sending or sent: a later opt-in
    plans it again only when none went out or is on its way (docs/rules.md)."""
    rows = connection.execute(
        select(reminder_rows.c.user_id)
        .where(
            reminder_rows.c.step == "safety_notice",
            reminder_rows.c.status.in_(("scheduled", "sending", "sent", "delivered")),
        )
        .group_by(reminder_rows.c.user_id)
        .having(func.count() > 1)
    )
    return {row.user_id for row in rows}


def users_with_several_planned_sessions(connection: Connection) -> set[int]:
    rows = connection.execute(
        select(sessions.c.user_id)
        .where(sessions.c.status == "planned")
        .group_by(sessions.c.user_id)
        .having(func.count() > 1)
    )
    return {row.user_id for row in rows}


def sessions_too_close(connection: Connection) -> set[tuple[int, int]]:
    """Pairs of session ids of one user, planned or done, fewer than 7 local days apart
    where the later one is planned."""
    rows = connection.execute(
        select(sessions.c.id, sessions.c.user_id, sessions.c.local_date, sessions.c.status).where(
            sessions.c.status.in_(("planned", "done"))
        )
    )
    by_user: dict[int, list[tuple[int, date, str]]] = defaultdict(list)
    for row in rows:
        by_user[row.user_id].append((row.id, row.local_date, row.status))
    pairs = set()
    for entries in by_user.values():
        for later_id, later_date, later_status in entries:
            if later_status != "planned":
                continue
            for other_id, other_date, _ in entries:
                if other_id != later_id and 0 <= (later_date - other_date).days < MIN_DAYS_APART:
                    pairs.add((min(later_id, other_id), max(later_id, other_id)))
    return pairs


def recorded_inbound_sids(connection: Connection) -> set[str]:
    rows = connection.execute(select(messages.c.provider_sid).where(messages.c.direction == "in"))
    return {row.provider_sid for row in rows}


def check(engine: Engine, sent_sids: set[str], acked_sids: set[str]) -> dict[str, set[Hashable]]:
    """Every invariant, by kind (see KINDS): the keys of what breaks it. `sent_sids` are the
    MessageSids of every inbound webhook sent so far, `acked_sids` those answered 2xx."""
    with engine.connect() as connection:
        live = live_reminders_of_stopped_users(connection)
        deadline = time.monotonic() + SENDING_SETTLES_SECONDS
        while "sending" in live.values() and time.monotonic() < deadline:
            time.sleep(0.2)
            connection.rollback()  # a fresh snapshot on the next statement
            live = live_reminders_of_stopped_users(connection)
        recorded = recorded_inbound_sids(connection)
        found: dict[str, set[Hashable]] = {
            "live_reminder_of_stopped_user": set(live),
            "paused_reason_without_pause": set(paused_reasons_astray(connection)),
            "several_safety_notices": set(users_with_several_safety_notices(connection)),
            "several_planned_sessions": set(users_with_several_planned_sessions(connection)),
            "sessions_under_7_days_apart": set(sessions_too_close(connection)),
            "inbound_2xx_not_recorded": set(acked_sids - recorded),
            "inbound_recorded_without_2xx": set((recorded & sent_sids) - acked_sids),
        }
    return found
