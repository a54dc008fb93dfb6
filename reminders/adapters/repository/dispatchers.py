"""Dispatcher liveness rows: each running dispatcher beats its own."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, insert, select, update

from reminders.adapters.db import dispatchers
from reminders.domain.model import DispatcherBeat


class DispatcherRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def register(self, dispatcher_id: str, now: datetime) -> None:
        self._c.execute(
            insert(dispatchers).values(id=dispatcher_id, beats=0, started_at=now, beat_at=now)
        )

    def beat(self, dispatcher_id: str, now: datetime) -> bool:
        """Count one beat of the dispatcher. False when its row is gone: another dispatcher
        judged it dead (or it never registered)."""
        changed = self._c.execute(
            update(dispatchers)
            .where(dispatchers.c.id == dispatcher_id)
            .values(beats=dispatchers.c.beats + 1, beat_at=now)
        ).rowcount
        return bool(changed == 1)

    def all(self) -> list[DispatcherBeat]:
        rows = self._c.execute(select(dispatchers.c.id, dispatchers.c.beats, dispatchers.c.beat_at))
        return [DispatcherBeat(row.id, row.beats, row.beat_at) for row in rows]

    def remove(self, dispatcher_id: str, beats: int | None = None) -> bool:
        """Remove a dispatcher's row; with `beats`, only while its count is still that (so of
        two dispatchers that judged it dead, one removes it). True when this call did."""
        query = delete(dispatchers).where(dispatchers.c.id == dispatcher_id)
        if beats is not None:
            query = query.where(dispatchers.c.beats == beats)
        return self._c.execute(query).rowcount == 1
