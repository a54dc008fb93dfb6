"""Request and response models of the admin API, and their making from domain objects.

Every error answers with an ErrorBody (see errors.py, which fills it)."""

from __future__ import annotations

import datetime as dt
import re
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from reminders.domain.model import (
    DEFAULT_CADENCE_DAYS,
    HHMM_PATTERN,
    MAX_CADENCE_DAYS,
    MIN_CADENCE_DAYS,
    MIN_DAYS_BETWEEN_SESSIONS,
    Direction,
    PausedReason,
    ReminderStatus,
    Session,
    SessionKind,
    SessionStatus,
    Step,
    User,
    UserStatus,
    format_wall_time,
    is_plain_digits,
    parse_whole_number,
)
from reminders.domain.planning import zone_for
from reminders.domain.sessions import Adherence
from reminders.services.reports import History, Stats
from reminders.services.routine import ScheduledSession

MAX_PAGE = 200
MAX_SCHEDULE_SESSIONS = 26  # a year at the default cadence of two weeks
MAX_DIGITS = 19  # more than any bound here, and than any 64-bit integer, has

# --- strict readers -------------------------------------------------------------------------
# Pydantic's lax mode reads "1_0" as 10, "1.0", "+1" and " 1" as 1, a datetime as its date and
# "1767225600" as 1 January 2026: one URL or value would then name what another does. These
# let through only the plain form, and leave the bounds to the field.

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _plain_whole_number(value: object) -> object:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and is_plain_digits(value):
        number = parse_whole_number(value, MAX_DIGITS)
        if number is None:
            raise PydanticCustomError(
                "whole_number_too_long", "Input has more digits than any accepted value"
            )
        return number
    raise PydanticCustomError(
        "whole_number_parsing",
        "Input should be a whole number in plain digits 0-9, with no sign, spaces, "
        "separators or decimal point",
    )


def _iso_date(value: object) -> object:
    if value is None or type(value) is date:
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        return value
    raise PydanticCustomError("date_parsing", "Input should be a date in the format YYYY-MM-DD")


# For path and query parameters that are whole numbers (the schema still says integer).
PLAIN_WHOLE_NUMBER = BeforeValidator(_plain_whole_number)

# --- errors ---------------------------------------------------------------------------------


class FieldProblem(BaseModel):
    field: str = Field(description="The field, query or path parameter; 'body' for the body.")
    message: str = Field(description="What is wrong and what is accepted.")


_EXAMPLE_TOO_SHORT = MIN_CADENCE_DAYS - 2
_EXAMPLE_ERROR = (
    f"cadence_days {_EXAMPLE_TOO_SHORT}: input should be greater than or equal to "
    f"{MIN_CADENCE_DAYS}; accepted: a whole number of days from {MIN_CADENCE_DAYS} to "
    f"{MAX_CADENCE_DAYS}"
)


