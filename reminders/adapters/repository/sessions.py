"""Sessions: planned, moved, ended."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import Connection, func, insert, select, update

from reminders.adapters.db import reminder_rows, sessions
from reminders.adapters.repository.rows import session_from
from reminders.domain.model import (
    ENDED_SESSION_STATUSES,
    CheckIn,
    PlannedSession,
    ReminderStatus,
    Session,
    SessionKind,
    SessionStatus,
    Step,
)

_ENDED = [status.value for status in ENDED_SESSION_STATUSES]
_SENT = (ReminderStatus.SENT.value, ReminderStatus.DELIVERED.value)


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
        kind: SessionKind = SessionKind.PLANNED,
    ) -> Session:
        """Record a session; one with another status than planned ended `now`. Returns it as
        stored, read back in the same statement."""
        row = self._c.execute(
            insert(sessions)
            .values(
                user_id=user_id,
                local_date=planned.local_date,
                starts_at=planned.starts_at,
                status=status.value,
                kind=kind.value,
                later_count=0,
                outcome_at=None if status is SessionStatus.PLANNED else now,
            )
            .returning(*sessions.c)
        ).one()
        return session_from(row)

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
                    "kind": SessionKind.PLANNED.value,
                    "later_count": 0,
                }
                for user_id, session in planned
            ],
        )
        return [row.id for row in rows]

    def get(self, session_id: int) -> Session | None:
        row = self._c.execute(select(sessions).where(sessions.c.id == session_id)).first()
        return session_from(row) if row else None

    def upcoming(self, user_id: int) -> Session | None:
        """The user's planned (not yet ended) session, if any."""
        row = self._c.execute(
            select(sessions)
            .where(sessions.c.user_id == user_id, sessions.c.status == SessionStatus.PLANNED.value)
            .order_by(sessions.c.starts_at)
            .limit(1)
        ).first()
        return session_from(row) if row else None

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
        return {row.user_id: session_from(row) for row in rows}

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
        values: dict[str, object] = {"status": status.value, "outcome_at": now}
        if on_date is not None:
            values["local_date"] = on_date
        result = self._c.execute(
            update(sessions)
            .where(sessions.c.id == session_id, sessions.c.status == SessionStatus.PLANNED.value)
            .values(**values)
        )
        return result.rowcount == 1

    def move(self, session_id: int, planned: PlannedSession, later_count: int) -> Session:
        """Move a session to the date and start of `planned`; returns it as moved, read back
        in the same statement."""
        row = self._c.execute(
            update(sessions)
            .where(sessions.c.id == session_id)
            .values(
                local_date=planned.local_date, starts_at=planned.starts_at, later_count=later_count
            )
            .returning(*sessions.c)
        ).one()
        return session_from(row)

    def open_until(self, cutoff: datetime, limit: int) -> list[Session]:
        """Planned sessions that started at or before `cutoff` (for R9's unconfirmed)."""
        rows = self._c.execute(
            select(sessions)
            .where(sessions.c.status == SessionStatus.PLANNED.value, sessions.c.starts_at <= cutoff)
            .order_by(sessions.c.starts_at)
            .limit(limit)
        )
        return [session_from(r) for r in rows]

    def ended_for(self, user_id: int, limit: int) -> list[Session]:
        """The user's ended sessions (every status but planned), newest first."""
        rows = self._c.execute(
            select(sessions)
            .where(sessions.c.user_id == user_id, sessions.c.status != SessionStatus.PLANNED.value)
            .order_by(sessions.c.starts_at.desc())
            .limit(limit)
        )
        return [session_from(r) for r in rows]

    def count_by_status(self) -> dict[SessionStatus, int]:
        rows = self._c.execute(select(sessions.c.status, func.count()).group_by(sessions.c.status))
        return {SessionStatus(r[0]): r[1] for r in rows}

    def outcomes(self, user_id: int) -> list[SessionStatus]:
        """The statuses of the user's sessions ended done, skipped or unconfirmed, newest
        first (by start)."""
        rows = self._c.execute(
            select(sessions.c.status)
            .where(sessions.c.user_id == user_id, sessions.c.status.in_(_ENDED))
            .order_by(sessions.c.starts_at.desc(), sessions.c.id.desc())
        )
        return [SessionStatus(r[0]) for r in rows]

    def set_checkin(self, session_id: int, checkin: CheckIn) -> None:
        self._c.execute(
            update(sessions).where(sessions.c.id == session_id).values(checkin=checkin.value)
        )

    def awaiting_checkin(self, user_id: int, sent_since: datetime) -> Session | None:
        """The user's latest session whose check-in went out at or after `sent_since` and
        is not answered yet."""
        row = self._c.execute(
            select(sessions)
            .join(reminder_rows, reminder_rows.c.session_id == sessions.c.id)
            .where(
                sessions.c.user_id == user_id,
                sessions.c.checkin == CheckIn.ASKED.value,
                reminder_rows.c.step == Step.SKIN_CHECK.value,
                reminder_rows.c.status.in_(_SENT),
                reminder_rows.c.sent_at >= sent_since,
            )
            .order_by(reminder_rows.c.sent_at.desc())
            .limit(1)
        ).first()
        return session_from(row) if row else None

    def count_checkins(self) -> dict[CheckIn, int]:
        """Check-ins answered ok or with a reaction, and (as `asked`) those sent and not
        answered."""
        answered = self._c.execute(
            select(sessions.c.checkin, func.count())
            .where(sessions.c.checkin.in_([CheckIn.OK.value, CheckIn.REACTION.value]))
            .group_by(sessions.c.checkin)
        )
        counts = {CheckIn(r[0]): r[1] for r in answered}
        unanswered = self._c.execute(
            select(func.count())
            .select_from(sessions)
            .join(reminder_rows, reminder_rows.c.session_id == sessions.c.id)
            .where(
                sessions.c.checkin == CheckIn.ASKED.value,
                reminder_rows.c.step == Step.SKIN_CHECK.value,
                reminder_rows.c.status.in_(_SENT),
            )
        ).scalar_one()
        counts[CheckIn.ASKED] = unanswered
        return counts
