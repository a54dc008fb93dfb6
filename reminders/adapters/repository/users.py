"""Users and the per-number auto-reply log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from reminders.adapters.db import reply_log, users
from reminders.adapters.repository.rows import (
    user_from,
)
from reminders.domain.errors import Conflict
from reminders.domain.model import (
    PhoneNumber,
    Schedule,
    User,
    UserStatus,
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
        return user_from(row) if row else None

    def by_phone(self, phone: PhoneNumber) -> User | None:
        row = self._c.execute(select(users).where(users.c.phone == phone.e164)).first()
        return user_from(row) if row else None

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

    def page(self, status: UserStatus | None, after_id: int, limit: int) -> list[User]:
        query = select(users).where(users.c.id > after_id, users.c.erased_at.is_(None))
        if status is not None:
            query = query.where(users.c.status == status.value)
        rows = self._c.execute(query.order_by(users.c.id).limit(limit))
        return [user_from(r) for r in rows]

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
