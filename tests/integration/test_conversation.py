"""handle_inbound on a real SQLite file: idempotency by MessageSid, what Twilio's OptOutType
means, and what is kept of each message. (The keyword table itself is tested end to end in
tests/e2e/test_webhooks_conversation.py.)"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from reminders.adapters.db import messages
from reminders.bootstrap import Container
from reminders.domain.conversation import Keyword
from reminders.domain.model import User, UserStatus
from reminders.services import routine
from tests.fakes import FakeClock
from tests.routine_driver import enroll, text

PHONE = "+14155550123"
STRANGER = "+14155550199"


def status_of(container: Container, user: User) -> UserStatus:
    with container.uow() as uow:
        return routine.get_user(uow, user.id).status


def stored(container: Container) -> list[tuple[str, str | None, str | None, str]]:
    with container.engine.connect() as connection:
        rows = connection.execute(
            select(
                messages.c.direction, messages.c.keyword, messages.c.body, messages.c.status
            ).order_by(messages.c.id)
        )
        return [(r.direction, r.keyword, r.body, r.status) for r in rows]


def test_a_retried_message_sid_is_a_duplicate_with_no_reply(container: Container) -> None:
    enroll(container)
    text(container, "NEXT", sid="SM1")

    result = text(container, "NEXT", sid="SM1")

    assert result.duplicate and result.reply is None


def test_a_retried_message_sid_is_not_applied_again_whatever_it_says(
    container: Container, clock: FakeClock
) -> None:
    user = enroll(container)
    text(container, "STOP", sid="SM1")
    text(container, "START", sid="SM2")
    clock.advance(timedelta(minutes=1))

    text(container, "STOP", sid="SM1")

    assert status_of(container, user) is UserStatus.ACTIVE


def test_a_retried_later_moves_the_session_only_once(container: Container) -> None:
    user = enroll(container)
    text(container, "LATER", sid="SM1")

    text(container, "LATER", sid="SM1")

    with container.uow() as uow:
        session = uow.sessions.upcoming(user.id)
    assert session is not None and session.later_count == 1


def test_twilios_opt_out_type_stop_opts_out_whatever_the_text(container: Container) -> None:
    user = enroll(container)

    result = text(container, "BAJA", sid="SM1", opt_out_type="STOP")

    assert result.keyword is Keyword.STOP
    assert status_of(container, user) is UserStatus.OPTED_OUT


def test_twilios_opt_out_type_start_opts_back_in_whatever_the_text(container: Container) -> None:
    user = enroll(container)
    text(container, "STOP", sid="SM1")

    text(container, "ALTA", sid="SM2", opt_out_type="START")

    assert status_of(container, user) is UserStatus.ACTIVE


def test_no_reply_when_twilio_answered_the_keyword_itself(container: Container) -> None:
    enroll(container, confirmed=False)

    result = text(container, "YES", sid="SM1", opt_out_type="START")

    assert result.reply is None


def test_an_unknown_opt_out_type_is_read_as_text(container: Container) -> None:
    user = enroll(container)

    result = text(container, "NEXT", sid="SM1", opt_out_type="SOMETHING")

    assert result.keyword is Keyword.NEXT
    assert status_of(container, user) is UserStatus.ACTIVE


def test_a_members_message_and_our_reply_are_recorded(container: Container) -> None:
    enroll(container)

    result = text(container, "Next?", sid="SM1")

    assert stored(container) == [
        ("in", "NEXT", "Next?", "received"),
        ("out", "NEXT", result.reply, "replied"),
    ]


def test_a_strangers_message_is_recorded_without_its_text(container: Container) -> None:
    text(container, "YES it's me, Jane", sid="SM1", phone=STRANGER)

    assert stored(container)[0] == ("in", "YES", None, "received")


def test_a_suppressed_reply_is_not_recorded_as_sent(container: Container) -> None:
    enroll(container)

    text(container, "HELP", sid="SM1", opt_out_type="HELP")

    assert [row[0] for row in stored(container)] == ["in"]
