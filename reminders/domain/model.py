"""Value objects and statuses of the routine. Pure: stdlib only."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time
from enum import StrEnum

from reminders.domain.errors import InvalidInput

MIN_DAYS_BETWEEN_SESSIONS = 7  # R2: a constant, never a setting; see sessions.earliest_allowed_date
MIN_CADENCE_DAYS = 7  # R3
MAX_CADENCE_DAYS = 28  # R3
DEFAULT_CADENCE_DAYS = 14  # R3
MAX_LATER_MOVES = 3  # R9
UNCONFIRMED_AFTER_HOURS = 12  # R9
ROLL_FRESH_HOURS = 2  # R8
NEEDLE_MM = "0.2"  # R1


class UserStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    PAUSED = "paused"
    OPTED_OUT = "opted_out"
    INVALID = "invalid"  # the provider said the number cannot receive SMS


class PausedReason(StrEnum):
    """Why a paused user is paused."""

    USER = "user"  # they texted PAUSE
    OPERATOR = "operator"  # an operator paused them
    SKIN_REACTION = "skin_reaction"  # they reported a skin reaction


class CheckIn(StrEnum):
    """A session's tolerance check-in: asked (planned or sent, no answer yet), or answered."""

    ASKED = "asked"
    OK = "ok"
    REACTION = "reaction"


class SessionStatus(StrEnum):
    PLANNED = "planned"
    DONE = "done"
    SKIPPED = "skipped"
    UNCONFIRMED = "unconfirmed"
    CANCELLED = "cancelled"


# The sessions that count for adherence: cancelled ones were superseded, not missed.
ENDED_SESSION_STATUSES = (SessionStatus.DONE, SessionStatus.SKIPPED, SessionStatus.UNCONFIRMED)


class ReminderStatus(StrEnum):
    SCHEDULED = "scheduled"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


ACTIVE_REMINDER_STATUSES = (ReminderStatus.SCHEDULED, ReminderStatus.SENDING)


class SessionKind(StrEnum):
    PLANNED = "planned"  # planned by the routine
    EXTRA = "extra"  # a DONE with no session pending (R10)


class Direction(StrEnum):
    IN = "in"  # an SMS from a user
    OUT = "out"  # a reminder we sent, or a reply


# A message's status word is the provider's (queued, sent, delivered ...) but for these two.
RECEIVED = "received"  # every inbound SMS
REPLIED = "replied"  # an auto-reply: it went back in the webhook's answer, with no SID


class Step(StrEnum):
    HEADS_UP = "heads_up"
    MAKEUP_REMOVAL = "makeup_removal"
    PEELING = "peeling"
    ROLL = "roll"
    CONSENT_REQUEST = "consent_request"  # not a plan step: the double opt-in question
    SAFETY_NOTICE = "safety_notice"  # not a plan step: who must not roll, once consent is given
    SKIN_CHECK = "skin_check"  # not a plan step: how the skin feels after a session


PLAN_STEPS = (Step.HEADS_UP, Step.MAKEUP_REMOVAL, Step.PEELING, Step.ROLL)

# Written once, here: the API's schemas and the settings check with them too.
E164_PATTERN = r"^\+[1-9][0-9]{6,14}$"
HHMM_PATTERN = r"^([01]?[0-9]|2[0-3]):[0-5][0-9]$"  # 24-hour, the hour may have one digit

_E164 = re.compile(E164_PATTERN)


@dataclass(frozen=True, slots=True)
class PhoneNumber:
    """An E.164 number. `str()` is the number itself; logs use `masked()`."""

    e164: str

    def __post_init__(self) -> None:
        if not _E164.fullmatch(self.e164):
            raise InvalidInput("phone", "phone must be an E.164 number such as +14155550123")

    def masked(self) -> str:
        """Keep the country-code prefix and the last four digits: +1*******0123."""
        return mask_phone(self.e164)

    def __str__(self) -> str:
        return self.e164


def mask_phone(value: str) -> str:
    """Mask any phone-like string: the first two and last four characters around seven stars,
    whatever its length, so the mask tells nothing more: +1*******0123."""
    if len(value) <= 8:
        return "*" * 7
    return value[:2] + "*" * 7 + value[-4:]


_ASCII_DIGITS = re.compile(r"[0-9]+")


def is_plain_digits(text: str) -> bool:
    """True when `text` is one or more ASCII digits 0-9 and nothing else.

    Stricter than `str.isdigit()`, which is true for other scripts' digits and for '²'."""
    return _ASCII_DIGITS.fullmatch(text) is not None


def parse_whole_number(text: str, max_digits: int) -> int | None:
    """`text` as a whole number when it is 1 to `max_digits` ASCII digits, else None.

    Stricter than `int()`, which also takes other scripts' digits, underscores, signs and
    white space; the bound on digits comes first, as `int()` of a long text is slow or
    refused."""
    if len(text) > max_digits or not is_plain_digits(text):
        return None
    return int(text)


def parse_cadence(value: int, field: str = "cadence_days") -> int:
    """Check R3: MIN_CADENCE_DAYS to MAX_CADENCE_DAYS days. Raises InvalidInput naming the
    field."""
    bounds = f"{MIN_CADENCE_DAYS} to {MAX_CADENCE_DAYS}"
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(field, f"{field} must be a whole number of days from {bounds}")
    if value < MIN_CADENCE_DAYS:
        raise InvalidInput(
            field, f"{field} {value} is too short: the routine is at most once a week ({bounds})"
        )
    if value > MAX_CADENCE_DAYS:
        raise InvalidInput(field, f"{field} {value} is too long: choose {bounds} days")
    return value


