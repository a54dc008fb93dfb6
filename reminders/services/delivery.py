"""Status callbacks (docs/rules.md, Sending): what the provider says happened to a message we sent.

Callbacks can arrive late, twice or out of order, so a status only ever moves forward:
queued/accepted < sending < sent < delivered | undelivered | failed, and a final status never
changes. Every change is a conditional update, so two callbacks racing each other cannot move
a message backwards either.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from reminders.domain.model import ReminderStatus, UserStatus
from reminders.domain.outcomes import INVALID_NUMBER_CODES, OPTED_OUT_CODES, retry_delay
from reminders.ports import UnitOfWork
from reminders.services.routine import stop_reminders

logger = logging.getLogger(__name__)

_RANK = {
    "queued": 0,
    "accepted": 0,
    "scheduled": 0,
    "sending": 1,
    "sent": 2,
    "delivered": 3,
    "undelivered": 3,
    "failed": 3,
}
FINAL_STATUSES = frozenset({"delivered", "undelivered", "failed"})
# What a send can have recorded before any callback: the provider's first answer, or
# "unknown" when it gave none.
_RECORDED_BEFORE_CALLBACKS = {"unknown": 0}

# Delivery errors worth another try while the reminder is fresh (queue overflow, handset
# unreachable); they come in callbacks, after the provider accepted the message.
RETRY_DELIVERY_CODES = frozenset({30001, 30003})


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
    """Apply one status callback to the message with this provider SID and to its reminder.

    Returns what happened; an unknown SID or status word changes nothing. A final failure
    with code 21610 opts the user out, an invalid-number code marks them invalid, and a
    transient delivery error (30001, 30003) schedules the reminder again while it is fresh."""
    word = status.strip().lower()
    rank = _RANK.get(word)
    if rank is None:
        return StatusResult(StatusOutcome.UNKNOWN_STATUS)
    message = uow.messages.by_provider_sid(message_sid)
    if message is None or message.direction != "out":
        return StatusResult(StatusOutcome.UNKNOWN_MESSAGE)
    if message.user_id is not None:
        uow.users.lock(message.user_id)  # before the reminder's row: one lock order
    behind = [s for s, r in {**_RANK, **_RECORDED_BEFORE_CALLBACKS}.items() if r < rank]
    failure = word in ("undelivered", "failed")
    error = error_code if failure else None
    if not uow.messages.set_status(message_sid, word, error, now, only_from=behind):
        return StatusResult(StatusOutcome.STALE)
    extra = {"twilio_sid": message_sid, "status": word, "error_code": error}
    logger.info("message status updated", extra={**extra, "user_id": message.user_id})
    retry_at = None
    if rank == 3 and message.reminder_id is not None:
        retry_at = _update_reminder(uow, now, message.reminder_id, message_sid, word, error)
    if failure and message.user_id is not None:
        _apply_to_user(uow, message.user_id, error, now)
    return StatusResult(StatusOutcome.UPDATED, retry_at)


def _update_reminder(
    uow: UnitOfWork, now: datetime, reminder_id: int, sid: str, word: str, error: int | None
) -> datetime | None:
    reminder = uow.reminders.sent_as(reminder_id, sid)
    if reminder is None or reminder.status is not ReminderStatus.SENT:
        return None
    if word == "delivered":
        uow.reminders.set_delivery(
            reminder.id, ReminderStatus.DELIVERED, None, now, only_from=[ReminderStatus.SENT]
        )
        return None
    if error in RETRY_DELIVERY_CODES:
        retry_at = now + retry_delay(reminder.attempts)
        if retry_at < reminder.expires_at and uow.reminders.reschedule_sent(
            reminder.id, retry_at, error, now
        ):
            logger.warning(
                "reminder undelivered, will retry",
                extra={
                    "reminder_id": reminder.id,
                    "error_code": error,
                    "retry_at": retry_at.isoformat(),
                },
            )
            return retry_at
    uow.reminders.set_delivery(
        reminder.id, ReminderStatus.FAILED, error, now, only_from=[ReminderStatus.SENT]
    )
    logger.info("reminder undelivered", extra={"reminder_id": reminder.id, "error_code": error})
    return None


def _apply_to_user(uow: UnitOfWork, user_id: int, error: int | None, now: datetime) -> None:
    if error in OPTED_OUT_CODES:
        new_status = UserStatus.OPTED_OUT
    elif error in INVALID_NUMBER_CODES:
        new_status = UserStatus.INVALID
    else:
        return
    user = uow.users.get(user_id)
    if user is None or user.status in (new_status, UserStatus.OPTED_OUT):
        return
    stop_reminders(uow, user, new_status, now)
