"""What an operator can do, shared by the HTTP API and the command line.

Each function reads the values as they come from the edge (a phone number as typed, a zone
name), runs one use case in one unit of work with the container's clock, and hands back what
to show. The rules themselves live in the services."""

from __future__ import annotations

import base64
import binascii
import logging
import uuid
from dataclasses import dataclass
from datetime import date

from reminders.bootstrap import Container
from reminders.domain.errors import InvalidInput
from reminders.domain.model import Session, User, UserStatus, parse_whole_number
from reminders.entrypoints.phones import parse_phone, single_timezone
from reminders.ports import UnitOfWork
from reminders.services import reports, routine
from reminders.services.conversation import InboundResult, handle_inbound
from reminders.services.transaction import in_transaction

logger = logging.getLogger(__name__)

MAX_ID = 2**31 - 1  # the largest id the users table's INTEGER column holds (PostgreSQL)
_CURSOR_PREFIX = "u1:"


@dataclass(frozen=True, slots=True)
class UserView:
    """A user and the session planned next, if any."""

    user: User
    next_session: Session | None


def encode_cursor(last_id: int) -> str:
    """An opaque cursor that continues after user `last_id`."""
    raw = f"{_CURSOR_PREFIX}{last_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The id a cursor continues after. Raises InvalidInput naming `cursor`."""
    problem = InvalidInput(
        "cursor", "cursor is not one this service gave; pass next_cursor of the previous page"
    )
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.urlsafe_b64decode(padded.encode("ascii")).decode("ascii")
    except (ValueError, UnicodeError, binascii.Error):
        raise problem from None
    digits = text.removeprefix(_CURSOR_PREFIX)
    last_id = parse_whole_number(digits, max_digits=10)
    if not text.startswith(_CURSOR_PREFIX) or last_id is None or last_id > MAX_ID:
        raise problem
    return last_id


def enroll_user(
    container: Container,
    *,
    phone: str,
    timezone: str | None,
    session_time: str,
    cadence_days: int,
    first_session_date: date | None,
    consent_confirmed: bool,
) -> UserView:
    """Enrol a number. Raises InvalidInput naming the field, Conflict when it is enrolled."""
    number = parse_phone(phone, container.settings.default_region)
    zone = timezone if timezone is not None else single_timezone(number)
    if zone is None:
        raise InvalidInput(
            "timezone",
            "timezone is required for this number, whose country has several time zones; "
            "give an IANA name such as 'America/New_York'",
        )
    if first_session_date is not None and not consent_confirmed:
        raise InvalidInput(
            "first_session_date",
            "first_session_date needs consent 'confirmed': a pending user's first session is "
            "planned when they reply YES",
        )
    policy = container.policy
    schedule = routine.make_schedule(
        policy, timezone=zone, session_time=session_time, cadence_days=cadence_days
    )
    now = container.clock.now()

    def enroll(uow: UnitOfWork) -> UserView:
        user = routine.enroll(
            uow,
            policy,
            now,
            phone=number,
            schedule=schedule,
            first_session_date=first_session_date,
            consent_confirmed=consent_confirmed,
        )
        return UserView(user, uow.sessions.upcoming(user.id))

    return in_transaction(container.uow, enroll)


def list_users(
    container: Container, *, status: UserStatus | None, limit: int, cursor: str | None
) -> tuple[list[UserView], str | None]:
    """A page of users by id, and the cursor of the next page (None on the last)."""
    after_id = decode_cursor(cursor) if cursor else 0
    with container.uow(read_only=True) as uow:
        users = uow.users.page(status, after_id, limit + 1)
        more = len(users) > limit
        users = users[:limit]
        upcoming = uow.sessions.upcoming_for([u.id for u in users])
    views = [UserView(u, upcoming.get(u.id)) for u in users]
    return views, encode_cursor(users[-1].id) if more else None


def show_user(container: Container, user_id: int) -> UserView:
    """Raises NotFound."""
    with container.uow(read_only=True) as uow:
        user = routine.get_user(uow, user_id)
        return UserView(user, uow.sessions.upcoming(user.id))


def update_user(
    container: Container,
    user_id: int,
    *,
    session_time: str | None = None,
    cadence_days: int | None = None,
    timezone: str | None = None,
    status: UserStatus | None = None,
) -> UserView:
    """Change the schedule, then the status, by the rules of the SMS commands; all or
    nothing. Raises NotFound, InvalidInput, or Conflict for a status the operator may not set."""
    now = container.clock.now()

    def update(uow: UnitOfWork) -> UserView:
        user = routine.lock_user(uow, user_id)
        if (session_time, cadence_days, timezone) != (None, None, None):
            user = routine.change_schedule(
                uow,
                container.policy,
                user,
                now,
                session_time=session_time,
                cadence_days=cadence_days,
                timezone=timezone,
            )
        if status is not None:
            routine.change_status(uow, container.policy, user, status, now)
        return UserView(routine.get_user(uow, user_id), uow.sessions.upcoming(user_id))

    view = in_transaction(container.uow, update)
    asked = {"session_time": session_time, "cadence_days": cadence_days, "timezone": timezone}
    changed = [name for name, value in asked.items() if value is not None]
    changed += ["status"] if status is not None else []
    logger.info("user changed by an operator", extra={"user_id": user_id, "fields": changed})
    return view


def delete_user(container: Container, user_id: int) -> None:
    """Erase a user: number and message bodies gone, reminders cancelled. Raises NotFound."""
    now = container.clock.now()

    def erase(uow: UnitOfWork) -> None:
        routine.erase(uow, routine.lock_user(uow, user_id), now)

    in_transaction(container.uow, erase)


def user_schedule(
    container: Container, user_id: int, sessions: int
) -> tuple[User, list[routine.ScheduledSession]]:
    """The user and their next `sessions` sessions. Raises NotFound."""
    with container.uow(read_only=True) as uow:
        user = routine.get_user(uow, user_id)
        planned = routine.upcoming_schedule(
            uow, container.policy, user, container.clock.now(), sessions
        )
    return user, planned


def user_history(container: Container, user_id: int) -> tuple[User, reports.History]:
    """The user and their ended sessions and messages. Raises NotFound."""
    with container.uow(read_only=True) as uow:
        user = routine.get_user(uow, user_id)
        return user, reports.history(uow, user)


def service_stats(container: Container) -> reports.Stats:
    with container.uow(read_only=True) as uow:
        return reports.stats(uow)


def simulate_inbound(container: Container, phone: str, text: str) -> InboundResult:
    """Apply an SMS as if it came from `phone`; the reply is returned, not sent."""
    number = parse_phone(phone, container.settings.default_region)
    now = container.clock.now()
    sid = "CLI" + uuid.uuid4().hex
    return in_transaction(
        container.uow,
        lambda uow: handle_inbound(
            uow, container.policy, now, phone=number, body=text, message_sid=sid
        ),
    )
