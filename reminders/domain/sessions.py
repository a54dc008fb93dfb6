"""When sessions happen: the first one, the next, after a restart or a schedule change, an
extra one, LATER, and when a session ends (R2, R9, R10, R11). Dates are the user's local
calendar dates; planning.py turns them into instants."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from reminders.domain.errors import InvalidInput
from reminders.domain.model import (
    MAX_LATER_MOVES,
    MIN_DAYS_BETWEEN_SESSIONS,
    UNCONFIRMED_AFTER_HOURS,
    PlannedReminder,
    PlannedSession,
    Schedule,
    Session,
    SessionStatus,
    Step,
)
from reminders.domain.planning import (
    DAY,
    Plan,
    QuietHours,
    first_send_at,
    local_date,
    session_start,
    zone_for,
)


def earliest_feasible_date(now: datetime, schedule: Schedule, plan: Plan) -> date:
    """R11: the earliest local date on which every step of the plan is still ahead of `now`."""
    zone = zone_for(schedule.timezone)
    day = local_date(now, zone)
    while first_send_at(day, schedule, plan) <= now:
        day += DAY
    return day


def earliest_allowed_date(last_session_date: date) -> date:
    """R2, the one place that holds it: the first local date another session may be on, 7
    calendar days after the last one."""
    return last_session_date + MIN_DAYS_BETWEEN_SESSIONS * DAY


def next_session_date(
    *, now: datetime, schedule: Schedule, plan: Plan, last_session_date: date | None
) -> date:
    """The date of the next session by the routine (R10): the last session's date plus the
    cadence, never fewer than 7 days after it (R2) and never a date whose steps have begun;
    with no last session, the earliest feasible date (R11)."""
    floor = restart_date(now=now, schedule=schedule, plan=plan, last_session_date=last_session_date)
    if last_session_date is None:
        return floor
    return max(last_session_date + schedule.cadence_days * DAY, floor)


def restart_date(
    *, now: datetime, schedule: Schedule, plan: Plan, last_session_date: date | None
) -> date:
    """The first session after a YES, START or RESUME: planned from the moment of the reply,
    the earliest feasible date (R11), but never fewer than 7 days after the last session
    (R2)."""
    earliest = earliest_feasible_date(now, schedule, plan)
    if last_session_date is None:
        return earliest
    return max(earliest_allowed_date(last_session_date), earliest)


def rescheduled_date(
    *,
    now: datetime,
    schedule: Schedule,
    plan: Plan,
    last_session_date: date | None,
    planned_date: date,
    new_cadence: bool,
) -> date:
    """The upcoming session's date once the schedule has changed to `schedule` (TIME, EVERY,
    an operator's change). With `new_cadence`, the last session's date plus the cadence;
    otherwise the date it was planned on. Either way no earlier than `restart_date`: 7 days
    after the last session (R2) and every step still ahead."""
    if new_cadence and last_session_date is not None:
        wanted = last_session_date + schedule.cadence_days * DAY
    else:
        wanted = planned_date
    floor = restart_date(now=now, schedule=schedule, plan=plan, last_session_date=last_session_date)
    return max(wanted, floor)


@dataclass(frozen=True, slots=True)
class ExtraSession:
    """A DONE with no session pending (R10), as it is recorded."""

    session: PlannedSession  # on today's local date, starting at the DONE, with no SMS
    last_session_date: date  # the user's last session date once it is recorded
    too_soon: bool  # fewer than 7 days after the last session (R2): the reply says so


def extra_session(
    now: datetime, schedule: Schedule, last_session_date: date | None
) -> ExtraSession:
    """The extra session a DONE with no session pending records (R10), done `now`."""
    today = local_date(now, zone_for(schedule.timezone))
    if last_session_date is None:
        last, too_soon = today, False
    else:
        last = max(today, last_session_date)
        too_soon = today < earliest_allowed_date(last_session_date)
    return ExtraSession(PlannedSession(today, now, ()), last, too_soon)


def ended_on(session: Session, status: SessionStatus, now: datetime, schedule: Schedule) -> date:
    """The local date a session ending `now` as `status` counts on, from which the next one
    is planned (R10). Done early (after the heads-up), it counts on the day it was done; done
    late (by the next morning), skipped or unconfirmed, on the day it was planned."""
    if status is SessionStatus.DONE:
        return min(local_date(now, zone_for(schedule.timezone)), session.local_date)
    return session.local_date


def later_date(session: Session) -> date | None:
    """LATER (R9): the date a planned session moves to, the next day (at the same wall time),
    or None when it was moved 3 times already."""
    if session.later_count >= MAX_LATER_MOVES:
        return None
    return session.local_date + DAY


def projected_dates(planned_date: date, schedule: Schedule, count: int) -> list[date]:
    """The `count` sessions after the one planned on `planned_date`, as if each were done on
    its planned date (R10): each the cadence after the one before."""
    step = schedule.cadence_days * DAY
    return [planned_date + step * n for n in range(1, count + 1)]


def unconfirmed_cutoff(now: datetime) -> datetime:
    """R9: a planned session that started at or before this instant, with no reply, ends
    `unconfirmed`."""
    return now - timedelta(hours=UNCONFIRMED_AFTER_HOURS)


def ends_unconfirmed(session: Session, now: datetime) -> bool:
    """R9: whether the planned `session`, with no reply by `now`, ends `unconfirmed`."""
    return session.starts_at <= unconfirmed_cutoff(now)


def takes_done(session: Session, schedule: Schedule, plan: Plan, now: datetime) -> bool:
    """Whether a DONE `now` ends the planned `session` (R9): from its first SMS until it
    would end unconfirmed. Outside that, a DONE is an extra session (R10)."""
    opens_at = first_send_at(session.local_date, schedule, plan)
    return opens_at <= now and not ends_unconfirmed(session, now)


# --- the first session and consent (R11) -----------------------------------------------------

CONSENT_REQUEST_FRESH = timedelta(hours=24)
FIRST_SESSION_MAX_AHEAD = timedelta(days=366)  # a later date is a typo, not a plan


def consent_request(now: datetime) -> PlannedReminder:
    """The SMS that asks a new user to reply YES (R11): due at once, and not sent once it is a
    day old (R8)."""
    return PlannedReminder(Step.CONSENT_REQUEST, now, now + CONSENT_REQUEST_FRESH)


def check_first_session_date(day: date, now: datetime, schedule: Schedule) -> None:
    """An operator's first session date (R11): today or later in the user's zone, its start
    still ahead, and at most a year away. Raises InvalidInput naming first_session_date."""
    field = "first_session_date"
    today = local_date(now, zone_for(schedule.timezone))
    past = InvalidInput(
        field,
        f"{field} {day.isoformat()} is in the past for this user's time zone and session "
        "time; give today or a later date",
    )
    if day < today:
        raise past
    latest = today + FIRST_SESSION_MAX_AHEAD
    if day > latest:
        raise InvalidInput(
            field,
            f"{field} {day.isoformat()} is too far ahead; give a date up to "
            f"{latest.isoformat()}, {FIRST_SESSION_MAX_AHEAD.days} days from today",
        )
    if session_start(day, schedule) <= now:
        raise past


# --- safety: the notice once consent is given, the check-in after a session -------------------

SAFETY_NOTICE_AFTER = timedelta(seconds=5)  # after the welcome, which goes back at once
SAFETY_NOTICE_FRESH = timedelta(hours=24)
CHECKIN_ANSWER_WITHIN = timedelta(days=2)  # an OK later than this answers no check-in


def safety_notice(now: datetime, schedule: Schedule, quiet: QuietHours | None) -> PlannedReminder:
    """The safety notice, planned when consent is first given: a few seconds after the
    welcome, or at the end of quiet hours when they have begun (R7); not sent once it is a
    day old (R8)."""
    send_at = now + SAFETY_NOTICE_AFTER
    if quiet is not None:
        send_at = quiet.end_after(send_at, zone_for(schedule.timezone))
    return PlannedReminder(Step.SAFETY_NOTICE, send_at, send_at + SAFETY_NOTICE_FRESH)


def checkin_answered_since(now: datetime) -> datetime:
    """A check-in sent at or after this instant is still open to an answer `now`."""
    return now - CHECKIN_ANSWER_WITHIN


# --- the conversation: a DONE with no session under way, LATER ---------------------------------

DONE_CONFIRM_WITHIN = timedelta(minutes=10)


def done_confirmed(done_asked_at: datetime | None, now: datetime) -> bool:
    """Whether a DONE with no session under way counts `now`: when it repeats one that was
    asked to be sent again within the last 10 minutes."""
    return done_asked_at is not None and now - done_asked_at <= DONE_CONFIRM_WITHIN


def under_way(session: Session, now: datetime) -> bool:
    """Whether LATER's reply should invite a DONE: the session (before it moves) starts within
    a day of `now`, or has started."""
    return session.starts_at - now <= DAY


# --- adherence ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Adherence:
    """A user's sessions done, skipped and unconfirmed, and the streak: sessions done in a
    row, counted back from the latest ended one."""

    done: int
    skipped: int
    unconfirmed: int
    streak: int


def adherence(outcomes: Sequence[SessionStatus]) -> Adherence:
    """Adherence from the statuses of a user's ended sessions, newest first (cancelled ones
    left out: they were superseded, not missed)."""
    streak = 0
    for status in outcomes:
        if status is not SessionStatus.DONE:
            break
        streak += 1
    return Adherence(
        done=sum(1 for s in outcomes if s is SessionStatus.DONE),
        skipped=sum(1 for s in outcomes if s is SessionStatus.SKIPPED),
        unconfirmed=sum(1 for s in outcomes if s is SessionStatus.UNCONFIRMED),
        streak=streak,
    )
