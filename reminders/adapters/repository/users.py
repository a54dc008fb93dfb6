"""Users and the per-number auto-reply log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

from sqlalchemy import Connection, case, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from reminders.adapters.db import reply_log, users
from reminders.adapters.repository.rows import schedule_values, upsert, user_from
from reminders.domain.errors import Conflict
from reminders.domain.model import (
    PausedReason,
    PhoneNumber,
    Schedule,
    User,
    UserStatus,
)
from reminders.domain.reply_limit import ReplyWindow


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
                        **schedule_values(schedule),
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
                    **schedule_values(schedule),
                    "created_at": now,
                    "updated_at": now,
                }
                for phone, status, schedule in entries
            ],
        )
        return [row.id for row in rows]

    def enrolled_phones(self, phones: Sequence[PhoneNumber]) -> set[PhoneNumber]:
        numbers = [phone.e164 for phone in phones]
        found = self._c.execute(select(users.c.phone).where(users.c.phone.in_(numbers)))
        return {PhoneNumber(row.phone) for row in found}

    def get(self, user_id: int) -> User | None:
        row = self._c.execute(
            select(users).where(users.c.id == user_id, users.c.erased_at.is_(None))
        ).first()
        return user_from(row) if row else None

    def lock(self, user_id: int) -> User | None:
        """The user, as committed now, with their row locked until the end of the unit of
        work. Every change to a user's data locks the user first, then touches sessions,
        then reminders: one order, so that concurrent changes wait instead of deadlocking.

        FOR NO KEY UPDATE, not FOR UPDATE: inserting a message that refers to the user takes
        a key-share lock, and the dispatcher must not wait for that."""
        row = self._c.execute(
            select(users)
            .where(users.c.id == user_id, users.c.erased_at.is_(None))
            .with_for_update(key_share=True)
        ).first()
        return user_from(row) if row else None

    def by_phone(self, phone: PhoneNumber, *, lock: bool = False) -> User | None:
        """The user with this number; with `lock`, locked as by `lock()`."""
        query = select(users).where(users.c.phone == phone.e164)
        if lock:
            query = query.with_for_update(key_share=True)
        row = self._c.execute(query).first()
        return user_from(row) if row else None

    def set_status(
        self,
        user_id: int,
        status: UserStatus,
        now: datetime,
        *,
        paused_reason: PausedReason | None = None,
    ) -> None:
        reason = paused_reason.value if paused_reason and status is UserStatus.PAUSED else None
        self._set(user_id, now, {"status": status.value, "paused_reason": reason})

    def set_safety_notice(self, user_ids: Sequence[int], at: datetime) -> None:
        if user_ids:
            self._c.execute(
                update(users)
                .where(users.c.id.in_(user_ids))
                .values(
                    safety_notice_at=at,
                    checkin_due=case(
                        (users.c.safety_notice_at.is_(None), True), else_=users.c.checkin_due
                    ),
                    updated_at=at,
                )
            )

    def set_checkin_due(self, user_id: int, due: bool, now: datetime) -> None:
        self._set(user_id, now, {"checkin_due": due})

    def set_done_asked(self, user_id: int, at: datetime | None) -> None:
        self._c.execute(update(users).where(users.c.id == user_id).values(done_asked_at=at))

    def set_schedule(self, user_id: int, schedule: Schedule, now: datetime) -> None:
        self._set(user_id, now, schedule_values(schedule))

    def set_last_session_date(self, user_id: int, day: date, now: datetime) -> None:
        self._set(user_id, now, {"last_session_date": day})

    def _set(self, user_id: int, now: datetime, values: dict[str, object]) -> None:
        self._c.execute(update(users).where(users.c.id == user_id).values(updated_at=now, **values))

    def page(self, status: UserStatus | None, after_id: int, limit: int) -> list[User]:
        query = select(users).where(users.c.id > after_id, users.c.erased_at.is_(None))
        if status is not None:
            query = query.where(users.c.status == status.value)
        rows = self._c.execute(query.order_by(users.c.id).limit(limit))
        return [user_from(r) for r in rows]

    def count_by_status(self) -> dict[UserStatus, int]:
        rows = self._c.execute(
            select(users.c.status, func.count())
            .where(users.c.erased_at.is_(None))
            .group_by(users.c.status)
        )
        return {UserStatus(r[0]): r[1] for r in rows}

    def count_paused_by_reason(self) -> dict[PausedReason, int]:
        rows = self._c.execute(
            select(users.c.paused_reason, func.count())
            .where(
                users.c.erased_at.is_(None),
                users.c.status == UserStatus.PAUSED.value,
                users.c.paused_reason.is_not(None),
            )
            .group_by(users.c.paused_reason)
        )
        return {PausedReason(r[0]): r[1] for r in rows}

    def erase(self, user_id: int, now: datetime) -> None:
        self._c.execute(
            update(users)
            .where(users.c.id == user_id)
            .values(
                phone=None,
                erased_at=now,
                updated_at=now,
                status=UserStatus.OPTED_OUT.value,
                paused_reason=None,
                done_asked_at=None,
            )
        )


class ReplyLogRepository:
    """The reply limiter's window per number (read and written under the user's lock), and
    the "not enrolled" answer once a day (one upsert statement)."""

    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def window(self, phone: PhoneNumber) -> ReplyWindow | None:
        row = self._c.execute(select(reply_log).where(reply_log.c.phone == phone.e164)).first()
        if row is None:
            return None
        return ReplyWindow(
            started_at=row.window_started_at,
            replies=row.replies_in_window,
            text_key=row.text_key,
            repeats=row.text_repeats,
            muted_until=row.muted_until,
        )

    def save_window(self, phone: PhoneNumber, window: ReplyWindow) -> None:
        values = {
            "window_started_at": window.started_at,
            "replies_in_window": window.replies,
            "text_key": window.text_key,
            "text_repeats": window.repeats,
            "muted_until": window.muted_until,
        }
        statement = upsert(self._c)(reply_log).values(phone=phone.e164, **values)
        statement = statement.on_conflict_do_update(index_elements=[reply_log.c.phone], set_=values)
        self._c.execute(statement)

    def claim_not_enrolled(self, phone: PhoneNumber, now: datetime, every: timedelta) -> bool:
        """True, and `now` recorded, when `phone` was not told it is not enrolled in the last
        `every`; False otherwise."""
        statement = upsert(self._c)(reply_log).values(
            phone=phone.e164, window_started_at=now, replies_in_window=0, not_enrolled_at=now
        )
        statement = statement.on_conflict_do_update(
            index_elements=[reply_log.c.phone],
            set_={"not_enrolled_at": statement.excluded.not_enrolled_at},
            where=or_(
                reply_log.c.not_enrolled_at.is_(None),
                reply_log.c.not_enrolled_at <= now - every,
            ),
        ).returning(reply_log.c.phone)
        return self._c.execute(statement).first() is not None

    def forget(self, phone: PhoneNumber) -> None:
        self._c.execute(delete(reply_log).where(reply_log.c.phone == phone.e164))
