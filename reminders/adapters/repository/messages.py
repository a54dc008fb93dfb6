"""Messages in and out, idempotent by provider SID."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, func, select, update

from reminders.adapters.db import messages
from reminders.adapters.repository.rows import upsert


class MessageRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def add(self, now: datetime, **values: Any) -> bool:
        """Insert a message; False when its provider SID is already recorded (a retried
        webhook), so the caller applies nothing twice."""
        statement = (
            upsert(self._c)(messages)
            .values(created_at=now, updated_at=now, **values)
            .on_conflict_do_nothing(index_elements=[messages.c.provider_sid])
            .returning(messages.c.id)
        )
        return self._c.execute(statement).first() is not None

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
