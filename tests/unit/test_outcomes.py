"""What the provider's answer does to a reminder and its user (docs/rules.md, Sending; R8), for
every provider error code the service knows: one table for the send refused (as the Twilio
adapter classifies it, and as a transient refusal), the delivery report (undelivered and
failed), a message taken and a message delivered, and the freshness edge.

Each row: the answer, the reminder's expiry, and what must follow: the reminder's status, when
it is tried again, and the user's new status (None: left as they are)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from reminders.adapters.twilio_sms import TRANSIENT_CODES, is_permanent
from reminders.domain.errors import SmsSendError
from reminders.domain.model import (
    DueReminder,
    PhoneNumber,
    ReminderStatus,
    SentSms,
    Step,
    UserStatus,
)
from reminders.domain.outcomes import (
    INVALID_NUMBER_CODES,
    OPTED_OUT_CODES,
    RETRY_DELIVERY_CODES,
    Answer,
    ProviderAnswer,
    consequence,
    report_answer,
    statuses_before,
    stops,
)
from reminders.services.sending import Attempt, settle

NOW = datetime(2026, 3, 3, 1, 0, tzinfo=UTC)
FRESH = NOW + timedelta(hours=1)  # room for a retry
RETRY = NOW + timedelta(seconds=5)  # the first retry: 5 s after the first attempt
UNKNOWN = 30999  # a code the service knows nothing of

SCHEDULED, FAILED = ReminderStatus.SCHEDULED, ReminderStatus.FAILED
OPTED_OUT, INVALID = UserStatus.OPTED_OUT, UserStatus.INVALID

Then = tuple[ReminderStatus, datetime | None, UserStatus | None]  # status, retry at, user

# code: (the HTTP status Twilio refuses a send with, what that refusal does, what an
# undelivered or failed report with the code does).
CODES: dict[int | None, tuple[int | None, Then, Then]] = {
    21610: (400, (FAILED, None, OPTED_OUT), (FAILED, None, OPTED_OUT)),
    21211: (400, (FAILED, None, INVALID), (FAILED, None, INVALID)),
    21614: (400, (FAILED, None, INVALID), (FAILED, None, INVALID)),
    21635: (400, (FAILED, None, INVALID), (FAILED, None, INVALID)),
    30005: (400, (FAILED, None, INVALID), (FAILED, None, INVALID)),
    30006: (400, (FAILED, None, INVALID), (FAILED, None, INVALID)),
    30001: (400, (SCHEDULED, RETRY, None), (SCHEDULED, RETRY, None)),
    30003: (400, (SCHEDULED, RETRY, None), (SCHEDULED, RETRY, None)),
    20429: (429, (SCHEDULED, RETRY, None), (FAILED, None, None)),
    20003: (401, (SCHEDULED, RETRY, None), (FAILED, None, None)),
    None: (None, (SCHEDULED, RETRY, None), (FAILED, None, None)),  # no answer at all
    UNKNOWN: (400, (FAILED, None, None), (FAILED, None, None)),
}


@dataclass(frozen=True)
class Row:
    name: str
    answer: ProviderAnswer
    expires_at: datetime
    expected: Then
    attempts: int = 1  # this attempt counted


def refused(code: int | None, http_status: int | None) -> ProviderAnswer:
    return ProviderAnswer(Answer.REFUSED, code, is_permanent(code, http_status))


def report(word: str, code: int | None) -> ProviderAnswer:
    answer = report_answer(word, code)
    assert answer is not None
    return answer


ROWS = [
    *(
        Row(f"send refused {code} ({http})", refused(code, http), FRESH, when_refused)
        for code, (http, when_refused, _) in CODES.items()
    ),
    Row(f"send refused {UNKNOWN} (503)", refused(UNKNOWN, 503), FRESH, (SCHEDULED, RETRY, None)),
    # A refusal the sender calls transient is retried, and stops no one, whatever its code.
    *(
        Row(
            f"send refused {code}, transient",
            ProviderAnswer(Answer.REFUSED, code, permanent=False),
            FRESH,
            (SCHEDULED, RETRY, None),
        )
        for code in CODES
    ),
    *(
        Row(f"{word} {code}", report(word, code), FRESH, when_reported)
        for code, (_, _, when_reported) in CODES.items()
        for word in ("undelivered", "failed")
    ),
    Row("taken", ProviderAnswer(Answer.TAKEN), FRESH, (ReminderStatus.SENT, None, None)),
    Row("delivered", report("delivered", None), FRESH, (ReminderStatus.DELIVERED, None, None)),
    # The freshness edge (R8): a retry that would land at or after the expiry fails instead.
    Row("transient refusal, retry at the expiry", refused(None, None), RETRY, (FAILED, None, None)),
    Row(
        "transient refusal, retry just before the expiry",
        refused(None, None),
        RETRY + timedelta(microseconds=1),
        (SCHEDULED, RETRY, None),
    ),
    Row(
        "undelivered 30003, retry at the expiry",
        report("undelivered", 30003),
        RETRY,
        (FAILED, None, None),
    ),
    Row(
        "undelivered 30003, retry just before the expiry",
        report("undelivered", 30003),
        RETRY + timedelta(microseconds=1),
        (SCHEDULED, RETRY, None),
    ),
    Row(
        "expired reminder still stops an opted-out user",
        report("failed", 21610),
        NOW,
        (FAILED, None, OPTED_OUT),
    ),
    Row(
        "taken after its expiry",
        ProviderAnswer(Answer.TAKEN),
        NOW,
        (ReminderStatus.SENT, None, None),
    ),
    # The backoff grows with the attempts: 5 s, 10 s, 20 s, 40 s ... at most 5 minutes.
    Row(
        "fourth attempt refused",
        refused(20429, 429),
        FRESH,
        (SCHEDULED, NOW + timedelta(seconds=40), None),
        attempts=4,
    ),
    Row(
        "tenth attempt refused",
        refused(20429, 429),
        FRESH,
        (SCHEDULED, NOW + timedelta(minutes=5), None),
        attempts=10,
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.name)
def test_the_answer_decides_the_reminder_and_the_user(row: Row) -> None:
    then = consequence(row.answer, attempts=row.attempts, expires_at=row.expires_at, now=NOW)

    assert (then.reminder, then.retry_at, then.user) == row.expected


SEND_ROWS = [row for row in ROWS if row.answer.answer in (Answer.TAKEN, Answer.REFUSED)]


@pytest.mark.parametrize("row", SEND_ROWS, ids=lambda row: row.name)
def test_the_dispatcher_records_what_the_answer_decides(row: Row) -> None:
    due = DueReminder(
        id=7,
        user_id=3,
        step=Step.ROLL,
        send_at=NOW - timedelta(minutes=1),
        expires_at=row.expires_at,
        attempts=row.attempts - 1,
        phone=PhoneNumber("+14155550123"),
        user_status=UserStatus.ACTIVE,
        timezone="America/New_York",
        session_starts_at=NOW,
    )
    answer = row.answer
    result: SentSms | SmsSendError = (
        SentSms("SM" + "0" * 32, "queued")
        if answer.answer is Answer.TAKEN
        else SmsSendError("refused", code=answer.error_code, permanent=answer.permanent)
    )

    outcome, message, user = settle(Attempt(due, "Time to roll", NOW, result), NOW)

    status, retry_at, user_status = row.expected
    assert (outcome.status, outcome.due_at, user) == (status, retry_at, user_status)
    assert (outcome.attempts, outcome.error_code) == (row.attempts, answer.error_code)
    assert (message is not None) == (status is ReminderStatus.SENT)


def test_the_table_covers_every_code_the_service_knows() -> None:
    known = OPTED_OUT_CODES | INVALID_NUMBER_CODES | RETRY_DELIVERY_CODES | TRANSIENT_CODES

    assert set(CODES) == {*known, None, UNKNOWN}


@pytest.mark.parametrize(
    ("current", "stop", "changes"),
    [
        (UserStatus.ACTIVE, UserStatus.OPTED_OUT, True),
        (UserStatus.ACTIVE, UserStatus.INVALID, True),
        (UserStatus.PAUSED, UserStatus.INVALID, True),
        (UserStatus.PENDING, UserStatus.OPTED_OUT, True),
        (UserStatus.INVALID, UserStatus.OPTED_OUT, True),
        (UserStatus.INVALID, UserStatus.INVALID, False),
        (UserStatus.OPTED_OUT, UserStatus.OPTED_OUT, False),
        (UserStatus.OPTED_OUT, UserStatus.INVALID, False),  # an opt-out is the user's
        (UserStatus.ACTIVE, None, False),
    ],
)
def test_an_answer_stops_a_user_unless_stopped_so_already_or_opted_out(
    current: UserStatus, stop: UserStatus | None, changes: bool
) -> None:
    assert stops(current, stop) is changes


@pytest.mark.parametrize(
    ("word", "before"),
    [
        ("queued", []),
        ("sending", ["unknown", "queued", "accepted", "scheduled"]),
        ("sent", ["unknown", "queued", "accepted", "scheduled", "sending"]),
        ("delivered", ["unknown", "queued", "accepted", "scheduled", "sending", "sent"]),
        ("failed", ["unknown", "queued", "accepted", "scheduled", "sending", "sent"]),
        ("read", None),
        ("unknown", None),
    ],
)
def test_a_delivery_report_only_moves_a_message_forward(
    word: str, before: list[str] | None
) -> None:
    assert statuses_before(word) == before
