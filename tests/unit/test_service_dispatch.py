"""What the dispatcher does with each claimed reminder (docs/rules.md, Sending; R7, R8), on the
in-memory unit of work with a fake sender: no threads (no executor) and no liveness watch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from reminders.domain import messages as texts
from reminders.domain.errors import SmsSendError
from reminders.domain.model import (
    Direction,
    PlannedReminder,
    ReminderStatus,
    SessionStatus,
    Step,
    UserStatus,
)
from reminders.services.dispatch import Dispatcher
from tests.fakes import (
    FakeClock,
    FakeSmsSender,
    InMemoryUnitOfWorkFactory,
    ReminderRow,
)
from tests.unit.in_memory import PHONE, POLICY, enroll

# The clock starts on Mon 2 March 2026, 10:00 in New York (tests/conftest.py). A confirmed
# user's first session is Tue 3 March at 20:00; its heads-up is due on 2 March at 20:00.
HEADS_UP_AT = datetime(2026, 3, 3, 1, 0, tzinfo=UTC)


@pytest.fixture
def dispatcher(
    factory: InMemoryUnitOfWorkFactory, sender: FakeSmsSender, clock: FakeClock
) -> Dispatcher:
    return Dispatcher(uow_factory=factory, sender=sender, clock=clock, policy=POLICY)


def reminder(factory: InMemoryUnitOfWorkFactory, step: Step) -> ReminderRow:
    [row] = [r for r in factory.store.tables.reminders.values() if r.step is step]
    return row


def statuses(factory: InMemoryUnitOfWorkFactory) -> dict[Step, ReminderStatus]:
    return {
        r.step: r.status
        for r in factory.store.tables.reminders.values()
        if r.step is not Step.SAFETY_NOTICE
    }


def enroll_past_the_safety_notice(
    factory: InMemoryUnitOfWorkFactory,
    dispatcher: Dispatcher,
    sender: FakeSmsSender,
    clock: FakeClock,
) -> int:
    """A confirmed user whose safety notice (due seconds after enrolment) has gone out."""
    user_id = enroll(factory, clock, confirmed=True).id
    clock.advance(timedelta(seconds=5))
    dispatcher.dispatch_due()
    assert [sms.body for sms in sender.sent] == [texts.safety_notice_text(POLICY.brand)]
    sender.sent.clear()
    return user_id


def test_a_due_reminder_is_sent_and_recorded_with_its_message(
    factory: InMemoryUnitOfWorkFactory,
    dispatcher: Dispatcher,
    sender: FakeSmsSender,
    clock: FakeClock,
) -> None:
    user_id = enroll(factory, clock, confirmed=False).id

    report = dispatcher.dispatch_due()

    [sms] = sender.sent
    question = reminder(factory, Step.CONSENT_REQUEST)
    [message] = factory.store.tables.messages.values()
    assert (report.claimed, report.counts) == (1, {"sent": 1})
    assert (sms.to, "Reply YES" in sms.body) == (PHONE.e164, True)
    assert (question.status, question.attempts, question.provider_sid, question.sent_at) == (
        ReminderStatus.SENT,
        1,
        sms.sid,
        clock.now(),
    )
    assert (message.user_id, message.reminder_id, message.direction, message.step) == (
        user_id,
        question.id,
        Direction.OUT,
        Step.CONSENT_REQUEST,
    )
    assert (message.body, message.status, message.provider_sid) == (sms.body, "queued", sms.sid)


def test_nothing_is_sent_before_it_is_due(
    factory: InMemoryUnitOfWorkFactory,
    dispatcher: Dispatcher,
    sender: FakeSmsSender,
    clock: FakeClock,
) -> None:
    enroll_past_the_safety_notice(factory, dispatcher, sender, clock)
    clock.set(HEADS_UP_AT - timedelta(seconds=1))

    report = dispatcher.dispatch_due()

    assert (report.claimed, sender.sent) == (0, [])


def test_a_transient_error_is_retried_after_a_backoff_while_fresh(
    factory: InMemoryUnitOfWorkFactory,
    dispatcher: Dispatcher,
    sender: FakeSmsSender,
    clock: FakeClock,
) -> None:
    enroll(factory, clock, confirmed=False)
    sender.fail_with(SmsSendError("too many requests", code=20429, permanent=False))

    dispatcher.dispatch_due()

    question = reminder(factory, Step.CONSENT_REQUEST)
    assert (question.status, question.attempts, question.error_code) == (
        ReminderStatus.SCHEDULED,
        1,
        20429,
    )
    assert question.due_at == clock.now() + timedelta(seconds=5)


def test_a_retry_is_sent_once_its_backoff_is_over(
    factory: InMemoryUnitOfWorkFactory,
    dispatcher: Dispatcher,
    sender: FakeSmsSender,
    clock: FakeClock,
) -> None:
    enroll(factory, clock, confirmed=False)
    sender.fail_with(SmsSendError("too many requests", code=20429, permanent=False))
    dispatcher.dispatch_due()
    clock.advance(timedelta(seconds=4))
    dispatcher.dispatch_due()
    early = len(sender.sent)
    clock.advance(timedelta(seconds=1))

    dispatcher.dispatch_due()

    question = reminder(factory, Step.CONSENT_REQUEST)
    assert (early, len(sender.sent)) == (0, 1)
    assert (question.status, question.attempts, question.error_code) == (
        ReminderStatus.SENT,
        2,
        None,
    )


def test_a_transient_error_fails_the_reminder_when_no_retry_fits_before_it_goes_stale(
    factory: InMemoryUnitOfWorkFactory,
    dispatcher: Dispatcher,
    sender: FakeSmsSender,
    clock: FakeClock,
) -> None:
    enroll(factory, clock, confirmed=False)
    clock.advance(timedelta(hours=24) - timedelta(seconds=5))  # the question's last seconds
    sender.fail_with(SmsSendError("server error", code=None, permanent=False))

    dispatcher.dispatch_due()

    question = reminder(factory, Step.CONSENT_REQUEST)
    assert (question.status, question.attempts) == (ReminderStatus.FAILED, 1)


def test_a_permanent_opted_out_error_opts_the_user_out_and_cancels_the_rest(
    factory: InMemoryUnitOfWorkFactory,
    dispatcher: Dispatcher,
    sender: FakeSmsSender,
    clock: FakeClock,
) -> None:
    user_id = enroll_past_the_safety_notice(factory, dispatcher, sender, clock)
    clock.set(HEADS_UP_AT)
    sender.fail_with(SmsSendError("unsubscribed recipient", code=21610, permanent=True))

    dispatcher.dispatch_due()

    heads_up = reminder(factory, Step.HEADS_UP)
    [session] = factory.store.tables.sessions.values()
    assert factory.store.tables.users[user_id].status is UserStatus.OPTED_OUT
    assert (heads_up.status, heads_up.error_code) == (ReminderStatus.FAILED, 21610)
    assert statuses(factory) == {
        Step.HEADS_UP: ReminderStatus.FAILED,
        Step.MAKEUP_REMOVAL: ReminderStatus.CANCELLED,
        Step.PEELING: ReminderStatus.CANCELLED,
        Step.ROLL: ReminderStatus.CANCELLED,
    }
    assert session.status is SessionStatus.CANCELLED


def test_a_permanent_invalid_number_error_marks_the_user_invalid(
    factory: InMemoryUnitOfWorkFactory,
    dispatcher: Dispatcher,
    sender: FakeSmsSender,
    clock: FakeClock,
) -> None:
    user_id = enroll(factory, clock, confirmed=True).id
    clock.set(HEADS_UP_AT)
    sender.fail_with(SmsSendError("not a mobile number", code=21614, permanent=True))

    dispatcher.dispatch_due()

    assert factory.store.tables.users[user_id].status is UserStatus.INVALID
    assert statuses(factory)[Step.ROLL] is ReminderStatus.CANCELLED


def test_a_refused_send_never_overwrites_an_opt_out_made_while_it_was_sending(
    factory: InMemoryUnitOfWorkFactory,
    dispatcher: Dispatcher,
    sender: FakeSmsSender,
    clock: FakeClock,
) -> None:
    user_id = enroll(factory, clock, confirmed=True).id
    clock.set(HEADS_UP_AT)

    def opt_out_meanwhile(_to: object, _body: str) -> None:
        factory.store.tables.users[user_id].status = UserStatus.OPTED_OUT  # a STOP came in

    sender.before_send = opt_out_meanwhile
    sender.fail_with(SmsSendError("not a mobile number", code=21614, permanent=True))

    dispatcher.dispatch_due()

    assert factory.store.tables.users[user_id].status is UserStatus.OPTED_OUT


def test_a_reminder_past_its_freshness_expires_instead_of_being_sent(
    factory: InMemoryUnitOfWorkFactory,
    dispatcher: Dispatcher,
    sender: FakeSmsSender,
    clock: FakeClock,
) -> None:
    enroll_past_the_safety_notice(factory, dispatcher, sender, clock)
    clock.set(datetime(2026, 3, 4, 3, 0, tzinfo=UTC))  # 22:00: two hours after the roll

    report = dispatcher.dispatch_due()

    assert sender.sent == []
    assert report.counts == {"expired": 4}
    assert set(statuses(factory).values()) == {ReminderStatus.EXPIRED}


def test_a_reminder_due_inside_quiet_hours_waits_for_their_end(
    factory: InMemoryUnitOfWorkFactory,
    dispatcher: Dispatcher,
    sender: FakeSmsSender,
    clock: FakeClock,
) -> None:
    clock.set(datetime(2026, 3, 3, 3, 0, tzinfo=UTC))  # 22:00 in New York
    enroll(factory, clock, confirmed=False)

    dispatcher.dispatch_due()

    question = reminder(factory, Step.CONSENT_REQUEST)
    assert sender.sent == []
    assert (question.status, question.due_at, question.attempts) == (
        ReminderStatus.SCHEDULED,
        datetime(2026, 3, 3, 13, 0, tzinfo=UTC),  # 08:00 EST
        0,
    )


def test_a_paused_users_reminder_is_cancelled_not_sent(
    factory: InMemoryUnitOfWorkFactory,
    dispatcher: Dispatcher,
    sender: FakeSmsSender,
    clock: FakeClock,
) -> None:
    user_id = enroll_past_the_safety_notice(factory, dispatcher, sender, clock)
    with factory() as uow:  # behind the dispatcher's back, as another replica would do it
        uow.users.set_status(user_id, UserStatus.PAUSED, clock.now())
        uow.commit()
    clock.set(HEADS_UP_AT)

    dispatcher.dispatch_due()

    assert sender.sent == []
    assert statuses(factory)[Step.HEADS_UP] is ReminderStatus.CANCELLED


def test_a_consent_question_to_a_user_who_consented_meanwhile_is_cancelled(
    factory: InMemoryUnitOfWorkFactory,
    dispatcher: Dispatcher,
    sender: FakeSmsSender,
    clock: FakeClock,
) -> None:
    user_id = enroll(factory, clock, confirmed=False).id
    with factory() as uow:
        uow.users.set_status(user_id, UserStatus.ACTIVE, clock.now())
        uow.commit()

    dispatcher.dispatch_due()

    assert sender.sent == []
    assert statuses(factory)[Step.CONSENT_REQUEST] is ReminderStatus.CANCELLED


def test_a_paused_user_still_gets_the_safety_notice_an_opted_out_one_does_not(
    factory: InMemoryUnitOfWorkFactory,
    dispatcher: Dispatcher,
    sender: FakeSmsSender,
    clock: FakeClock,
) -> None:
    paused = enroll(factory, clock, confirmed=True).id
    with factory() as uow:
        uow.users.set_status(paused, UserStatus.PAUSED, clock.now())
        uow.commit()
    clock.advance(timedelta(seconds=5))

    dispatcher.dispatch_due()
    with factory() as uow:
        uow.users.set_status(paused, UserStatus.OPTED_OUT, clock.now())
        uow.reminders.add(paused, None, [reminder_at(Step.SAFETY_NOTICE, clock.now())], clock.now())
        uow.commit()
    dispatcher.dispatch_due()

    assert [sms.body for sms in sender.sent] == [texts.safety_notice_text(POLICY.brand)]
    assert sorted(
        r.status for r in factory.store.tables.reminders.values() if r.step is Step.SAFETY_NOTICE
    ) == [
        ReminderStatus.CANCELLED,
        ReminderStatus.SENT,
    ]


def reminder_at(step: Step, at: datetime) -> PlannedReminder:
    return PlannedReminder(step, at, at + timedelta(hours=1))
