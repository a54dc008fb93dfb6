"""Messages in and out, idempotent by provider SID."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, func, select, update

from reminders.adapters.db import messages
from reminders.adapters.repository.rows import (
    inbound_values,
    message_from,
    outbound_values,
    upsert,
)
from reminders.domain.conversation import Keyword
from reminders.domain.model import Direction, InboundMessage, MessageRecord, OutboundMessage


class MessageRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def add_inbound(self, message: InboundMessage, now: datetime) -> bool:
        """Record an SMS received; False when its provider SID is recorded already (a retried
        webhook), so that the caller applies nothing twice."""
        return self._add(inbound_values(message), now)

    def add_outbound(self, message: OutboundMessage, now: datetime) -> None:
        """Record an SMS sent or replied (a reply has no SID: it never conflicts)."""
        self._add(outbound_values(message), now)

    def _add(self, values: dict[str, object], now: datetime) -> bool:
        statement = (
            upsert(self._c)(messages)
            .values(created_at=now, updated_at=now, **values)
            .on_conflict_do_nothing(index_elements=[messages.c.provider_sid])
            .returning(messages.c.id)
        )
        return self._c.execute(statement).first() is not None

    def by_provider_sid(self, provider_sid: str) -> MessageRecord | None:
        row = self._c.execute(
            select(messages).where(messages.c.provider_sid == provider_sid)
        ).first()
        return message_from(row) if row else None

    def set_status(
        self,
        provider_sid: str,
        status: str,
        error_code: int | None,
        now: datetime,
        *,
        only_from: Sequence[str] | None = None,
    ) -> bool:
        """Set a message's provider status. With `only_from`, only a message in one of those
        statuses changes, so out-of-order callbacks never move it backwards. True when a row
        changed."""
        query = update(messages).where(messages.c.provider_sid == provider_sid)
        if only_from is not None:
            query = query.where(messages.c.status.in_(list(only_from)))
        result = self._c.execute(query.values(status=status, error_code=error_code, updated_at=now))
        return result.rowcount == 1

    def for_user(self, user_id: int, limit: int) -> list[MessageRecord]:
        """The user's messages, newest first."""
        rows = self._c.execute(
            select(messages)
            .where(messages.c.user_id == user_id)
            .order_by(messages.c.created_at.desc(), messages.c.id.desc())
            .limit(limit)
        )
        return [message_from(r) for r in rows]

    def opted_out_since(self, user_id: int, since: datetime) -> bool:
        """True when the user sent a message read as STOP that was received after `since`."""
        stop = self._c.execute(
            select(messages.c.id)
            .where(
                messages.c.user_id == user_id,
                messages.c.direction == Direction.IN.value,
                messages.c.keyword == Keyword.STOP.value,
                messages.c.created_at > since,
            )
            .limit(1)
        )
        return stop.first() is not None

    def erase_bodies(self, user_id: int, now: datetime) -> None:
        self._c.execute(
            update(messages).where(messages.c.user_id == user_id).values(body=None, updated_at=now)
        )

    def count_by_status(self) -> dict[tuple[Direction, str], int]:
        rows = self._c.execute(
            select(messages.c.direction, messages.c.status, func.count()).group_by(
                messages.c.direction, messages.c.status
            )
        )
        return {(Direction(r[0]), r[1]): r[2] for r in rows}