_HHMM = re.compile(HHMM_PATTERN)


def parse_wall_time(value: str, field: str = "session_time") -> time:
    """Parse "HH:MM" (24-hour). Raises InvalidInput naming the field."""
    text = value.strip() if isinstance(value, str) else None
    if text is None or _HHMM.match(text) is None:
        shown = value if isinstance(value, str) and len(value) <= 20 else "value"
        raise InvalidInput(field, f"{field} '{shown}' is not a 24-hour time such as '20:00'")
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def format_wall_time(value: time) -> str:
    return f"{value.hour:02d}:{value.minute:02d}"


@dataclass(frozen=True, slots=True)
class Schedule:
    """Where and when a user rolls: an IANA zone, a local wall time and a cadence."""

    timezone: str
    session_time: time
    cadence_days: int


@dataclass(frozen=True, slots=True)
class PlannedReminder:
    """One SMS of a session's plan, with the instants that govern it (UTC)."""

    step: Step
    send_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class PlannedSession:
    """A session on a local date, its start instant and the SMS of its plan."""

    local_date: date
    starts_at: datetime
    reminders: tuple[PlannedReminder, ...]

    def still_ahead(self, now: datetime) -> list[PlannedReminder]:
        """The reminders to schedule when the session is planned `now`: those whose send
        time has not passed (a step already past is left out, never sent late)."""
        return [r for r in self.reminders if r.send_at >= now]


@dataclass(frozen=True, slots=True)
class User:
    id: int
    phone: PhoneNumber | None  # None once erased
    status: UserStatus
    schedule: Schedule
    last_session_date: date | None
    created_at: datetime
    paused_reason: PausedReason | None = None  # set while paused
    safety_notice_at: datetime | None = None  # when the safety notice was planned, if ever
    checkin_due: bool = False  # the next session done is followed by a check-in
    done_asked_at: datetime | None = None  # when a DONE was asked to be sent again


@dataclass(frozen=True, slots=True)
class Session:
    id: int
    user_id: int
    local_date: date
    starts_at: datetime
    status: SessionStatus
    kind: SessionKind
    later_count: int
    outcome_at: datetime | None
    checkin: CheckIn | None = None


@dataclass(frozen=True, slots=True)
class Reminder:
    id: int
    user_id: int
    session_id: int | None
    step: Step
    send_at: datetime
    expires_at: datetime
    due_at: datetime
    status: ReminderStatus
    attempts: int
    error_code: int | None
    sent_at: datetime | None


@dataclass(frozen=True, slots=True)
class DueReminder:
    """A claimed reminder with what sending it needs, and nothing more: the step and its
    times, the attempts so far, the user's number, state and zone, the session's start."""

    id: int
    user_id: int
    step: Step
    send_at: datetime
    expires_at: datetime
    attempts: int
    phone: PhoneNumber | None
    user_status: UserStatus
    timezone: str
    session_starts_at: datetime | None


@dataclass(frozen=True, slots=True)
class DispatcherBeat:
    """What a dispatcher's liveness row says: its id, how many beats it has counted, and the
    time of the last one by its own clock."""

    dispatcher_id: str
    beats: int
    beat_at: datetime


@dataclass(frozen=True, slots=True)
class SentSms:
    """What the provider answered for a message it took."""

    provider_sid: str
    status: str  # the provider's status word: queued, accepted, sent ...


@dataclass(frozen=True, slots=True)
class SendOutcome:
    """What becomes of a claimed reminder: its new status, and what changes with it.

    `attempts` is set when an attempt was made (this one counted), with that attempt's
    `error_code`; `provider_sid` and `sent_at` when the provider took the message; `due_at`
    when the reminder is scheduled again."""

    reminder_id: int
    status: ReminderStatus
    due_at: datetime | None = None
    attempts: int | None = None
    error_code: int | None = None
    provider_sid: str | None = None
    sent_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """An SMS received, as it is recorded: a stranger's body is not kept."""

    user_id: int | None
    keyword: str
    body: str | None
    provider_sid: str


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """An SMS we sent: a reminder the provider took (its SID and status word), or a reply to
    an inbound SMS (status `replied`, no SID: it went back in the webhook's answer)."""

    user_id: int | None
    body: str
    status: str
    provider_sid: str | None = None
    reminder_id: int | None = None
    step: Step | None = None
    keyword: str | None = None


@dataclass(frozen=True, slots=True)
class MessageRecord:
    """A recorded SMS in or out, without its body."""

    id: int
    user_id: int | None
    reminder_id: int | None
    direction: Direction
    step: Step | None
    keyword: str | None
    status: str
    error_code: int | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class TakenOver:
    """A claim taken over from a dispatcher that stopped, with the time of the claim whose
    send has no recorded outcome (None when unknown) and the provider SID of the reminder's
    last recorded send (None when it was never sent): a reminder sent, then rescheduled after
    an undelivered report, keeps it, and that earlier message is not this claim's send."""

    due: DueReminder
    claimed_at: datetime | None
    provider_sid: str | None = None
