"""Errors raised by the routine engine.

Every message names the field, the rejected value (never a phone number) and what is accepted.

    ReminderError
    ├── InvalidInput            a value breaks a rule of the routine (400 / 422 at the edge)
    │   ├── InvalidPlan         REMINDERS_PLAN cannot be parsed or breaks R4/R5
    │   ├── InvalidQuietHours   REMINDERS_QUIET_HOURS cannot be parsed
    │   └── QuietHoursConflict  a schedule would put a step inside quiet hours (R7)
    ├── NotFound                no such user (404)
    ├── Conflict                the phone number is already enrolled (409)
    ├── SmsSendError            the SMS provider refused or failed a send
    └── SmsLookupError          the SMS provider could not say whether it took a message
"""

from __future__ import annotations


class ReminderError(Exception):
    """Base of every error the service raises on purpose."""


class InvalidInput(ReminderError):
    """A value breaks a rule; the message names the field and what is accepted."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class InvalidPlan(InvalidInput):
    def __init__(self, message: str) -> None:
        super().__init__("plan", message)


class InvalidQuietHours(InvalidInput):
    def __init__(self, message: str) -> None:
        super().__init__("quiet_hours", message)


class QuietHoursConflict(InvalidInput):
    """A session time that would put a step inside quiet hours; names the allowed window."""

    def __init__(self, field: str, message: str, allowed: str) -> None:
        super().__init__(field, message)
        self.allowed = allowed


class NotFound(ReminderError):
    pass


class Conflict(ReminderError):
    pass


class SmsSendError(ReminderError):
    """A send failed. `permanent` errors are never retried; `code` is the provider's error code."""

    def __init__(self, message: str, *, code: int | None, permanent: bool) -> None:
        super().__init__(message)
        self.code = code
        self.permanent = permanent


class SmsLookupError(ReminderError):
    """The provider could not be asked whether it already took a message, or its answer
    cannot be trusted: the caller must treat the outcome as unknown. `status` is the HTTP
    status and `code` the provider's error code, when it answered with them."""

    def __init__(self, message: str, *, status: int | None = None, code: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
