"""Drivers for tests of the use cases: enrol, text the service, read a user's sessions."""

from __future__ import annotations

import itertools
from datetime import date

from sqlalchemy import select

from reminders.adapters.db import reminder_rows
from reminders.bootstrap import Container
from reminders.domain.messages import safety_notice_text
from reminders.domain.model import PhoneNumber, Session, Step, User
from reminders.services import routine
from reminders.services.conversation import InboundResult, handle_inbound
from tests.fakes import FakeClock, FakeSmsSender

PHONE = "+14155550123"
_sids = itertools.count(1)


def enroll(
    container: Container,
    *,
    phone: str = PHONE,
    timezone: str = "America/New_York",
    session_time: str = "20:00",
    cadence_days: int = 14,
    confirmed: bool = True,
    first_session_date: date | None = None,
) -> User:
    schedule = routine.make_schedule(
        container.policy, timezone=timezone, session_time=session_time, cadence_days=cadence_days
    )
    with container.uow() as uow:
        user = routine.enroll(
            uow,
            container.policy,
            container.clock.now(),
            phone=PhoneNumber(phone),
            schedule=schedule,
            consent_confirmed=confirmed,
            first_session_date=first_session_date,
        )
        uow.commit()
    return user


def enroll_notified(
    container: Container,
    clock: FakeClock,
    sender: FakeSmsSender,
    *,
    phone: str = PHONE,
) -> User:
    """A confirmed New York user with 20:00 sessions (see `enroll`) who has had the safety
    notice their consent planned: the clock moves on to when it is due, the dispatcher sends
    it and, once it is checked to be the one SMS in the sender's record, the record is emptied,
    so that it holds only what the test sends next."""
    enrolled = enroll(container, phone=phone)
    with container.engine.connect() as connection:
        due_at = connection.execute(
            select(reminder_rows.c.due_at).where(
                reminder_rows.c.user_id == enrolled.id,
                reminder_rows.c.step == Step.SAFETY_NOTICE.value,
            )
        ).scalar_one()
    clock.set(max(due_at, clock.now()))
    container.dispatch_due()
    notice = (phone, safety_notice_text(container.policy.brand))
    assert [(s.to, s.body) for s in sender.sent] == [notice], sender.sent
    sender.sent.clear()
    return enrolled


def text(
    container: Container,
    body: str,
    *,
    phone: str = PHONE,
    sid: str | None = None,
    opt_out_type: str | None = None,
) -> InboundResult:
    """An inbound SMS through the conversation service; a fresh MessageSid unless given."""
    with container.uow() as uow:
        result = handle_inbound(
            uow,
            container.policy,
            container.clock.now(),
            phone=PhoneNumber(phone),
            body=body,
            message_sid=sid or f"SM{next(_sids):032d}",
            opt_out_type=opt_out_type,
        )
        uow.commit()
    return result


def upcoming(container: Container, user_id: int) -> Session | None:
    with container.uow() as uow:
        return uow.sessions.upcoming(user_id)


def user(container: Container, user_id: int) -> User:
    with container.uow() as uow:
        return routine.get_user(uow, user_id)


def past_sessions(container: Container, user_id: int) -> list[Session]:
    with container.uow() as uow:
        return list(reversed(uow.sessions.ended_for(user_id, 100)))
