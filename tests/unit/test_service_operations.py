"""The operator's use cases (services/operations.py) on the in-memory unit of work: what the
HTTP API and the command line both call."""

from __future__ import annotations

from datetime import date

import pytest

from reminders.domain.errors import Conflict, InvalidInput, NotFound
from reminders.domain.model import PhoneNumber, UserStatus
from reminders.services.operations import (
    MAX_USER_ID,
    Operations,
    UserView,
    decode_cursor,
    encode_cursor,
)
from reminders.services.policy import Policy
from tests.fakes import FakeClock, InMemoryUnitOfWorkFactory

POLICY = Policy()


@pytest.fixture
def operations(factory: InMemoryUnitOfWorkFactory, clock: FakeClock) -> Operations:
    return Operations(factory, clock, POLICY)


def enroll(operations: Operations, last_digit: int = 0, *, confirmed: bool = True) -> UserView:
    return operations.enroll(
        phone=PhoneNumber(f"+1415555012{last_digit}"),
        timezone="America/New_York",
        session_time="20:00",
        cadence_days=14,
        first_session_date=None,
        consent_confirmed=confirmed,
    )


def test_enrolling_with_consent_plans_the_first_session(operations: Operations) -> None:
    view = enroll(operations)

    assert view.user.status is UserStatus.ACTIVE
    assert view.next_session is not None


def test_a_first_date_needs_consent_and_nothing_is_stored(
    operations: Operations, factory: InMemoryUnitOfWorkFactory
) -> None:
    with pytest.raises(InvalidInput) as refused:
        operations.enroll(
            phone=PhoneNumber("+14155550120"),
            timezone="America/New_York",
            session_time="20:00",
            cadence_days=14,
            first_session_date=date(2026, 3, 10),
            consent_confirmed=False,
        )

    assert refused.value.field == "first_session_date"
    assert factory.store.tables.users == {}


def test_an_enrolled_number_is_a_conflict(operations: Operations) -> None:
    enroll(operations)

    with pytest.raises(Conflict):
        enroll(operations)


def test_users_come_a_page_at_a_time_until_the_cursor_is_none(operations: Operations) -> None:
    for digit in range(3):
        enroll(operations, digit)

    first = operations.list_users(status=None, limit=2, cursor=None)
    rest = operations.list_users(status=None, limit=2, cursor=first.next_cursor)

    assert [v.user.id for v in first.users] == [1, 2]
    assert [v.user.id for v in rest.users] == [3]
    assert rest.next_cursor is None


def test_a_cursor_this_service_did_not_give_is_refused_naming_it() -> None:
    for cursor in ("not-a-cursor", encode_cursor(MAX_USER_ID + 1)):
        with pytest.raises(InvalidInput) as refused:
            decode_cursor(cursor)

        assert refused.value.field == "cursor"


def test_pause_then_resume_plans_a_session_again(operations: Operations) -> None:
    user_id = enroll(operations).user.id

    paused = operations.pause(user_id)
    resumed = operations.resume(user_id)

    assert (paused.user.status, paused.next_session) == (UserStatus.PAUSED, None)
    assert resumed.user.status is UserStatus.ACTIVE and resumed.next_session is not None


def test_an_operator_cannot_give_consent_for_a_user(operations: Operations) -> None:
    user_id = enroll(operations, confirmed=False).user.id

    with pytest.raises(Conflict):
        operations.resume(user_id)


def test_an_erased_user_is_not_found(operations: Operations) -> None:
    user_id = enroll(operations).user.id

    operations.delete(user_id)

    with pytest.raises(NotFound):
        operations.show(user_id)


def test_closing_sessions_stops_when_asked_without_opening_a_unit_of_work(
    operations: Operations, factory: InMemoryUnitOfWorkFactory
) -> None:
    opened = len(factory.opened)

    assert operations.close_unconfirmed(should_stop=lambda: True) == 0
    assert len(factory.opened) == opened