class ErrorBody(BaseModel):
    """The body of every error response."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "error": _EXAMPLE_ERROR,
                    "field": "cadence_days",
                    "errors": [{"field": "cadence_days", "message": _EXAMPLE_ERROR}],
                }
            ]
        }
    )

    error: str = Field(description="The first (often the only) problem, for people.")
    field: str | None = Field(
        default=None, description="The field the first problem is about, when there is one."
    )
    errors: list[FieldProblem] = Field(
        default_factory=list, description="Every problem found, one per field."
    )


# --- requests -------------------------------------------------------------------------------


class EnrollRequest(BaseModel):
    """A user to enrol."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"phone": "+14155550123", "session_time": "19:30"},
                {
                    "phone": "+447400123456",
                    "timezone": "Europe/London",
                    "session_time": "20:00",
                    "cadence_days": 14,
                    "first_session_date": "2026-03-12",
                    "consent": "confirmed",
                },
            ]
        },
    )

    phone: str = Field(
        min_length=1,
        max_length=32,
        description="E.164 (+14155550123), or a national number read with "
        "REMINDERS_DEFAULT_REGION. Stored in E.164.",
        examples=["+14155550123"],
    )
    timezone: str | None = Field(
        default=None,
        max_length=64,
        description="IANA zone of the user. May be left out when the number belongs to "
        "exactly one zone; it is then inferred from the number.",
        examples=["America/Los_Angeles"],
    )
    session_time: str = Field(
        default="20:00",
        pattern=HHMM_PATTERN,
        description="Local wall time of the session, 24-hour 'HH:MM'. Every step of the plan "
        "must fall outside quiet hours; a time that does not is refused with the window "
        "that is allowed.",
        examples=["20:00"],
    )
    cadence_days: int = Field(
        default=DEFAULT_CADENCE_DAYS,
        ge=MIN_CADENCE_DAYS,
        strict=True,
        le=MAX_CADENCE_DAYS,
        description="Days between sessions. The routine is at most once a week.",
        examples=[14],
    )
    # Not strict=True: FastAPI validates the decoded JSON, where a date is a str.
    first_session_date: Annotated[date | None, BeforeValidator(_iso_date)] = Field(
        default=None,
        description="Local date of the first session, today or later (at most a year "
        "ahead). Only with consent 'confirmed': a pending user's first session is planned "
        "when they reply YES. Left out: the earliest date on which every step is still ahead.",
        examples=["2026-03-12"],
    )
    consent: Literal["pending", "confirmed"] = Field(
        default="pending",
        description="'pending': a confirmation SMS asks the user to reply YES, and nothing "
        "else is sent until they do. 'confirmed': the operator already holds the user's "
        "consent, and the first session is planned at once.",
    )


class UserPatch(BaseModel):
    """Changes to a user; fields left out (or null) stay as they are."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"session_time": "19:00", "cadence_days": 21}, {"status": "paused"}]
        },
    )

    session_time: str | None = Field(
        default=None,
        pattern=HHMM_PATTERN,
        description="New local session time 'HH:MM'; re-plans the upcoming session.",
    )
    cadence_days: int | None = Field(
        default=None,
        ge=MIN_CADENCE_DAYS,
        strict=True,
        le=MAX_CADENCE_DAYS,
        description="New cadence; the upcoming session moves, never fewer than "
        f"{MIN_DAYS_BETWEEN_SESSIONS} days after the last one.",
    )
    timezone: str | None = Field(
        default=None, max_length=64, description="New IANA zone; re-plans the upcoming session."
    )
    status: Literal["active", "paused"] | None = Field(
        default=None,
        description="'paused' stops every reminder of an active user; 'active' resumes a "
        "paused one and plans the next session. A pending, opted-out or invalid user cannot "
        "be made active here (409): consent is theirs to give, by SMS.",
    )


# --- responses ------------------------------------------------------------------------------


class UserOut(BaseModel):
    """A user. Instants carry the user's UTC offset."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 1,
                    "phone": "+14155550123",
                    "status": "active",
                    "paused_reason": None,
                    "timezone": "America/Los_Angeles",
                    "session_time": "20:00",
                    "cadence_days": 14,
                    "next_session_at": "2026-03-04T20:00:00-08:00",
                    "last_session_date": None,
                    "created_at": "2026-03-02T04:00:00-08:00",
                }
            ]
        }
    )

    id: int
    phone: str = Field(description="E.164.")
    status: UserStatus
    paused_reason: PausedReason | None = Field(
        description="Why a paused user is paused: 'user' (they texted PAUSE), 'operator' (paused "
        "here or on the command line) or 'skin_reaction' (they reported a skin reaction: "
        "resume only once their skin has settled). Null unless the status is 'paused'."
    )
    timezone: str
    session_time: str = Field(description="'HH:MM', local.")
    cadence_days: int
    next_session_at: datetime | None = Field(
        description="Start of the upcoming session, or null when none is planned (pending, "
        "paused, opted out)."
    )
    last_session_date: date | None = Field(description="Local date of the last ended session.")
    created_at: datetime


class AdherenceOut(BaseModel):
    """How the user's ended sessions went. Cancelled sessions (replaced by a change of
    schedule, a pause or an opt-out) are not counted."""

    done: int = Field(description="Sessions the user said were done.")
    skipped: int = Field(description="Sessions the user skipped.")
    unconfirmed: int = Field(description="Sessions nobody answered about in time.")
    streak: int = Field(
        description="Sessions done in a row, counted back from the latest ended one; 0 when "
        "the latest was skipped or unconfirmed, or none has ended."
    )


