"""SQL for the unit of work: every query the services need, each served by an index."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, delete, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from reminders.adapters.db import ACTIVE, messages, reminder_rows, reply_log, sessions, users
from reminders.domain.errors import Conflict
from reminders.domain.model import (
    ACTIVE_REMINDER_STATUSES,
    DueReminder,
    PhoneNumber,
    PlannedReminder,
    PlannedSession,
    Reminder,
    ReminderStatus,
    Schedule,
    Session,
    SessionStatus,
    Step,
    User,
    UserStatus,
    parse_wall_time,
)

_ACTIVE = [s.value for s in ACTIVE_REMINDER_STATUSES]
# The partial due index is defined on this literal predicate; a query must repeat it
# literally (not with bound parameters) for SQLite and PostgreSQL to see it applies.
_IS_ACTIVE = text(ACTIVE)


def _user(row: Row[Any]) -> User:
    return User(
        id=row.id,
        phone=PhoneNumber(row.phone) if row.phone else None,
        status=UserStatus(row.status),
        schedule=Schedule(row.timezone, parse_wall_time(row.session_time), row.cadence_days),
        last_session_date=row.last_session_date,
        created_at=row.created_at,
    )


def _session(row: Row[Any]) -> Session:
    return Session(
        id=row.id,
        user_id=row.user_id,
        local_date=row.local_date,
        starts_at=row.starts_at,
        status=SessionStatus(row.status),
        kind=row.kind,
        later_count=row.later_count,
        outcome_at=row.outcome_at,
    )


def _reminder(row: Row[Any]) -> Reminder:
    return Reminder(
        id=row.id,
        user_id=row.user_id,
        session_id=row.session_id,
        step=Step(row.step),
        send_at=row.send_at,
        expires_at=row.expires_at,
        due_at=row.due_at,
        status=ReminderStatus(row.status),
        attempts=row.attempts,
        error_code=row.error_code,
        sent_at=row.sent_at,
    )


class UserRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def add(
        self, phone: PhoneNumber, status: UserStatus, schedule: Schedule, now: datetime
    ) -> User:
        try:
            with self._c.begin_nested():
                user_id = self._c.execute(
                    insert(users)
                    .values(
                        phone=phone.e164,
                        status=status.value,
                        timezone=schedule.timezone,
                        session_time=schedule.session_time.strftime("%H:%M"),
                        cadence_days=schedule.cadence_days,
                        created_at=now,
                        updated_at=now,
                    )
                    .returning(users.c.id)
                ).scalar_one()
        except IntegrityError:
            raise Conflict("phone is already enrolled") from None
        return User(user_id, phone, status, schedule, None, now)

    def add_many(
        self, entries: Sequence[tuple[PhoneNumber, UserStatus, Schedule]], now: datetime
    ) -> list[int]:
        """Insert many users in one statement; ids in the order given. The caller has left
        out numbers that are enrolled already."""
        if not entries:
            return []
        rows = self._c.execute(
            insert(users).returning(users.c.id, sort_by_parameter_order=True),
            [
                {
                    "phone": phone.e164,
                    "status": status.value,
                    "timezone": schedule.timezone,
                    "session_time": schedule.session_time.strftime("%H:%M"),
                    "cadence_days": schedule.cadence_days,
                    "created_at": now,
                    "updated_at": now,
                }
                for phone, status, schedule in entries
            ],
        )
        return [row.id for row in rows]

    def enrolled_phones(self, phones: Sequence[str]) -> set[str]:
        found = self._c.execute(select(users.c.phone).where(users.c.phone.in_(phones)))
        return {row.phone for row in found}

    def get(self, user_id: int) -> User | None:
        row = self._c.execute(
            select(users).where(users.c.id == user_id, users.c.erased_at.is_(None))
        ).first()
        return _user(row) if row else None

    def by_phone(self, phone: PhoneNumber) -> User | None:
        row = self._c.execute(select(users).where(users.c.phone == phone.e164)).first()
        return _user(row) if row else None

    def update(self, user_id: int, now: datetime, **values: Any) -> None:
        if "schedule" in values:
            schedule: Schedule = values.pop("schedule")
            values.update(
                timezone=schedule.timezone,
                session_time=schedule.session_time.strftime("%H:%M"),
                cadence_days=schedule.cadence_days,
            )
        if "status" in values:
            values["status"] = UserStatus(values["status"]).value
        self._c.execute(update(users).where(users.c.id == user_id).values(updated_at=now, **values))

    def set_status_if(
        self, user_id: int, new: UserStatus, allowed: Iterable[UserStatus], now: datetime
    ) -> bool:
        """Conditional status change; True when this call made it."""
        result = self._c.execute(
            update(users)
            .where(users.c.id == user_id, users.c.status.in_([s.value for s in allowed]))
            .values(status=new.value, updated_at=now)
        )
        return result.rowcount == 1

    def page(self, status: UserStatus | None, after_id: int, limit: int) -> list[User]:
        query = select(users).where(users.c.id > after_id, users.c.erased_at.is_(None))
        if status is not None:
            query = query.where(users.c.status == status.value)
        rows = self._c.execute(query.order_by(users.c.id).limit(limit))
        return [_user(r) for r in rows]

    def count_by_status(self) -> dict[str, int]:
        rows = self._c.execute(
            select(users.c.status, func.count())
            .where(users.c.erased_at.is_(None))
            .group_by(users.c.status)
        )
        return {r[0]: r[1] for r in rows}

    def erase(self, user_id: int, now: datetime) -> None:
        self._c.execute(
            update(users)
            .where(users.c.id == user_id)
            .values(phone=None, erased_at=now, updated_at=now, status=UserStatus.OPTED_OUT.value)
        )


class SessionRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def add(
        self,
        user_id: int,
        planned: PlannedSession,
        now: datetime,
        *,
        status: SessionStatus = SessionStatus.PLANNED,
        kind: str = "planned",
    ) -> int:
        session_id: int = self._c.execute(
            insert(sessions)
            .values(
                user_id=user_id,
                local_date=planned.local_date,
                starts_at=planned.starts_at,
                status=status.value,
                kind=kind,
                later_count=0,
                outcome_at=None if status is SessionStatus.PLANNED else now,
            )
            .returning(sessions.c.id)
        ).scalar_one()
        return session_id

    def add_many(self, planned: Sequence[tuple[int, PlannedSession]], now: datetime) -> list[int]:
        """Insert many planned sessions (user id, session); ids in the order given."""
        if not planned:
            return []
        rows = self._c.execute(
            insert(sessions).returning(sessions.c.id, sort_by_parameter_order=True),
            [
                {
                    "user_id": user_id,
                    "local_date": session.local_date,
                    "starts_at": session.starts_at,
                    "status": SessionStatus.PLANNED.value,
                    "kind": "planned",
                    "later_count": 0,
                }
                for user_id, session in planned
            ],
        )
        return [row.id for row in rows]

    def get(self, session_id: int) -> Session | None:
        row = self._c.execute(select(sessions).where(sessions.c.id == session_id)).first()
        return _session(row) if row else None

    def upcoming(self, user_id: int) -> Session | None:
        """The user's planned (not yet ended) session, if any."""
        row = self._c.execute(
            select(sessions)
            .where(sessions.c.user_id == user_id, sessions.c.status == SessionStatus.PLANNED.value)
            .order_by(sessions.c.starts_at)
            .limit(1)
        ).first()
        return _session(row) if row else None

    def upcoming_for(self, user_ids: Sequence[int]) -> dict[int, Session]:
        """The planned session of each of these users that has one, in one query."""
        if not user_ids:
            return {}
        rows = self._c.execute(
            select(sessions)
            .where(
                sessions.c.user_id.in_(user_ids),
                sessions.c.status == SessionStatus.PLANNED.value,
            )
            .order_by(sessions.c.starts_at.desc())
        )
        # Latest first, so the earliest planned session of each user is the one kept.
        return {row.user_id: _session(row) for row in rows}

    def end(
        self,
        session_id: int,
        status: SessionStatus,
        now: datetime,
        *,
        on_date: date | None = None,
    ) -> bool:
        """Conditional: planned -> `status`, recording the local date it happened on when
        given. True when this call ended it."""
        values: dict[str, Any] = {"status": status.value, "outcome_at": now}
        if on_date is not None:
            values["local_date"] = on_date
        result = self._c.execute(
            update(sessions)
            .where(sessions.c.id == session_id, sessions.c.status == SessionStatus.PLANNED.value)
            .values(**values)
        )
        return result.rowcount == 1

    def move(self, session_id: int, planned: PlannedSession, later_count: int) -> None:
        self._c.execute(
            update(sessions)
            .where(sessions.c.id == session_id)
            .values(
                local_date=planned.local_date, starts_at=planned.starts_at, later_count=later_count
            )
        )

    def open_until(self, cutoff: datetime, limit: int) -> list[Session]:
        """Planned sessions that started at or before `cutoff` (for R9's unconfirmed)."""
        rows = self._c.execute(
            select(sessions)
            .where(sessions.c.status == SessionStatus.PLANNED.value, sessions.c.starts_at <= cutoff)
            .order_by(sessions.c.starts_at)
            .limit(limit)
        )
        return [_session(r) for r in rows]

    def for_user(self, user_id: int, *, planned: bool, limit: int = 100) -> list[Session]:
        query = select(sessions).where(sessions.c.user_id == user_id)
        if planned:
            query = query.where(sessions.c.status == SessionStatus.PLANNED.value)
            query = query.order_by(sessions.c.starts_at)
        else:
            query = query.where(sessions.c.status != SessionStatus.PLANNED.value)
            query = query.order_by(sessions.c.starts_at.desc())
        return [_session(r) for r in self._c.execute(query.limit(limit))]

    def count_by_status(self) -> dict[str, int]:
        rows = self._c.execute(select(sessions.c.status, func.count()).group_by(sessions.c.status))
        return {r[0]: r[1] for r in rows}


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
        return [_reminder(r) for r in rows]

    def cancel(
        self, now: datetime, *, user_id: int | None = None, session_id: int | None = None
    ) -> int:
        """Cancel every scheduled or in-lease reminder of a user or of a session."""
        condition = (
            reminder_rows.c.session_id == session_id
            if session_id is not None
            else reminder_rows.c.user_id == user_id
        )
        result = self._c.execute(
            update(reminder_rows)
            .where(condition, reminder_rows.c.status.in_(_ACTIVE))
            .values(status=ReminderStatus.CANCELLED.value, updated_at=now)
        )
        return result.rowcount

    def claim_due(self, now: datetime, lease_until: datetime, limit: int) -> list[DueReminder]:
        """Claim up to `limit` due reminders: `scheduled` ones whose time has come and `sending`
        ones whose lease ran out (a replica crashed mid-send). The claim is one conditional
        UPDATE: rows locked by another replica are skipped on PostgreSQL, and SQLite has one
        writer at a time, so no row is claimed twice."""
        due = reminder_rows.c.due_at <= now
        candidates = (
            select(reminder_rows.c.id)
            .where(_IS_ACTIVE, due)
            .order_by(reminder_rows.c.due_at)
            .limit(limit)
        )
        if self._c.dialect.name == "postgresql":
            candidates = candidates.with_for_update(skip_locked=True)
        claimed = (
            self._c.execute(
                update(reminder_rows)
                .where(
                    reminder_rows.c.id.in_(candidates.scalar_subquery()),
                    reminder_rows.c.status.in_(_ACTIVE),
                    due,
                )
                .values(
                    status=ReminderStatus.SENDING.value,
                    due_at=lease_until,
                    claims=reminder_rows.c.claims + 1,
                    updated_at=now,
                )
                .returning(reminder_rows.c.id)
            )
            .scalars()
            .all()
        )
        if not claimed:
            return []
        rows = self._c.execute(
            select(
                reminder_rows,
                users.c.phone,
                users.c.status.label("user_status"),
                users.c.timezone,
                users.c.session_time,
                users.c.cadence_days,
                sessions.c.starts_at.label("session_starts_at"),
            )
            .join(users, users.c.id == reminder_rows.c.user_id)
            .outerjoin(sessions, sessions.c.id == reminder_rows.c.session_id)
            .where(reminder_rows.c.id.in_(claimed))
            .order_by(reminder_rows.c.send_at)
        )
        return [
            DueReminder(
                reminder=_reminder(r),
                phone=PhoneNumber(r.phone) if r.phone else None,
                user_status=UserStatus(r.user_status),
                schedule=Schedule(r.timezone, parse_wall_time(r.session_time), r.cadence_days),
                session_starts_at=r.session_starts_at,
            )
            for r in rows
        ]

    def finish(self, outcomes: Sequence[dict[str, Any]], now: datetime) -> None:
        """Record the outcome of claimed reminders; each dict has `id`, `status` and optional
        `due_at`, `attempts`, `provider_sid`, `error_code`, `sent_at`. Only rows still in
        `sending` change, so a reminder cancelled mid-send stays cancelled. Outcomes of the
        same shape go in one executemany."""
        shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for outcome in outcomes:
            keys = tuple(sorted(k for k in outcome if k != "id"))
            shapes.setdefault(keys, []).append(
                {"_id": outcome["id"], **{f"_{k}": outcome[k] for k in keys}}
            )
        for keys, rows in shapes.items():
            statement = (
                update(reminder_rows)
                .where(
                    reminder_rows.c.id == bindparam("_id"),
                    reminder_rows.c.status == ReminderStatus.SENDING.value,
                )
                .values(updated_at=now, **{k: bindparam(f"_{k}") for k in keys})
            )
            self._c.execute(statement, rows)

    def by_provider_sid(self, sid: str) -> Reminder | None:
        row = self._c.execute(
            select(reminder_rows).where(reminder_rows.c.provider_sid == sid)
        ).first()
        return _reminder(row) if row else None

    def set_delivery(
        self,
        reminder_id: int,
        status: ReminderStatus,
        error: int | None,
        now: datetime,
        *,
        only_from: Iterable[ReminderStatus] | None = None,
    ) -> bool:
        """Record what the provider said about a sent reminder. With `only_from`, only a row
        in one of those statuses changes (status callbacks race each other). True when the
        row changed."""
        query = update(reminder_rows).where(reminder_rows.c.id == reminder_id)
        if only_from is not None:
            query = query.where(reminder_rows.c.status.in_([s.value for s in only_from]))
        result = self._c.execute(
            query.values(status=status.value, error_code=error, updated_at=now)
        )
        return result.rowcount == 1

    def reschedule_sent(
        self, reminder_id: int, due_at: datetime, error: int | None, now: datetime
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
                error_code=error,
                updated_at=now,
            )
        )
        return result.rowcount == 1

    def backlog(self, now: datetime) -> int:
        return int(
            self._c.execute(
                select(func.count())
                .select_from(reminder_rows)
                .where(_IS_ACTIVE, reminder_rows.c.due_at <= now)
            ).scalar_one()
        )

    def count_by_status(self) -> dict[str, int]:
        rows = self._c.execute(
            select(reminder_rows.c.status, func.count()).group_by(reminder_rows.c.status)
        )
        return {r[0]: r[1] for r in rows}


class MessageRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def add(self, now: datetime, **values: Any) -> bool:
        """Insert a message; False when its provider SID is already recorded (a retried
        webhook), so the caller applies nothing twice."""
        try:
            with self._c.begin_nested():
                self._c.execute(insert(messages).values(created_at=now, updated_at=now, **values))
        except IntegrityError:
            return False
        return True

    def add_many(self, rows: Sequence[dict[str, Any]], now: datetime) -> None:
        if rows:
            self._c.execute(
                insert(messages), [{"created_at": now, "updated_at": now, **r} for r in rows]
            )

    def by_provider_sid(self, sid: str) -> Row[Any] | None:
        return self._c.execute(select(messages).where(messages.c.provider_sid == sid)).first()

    def set_status(
        self,
        sid: str,
        status: str,
        error_code: int | None,
        now: datetime,
        *,
        only_from: Iterable[str] | None = None,
    ) -> bool:
        """Set a message's provider status. With `only_from`, only a message in one of those
        statuses changes, so out-of-order callbacks never move it backwards. True when a row
        changed."""
        query = update(messages).where(messages.c.provider_sid == sid)
        if only_from is not None:
            query = query.where(messages.c.status.in_(list(only_from)))
        result = self._c.execute(query.values(status=status, error_code=error_code, updated_at=now))
        return result.rowcount == 1

    def for_user(self, user_id: int, limit: int = 200) -> list[Row[Any]]:
        return list(
            self._c.execute(
                select(messages)
                .where(messages.c.user_id == user_id)
                .order_by(messages.c.created_at.desc(), messages.c.id.desc())
                .limit(limit)
            )
        )

    def erase_bodies(self, user_id: int, now: datetime) -> None:
        self._c.execute(
            update(messages).where(messages.c.user_id == user_id).values(body=None, updated_at=now)
        )

    def count_by_status(self) -> dict[str, int]:
        rows = self._c.execute(
            select(messages.c.direction, messages.c.status, func.count()).group_by(
                messages.c.direction, messages.c.status
            )
        )
        return {f"{r[0]}:{r[1]}": r[2] for r in rows}


class ReplyLogRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def get(self, phone: str) -> Row[Any] | None:
        return self._c.execute(select(reply_log).where(reply_log.c.phone == phone)).first()

    def put(self, phone: str, **values: Any) -> None:
        existing = self.get(phone)
        if existing is None:
            self._c.execute(insert(reply_log).values(phone=phone, **values))
        else:
            self._c.execute(update(reply_log).where(reply_log.c.phone == phone).values(**values))

    def forget(self, phone: str) -> None:
        self._c.execute(delete(reply_log).where(reply_log.c.phone == phone))
