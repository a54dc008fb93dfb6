"""Bulk enrolment plans exactly what one-at-a-time enrolment plans."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from sqlalchemy import select

from reminders.adapters.db import reminder_rows, sessions, users
from reminders.bootstrap import Container
from reminders.domain.model import PhoneNumber
from reminders.services import routine
from reminders.services.bulk import Enrollment, enroll_many
from tests.routine_driver import enroll

PEOPLE = [
    ("+14155550101", "America/New_York", "20:00", True, None),
    ("+61291234567", "Australia/Sydney", "09:30", True, date(2026, 4, 5)),
    ("+442071838750", "Europe/London", "12:00", False, None),
]


def snapshot(container: Container) -> list[tuple[object, ...]]:
    with container.engine.connect() as connection:
        rows = connection.execute(
            select(
                users.c.phone,
                users.c.status,
                sessions.c.local_date,
                sessions.c.starts_at,
                reminder_rows.c.step,
                reminder_rows.c.send_at,
                reminder_rows.c.expires_at,
                reminder_rows.c.status,
            )
            .join(reminder_rows, reminder_rows.c.user_id == users.c.id)
            .outerjoin(sessions, sessions.c.id == reminder_rows.c.session_id)
            .order_by(users.c.phone, reminder_rows.c.send_at)
        )
        return [tuple(r) for r in rows]


def test_bulk_enrolment_plans_what_single_enrolment_plans(
    make_container: Callable[..., Container], tmp_path: object
) -> None:
    single = make_container()
    for phone, zone, wall, confirmed, first in PEOPLE:
        enroll(
            single,
            phone=phone,
            timezone=zone,
            session_time=wall,
            confirmed=confirmed,
            first_session_date=first,
        )
    expected = snapshot(single)
    with single.uow() as uow:  # start again on the same file
        for table in (reminder_rows, sessions, users):
            uow.reminders._c.execute(table.delete())  # noqa: SLF001
        uow.commit()

    entries = [
        Enrollment(
            PhoneNumber(phone),
            routine.make_schedule(single.policy, timezone=zone, session_time=wall, cadence_days=14),
            confirmed,
            first,
        )
        for phone, zone, wall, confirmed, first in PEOPLE
    ]
    with single.uow() as uow:
        result = enroll_many(uow, single.policy, single.clock.now(), entries + entries[:1])
        uow.commit()

    assert (result.enrolled, result.already_enrolled) == (3, 1)
    assert snapshot(single) == expected
