"""The routine's use cases: enrol, plan, end, move, pause, resume, opt out, erase."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time

from reminders.domain.checkin import checkin_times
from reminders.domain.errors import Conflict, InvalidInput, NotFound
from reminders.domain.model import (
    ACTIVE_REMINDER_STATUSES,
    CheckIn,
    PausedReason,
    PhoneNumber,
    PlannedReminder,
    ReminderStatus,
    Schedule,
    Session,
    SessionKind,
    SessionStatus,
    Step,
    User,
    UserStatus,
    parse_cadence,
    parse_wall_time,
)
from reminders.domain.planning import check_session_time, plan_session, zone_for
from reminders.domain.sessions import (
    check_first_session_date,
    consent_request,
    ended_on,
    ends_unconfirmed,
    extra_session,
    later_date,
    next_session_date,
    projected_dates,
    rescheduled_date,
    restart_date,
    safety_notice,
    unconfirmed_cutoff,
)
from reminders.ports import UnitOfWork
from reminders.services.policy import Policy

logger = logging.getLogger(__name__)


def make_schedule(
    policy: Policy, *, timezone: str, session_time: str | time, cadence_days: int
) -> Schedule:
    """Validate a schedule against R3, R6 and R7. Raises InvalidInput naming the field."""
    zone_for(timezone)
    wall = parse_wall_time(session_time) if isinstance(session_time, str) else session_time
    check_session_time(wall, policy.plan, policy.quiet_hours)
    return Schedule(timezone, wall, parse_cadence(cadence_days))


def get_user(uow: UnitOfWork, user_id: int) -> User:
    """The user, or NotFound."""
    user = uow.users.get(user_id)
    if user is None:
        raise NotFound(f"user {user_id} does not exist")
    return user


def lock_user(uow: UnitOfWork, user_id: int) -> User:
    """The user, locked for a change until the unit of work ends (the first lock of every
    change to a user's data); or NotFound."""
    user = uow.users.lock(user_id)
    if user is None:
        raise NotFound(f"user {user_id} does not exist")
    return user


def enroll(
    uow: UnitOfWork,
    policy: Policy,
    now: datetime,
    *,
    phone: PhoneNumber,
    schedule: Schedule,
    first_session_date: date | None = None,
    consent_confirmed: bool = False,
) -> User:
    """Enrol a user. With consent confirmed the first session is planned (R11); otherwise a
    confirmation SMS asks for YES and nothing else is sent until then.
    Raises Conflict when the number is enrolled, InvalidInput for a first_session_date that is
    past or more than a year ahead."""
    if first_session_date is not None:
        check_first_session_date(first_session_date, now, schedule)
    status = UserStatus.ACTIVE if consent_confirmed else UserStatus.PENDING
    user = uow.users.add(phone, status, schedule, now)
    if consent_confirmed:
        plan_safety_notice(uow, policy, [(user.id, schedule)], now)
        plan_next(uow, policy, user, now, day=first_session_date)
    else:
        uow.reminders.add(user.id, None, [consent_request(now)], now)
    logger.info("user enrolled", extra={"user_id": user.id, "status": status.value})
    return user


def plan_safety_notice(
    uow: UnitOfWork, policy: Policy, users: Sequence[tuple[int, Schedule]], now: datetime
) -> None:
    """The safety notice for these users (id, schedule), seconds from now. For a user who
    consents for the first time, the first session done is followed by a check-in too."""
    notices = [
        (user_id, None, safety_notice(now, schedule, policy.quiet_hours))
        for user_id, schedule in users
    ]
    uow.reminders.add_many(notices, now)
    uow.users.set_safety_notice([user_id for user_id, _ in users], now)


def plan_next(
    uow: UnitOfWork, policy: Policy, user: User, now: datetime, *, day: date | None = None
) -> Session:
    """Plan the user's session on `day`, or else the next one by the routine from their last
    session (`next_session_date`), with its reminders. Steps already past are left out."""
    if day is None:
        day = next_session_date(
            now=now,
            schedule=user.schedule,
            plan=policy.plan,
            last_session_date=user.last_session_date,
        )
    planned = plan_session(day, user.schedule, policy.plan, policy.quiet_hours)
    session = uow.sessions.add(user.id, planned, now)
    uow.reminders.add(user.id, session.id, planned.still_ahead(now), now)
    return session


@dataclass(frozen=True, slots=True)
class Outcome:
    """What ending or recording a session led to."""

    next_session: Session | None
    too_soon: bool = False  # an extra session fewer than 7 days after the last one (R2, R10)


def end_session(
    uow: UnitOfWork,
    policy: Policy,
    user: User,
    session: Session,
    status: SessionStatus,
    now: datetime,
) -> Outcome | None:
    """End a planned session as done, skipped or unconfirmed and plan the next (R9, R10).

    Returns None when another request ended it first. The next session counts from the
    date the session ended on (`ended_on`)."""
    day = ended_on(session, status, now, user.schedule)
    if not uow.sessions.end(session.id, status, now, on_date=day):
        return None
    uow.reminders.cancel_for_session(session.id, now)
    uow.users.set_last_session_date(user.id, day, now)
    user = replace(user, last_session_date=day)
    if user.status is not UserStatus.ACTIVE:
        return Outcome(None)
    if status is SessionStatus.DONE:
        plan_checkin(uow, policy, user, session, now)
    return Outcome(plan_next(uow, policy, user, now))


def plan_checkin(
    uow: UnitOfWork, policy: Policy, user: User, session: Session, now: datetime
) -> bool:
    """After a session done: the check-in, when one is due (the first session after consent,
    and the first after a skin-reaction pause) and the setting asks for one. True when it
    was planned."""
    if not user.checkin_due or policy.checkin is None:
        return False
    zone = zone_for(user.schedule.timezone)
    times = checkin_times(policy.checkin, session.starts_at, zone, policy.quiet_hours, now)
    if times is None:
        return False
    check = PlannedReminder(Step.SKIN_CHECK, times.send_at, times.expires_at)
    uow.reminders.add(user.id, session.id, [check], now)
    uow.sessions.set_checkin(session.id, CheckIn.ASKED)
    uow.users.set_checkin_due(user.id, False, now)
    return True


def record_extra_done(uow: UnitOfWork, policy: Policy, user: User, now: datetime) -> Outcome:
    """A DONE with no session pending (R10): record it, say when it came too soon (R2), and
    plan the next session from it."""
    extra = extra_session(now, user.schedule, user.last_session_date)
    recorded = uow.sessions.add(
        user.id, extra.session, now, status=SessionStatus.DONE, kind=SessionKind.EXTRA
    )
    uow.users.set_last_session_date(user.id, extra.last_session_date, now)
    if user.done_asked_at is not None:
        uow.users.set_done_asked(user.id, None)
    user = replace(user, last_session_date=extra.last_session_date)
    upcoming = uow.sessions.upcoming(user.id)
    if user.status is not UserStatus.ACTIVE:
        return Outcome(None, extra.too_soon)
    plan_checkin(uow, policy, user, recorded, now)
    if upcoming is None:
        return Outcome(plan_next(uow, policy, user, now), extra.too_soon)
    day = next_session_date(
        now=now,
        schedule=user.schedule,
        plan=policy.plan,
        last_session_date=extra.last_session_date,
    )
    return Outcome(_replan(uow, policy, user, upcoming, day, now), extra.too_soon)


def move_later(
    uow: UnitOfWork, policy: Policy, user: User, session: Session, now: datetime
) -> Session | None:
    """LATER (R9): the session moves to `later_date`. Returns the moved session, or None when
    it may not move again."""
    day = later_date(session)
    if day is None:
        return None
    return _replan(uow, policy, user, session, day, now, later=True)


def _replan(
    uow: UnitOfWork,
    policy: Policy,
    user: User,
    session: Session,
    day: date,
    now: datetime,
    *,
    later: bool = False,
) -> Session:
    planned = plan_session(day, user.schedule, policy.plan, policy.quiet_hours)
    uow.reminders.cancel_for_session(session.id, now)
    moved = uow.sessions.move(session.id, planned, session.later_count + (1 if later else 0))
    uow.reminders.add(user.id, session.id, planned.still_ahead(now), now)
    return moved


def change_schedule(
    uow: UnitOfWork,
    policy: Policy,
    user: User,
    now: datetime,
    *,
    session_time: str | None = None,
    cadence_days: int | None = None,
    timezone: str | None = None,
) -> User:
    """Change time, cadence or zone (TIME, EVERY, PATCH) and re-plan the upcoming session by
    the same rules. Raises InvalidInput (quiet hours, cadence below 7, unknown zone)."""
    schedule = make_schedule(
        policy,
        timezone=timezone if timezone is not None else user.schedule.timezone,
        session_time=session_time if session_time is not None else user.schedule.session_time,
        cadence_days=cadence_days if cadence_days is not None else user.schedule.cadence_days,
    )
    uow.users.set_schedule(user.id, schedule, now)
    user = replace(user, schedule=schedule)
    session = uow.sessions.upcoming(user.id)
    if session is not None:
        day = rescheduled_date(
            now=now,
            schedule=schedule,
            plan=policy.plan,
            last_session_date=user.last_session_date,
            planned_date=session.local_date,
            new_cadence=cadence_days is not None,
        )
        _replan(uow, policy, user, session, day, now)
    return user


def _cancel_upcoming(uow: UnitOfWork, user: User, now: datetime) -> None:
    session = uow.sessions.upcoming(user.id)
    if session is not None and uow.sessions.end(session.id, SessionStatus.CANCELLED, now):
        uow.reminders.cancel_for_session(session.id, now)


# A pause keeps the safety notice: it is not a reminder, and a paused user may roll again.
_KEPT_BY_A_PAUSE = (Step.SAFETY_NOTICE,)
# A safety notice planned and not cancelled, failed or expired unsent: it is not planned again.
_NOTICE_ON_ITS_WAY = (
    ReminderStatus.SCHEDULED,
    ReminderStatus.SENDING,
    ReminderStatus.SENT,
    ReminderStatus.DELIVERED,
)


def stop_reminders(
    uow: UnitOfWork,
    user: User,
    status: UserStatus,
    now: datetime,
    reason: PausedReason | None = None,
) -> None:
    """Pause (for `reason`), opt out or mark invalid: the status changes and every pending
    SMS is cancelled at once, the upcoming session with them; a pause keeps the safety
    notice."""
    uow.users.set_status(user.id, status, now, paused_reason=reason)
    if user.paused_reason is PausedReason.SKIN_REACTION or uow.reminders.has_step(
        user.id, Step.SKIN_CHECK, ACTIVE_REMINDER_STATUSES
    ):
        # A check-in cancelled unsent, or one due after a skin-reaction pause whose reason
        # goes now: the first session done after the user is back is followed by one.
        uow.users.set_checkin_due(user.id, True, now)
    _cancel_upcoming(uow, user, now)
    keep = _KEPT_BY_A_PAUSE if status is UserStatus.PAUSED else ()
    uow.reminders.cancel_for_user(user.id, now, keep=keep)
    logger.info("reminders stopped", extra={"user_id": user.id, "status": status.value})


def activate(uow: UnitOfWork, policy: Policy, user: User, now: datetime) -> Session:
    """YES, START or RESUME: the user becomes active and the next session is planned from
    now, on `restart_date` (R2, R11). Consent given for the first time plans the safety
    notice, and so does a later one when that notice never went out (a STOP cancelled it
    while quiet hours held it, an outage outlasted it); a return from a skin-reaction pause
    makes the next session done followed by a check-in."""
    uow.users.set_status(user.id, UserStatus.ACTIVE, now)
    # An unanswered consent request, if any; a safety notice still waiting stays.
    uow.reminders.cancel_for_user(user.id, now, keep=_KEPT_BY_A_PAUSE)
    _cancel_upcoming(uow, user, now)
    first_consent = user.safety_notice_at is None
    if first_consent or not uow.reminders.has_step(user.id, Step.SAFETY_NOTICE, _NOTICE_ON_ITS_WAY):
        plan_safety_notice(uow, policy, [(user.id, user.schedule)], now)
    if user.paused_reason is PausedReason.SKIN_REACTION and not first_consent:
        uow.users.set_checkin_due(user.id, True, now)
    user = replace(user, status=UserStatus.ACTIVE, paused_reason=None)
    day = restart_date(
        now=now,
        schedule=user.schedule,
        plan=policy.plan,
        last_session_date=user.last_session_date,
    )
    return plan_next(uow, policy, user, now, day=day)


def change_status(
    uow: UnitOfWork, policy: Policy, user: User, status: UserStatus, now: datetime
) -> User:
    """An operator's pause or resume, by the rules of the PAUSE and RESUME commands.

    Only an active user can be paused and only a paused one resumed; asking for the status
    the user already has changes nothing. Raises Conflict otherwise: consent (pending,
    opted_out) is the user's alone to give, and an invalid number cannot receive SMS."""
    if status not in (UserStatus.ACTIVE, UserStatus.PAUSED):
        raise InvalidInput("status", f"status '{status}' cannot be set; use 'active' or 'paused'")
    if user.status is status:
        if status is UserStatus.ACTIVE and uow.sessions.upcoming(user.id) is None:
            activate(uow, policy, user, now)
        return user
    if user.status is UserStatus.PAUSED or (
        user.status is UserStatus.ACTIVE and status is UserStatus.PAUSED
    ):
        if status is UserStatus.PAUSED:
            stop_reminders(uow, user, UserStatus.PAUSED, now, PausedReason.OPERATOR)
        else:
            activate(uow, policy, user, now)
        return replace(user, status=status)
    reasons = {
        UserStatus.PENDING: "has not confirmed consent yet; they must reply YES first",
        UserStatus.OPTED_OUT: "opted out; only they can opt back in, by texting START",
        UserStatus.INVALID: "has a number the SMS provider reported invalid; erase and re-enrol",
    }
    raise Conflict(f"status cannot change to '{status}': user {user.id} {reasons[user.status]}")


def close_unconfirmed(uow: UnitOfWork, policy: Policy, now: datetime, limit: int = 500) -> int:
    """R9: end every session with no reply 12 h after its start as unconfirmed and plan the
    next one. Returns how many it ended (at most `limit`; call again while it returns that)."""
    cutoff = unconfirmed_cutoff(now)
    ended = 0
    found = uow.sessions.open_until(cutoff, limit)
    # The users' rows first, in one order (by id), then their sessions: see UserRepository.
    locked = {user_id: uow.users.lock(user_id) for user_id in sorted({s.user_id for s in found})}
    for found_session in found:
        # Read again under the user's lock: a reply may have ended or moved it since.
        session = uow.sessions.get(found_session.id)
        if session is None or session.status is not SessionStatus.PLANNED:
            continue
        if not ends_unconfirmed(session, now):
            continue
        user = locked[session.user_id]
        if user is None:
            uow.sessions.end(session.id, SessionStatus.CANCELLED, now)
            continue
        if end_session(uow, policy, user, session, SessionStatus.UNCONFIRMED, now) is not None:
            ended += 1
    return ended


def erase(uow: UnitOfWork, user: User, now: datetime) -> None:
    """Erase a user: reminders cancelled, number and message bodies gone. Anonymous session
    outcomes stay for adherence figures."""
    _cancel_upcoming(uow, user, now)
    uow.reminders.cancel_for_user(user.id, now)
    uow.messages.erase_bodies(user.id, now)
    if user.phone is not None:
        uow.reply_log.forget(user.phone)
    uow.users.erase(user.id, now)
    logger.info("user erased", extra={"user_id": user.id})


@dataclass(frozen=True, slots=True)
class ScheduledReminder:
    """One SMS of a session in a user's schedule."""

    step: Step
    send_at: datetime
    status: ReminderStatus | None  # None: projected, the session is not planned yet


@dataclass(frozen=True, slots=True)
class ScheduledSession:
    local_date: date
    starts_at: datetime
    reminders: tuple[ScheduledReminder, ...]


def upcoming_schedule(
    uow: UnitOfWork, policy: Policy, user: User, now: datetime, count: int
) -> list[ScheduledSession]:
    """The next `count` sessions: the planned one as stored, later ones projected by cadence
    as if each were done on its planned date (their reminders have no status)."""
    session = uow.sessions.upcoming(user.id)
    if session is None:
        return []
    stored = uow.reminders.for_sessions([session.id])
    result = [
        ScheduledSession(
            session.local_date,
            session.starts_at,
            tuple(ScheduledReminder(r.step, r.send_at, r.status) for r in stored),
        )
    ]
    for day in projected_dates(session.local_date, user.schedule, count - 1):
        planned = plan_session(day, user.schedule, policy.plan, policy.quiet_hours)
        result.append(
            ScheduledSession(
                day,
                planned.starts_at,
                tuple(ScheduledReminder(r.step, r.send_at, None) for r in planned.reminders),
            )
        )
    return result
