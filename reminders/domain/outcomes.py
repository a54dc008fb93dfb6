"""What the provider's answer about a message does to its reminder and to its user.

One rule for both kinds of answer: the answer to a send (taken, or refused with an error) and a
later delivery report (delivered, or undelivered with an error). A reminder is retried only
while a retry still fits before it goes stale (R8); an error that says the recipient opted out
or cannot receive SMS stops the user, whatever became of the reminder.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from reminders.domain.model import ReminderStatus, UserStatus

# Provider error codes (Twilio's) that say something about the recipient, not the message.
OPTED_OUT_CODES = frozenset({21610})
INVALID_NUMBER_CODES = frozenset({21211, 21614, 21635, 30005, 30006})
# Delivery errors worth another try while the reminder is fresh (queue overflow, handset
# unreachable); they come in delivery reports, after the provider took the message.
RETRY_DELIVERY_CODES = frozenset({30001, 30003})


class Answer(StrEnum):
    TAKEN = "taken"  # the provider accepted a send
    REFUSED = "refused"  # the provider refused a send, or could not be reached
    DELIVERED = "delivered"  # a delivery report: the handset has it
    UNDELIVERED = "undelivered"  # a delivery report: undelivered or failed


@dataclass(frozen=True, slots=True)
class ProviderAnswer:
    """What the provider said about one message. `permanent` is the sender's judgement of a
    refused send (it will never be taken); `error_code` is the provider's code, if any."""

    answer: Answer
    error_code: int | None = None
    permanent: bool = False


@dataclass(frozen=True, slots=True)
class Consequence:
    """The reminder's new status (`retry_at` when it is scheduled again) and the user's, when
    the answer stops them (opted out, invalid number); None leaves the user as they are."""

    reminder: ReminderStatus
    retry_at: datetime | None = None
    user: UserStatus | None = None


# Asked once per SMS sent: the same (immutable) answer each time.
_SENT = Consequence(ReminderStatus.SENT)
_DELIVERED = Consequence(ReminderStatus.DELIVERED)


def retry_delay(
    attempts: int, *, base_seconds: float = 5.0, cap_seconds: float = 300.0
) -> timedelta:
    """Capped exponential backoff after `attempts` attempts: 5 s, 10 s, 20 s ... at most 5 min."""
    return timedelta(seconds=min(cap_seconds, base_seconds * 2 ** max(0, attempts - 1)))


def consequence(
    answer: ProviderAnswer, *, attempts: int, expires_at: datetime, now: datetime
) -> Consequence:
    """What `answer` does to a reminder attempted `attempts` times (this attempt counted) that
    goes stale at `expires_at`, and to its user.

    Taken: sent. Delivered: delivered. A refused send is retried unless permanent; an
    undelivered message is retried only for RETRY_DELIVERY_CODES. A retry happens at
    `now + retry_delay(attempts)`, and only when that is before `expires_at`: otherwise the
    reminder fails. Codes in OPTED_OUT_CODES and INVALID_NUMBER_CODES stop the user (a refused
    send only when permanent)."""
    if answer.answer is Answer.TAKEN:
        return _SENT
    if answer.answer is Answer.DELIVERED:
        return _DELIVERED
    if answer.answer is Answer.REFUSED:
        retryable = not answer.permanent
    else:
        retryable = answer.error_code in RETRY_DELIVERY_CODES
    user = stopped_user(answer)
    if retryable:
        retry_at = now + retry_delay(attempts)
        if retry_at < expires_at:
            return Consequence(ReminderStatus.SCHEDULED, retry_at, user)
    return Consequence(ReminderStatus.FAILED, None, user)


def stopped_user(answer: ProviderAnswer) -> UserStatus | None:
    """The user's new status when `answer` says they opted out (OPTED_OUT_CODES) or their
    number cannot receive SMS (INVALID_NUMBER_CODES): from an undelivered report, or from a
    refused send that is permanent. None leaves the user as they are. It is the user part of
    `consequence`, and needs no reminder: a report about a reply stops its user too."""
    if answer.answer is Answer.UNDELIVERED or (
        answer.answer is Answer.REFUSED and answer.permanent
    ):
        if answer.error_code in OPTED_OUT_CODES:
            return UserStatus.OPTED_OUT
        if answer.error_code in INVALID_NUMBER_CODES:
            return UserStatus.INVALID
    return None


def stops(current: UserStatus, stop: UserStatus | None) -> bool:
    """Whether an answer that stops a user as `stop` (see `stopped_user`) changes a user who
    is `current`: not when they are stopped so already, and never once they opted out (an
    opt-out is theirs to undo, never ours to overwrite)."""
    return stop is not None and current not in (stop, UserStatus.OPTED_OUT)


# --- delivery reports ---------------------------------------------------------------------

# A message's provider status only moves forward: queued/accepted < sending < sent <
# delivered | undelivered | failed, and a final status never changes. "unknown" is what a
# send recorded when the provider's answer carried no status word.
_RANK = {
    "unknown": 0,
    "queued": 0,
    "accepted": 0,
    "scheduled": 0,
    "sending": 1,
    "sent": 2,
    "delivered": 3,
    "undelivered": 3,
    "failed": 3,
}
_REPORTED = frozenset(_RANK) - {"unknown"}  # the words a delivery report may carry


def statuses_before(word: str) -> list[str] | None:
    """The recorded statuses a delivery report with status `word` may move a message from
    (those behind it); None for a word this service does not track (read, canceled ...)."""
    if word not in _REPORTED:
        return None
    rank = _RANK[word]
    return [status for status, behind in _RANK.items() if behind < rank]


def report_answer(word: str, error_code: int | None) -> ProviderAnswer | None:
    """What a delivery report's status word says of the message: delivered, or undelivered
    (`undelivered` and `failed` alike, with the error code). None for a word that is not
    final: the message is still on its way."""
    if word == "delivered":
        return ProviderAnswer(Answer.DELIVERED)
    if word in ("undelivered", "failed"):
        return ProviderAnswer(Answer.UNDELIVERED, error_code)
    return None
