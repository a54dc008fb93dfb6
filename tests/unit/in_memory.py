"""What the use-case tests on the in-memory unit of work share: the default policy, the number
they enrol, and an enrolment on the usual schedule (New York, 20:00, every 14 days)."""

from __future__ import annotations

from datetime import date

from reminders.domain.model import PhoneNumber, User
from reminders.services import routine
from reminders.services.policy import Policy
from tests.fakes import FakeClock, InMemoryUnitOfWorkFactory

POLICY = Policy()
PHONE = PhoneNumber("+14155550123")


def enroll(
    factory: InMemoryUnitOfWorkFactory,
    clock: FakeClock,
    *,
    confirmed: bool = True,
    first_session_date: date | None = None,
) -> User:
    schedule = routine.make_schedule(
        POLICY, timezone="America/New_York", session_time="20:00", cadence_days=14
    )
    with factory() as uow:
        user = routine.enroll(
            uow,
            POLICY,
            clock.now(),
            phone=PHONE,
            schedule=schedule,
            first_session_date=first_session_date,
            consent_confirmed=confirmed,
        )
        uow.commit()
    return user
