"""The in-memory unit of work of tests/fakes/: it implements the ports of reminders/ports.py
(checked by mypy here, and by signature at run time) with the SQL repositories' semantics."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime, time, timedelta

import pytest

from reminders import ports
from reminders.domain.errors import Conflict
from reminders.domain.model import (
    InboundMessage,
    PhoneNumber,
    PlannedReminder,
    PlannedSession,
    ReminderStatus,
    Schedule,
    SendOutcome,
    SessionStatus,
    Step,
    UserStatus,
)
from reminders.domain.reply_limit import ReplyWindow
from tests.fakes import InMemoryStore, InMemoryUnitOfWork, InMemoryUnitOfWorkFactory
from tests.fakes.reminders import InMemoryReminderRepository
from tests.fakes.repositories import (
    InMemoryDispatcherRepository,
    InMemoryMessageRepository,
    InMemoryReplyLogRepository,
    InMemorySessionRepository,
    InMemoryUserRepository,
)

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
PHONE = PhoneNumber("+14155550123")
SCHEDULE = Schedule("America/New_York", time(20, 0), 14)
LEASE = timedelta(seconds=60)


def test_the_fakes_satisfy_the_ports_as_mypy_sees_them() -> None:
    store = InMemoryStore()
    factory: ports.UnitOfWorkFactory = InMemoryUnitOfWorkFactory(store)
    uow: ports.UnitOfWork = InMemoryUnitOfWork(store)
    users: ports.UserRepository = uow.users
    sessions: ports.SessionRepository = uow.sessions
    reminders: ports.ReminderRepository = uow.reminders
    messages: ports.MessageRepository = uow.messages
    reply_log: ports.ReplyLogRepository = uow.reply_log
    dispatchers: ports.DispatcherRepository = uow.dispatchers

    assert callable(factory)
    assert None not in (users, sessions, reminders, messages, reply_log, dispatchers)


@pytest.mark.parametrize(
    ("port", "fake"),
    [
        (ports.UserRepository, InMemoryUserRepository),
        (ports.SessionRepository, InMemorySessionRepository),
        (ports.ReminderRepository, InMemoryReminderRepository),
        (ports.MessageRepository, InMemoryMessageRepository),
        (ports.ReplyLogRepository, InMemoryReplyLogRepository),
        (ports.DispatcherRepository, InMemoryDispatcherRepository),
        (ports.UnitOfWork, InMemoryUnitOfWork),
        (ports.UnitOfWorkFactory, InMemoryUnitOfWorkFactory),
    ],
    ids=lambda value: value.__name__,
)
def test_every_port_method_has_the_same_parameters_in_the_fake(port: type, fake: type) -> None:
    # mypy does not compare the names of positional parameters; callers may use them.
    for name, method in vars(port).items():
        if not inspect.isfunction(method) or (name.startswith("_") and name != "__call__"):
            continue
        expected = inspect.signature(method).parameters
        got = inspect.signature(getattr(fake, name)).parameters
        assert [(p.name, p.kind, p.default) for p in got.values()] == [
            (p.name, p.kind, p.default) for p in expected.values()
        ], f"{fake.__name__}.{name}"


def test_changes_are_kept_only_on_commit() -> None:
    factory = InMemoryUnitOfWorkFactory()
    with factory() as uow:
        uow.users.add(PHONE, UserStatus.ACTIVE, SCHEDULE, NOW)
    with factory() as uow:
        kept = uow.users.add(PHONE, UserStatus.ACTIVE, SCHEDULE, NOW)
        uow.commit()

    with factory(read_only=True) as uow:
        assert uow.users.by_phone(PHONE) == kept
    assert kept.id == 1


def test_work_after_a_commit_goes_on_in_a_new_transaction() -> None:
    factory = InMemoryUnitOfWorkFactory()
    with factory() as uow:
        first = uow.users.add(PHONE, UserStatus.ACTIVE, SCHEDULE, NOW)
        uow.commit()
        uow.users.set_status(first.id, UserStatus.PAUSED, NOW)

    with factory() as uow:
        user = uow.users.get(first.id)
    assert user is not None and user.status is UserStatus.ACTIVE


def test_a_second_enrolment_of_a_number_is_a_conflict() -> None:
    with InMemoryUnitOfWorkFactory()() as uow:
        uow.users.add(PHONE, UserStatus.ACTIVE, SCHEDULE, NOW)

        with pytest.raises(Conflict, match="phone is already enrolled"):
            uow.users.add(PHONE, UserStatus.PENDING, SCHEDULE, NOW)


def test_an_erased_user_is_never_found_and_their_number_is_free() -> None:
    with InMemoryUnitOfWorkFactory()() as uow:
        erased = uow.users.add(PHONE, UserStatus.ACTIVE, SCHEDULE, NOW)
        uow.users.erase(erased.id, NOW)

        again = uow.users.add(PHONE, UserStatus.PENDING, SCHEDULE, NOW)

        assert (uow.users.get(erased.id), uow.users.lock(erased.id)) == (None, None)
        assert uow.users.by_phone(PHONE) == again
        assert uow.users.count_by_status() == {UserStatus.PENDING: 1}


def test_a_session_ends_only_from_planned() -> None:
    with InMemoryUnitOfWorkFactory()() as uow:
        user = uow.users.add(PHONE, UserStatus.ACTIVE, SCHEDULE, NOW)
        session = uow.sessions.add(user.id, PlannedSession(NOW.date(), NOW, ()), NOW)

        first = uow.sessions.end(session.id, SessionStatus.DONE, NOW)
        second = uow.sessions.end(session.id, SessionStatus.SKIPPED, NOW)

        assert (first, second) == (True, False)
        assert uow.sessions.ended_for(user.id, 10)[0].status is SessionStatus.DONE


def _two_due(uow: ports.UnitOfWork) -> None:
    user = uow.users.add(PHONE, UserStatus.PENDING, SCHEDULE, NOW)
    later = PlannedReminder(Step.CONSENT_REQUEST, NOW - timedelta(minutes=1), NOW + LEASE * 60)
    earlier = PlannedReminder(Step.CONSENT_REQUEST, NOW - timedelta(minutes=2), NOW + LEASE * 60)
    uow.reminders.add(user.id, None, [later, earlier], NOW)


def test_a_claim_takes_the_oldest_due_first_and_never_twice() -> None:
    with InMemoryUnitOfWorkFactory()() as uow:
        _two_due(uow)

        first = uow.reminders.claim_due(NOW, NOW + LEASE, 1, "a")
        second = uow.reminders.claim_due(NOW, NOW + LEASE, 10, "b")
        third = uow.reminders.claim_due(NOW, NOW + LEASE, 10, "b")

        assert ([d.id for d in first], [d.id for d in second], third) == ([2], [1], [])


def test_finish_leaves_alone_a_reminder_cancelled_or_claimed_by_another_meanwhile() -> None:
    with InMemoryUnitOfWorkFactory()() as uow:
        _two_due(uow)
        uow.reminders.claim_due(NOW, NOW + LEASE, 10, "a")
        uow.reminders.cancel_for_user(1, NOW)
        uow.reminders.add(1, None, [PlannedReminder(Step.CONSENT_REQUEST, NOW, NOW + LEASE)], NOW)
        uow.reminders.claim_due(NOW, NOW + LEASE, 10, "b")

        sent = [SendOutcome(r, ReminderStatus.SENT, attempts=1) for r in (1, 3)]
        uow.reminders.finish(sent, NOW, claimer="a")

        assert uow.reminders.count_by_status() == {
            ReminderStatus.CANCELLED: 2,
            ReminderStatus.SENDING: 1,
        }


def test_a_provider_sid_recorded_already_is_not_recorded_again() -> None:
    with InMemoryUnitOfWorkFactory()() as uow:
        first = uow.messages.add_inbound(InboundMessage(None, "YES", None, "SM1"), NOW)
        second = uow.messages.add_inbound(InboundMessage(None, "STOP", None, "SM1"), NOW)

        assert (first, second) == (True, False)


def test_the_reply_window_of_a_number_is_kept_and_replaced() -> None:
    first = ReplyWindow(NOW, 1, "a" * 16, 1)
    second = ReplyWindow(NOW, 6, "b" * 16, 6, NOW + timedelta(minutes=30))
    with InMemoryUnitOfWorkFactory()() as uow:
        before = uow.reply_log.window(PHONE)
        uow.reply_log.save_window(PHONE, first)
        kept = uow.reply_log.window(PHONE)
        uow.reply_log.save_window(PHONE, second)

        assert (before, kept, uow.reply_log.window(PHONE)) == (None, first, second)


def test_an_unavailable_store_refuses_every_unit_of_work() -> None:
    factory = InMemoryUnitOfWorkFactory()
    factory.store.unavailable = True

    with pytest.raises(ports.DatabaseUnavailable):
        factory().__enter__()


def test_a_take_over_takes_the_claims_of_a_dead_dispatcher_and_keeps_their_claim_time() -> None:
    with InMemoryUnitOfWorkFactory()() as uow:
        _two_due(uow)
        uow.dispatchers.register("dead", NOW)
        uow.dispatchers.register("alive", NOW)
        uow.reminders.claim_due(NOW, NOW + LEASE, 1, "dead")
        uow.reminders.claim_due(NOW, NOW + LEASE, 1, "alive")
        later = NOW + timedelta(seconds=5)

        taken = uow.reminders.take_over(later, later + LEASE, 10, "alive", ["dead"])

        assert [(t.due.id, t.claimed_at) for t in taken] == [(2, NOW)]
        assert uow.reminders.take_over(later, later + LEASE, 10, "alive", []) == []