class UserDetailOut(UserOut):
    """A user as one user is shown: as in the list, with their adherence."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 1,
                    "phone": "+14155550123",
                    "status": "paused",
                    "paused_reason": "skin_reaction",
                    "timezone": "America/Los_Angeles",
                    "session_time": "20:00",
                    "cadence_days": 14,
                    "next_session_at": None,
                    "last_session_date": "2026-03-31",
                    "created_at": "2026-03-02T04:00:00-08:00",
                    "adherence": {"done": 2, "skipped": 1, "unconfirmed": 0, "streak": 1},
                }
            ]
        }
    )

    adherence: AdherenceOut


class UserPage(BaseModel):
    """One page of users, oldest first."""

    items: list[UserOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )


class ReminderOut(BaseModel):
    step: Step
    send_at: datetime
    status: ReminderStatus | Literal["projected"] = Field(
        description="The stored reminder's status, or 'projected' for sessions after the "
        "upcoming one, which are not planned yet."
    )


class ScheduledSessionOut(BaseModel):
    date: dt.date = Field(description="Local date of the session.")
    starts_at: datetime
    reminders: list[ReminderOut]


class ScheduleOut(BaseModel):
    """The upcoming session as planned, then later ones projected by the cadence."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "user_id": 1,
                    "timezone": "Europe/London",
                    "sessions": [
                        {
                            "date": "2026-03-04",
                            "starts_at": "2026-03-04T20:00:00+00:00",
                            "reminders": [
                                {
                                    "step": "heads_up",
                                    "send_at": "2026-03-03T20:00:00+00:00",
                                    "status": "scheduled",
                                },
                                {
                                    "step": "roll",
                                    "send_at": "2026-03-04T20:00:00+00:00",
                                    "status": "scheduled",
                                },
                            ],
                        }
                    ],
                }
            ]
        }
    )

    user_id: int
    timezone: str
    sessions: list[ScheduledSessionOut]


class PastSessionOut(BaseModel):
    date: dt.date
    starts_at: datetime
    status: SessionStatus = Field(description="done, skipped, unconfirmed or cancelled.")
    kind: Literal["planned", "extra"] = Field(
        description="'extra': a DONE with no session pending."
    )
    later_count: int = Field(description="How many times LATER moved it.")
    outcome_at: datetime | None


class MessageOut(BaseModel):
    direction: Literal["in", "out"]
    step: Step | None = Field(description="The plan step of a reminder SMS.")
    keyword: str | None = Field(
        description="What an inbound SMS was read as, or what an auto-reply answered."
    )
    status: str = Field(description="received, replied, or the SMS provider's status.")
    error_code: int | None
    at: datetime


