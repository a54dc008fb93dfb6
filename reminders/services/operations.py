"""What an operator can do, the same over the HTTP API and the command line, and the routine's
own job of closing sessions nobody answered.

Each use case runs in one unit of work on the values the edge has already read (a phone
number parsed, a zone chosen) and hands back domain values to show. The rules themselves live
in routine.py and reports.py."""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import partial

from reminders.domain.errors import InvalidInput
from reminders.domain.model import PhoneNumber, Session, User, UserStatus, parse_whole_number
from reminders.domain.sessions import Adherence, adherence
from reminders.ports import Clock, UnitOfWork, UnitOfWorkFactory
from reminders.services import reports, routine
from reminders.services.policy import Policy
from reminders.services.transaction import in_transaction

logger = logging.getLogger(__name__)

# users.id is an INTEGER column: four bytes on PostgreSQL, where a larger id in a query fails
# the statement instead of finding no user.
MAX_USER_ID = 2**31 - 1
_CURSOR_PREFIX = "u1:"


@dataclass(frozen=True, slots=True)
class UserView:
    """A user and the session planned next, if any."""

    user: User
    next_session: Session | None


@dataclass(frozen=True, slots=True)
class UserDetail(UserView):
    """A user as one user is shown: with the session planned next and their adherence."""

    adherence: Adherence


@dataclass(frozen=True, slots=True)
class UserPage:
    """A page of users by id, and the cursor of the next page (None on the last)."""

    users: list[UserView]
    next_cursor: str | None


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
    if not text.startswith(_CURSOR_PREFIX) or last_id is None or last_id > MAX_USER_ID:
        raise problem
    return last_id


class Operations:
    """The operator's use cases and the routine's periodic job, on the ports they need."""

    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, policy: Policy) -> None:
        self._uow = uow_factory
        self._clock = clock
        self._policy = policy

    def enroll(
        self,
        *,
        phone: PhoneNumber,
        timezone: str,
        session_time: str,
        cadence_days: int,
        first_session_date: date | None,
        consent_confirmed: bool,
    ) -> UserView:
        """Enrol a number (R11). Raises InvalidInput naming the field, Conflict when the
        number is enrolled already."""
        if first_session_date is not None and not consent_confirmed:
            raise InvalidInput(
                "first_session_date",
                "first_session_date needs consent 'confirmed': a pending user's first session "
                "is planned when they reply YES",
            )
        policy = self._policy
        schedule = routine.make_schedule(
            policy, timezone=timezone, session_time=session_time, cadence_days=cadence_days
        )
        now = self._clock.now()

        def enroll(uow: UnitOfWork) -> UserView:
            user = routine.enroll(
                uow,
                policy,
                now,
                phone=phone,
                schedule=schedule,
                first_session_date=first_session_date,
                consent_confirmed=consent_confirmed,
            )
            return UserView(user, uow.sessions.upcoming(user.id))

        return in_transaction(self._uow, enroll)

    def list_users(self, *, status: UserStatus | None, limit: int, cursor: str | None) -> UserPage:
        """Up to `limit` users by id after `cursor` (from the start without one), only those
        with `status` if given. Raises InvalidInput naming `cursor` for one not given here."""
        after_id = decode_cursor(cursor) if cursor else 0
        with self._uow(read_only=True) as uow:
            users = uow.users.page(status, after_id, limit + 1)
            more = len(users) > limit
            users = users[:limit]
            upcoming = uow.sessions.upcoming_for([u.id for u in users])
        views = [UserView(u, upcoming.get(u.id)) for u in users]
        return UserPage(views, encode_cursor(users[-1].id) if more else None)

    def show(self, user_id: int) -> UserDetail:
        """One user, with their next session and adherence. Raises NotFound."""
        with self._uow(read_only=True) as uow:
            user = routine.get_user(uow, user_id)
            upcoming = uow.sessions.upcoming(user.id)
            outcomes = uow.sessions.outcomes(user.id)
        return UserDetail(user, upcoming, adherence(outcomes))

    def change(
        self,
        user_id: int,
        *,
        session_time: str | None = None,
        cadence_days: int | None = None,
        timezone: str | None = None,
        status: UserStatus | None = None,
    ) -> UserView:
        """Change the schedule, then the status, by the rules of the SMS commands TIME, EVERY,
        PAUSE and RESUME; all or nothing. Raises NotFound, InvalidInput, or Conflict for a
        status the operator may not set (consent is the user's to give)."""
        policy = self._policy
        now = self._clock.now()

        def change(uow: UnitOfWork) -> UserView:
            user = routine.lock_user(uow, user_id)
            if (session_time, cadence_days, timezone) != (None, None, None):
                user = routine.change_schedule(
                    uow,
                    policy,
                    user,
                    now,
                    session_time=session_time,
                    cadence_days=cadence_days,
                    timezone=timezone,
                )
            if status is not None:
                routine.change_status(uow, policy, user, status, now)
            return UserView(routine.get_user(uow, user_id), uow.sessions.upcoming(user_id))

        view = in_transaction(self._uow, change)
        asked = {"session_time": session_time, "cadence_days": cadence_days, "timezone": timezone}
        changed = [name for name, value in asked.items() if value is not None]
        changed += ["status"] if status is not None else []
        logger.info("user changed by an operator", extra={"user_id": user_id, "fields": changed})
        return view

    def pause(self, user_id: int) -> UserView:
        """Stop a user's reminders, as their PAUSE would. Raises as `change` does."""
        return self.change(user_id, status=UserStatus.PAUSED)

    def resume(self, user_id: int) -> UserView:
        """Resume a paused user, as their RESUME would. Raises as `change` does."""
        return self.change(user_id, status=UserStatus.ACTIVE)

    def delete(self, user_id: int) -> None:
        """Erase a user: number and message bodies gone, reminders cancelled. Raises
        NotFound."""
        now = self._clock.now()

        def erase(uow: UnitOfWork) -> None:
            routine.erase(uow, routine.lock_user(uow, user_id), now)

        in_transaction(self._uow, erase)

    def schedule(self, user_id: int, sessions: int) -> tuple[User, list[routine.ScheduledSession]]:
        """The user and their next `sessions` sessions. Raises NotFound."""
        with self._uow(read_only=True) as uow:
            user = routine.get_user(uow, user_id)
            planned = routine.upcoming_schedule(
                uow, self._policy, user, self._clock.now(), sessions
            )
        return user, planned

    def history(self, user_id: int) -> tuple[User, reports.History]:
        """The user and their ended sessions and messages. Raises NotFound."""
        with self._uow(read_only=True) as uow:
            user = routine.get_user(uow, user_id)
            return user, reports.history(uow, user)

    def stats(self) -> reports.Stats:
        """The service's figures: counts by status, paused users by reason, check-ins and
        adherence."""
        with self._uow(read_only=True) as uow:
            return reports.stats(uow)

    def close_unconfirmed(self, should_stop: Callable[[], bool] = lambda: False) -> int:
        """End every session left unanswered (R9), a batch per transaction, until none is
        left or `should_stop` says so. Returns how many it ended."""
        total = 0
        while not should_stop():
            close = partial(routine.close_unconfirmed, policy=self._policy, now=self._clock.now())
            ended = in_transaction(self._uow, close)
            total += ended
            if ended == 0:
                break
        return total
