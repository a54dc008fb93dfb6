"""What must hold of the stored state whatever requests came before: the fuzz tests check it
after every generated request. Also what those tests share to run: their Hypothesis settings
and the time that passes between requests."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, settings
from sqlalchemy import func, select

from reminders.adapters.db import messages, reminder_rows, sessions, users
from reminders.bootstrap import Container
from reminders.domain.model import (
    MAX_CADENCE_DAYS,
    MIN_CADENCE_DAYS,
    MIN_DAYS_BETWEEN_SESSIONS,
    PLAN_STEPS,
    Step,
    UserStatus,
)
from reminders.domain.planning import zone_for
from reminders.services import routine
from tests.fakes import FakeClock, FakeSmsSender

# Twilio's error codes have five digits; the webhook keeps at most nine, well inside int4.
MAX_STORED_ERROR_CODE = 10**9 - 1
_STOPPED = (UserStatus.PAUSED, UserStatus.OPTED_OUT, UserStatus.INVALID)


def check_stored_state(container: Container) -> None:
    """Every user reads back through the domain, keeps a valid schedule and at most one
    planned session a week or more after the last one; stopped and erased users have nothing
    scheduled but a paused user's safety notice (a pause keeps it); no planned step is due in
    the user's quiet hours; stored error codes are Twilio-sized."""
    with container.engine.connect() as connection:
        ids = connection.execute(select(users.c.id).where(users.c.erased_at.is_(None))).scalars()
        planned: dict[int, int] = dict(
            connection.execute(
                select(sessions.c.user_id, func.count())
                .where(sessions.c.status == "planned")
                .group_by(sessions.c.user_id)
            ).all()
        )
        scheduled = connection.execute(
            select(
                reminder_rows.c.user_id,
                reminder_rows.c.step,
                reminder_rows.c.due_at,
                reminder_rows.c.attempts,
            ).where(reminder_rows.c.status == "scheduled")
        ).all()
        codes = [
            *connection.execute(
                select(messages.c.error_code).where(messages.c.error_code.is_not(None))
            ).scalars(),
            *connection.execute(
                select(reminder_rows.c.error_code).where(reminder_rows.c.error_code.is_not(None))
            ).scalars(),
        ]
        user_ids = list(ids)
    with container.uow() as uow:
        found = {user_id: routine.get_user(uow, user_id) for user_id in user_ids}
        upcoming = {user_id: uow.sessions.upcoming(user_id) for user_id in user_ids}
    quiet = container.policy.quiet_hours
    for user_id, user in found.items():
        assert MIN_CADENCE_DAYS <= user.schedule.cadence_days <= MAX_CADENCE_DAYS, user
        zone_for(user.schedule.timezone)
        assert planned.get(user_id, 0) <= 1, (user, planned[user_id])
        session = upcoming[user_id]
        if session is not None and user.last_session_date is not None:
            gap = (session.local_date - user.last_session_date).days
            assert gap >= MIN_DAYS_BETWEEN_SESSIONS, (user, session)
    for user_id, step, due_at, attempts in scheduled:
        owner = found.get(user_id)
        assert owner is not None, (user_id, step, "an erased user has an SMS scheduled")
        kept = owner.status is UserStatus.PAUSED and step == Step.SAFETY_NOTICE
        assert kept or owner.status not in _STOPPED, (owner, step)
        # The consent request and retries are due when asked for; the dispatcher holds them
        # until quiet hours end. The plan's steps are planned outside quiet hours.
        if quiet is not None and step in PLAN_STEPS and attempts == 0:
            zone = zone_for(owner.schedule.timezone)
            assert not quiet.contains_instant(due_at, zone), (owner, step, due_at)
    assert all(abs(code) <= MAX_STORED_ERROR_CODE for code in codes), codes


def dispatch_outside_quiet_hours(container: Container, sender: FakeSmsSender) -> None:
    """Run the dispatcher as the scheduler would: nothing it sends may fall in the quiet hours
    of the user it goes to."""
    already = len(sender.sent)
    container.dispatch_due()
    container.close_unconfirmed()
    quiet = container.policy.quiet_hours
    if quiet is None:
        return
    with container.engine.connect() as connection:
        zones = dict(
            connection.execute(
                select(users.c.phone, users.c.timezone).where(users.c.phone.is_not(None))
            ).all()
        )
    for sent in sender.sent[already:]:
        assert not quiet.contains_instant(sent.at, zone_for(zones[sent.to])), sent


def pass_time(
    container: Container, clock: FakeClock, sender: FakeSmsSender, wait: timedelta | None
) -> None:
    """With a `wait`, move the clock on by it and dispatch as the scheduler would meanwhile."""
    if wait is not None:
        clock.advance(wait)
        dispatch_outside_quiet_hours(container, sender)


def fuzz_settings(examples: int) -> settings:
    """`examples` requests a run, derandomized so that CI sees the same ones each time; the
    function-scoped fixtures (one app and database) serve every example of a run."""
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


def error_shape(body: Any) -> bool:
    """Whether `body` is the one error shape: {"error": str, "field": str|None, "errors": [...]}."""
    return (
        isinstance(body, dict)
        and isinstance(body.get("error"), str)
        and "field" in body
        and (body["field"] is None or isinstance(body["field"], str))
        and isinstance(body.get("errors"), list)
        and all(
            isinstance(item, dict) and {"field", "message"} <= item.keys()
            for item in body["errors"]
        )
    )
