"""Status callbacks (docs/rules.md, Sending): what the provider says happened to a message we sent.

Callbacks can arrive late, twice or out of order, so a status only ever moves forward
(`domain.outcomes.statuses_before`). Every change is a conditional update, so two callbacks
racing each other cannot move a message backwards either.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from reminders.domain.model import Direction, Reminder, ReminderStatus, User, UserStatus
from reminders.domain.outcomes import (
    Consequence,
    consequence,
    report_answer,
    statuses_before,
    stopped_user,
    stops,
)
from reminders.ports import UnitOfWork
from reminders.services.routine import stop_reminders

logger = logging.getLogger(__name__)

_ONLY_FROM_SENT = (ReminderStatus.SENT,)


class StatusOutcome(StrEnum):
    UPDATED = "updated"  # the message moved forward
    STALE = "stale"  # known message, but the status is not ahead of what we have
    UNKNOWN_MESSAGE = "unknown_message"  # no message of ours has this SID
    UNKNOWN_STATUS = "unknown_status"  # a status word we do not track (read, canceled ...)


@dataclass(frozen=True, slots=True)
class StatusResult:
    outcome: StatusOutcome
    retry_at: datetime | None = None  # when an undelivered reminder is tried again


def record_status(
    uow: UnitOfWork,
    now: datetime,
    *,
    message_sid: str,
    status: str,
    error_code: int | None = None,
) -> StatusResult:
    """Apply one status callback to the message with this provider SID, to its reminder and
    to its user.

    Returns what happened; an unknown SID or status word changes nothing. A final status is
    an answer about the message, and `domain.outcomes.consequence` says what it does: the
    reminder (only while it is still `sent`) is delivered, failed, or scheduled again for a
    transient delivery error while it is fresh; an opt-out or invalid-number code stops the
    user."""
    word = status.strip().lower()
    behind = statuses_before(word)
    if behind is None:
        return StatusResult(StatusOutcome.UNKNOWN_STATUS)
    message = uow.messages.by_provider_sid(message_sid)
    if message is None or message.direction != Direction.OUT:
        return StatusResult(StatusOutcome.UNKNOWN_MESSAGE)
    # Locked before the reminder's row (one lock order), and read once: nothing below changes it.
    user = uow.users.lock(message.user_id) if message.user_id is not None else None
    failure = word in ("undelivered", "failed")
    error = error_code if failure else None
    if not uow.messages.set_status(message_sid, word, error, now, only_from=behind):
        return StatusResult(StatusOutcome.STALE)
    extra = {"twilio_sid": message_sid, "status": word, "error_code": error}
    logger.info("message status updated", extra={**extra, "user_id": message.user_id})
    answer = report_answer(word, error)
    if answer is None:
        return StatusResult(StatusOutcome.UPDATED)
    retry_at = None
    if message.reminder_id is not None:
        reminder = uow.reminders.sent_as(message.reminder_id, message_sid)
        # A reminder sent again since, or settled already, is not this message's any more.
        if reminder is not None and reminder.status is ReminderStatus.SENT:
            result = consequence(
                answer, attempts=reminder.attempts, expires_at=reminder.expires_at, now=now
            )
            retry_at = _update_reminder(uow, reminder, result, error, now)
    if user is not None:
        _apply_to_user(uow, user, stopped_user(answer), now)
    return StatusResult(StatusOutcome.UPDATED, retry_at)


def _update_reminder(
    uow: UnitOfWork, reminder: Reminder, result: Consequence, error: int | None, now: datetime
) -> datetime | None:
    """Apply `result` to a `sent` reminder, by conditional updates that leave it alone if a
    racing callback moved it first. Returns when it is tried again, if it is."""
    if result.retry_at is not None:
        if not uow.reminders.reschedule_sent(reminder.id, result.retry_at, error, now):
            return None
        logger.warning(
            "reminder undelivered, will retry",
            extra={
                "reminder_id": reminder.id,
                "error_code": error,
                "retry_at": result.retry_at.isoformat(),
            },
        )
        return result.retry_at
    uow.reminders.set_delivery(reminder.id, result.reminder, error, now, only_from=_ONLY_FROM_SENT)
    if result.reminder is ReminderStatus.FAILED:
        logger.info("reminder undelivered", extra={"reminder_id": reminder.id, "error_code": error})
    return None


def _apply_to_user(uow: UnitOfWork, user: User, status: UserStatus | None, now: datetime) -> None:
    """Stop the user (locked by this unit of work) as `status` says, when
    `domain.outcomes.stops` says it changes them."""
    if status is not None and stops(user.status, status):
        stop_reminders(uow, user, status, now)
