"""The send policy: what the dispatcher does with a reminder it has claimed, and what the
provider's answer to a send does to it (docs/rules.md, Sending).

A claimed reminder is cancelled when its user may not receive it any more, failed when its
user's time zone is unknown, expired once it is too late to help (R8), moved to the end of
quiet hours (R7), or sent now with its text. A finished attempt becomes what
`domain.outcomes.consequence` says of the provider's answer: sent; failed, or retried while a
retry still fits before the reminder goes stale; and an opt-out or invalid number stops the
user. Nothing here does I/O: the dispatcher records what these functions decide.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from reminders.domain.errors import InvalidInput, SmsSendError
from reminders.domain.messages import reminder_text
from reminders.domain.model import (
    DueReminder,
    OutboundMessage,
    ReminderStatus,
    SendOutcome,
    SentSms,
    Step,
    UserStatus,
)
from reminders.domain.outcomes import Answer, ProviderAnswer, consequence
from reminders.domain.planning import SendAction, decide_send, zone_for
from reminders.services.policy import Policy

logger = logging.getLogger(__name__)

_TAKEN = ProviderAnswer(Answer.TAKEN)

ToSend = tuple[DueReminder, str]  # a claimed reminder to send now, with its text


@dataclass(frozen=True, slots=True)
class Attempt:
    """A send attempt that is over: the reminder, its text, when the attempt started, and
    what the provider answered (None: it was released unsent, the dispatcher stopping)."""

    due: DueReminder
    body: str
    started_at: datetime
    result: SentSms | SmsSendError | None


def may_receive(due: DueReminder) -> bool:
    """Whether the reminder's user may still get it: a number, and consent (the consent
    question goes only to a pending user, the safety notice to one who consented and has
    not opted out since, paused or not, every other step only to an active one)."""
    if due.phone is None:
        return False
    if due.step is Step.CONSENT_REQUEST:
        return due.user_status is UserStatus.PENDING
    if due.step is Step.SAFETY_NOTICE:
        return due.user_status in (UserStatus.ACTIVE, UserStatus.PAUSED)
    return due.user_status is UserStatus.ACTIVE


def triage(
    claimed: Sequence[DueReminder], now: datetime, policy: Policy
) -> tuple[list[tuple[Step, SendOutcome]], list[ToSend]]:
    """Split claimed reminders into those settled without sending (cancelled, failed for an
    unknown zone, expired, waiting out quiet hours), each with its step, and those to send
    now, each with its text."""
    settled: list[tuple[Step, SendOutcome]] = []
    to_send: list[ToSend] = []
    for due in claimed:
        if not may_receive(due):
            settled.append((due.step, SendOutcome(due.id, ReminderStatus.CANCELLED)))
            continue
        try:
            zone = zone_for(due.timezone)
        except InvalidInput:  # one bad row must not stop the batch
            logger.error(
                "reminder failed: its user's time zone is not one this service knows",
                extra={"reminder_id": due.id, "user_id": due.user_id},
            )
            settled.append((due.step, SendOutcome(due.id, ReminderStatus.FAILED)))
            continue
        decision = decide_send(
            now=now, expires_at=due.expires_at, zone=zone, quiet=policy.quiet_hours
        )
        if decision.action is SendAction.EXPIRE:
            settled.append((due.step, SendOutcome(due.id, ReminderStatus.EXPIRED)))
        elif decision.action is SendAction.WAIT:
            outcome = SendOutcome(due.id, ReminderStatus.SCHEDULED, due_at=decision.wait_until)
            settled.append((due.step, outcome))
        else:
            body = reminder_text(policy.brand, due.step, due.session_starts_at, zone)
            to_send.append((due, body))
    return settled, to_send


def released(due: DueReminder, due_at: datetime) -> SendOutcome:
    """A claimed reminder given back unsent, due again at `due_at`; its attempts unchanged."""
    return SendOutcome(due.id, ReminderStatus.SCHEDULED, due_at=due_at)


def taken(
    due: DueReminder,
    body: str,
    sms: SentSms,
    sent_at: datetime,
    status: ReminderStatus = ReminderStatus.SENT,
) -> tuple[SendOutcome, OutboundMessage]:
    """A claimed reminder whose message the provider took: its outcome (`status`, sent or
    already delivered, with the provider's id and this attempt counted) and the message."""
    outcome = SendOutcome(
        due.id,
        status,
        attempts=due.attempts + 1,
        provider_sid=sms.provider_sid,
        sent_at=sent_at,
    )
    message = OutboundMessage(
        user_id=due.user_id,
        body=body,
        status=sms.status,
        provider_sid=sms.provider_sid,
        reminder_id=due.id,
        step=due.step,
    )
    return outcome, message


def settle(
    attempt: Attempt, now: datetime
) -> tuple[SendOutcome, OutboundMessage | None, UserStatus | None]:
    """What a finished attempt does, decided `now`: the reminder's outcome, the message sent
    when the provider took it, and the user's new status when the answer stops them."""
    due = attempt.due
    result = attempt.result
    if result is None:
        return released(due, attempt.started_at), None, None
    attempts = due.attempts + 1
    if isinstance(result, SentSms):
        status = consequence(_TAKEN, attempts=attempts, expires_at=due.expires_at, now=now)
        if logger.isEnabledFor(logging.INFO):  # once per SMS: no log context unless written
            logger.info(
                "reminder sent",
                extra={
                    "reminder_id": due.id,
                    "user_id": due.user_id,
                    "step": due.step,
                    "twilio_sid": result.provider_sid,
                },
            )
        outcome, message = taken(due, attempt.body, result, attempt.started_at, status.reminder)
        return outcome, message, None
    extra = {"reminder_id": due.id, "user_id": due.user_id, "step": due.step}
    answer = ProviderAnswer(Answer.REFUSED, result.code, result.permanent)
    then = consequence(answer, attempts=attempts, expires_at=due.expires_at, now=now)
    if then.retry_at is not None:
        logger.warning(
            "send failed, will retry",
            extra={
                **extra,
                "error_code": result.code,
                "attempts": attempts,
                "retry_at": then.retry_at.isoformat(),
            },
        )
    elif result.permanent:
        logger.info("reminder failed permanently", extra={**extra, "error_code": result.code})
    else:
        logger.warning(
            "reminder failed: no retry fits before it goes stale",
            extra={**extra, "error_code": result.code, "attempts": attempts},
        )
    outcome = SendOutcome(
        due.id, then.reminder, due_at=then.retry_at, attempts=attempts, error_code=result.code
    )
    return outcome, None, then.user
