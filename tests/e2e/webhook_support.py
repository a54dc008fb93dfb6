"""Shared by the webhook tests: the app behind Twilio's signed webhooks, users to text it, and
what to read back from the database.

The clock starts at START, Monday 2 March 2026 10:00 in New York. A New York user with the
default plan and a 20:00 session time has their first session on Tuesday 3 March at 20:00.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator
from datetime import timedelta

from sqlalchemy import func, select
from starlette.exceptions import StarletteDeprecationWarning

from reminders.adapters.db import messages, reminder_rows
from reminders.bootstrap import Container
from reminders.domain.model import ACTIVE_REMINDER_STATUSES, Session, User
from reminders.entrypoints.api import create_app
from reminders.services import routine
from tests.fakes import FakeClock
from tests.routine_driver import enroll
from tests.twilio_webhooks import FakeTwilioWebhooks

with warnings.catch_warnings():
    # Starlette warns once, at import, when httpx2 is not installed; the client works the same.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

AUTH_TOKEN = "e2e-twilio-auth-token"
PUBLIC_URL = "https://sms.example.com"  # what Twilio calls; the app itself sees testserver
PHONE = "+14155550123"
STRANGER = "+14155550199"
FIRST_SESSION = "Tue 3 Mar 20:00"


def twilio_container(make_container: Callable[..., Container], **settings: object) -> Container:
    """A container whose webhooks accept requests signed with AUTH_TOKEN over PUBLIC_URL."""
    values: dict[str, object] = {"TWILIO_AUTH_TOKEN": AUTH_TOKEN, "public_url": PUBLIC_URL}
    values.update(settings)
    return make_container(**values)


@contextlib.contextmanager
def webhooks_for(
    container: Container, *, public_url: str = PUBLIC_URL, auth_token: str = AUTH_TOKEN
) -> Iterator[FakeTwilioWebhooks]:
    with TestClient(create_app(container)) as client:
        yield FakeTwilioWebhooks(client, public_url=public_url, auth_token=auth_token)


def enroll_user(
    container: Container,
    *,
    phone: str = PHONE,
    confirmed: bool = True,
    cadence_days: int = 14,
) -> User:
    """A New York user with 20:00 sessions; `confirmed` False leaves them pending."""
    return enroll(container, phone=phone, confirmed=confirmed, cadence_days=cadence_days)


def current(container: Container, user: User) -> User:
    with container.uow() as uow:
        return routine.get_user(uow, user.id)


def upcoming(container: Container, user: User) -> Session | None:
    with container.uow() as uow:
        return uow.sessions.upcoming(user.id)


def past_sessions(container: Container, user: User) -> list[Session]:
    with container.uow() as uow:
        return uow.sessions.ended_for(user.id, 100)


def pending_reminders(container: Container, user: User) -> int:
    """How many of the user's SMS are still to be sent."""
    with container.engine.connect() as connection:
        return int(
            connection.execute(
                select(func.count())
                .select_from(reminder_rows)
                .where(
                    reminder_rows.c.user_id == user.id,
                    reminder_rows.c.status.in_([s.value for s in ACTIVE_REMINDER_STATUSES]),
                )
            ).scalar_one()
        )


def pending_steps(container: Container, user: User) -> list[str]:
    """The steps of the user's SMS still to be sent, by the time they are due."""
    with container.engine.connect() as connection:
        return list(
            connection.execute(
                select(reminder_rows.c.step)
                .where(
                    reminder_rows.c.user_id == user.id,
                    reminder_rows.c.status.in_([s.value for s in ACTIVE_REMINDER_STATUSES]),
                )
                .order_by(reminder_rows.c.due_at, reminder_rows.c.id)
            ).scalars()
        )


def inbound_count(container: Container) -> int:
    """How many inbound SMS were recorded."""
    with container.engine.connect() as connection:
        return int(
            connection.execute(
                select(func.count()).select_from(messages).where(messages.c.direction == "in")
            ).scalar_one()
        )


def at_session(clock: FakeClock, container: Container, user: User) -> None:
    """Move the clock to five minutes into the user's upcoming session."""
    session = upcoming(container, user)
    assert session is not None
    clock.set(session.starts_at + timedelta(minutes=5))
