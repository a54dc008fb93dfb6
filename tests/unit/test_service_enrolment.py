"""Enrolment (R11, docs/rules.md) through routine.enroll, on the in-memory unit of work."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from reminders.domain.errors import Conflict, InvalidInput
from reminders.domain.model import (
    ReminderStatus,
    SessionStatus,
    Step,
    UserStatus,
)
from tests.fakes import FakeClock, InMemoryUnitOfWorkFactory, ReminderRow
from tests.unit.in_memory import enroll

# The clock starts on Mon 2 March 2026, 10:00 in New York (tests/conftest.py).
SESSION_START = datetime(2026, 3, 4, 1, 0, tzinfo=UTC)  # Tue 3 March, 20:00


def reminders(factory: InMemoryUnitOfWorkFactory) -> list[ReminderRow]:
    return sorted(factory.store.tables.reminders.values(), key=lambda r: r.send_at)


def test_a_user_without_consent_is_pending_and_gets_only_the_consent_question(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    user = enroll(factory, clock, confirmed=False)

    [question] = reminders(factory)
    assert user.status is UserStatus.PENDING
    assert (question.step, question.session_id, question.status) == (
        Step.CONSENT_REQUEST,
        None,
        ReminderStatus.SCHEDULED,
    )
    assert question.send_at == clock.now()
    assert factory.store.tables.sessions == {}


def test_the_consent_question_goes_stale_after_a_day(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    enroll(factory, clock, confirmed=False)

    [question] = reminders(factory)
    assert question.expires_at == clock.now() + timedelta(hours=24)


def test_a_confirmed_user_gets_the_earliest_session_with_every_step_ahead(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    user = enroll(factory, clock)

    [session] = factory.store.tables.sessions.values()
    assert user.status is UserStatus.ACTIVE
    assert (session.local_date, session.starts_at, session.status) == (
        date(2026, 3, 3),
        SESSION_START,
        SessionStatus.PLANNED,
    )
    assert [(r.step, r.session_id) for r in reminders(factory)] == [
        (Step.SAFETY_NOTICE, None),  # consent is given: the notice, once, seconds from now
        (Step.HEADS_UP, session.id),
        (Step.MAKEUP_REMOVAL, session.id),
        (Step.PEELING, session.id),
        (Step.ROLL, session.id),
    ]


def test_steps_already_past_on_the_first_session_date_are_left_out(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    enroll(factory, clock, first_session_date=date(2026, 3, 2))  # its heads-up was yesterday

    planned = [r for r in reminders(factory) if r.session_id is not None]
    assert [r.step for r in planned] == [Step.MAKEUP_REMOVAL, Step.PEELING, Step.ROLL]
    assert all(r.send_at >= clock.now() for r in planned)


def test_a_number_enrolled_already_is_a_conflict_and_changes_nothing(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    enroll(factory, clock)
    before = factory.store.tables

    with pytest.raises(Conflict, match="already enrolled"):
        enroll(factory, clock, confirmed=False)

    assert factory.store.tables is before


def test_a_first_session_date_in_the_past_is_refused(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    with pytest.raises(InvalidInput, match="first_session_date 2026-03-01 is in the past"):
        enroll(factory, clock, first_session_date=date(2026, 3, 1))

    assert factory.store.tables.users == {}


def test_a_first_session_date_whose_start_has_passed_today_is_refused(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock
) -> None:
    clock.set(datetime(2026, 3, 3, 1, 30, tzinfo=UTC))  # 2 March 20:30 in New York

    with pytest.raises(InvalidInput, match="is in the past"):
        enroll(factory, clock, first_session_date=date(2026, 3, 2))