class HistoryOut(BaseModel):
    """Ended sessions and SMS, newest first. Message bodies are never shown."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "user_id": 1,
                    "timezone": "Europe/London",
                    "sessions": [
                        {
                            "date": "2026-03-04",
                            "starts_at": "2026-03-04T20:00:00+00:00",
                            "status": "done",
                            "kind": "planned",
                            "later_count": 0,
                            "outcome_at": "2026-03-04T20:41:00+00:00",
                        }
                    ],
                    "messages": [
                        {
                            "direction": "in",
                            "step": None,
                            "keyword": "done",
                            "status": "received",
                            "error_code": None,
                            "at": "2026-03-04T20:41:00+00:00",
                        }
                    ],
                }
            ]
        }
    )

    user_id: int
    timezone: str
    sessions: list[PastSessionOut]
    messages: list[MessageOut]


class StatsOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "users": {
                        "pending": 2,
                        "active": 40,
                        "paused": 3,
                        "opted_out": 1,
                        "invalid": 0,
                    },
                    "sessions": {
                        "planned": 40,
                        "done": 75,
                        "skipped": 10,
                        "unconfirmed": 15,
                        "cancelled": 4,
                    },
                    "reminders": {
                        "scheduled": 120,
                        "sending": 0,
                        "sent": 380,
                        "delivered": 0,
                        "failed": 2,
                        "expired": 1,
                        "cancelled": 30,
                    },
                    "messages": {"in": {"received": 120}, "out": {"delivered": 380}},
                    "paused": {"user": 1, "operator": 0, "skin_reaction": 2},
                    "checkins": {"ok": 30, "reaction": 2, "none": 6},
                    "adherence": 0.75,
                }
            ]
        }
    )

    users: dict[str, int] = Field(description="Users by status; erased users are left out.")
    sessions: dict[str, int] = Field(description="Sessions by status.")
    reminders: dict[str, int] = Field(
        description="Reminder SMS by status (each planned SMS is one reminder)."
    )
    messages: dict[str, dict[str, int]] = Field(
        description="SMS recorded, by direction ('in', 'out') and status."
    )
    paused: dict[str, int] = Field(
        description="Paused users by reason: 'user' (they texted PAUSE), 'operator', "
        "'skin_reaction' (they reported a skin reaction); erased users are left out."
    )
    checkins: dict[str, int] = Field(
        description="Check-ins sent after sessions (how does the skin feel?), by answer: 'ok', "
        "'reaction' (a skin reaction reported in reply), 'none' (not answered)."
    )
    adherence: float | None = Field(
        description="done / (done + skipped + unconfirmed) sessions; null before any ended."
    )


# --- from the domain ------------------------------------------------------------------------


def _local(at: datetime, timezone: str) -> datetime:
    return at.astimezone(zone_for(timezone))


def user_out(user: User, next_session: Session | None) -> UserOut:
    """A user as the API shows it; instants in the user's zone."""
    zone = user.schedule.timezone
    return UserOut(
        id=user.id,
        phone=user.phone.e164 if user.phone else "",
        status=user.status,
        paused_reason=user.paused_reason,
        timezone=zone,
        session_time=format_wall_time(user.schedule.session_time),
        cadence_days=user.schedule.cadence_days,
        next_session_at=_local(next_session.starts_at, zone) if next_session else None,
        last_session_date=user.last_session_date,
        created_at=_local(user.created_at, zone),
    )


def user_detail_out(
    user: User, next_session: Session | None, adherence: Adherence
) -> UserDetailOut:
    """One user as the API shows it: as in the list, with their adherence."""
    return UserDetailOut(
        **user_out(user, next_session).model_dump(),
        adherence=AdherenceOut(
            done=adherence.done,
            skipped=adherence.skipped,
            unconfirmed=adherence.unconfirmed,
            streak=adherence.streak,
        ),
    )


def schedule_out(user: User, sessions: list[ScheduledSession]) -> ScheduleOut:
    zone = user.schedule.timezone
    return ScheduleOut(
        user_id=user.id,
        timezone=zone,
        sessions=[
            ScheduledSessionOut(
                date=s.local_date,
                starts_at=_local(s.starts_at, zone),
                reminders=[
                    ReminderOut(
                        step=r.step,
                        send_at=_local(r.send_at, zone),
                        status="projected" if r.status is None else r.status,
                    )
                    for r in s.reminders
                ],
            )
            for s in sessions
        ],
    )


def history_out(user: User, history: History) -> HistoryOut:
    zone = user.schedule.timezone
    return HistoryOut(
        user_id=user.id,
        timezone=zone,
        sessions=[
            PastSessionOut(
                date=s.local_date,
                starts_at=_local(s.starts_at, zone),
                status=s.status,
                kind="extra" if s.kind is SessionKind.EXTRA else "planned",
                later_count=s.later_count,
                outcome_at=_local(s.outcome_at, zone) if s.outcome_at else None,
            )
            for s in history.sessions
        ],
        messages=[
            MessageOut(
                direction="in" if m.direction is Direction.IN else "out",
                step=m.step,
                keyword=m.keyword,
                status=m.status,
                error_code=m.error_code,
                at=_local(m.at, zone),
            )
            for m in history.messages
        ],
    )


def stats_out(stats: Stats) -> StatsOut:
    return StatsOut(
        users=stats.users,
        sessions=stats.sessions,
        reminders=stats.reminders,
        messages=stats.messages,
        paused=stats.paused,
        checkins=stats.checkins,
        adherence=stats.adherence,
    )
