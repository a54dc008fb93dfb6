"""Reminder rows: the dispatcher's claims and outcomes."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    Select,
    Update,
    and_,
    any_,
    bindparam,
    func,
    insert,
    or_,
    select,
    update,
)

from reminders.adapters.db import dispatchers, messages, reminder_rows, sessions, users
from reminders.adapters.repository.batch import InsertRows, UpdateRows, write
from reminders.adapters.repository.rows import (
    ACTIVE_VALUES,
    IS_ACTIVE,
    outbound_values,
    reminder_from,
)
from reminders.domain.model import (
    DueReminder,
    OutboundMessage,
    PhoneNumber,
    PlannedReminder,
    Reminder,
    ReminderStatus,
    SendOutcome,
    Step,
    TakenOver,
    UserStatus,
)

_CLAIMER = re.compile(r"[0-9A-Za-z]{1,32}")  # written into the statement: checked first


def _by_send_at(claimed: tuple[DueReminder, datetime | None, str | None]) -> datetime:
    return claimed[0].send_at


@lru_cache(maxsize=8)
def _claim_statements(dialect: str, take_over: bool) -> tuple[Update, Select[Any] | None]:
    """The claim, built once per dialect (`now`, `lease_until`, `limit` and `claimer` are
    parameters), and on SQLite the query for the user's and session's columns of the claimed
    `ids`.

    A claim takes `scheduled` reminders that are due. A take-over (`take_over`) takes
    `sending` ones whose dispatcher is gone: claimed by one of `dead`, or whose lease ran out
    with no live dispatcher behind the claim; it keeps their `claimed_at`, the time of the
    claim whose send has no recorded outcome."""
    r, u = reminder_rows.c, users.c
    due = r.due_at <= bindparam("now")
    if take_over:
        # A dispatcher registers before it claims, and its rows are taken over with its row's
        # removal: a claim whose dispatcher has no row is left by one that stopped. A claim
        # with no dispatcher at all is an earlier release's: it waits out its lease.
        unowned = or_(
            and_(r.claimed_by.is_(None), due),
            r.claimed_by.not_in(select(dispatchers.c.id)),
            # Its own, past their lease: the caller leaves alone those it still holds.
            and_(r.claimed_by == bindparam("claimer"), due),
        )
        wanted = and_(
            r.status == ReminderStatus.SENDING.value,
            or_(r.claimed_by.in_(bindparam("dead", expanding=True)), unowned),
        )
        # A `sending` row is due at the end of its lease, never more than a lease ahead: the
        # due index then reads what falls due within a lease, not every scheduled reminder.
        indexed = and_(IS_ACTIVE, r.due_at <= bindparam("lease_until"), wanted)
    else:
        wanted = and_(r.status == ReminderStatus.SCHEDULED.value, due)
        indexed = and_(IS_ACTIVE, wanted)  # the due index's own condition, word for word
    candidates = (
        select(r.id)
        .where(indexed)
        .order_by(r.due_at)
        .limit(bindparam("limit", type_=Integer))
        .correlate(None)
    )
    if dialect == "postgresql":
        # ARRAY(subquery) runs the locking subquery exactly once, before the update. As a
        # plain IN (subquery) the planner may run it again for each outer row, and with
        # SKIP LOCKED every run picks other rows: claims far beyond `limit`.
        locked = candidates.with_for_update(skip_locked=True).scalar_subquery()
        among = r.id == any_(func.array(locked))
    else:
        among = r.id.in_(candidates.scalar_subquery())
    values: dict[str, Any] = {
        "status": ReminderStatus.SENDING.value,
        "due_at": bindparam("lease_until"),
        "claimed_by": bindparam("claimer"),
        "updated_at": bindparam("now"),
    }
    if not take_over:
        values.update(claims=r.claims + 1, claimed_at=bindparam("now"))
    # The condition again: on PostgreSQL a row another transaction changed meanwhile is
    # checked anew, so a claim or take-over made by someone else is never taken twice.
    claim = update(reminder_rows).where(among, wanted).values(**values)
    reminder = (
        *(r.id, r.user_id, r.step, r.send_at, r.expires_at, r.attempts),
        *(r.claimed_at, r.provider_sid),
    )
    starts_at = sessions.c.starts_at
    if dialect == "postgresql":
        # One statement: the user's columns come from the join, the session's start from a
        # subquery (a reminder may have no session).
        session_start = select(starts_at).where(sessions.c.id == r.session_id)
        returning = (*reminder, u.phone, u.status, u.timezone, session_start.scalar_subquery())
        return claim.where(u.id == r.user_id).returning(*returning), None
    recipients = (
        select(r.id, u.phone, u.status, u.timezone, starts_at)
        .join(users, u.id == r.user_id)
        .outerjoin(sessions, sessions.c.id == r.session_id)
        .where(r.id.in_(bindparam("ids", expanding=True)))
    )
    return claim.returning(*reminder), recipients


class ReminderRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def add(
        self,
        user_id: int,
        session_id: int | None,
        planned: Sequence[PlannedReminder],
        now: datetime,
    ) -> None:
        self.add_many([(user_id, session_id, p) for p in planned], now)

    def add_many(
        self, planned: Sequence[tuple[int, int | None, PlannedReminder]], now: datetime
    ) -> None:
        """Insert many reminders given as (user id, session id, reminder)."""
        if planned:
            self._c.execute(
                insert(reminder_rows),
                [
                    {
                        "user_id": user_id,
                        "session_id": session_id,
                        "step": p.step.value,
                        "send_at": p.send_at,
                        "expires_at": p.expires_at,
                        "due_at": p.send_at,
                        "status": ReminderStatus.SCHEDULED.value,
                        "attempts": 0,
                        "claims": 0,
                        "updated_at": now,
                    }
                    for user_id, session_id, p in planned
                ],
            )

    def for_sessions(self, session_ids: Sequence[int]) -> list[Reminder]:
        if not session_ids:
            return []
        rows = self._c.execute(
            select(reminder_rows)
            .where(reminder_rows.c.session_id.in_(session_ids))
            .order_by(reminder_rows.c.send_at)
        )
        return [reminder_from(r) for r in rows]

    def cancel_for_user(self, user_id: int, now: datetime, *, keep: Sequence[Step] = ()) -> int:
        """Cancel every scheduled or claimed reminder of the user but those of the `keep`
        steps; returns how many."""
        whose = reminder_rows.c.user_id == user_id
        if keep:
            whose = and_(whose, reminder_rows.c.step.not_in([step.value for step in keep]))
        return self._cancel(whose, now)

    def has_step(self, user_id: int, step: Step, statuses: Sequence[ReminderStatus]) -> bool:
        found = self._c.execute(
            select(reminder_rows.c.id)
            .where(
                reminder_rows.c.user_id == user_id,
                reminder_rows.c.step == step.value,
                reminder_rows.c.status.in_([s.value for s in statuses]),
            )
            .limit(1)
        ).first()
        return found is not None

    def cancel_for_session(self, session_id: int, now: datetime) -> int:
        """Cancel every scheduled or claimed reminder of the session; returns how many."""
        return self._cancel(reminder_rows.c.session_id == session_id, now)

    def _cancel(self, whose: ColumnElement[bool], now: datetime) -> int:
        result = self._c.execute(
            update(reminder_rows)
            .where(whose, reminder_rows.c.status.in_(ACTIVE_VALUES))
            .values(status=ReminderStatus.CANCELLED.value, updated_at=now)
        )
        return result.rowcount

    def claim_due(
        self, now: datetime, lease_until: datetime, limit: int, claimer: str | None = None
    ) -> list[DueReminder]:
        """Claim up to `limit` due `scheduled` reminders for dispatcher `claimer` (None: no
        dispatcher, so the claim is left alone until its lease runs out), oldest due first.
        The claim is one conditional UPDATE: rows locked by another replica are skipped on
        PostgreSQL, and SQLite has one writer at a time, so no row is claimed twice. Only
        what sending needs is read back."""
        values = {"now": now, "lease_until": lease_until, "limit": limit, "claimer": claimer}
        return [due for due, _, _ in self._claim(False, values)]

    def take_over(
        self,
        now: datetime,
        lease_until: datetime,
        limit: int,
        claimer: str,
        dead: Sequence[str],
    ) -> list[TakenOver]:
        """Take over up to `limit` reminders left `sending` by dispatchers that are gone: those
        claimed by one of `dead` or by a dispatcher whose row is gone, those claimed with no
        dispatcher id whose lease ran out, and the claimer's own whose lease ran out (the
        caller knows which of those it still holds). Returns each with the time of the claim
        whose send has no outcome and the provider SID of its last recorded send, if any."""
        values = {
            "now": now,
            "lease_until": lease_until,
            "limit": limit,
            "claimer": claimer,
            "dead": list(dead) or ["-"],  # never an id: an empty IN is not portable
        }
        return [
            TakenOver(due, claimed_at, provider_sid)
            for due, claimed_at, provider_sid in self._claim(True, values)
        ]

    def _claim(
        self, take_over: bool, values: dict[str, Any]
    ) -> list[tuple[DueReminder, datetime | None, str | None]]:
        claim, recipients = _claim_statements(self._c.dialect.name, take_over)
        rows: Sequence[tuple[Any, ...]] = self._c.execute(claim, values).all()
        if recipients is not None and rows:
            # SQLite's RETURNING sees only the updated table: the rest in a second query.
            found = self._c.execute(recipients, {"ids": [row[0] for row in rows]}).all()
            more = {row[0]: row[1:] for row in found}
            rows = [(*row, *more[row[0]]) for row in rows]
        result = [
            (
                DueReminder(
                    id=reminder_id,
                    user_id=user_id,
                    step=Step(step),
                    send_at=send_at,
                    expires_at=expires_at,
                    attempts=attempts,
                    phone=PhoneNumber(phone) if phone else None,
                    user_status=UserStatus(user_status),
                    timezone=timezone,
                    session_starts_at=session_starts_at,
                ),
                claimed_at,
                provider_sid,
            )
            for (
                reminder_id,
                user_id,
                step,
                send_at,
                expires_at,
                attempts,
                claimed_at,
                provider_sid,
                phone,
                user_status,
                timezone,
                session_starts_at,
            ) in rows
        ]
        result.sort(key=_by_send_at)  # RETURNING keeps no order
        return result

    def finish(
        self,
        outcomes: Sequence[SendOutcome],
        now: datetime,
        sent: Sequence[OutboundMessage] = (),
        *,
        claimer: str | None = None,
    ) -> None:
        """Record what became of claimed reminders. Only rows still in `sending` change, so a
        reminder cancelled mid-send stays cancelled; with `claimer`, only rows that dispatcher
        still holds, so a claim taken over meanwhile is left to its new holder. `sent` are the
        messages those sends were, recorded whatever became of their reminder (one whose
        provider SID is recorded already is left as it is). On PostgreSQL it is all one
        statement."""
        sending = f"reminders.status = '{ReminderStatus.SENDING.value}'"
        if claimer is not None:
            if not _CLAIMER.fullmatch(claimer):
                raise ValueError("a dispatcher id is 1 to 32 letters and digits")
            sending += f" AND reminders.claimed_by = '{claimer}'"
        fixed = {"updated_at": now}
        changes: list[InsertRows | UpdateRows] = [
            UpdateRows(reminder_rows, "id", rows, fixed, sending)
            for rows in _outcome_rows(outcomes)
        ]
        # A message recorded already (a rescue that found a send recorded meanwhile) must not
        # fail the outcomes of the whole batch: it stays as it is.
        fixed_times = {"created_at": now, "updated_at": now}
        changes.append(InsertRows(messages, _message_rows(sent), fixed_times, "provider_sid"))
        write(self._c, changes)

    def sent_as(self, reminder_id: int, provider_sid: str) -> Reminder | None:
        """The reminder whose latest send has this provider SID (the earlier sends of a
        reminder sent again no longer match). Found by its id: the SID has no index, which
        would cost every send an index entry."""
        row = self._c.execute(
            select(reminder_rows).where(
                reminder_rows.c.id == reminder_id, reminder_rows.c.provider_sid == provider_sid
            )
        ).first()
        return reminder_from(row) if row else None

    def set_delivery(
        self,
        reminder_id: int,
        status: ReminderStatus,
        error_code: int | None,
        now: datetime,
        *,
        only_from: Sequence[ReminderStatus] | None = None,
    ) -> bool:
        """Record what the provider said about a sent reminder. With `only_from`, only a row
        in one of those statuses changes (status callbacks race each other). True when the
        row changed."""
        query = update(reminder_rows).where(reminder_rows.c.id == reminder_id)
        if only_from is not None:
            query = query.where(reminder_rows.c.status.in_([s.value for s in only_from]))
        result = self._c.execute(
            query.values(status=status.value, error_code=error_code, updated_at=now)
        )
        return result.rowcount == 1

    def reschedule_sent(
        self, reminder_id: int, due_at: datetime, error_code: int | None, now: datetime
    ) -> bool:
        """A `sent` reminder the provider could not deliver goes back to `scheduled` at
        `due_at`, for another try. True when the row changed (it was still `sent`)."""
        result = self._c.execute(
            update(reminder_rows)
            .where(
                reminder_rows.c.id == reminder_id,
                reminder_rows.c.status == ReminderStatus.SENT.value,
            )
            .values(
                status=ReminderStatus.SCHEDULED.value,
                due_at=due_at,
                error_code=error_code,
                updated_at=now,
            )
        )
        return result.rowcount == 1

    def backlog(self, now: datetime) -> int:
        return int(
            self._c.execute(
                select(func.count())
                .select_from(reminder_rows)
                .where(IS_ACTIVE, reminder_rows.c.due_at <= now)
            ).scalar_one()
        )

    def count_by_status(self) -> dict[ReminderStatus, int]:
        rows = self._c.execute(
            select(reminder_rows.c.status, func.count()).group_by(reminder_rows.c.status)
        )
        return {ReminderStatus(status): count for status, count in rows}


def _outcome_rows(outcomes: Sequence[SendOutcome]) -> list[list[dict[str, Any]]]:
    """The outcomes as rows of the batch update, one list per set of columns they change:
    the status alone (cancelled, expired); with `due_at` (waiting, released); an attempt
    refused (with `due_at` when retried); a message taken. A statement per list, so a
    column an outcome does not set keeps its value."""
    settled: list[dict[str, Any]] = []
    moved: list[dict[str, Any]] = []
    refused: list[dict[str, Any]] = []
    retried: list[dict[str, Any]] = []
    taken: list[dict[str, Any]] = []
    # Once per SMS, so lean: a status is a str already (JSON writes its value as it is).
    for o in outcomes:
        if o.provider_sid is not None:
            taken.append(
                {
                    "id": o.reminder_id,
                    "status": o.status,
                    "provider_sid": o.provider_sid,
                    "sent_at": o.sent_at,
                    "attempts": o.attempts,
                    "error_code": None,
                }
            )
        elif o.attempts is not None:
            if o.due_at is None:
                refused.append(
                    {
                        "id": o.reminder_id,
                        "status": o.status,
                        "attempts": o.attempts,
                        "error_code": o.error_code,
                    }
                )
            else:
                retried.append(
                    {
                        "id": o.reminder_id,
                        "status": o.status,
                        "due_at": o.due_at,
                        "attempts": o.attempts,
                        "error_code": o.error_code,
                    }
                )
        elif o.due_at is not None:
            moved.append({"id": o.reminder_id, "status": o.status, "due_at": o.due_at})
        else:
            settled.append({"id": o.reminder_id, "status": o.status})
    return [settled, moved, refused, retried, taken]


def _message_rows(sent: Sequence[OutboundMessage]) -> list[dict[str, object]]:
    return [outbound_values(m) for m in sent]
