"""Skin safety, end to end: each behaviour through the signed Twilio webhook into the
bootstrapped app and out through the real dispatcher (fake clock, fake sender), on SQLite and
PostgreSQL. Here free-text skin reactions, the safety notice and the check-in after a session;
the reply limiter, HELP, a DONE asked again, LATER and the streak are in
test_safety_replies.py, which shares this module's fixtures and helpers.

Dates: see tests/e2e/webhook_support.py. The clock starts on Monday 2 March 2026 at 10:00 in
New York; the default user's first session is Tuesday 3 March at 20:00, then every 14 days.
Every reply and SMS a test sees is checked to be one GSM-7 segment.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, select, text

from reminders.adapters.db import metadata, reminder_rows
from reminders.adapters.migrate import migrate
from reminders.bootstrap import Container
from reminders.domain.messages import gsm7_length
from reminders.domain.model import (
    ACTIVE_REMINDER_STATUSES,
    CheckIn,
    PausedReason,
    Session,
    SessionStatus,
    Step,
    User,
    UserStatus,
)
from tests.conftest import DATABASES, postgres_url
from tests.e2e.webhook_support import (
    PHONE,
    current,
    enroll_user,
    twilio_container,
    upcoming,
    webhooks_for,
)
from tests.fakes import FakeClock, FakeSmsSender
from tests.routine_driver import enroll
from tests.twilio_webhooks import FakeTwilioWebhooks

NEW_YORK = ZoneInfo("America/New_York")

ADVICE = (
    "RollerCare: Reminders paused. Redness & swelling usually settle in a few days; see a"
    " doctor if worse, lasting, pus or fever. RESUME once calm."
)
SAFETY_NOTICE = (
    "RollerCare: Don't roll if pregnant, with an autoimmune disease or on broken/infected"
    " skin. Check products for allergies first. Unsure? Ask a doctor."
)
SKIN_CHECK = (
    "RollerCare: How does your skin feel after your roller session? Reply OK if all is well,"
    " or SORE if it is red, sore, swollen or itchy."
)
OPTED_OUT = "RollerCare: You're unsubscribed and will get no more messages. Reply START to rejoin."
TOO_MANY = (
    "RollerCare: Too many messages: replies paused for 30 minutes. Your texts are still read."
    " Reply STOP to opt out."
)


def new_york(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A New York wall time as a UTC instant, whatever the machine's zone."""
    local = datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=NEW_YORK)
    return local.astimezone(UTC)


# The default user's first session and the check-in after it, when it is done.
FIRST_ROLL = new_york(date(2026, 3, 3), 20)  # Tuesday 3 March 20:00
CHECKIN = new_york(date(2026, 3, 4), 20)  # Wednesday 4 March 20:00


# --- the databases: SQLite, and one PostgreSQL schema for the module, emptied per test ----------


@pytest.fixture(scope="module")
def _postgres_schema() -> Iterator[str]:
    """A schema migrated once for the module, emptied before each test: a fresh schema
    migrated per test would cost more than most of these tests."""
    base = postgres_url()
    assert base is not None
    schema = "test_" + uuid.uuid4().hex[:12]
    engine = create_engine(base)
    with engine.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in base else "?"
    url = f"{base}{separator}options=-csearch_path%3D{schema}"
    migrated = create_engine(url)
    migrate(migrated)
    migrated.dispose()
    yield url
    with engine.begin() as connection:
        connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest) -> str:
    if request.param != "postgres":
        return str(request.getfixturevalue("sqlite_url"))
    url = str(request.getfixturevalue("_postgres_schema"))
    engine = create_engine(url)
    with engine.begin() as connection:  # DELETE: TRUNCATE takes far longer on tiny tables
        for table in reversed(metadata.sorted_tables):
            connection.execute(table.delete())
    engine.dispose()
    return url


# --- a member who texts, and what they and the dispatcher are seen to say ------------------------


@pytest.fixture
def seen() -> list[str]:
    """Every reply the tests get back."""
    return []


@pytest.fixture(autouse=True)
def _one_segment_each(seen: list[str], sender: FakeSmsSender) -> Iterator[None]:
    yield
    for body in [*seen, *(sms.body for sms in sender.sent)]:
        length = gsm7_length(body)
        assert length is not None and length <= 160, body


class Member:
    """Someone texting the service through the signed webhook."""

    def __init__(self, twilio: FakeTwilioWebhooks, seen: list[str], phone: str = PHONE) -> None:
        self.twilio = twilio
        self.seen = seen
        self.phone = phone

    def says(self, body: str) -> str | None:
        reply = self.twilio.text(self.phone, body)
        if reply is not None:
            self.seen.append(reply)
        return reply


@pytest.fixture
def member(twilio: FakeTwilioWebhooks, seen: list[str]) -> Member:
    return Member(twilio, seen)


def dispatch_at(clock: FakeClock, container: Container, at: datetime) -> None:
    clock.set(at)
    container.dispatch_due()


def sent(sender: FakeSmsSender, body: str) -> list[datetime]:
    """When the SMS `body` was sent, in order."""
    return [sms.at for sms in sender.sent if sms.body == body]


def pending_steps(container: Container, user: User) -> list[str]:
    """The steps of the user's SMS still to be sent."""
    with container.engine.connect() as connection:
        rows = connection.execute(
            select(reminder_rows.c.step).where(
                reminder_rows.c.user_id == user.id,
                reminder_rows.c.status.in_([s.value for s in ACTIVE_REMINDER_STATUSES]),
            )
        )
        return sorted(row.step for row in rows)


def skin_checks(container: Container, user: User) -> int:
    """How many check-ins were ever planned for the user."""
    with container.engine.connect() as connection:
        rows = connection.execute(
            select(reminder_rows.c.id).where(
                reminder_rows.c.user_id == user.id,
                reminder_rows.c.step == Step.SKIN_CHECK.value,
            )
        )
        return len(rows.all())


def ended(container: Container, user: User) -> list[Session]:
    """The user's sessions done, skipped or unconfirmed (not those cancelled), oldest first."""
    with container.uow() as uow:
        sessions = reversed(uow.sessions.ended_for(user.id, 100))
        return [s for s in sessions if s.status is not SessionStatus.CANCELLED]


def roll_time(container: Container, user: User) -> datetime:
    """The start of the user's upcoming session (its roll SMS)."""
    session = upcoming(container, user)
    assert session is not None
    return session.starts_at


def notice_sent(clock: FakeClock, container: Container, sender: FakeSmsSender) -> None:
    """Let the safety notice of a user just enrolled or confirmed go out, 5 s later."""
    dispatch_at(clock, container, clock.now() + timedelta(seconds=5))
    assert len(sent(sender, SAFETY_NOTICE)) == 1


# --- free-text skin reactions ------------------------------------------------------------------


@pytest.mark.parametrize("body", ["my skin is red and sore", "it hurts a lot"])
def test_a_reaction_in_free_text_pauses_for_it_cancels_reminders_and_gives_advice(
    container: Container,
    member: Member,
    clock: FakeClock,
    sender: FakeSmsSender,
    active: User,
    body: str,
) -> None:
    notice_sent(clock, container, sender)

    reply = member.says(body)

    assert reply == ADVICE
    for part in ("few days", "doctor", "worse", "lasting", "pus", "fever", "RESUME"):
        assert part in reply
    user = current(container, active)
    assert user.status is UserStatus.PAUSED
    assert user.paused_reason is PausedReason.SKIN_REACTION
    assert pending_steps(container, active) == []
    assert upcoming(container, active) is None
    # The times of the first session's SMS, and a day after it: nothing more goes out.
    for day, hour, minute in [(2, 20, 0), (3, 19, 15), (3, 19, 40), (3, 20, 0), (4, 20, 0)]:
        dispatch_at(clock, container, new_york(date(2026, 3, day), hour, minute))
    assert [sms.body for sms in sender.sent] == [SAFETY_NOTICE]


@pytest.mark.parametrize("body", ["not sore at all", "no redness, all good"])
def test_a_negated_reaction_does_not_pause(
    container: Container, member: Member, active: User, body: str
) -> None:
    before = upcoming(container, active)

    reply = member.says(body)

    assert reply is not None and reply != ADVICE
    user = current(container, active)
    assert user.status is UserStatus.ACTIVE and user.paused_reason is None
    assert upcoming(container, active) == before
    assert Step.ROLL.value in pending_steps(container, active)


def test_stop_inside_a_reaction_message_opts_out(
    container: Container, member: Member, active: User
) -> None:
    reply = member.says("my skin is red, stop texting me")

    assert reply == OPTED_OUT
    user = current(container, active)
    assert user.status is UserStatus.OPTED_OUT and user.paused_reason is None
    assert pending_steps(container, active) == []


def test_a_reaction_after_done_records_the_session_first_then_pauses(
    container: Container, member: Member, clock: FakeClock, active: User
) -> None:
    dispatch_at(clock, container, FIRST_ROLL)

    reply = member.says("done, but it stings")

    assert reply == ADVICE
    assert [s.status for s in ended(container, active)] == [SessionStatus.DONE]
    user = current(container, active)
    assert user.status is UserStatus.PAUSED
    assert user.paused_reason is PausedReason.SKIN_REACTION
    assert user.last_session_date == date(2026, 3, 3)


# --- the check-in after the first session --------------------------------------------------------


def done_with_first_session(
    container: Container, member: Member, clock: FakeClock, user: User
) -> None:
    """The safety notice goes out 5 s after the enrolment, then the first session is done at
    its roll SMS."""
    dispatch_at(clock, container, clock.now() + timedelta(seconds=5))
    assert roll_time(container, user) == FIRST_ROLL
    dispatch_at(clock, container, FIRST_ROLL)
    assert member.says("DONE") == "RollerCare: Well done! Next roller session Tue 17 Mar 20:00."


def test_the_first_session_done_is_followed_by_a_check_in_next_day_at_its_wall_time(
    container: Container,
    member: Member,
    clock: FakeClock,
    sender: FakeSmsSender,
    active: User,
) -> None:
    done_with_first_session(container, member, clock, active)

    dispatch_at(clock, container, CHECKIN - timedelta(seconds=1))
    assert sent(sender, SKIN_CHECK) == []
    dispatch_at(clock, container, CHECKIN)

    assert sent(sender, SKIN_CHECK) == [CHECKIN]
    assert [s.checkin for s in ended(container, active)] == [CheckIn.ASKED]


@pytest.mark.parametrize(
    ("saturday", "sunday_utc"),
    [
        # Clocks go forward on Sunday 8 March at 02:00: 20:00 on Sunday is 23 hours later.
        (date(2026, 3, 7), datetime(2026, 3, 9, 0, 0, tzinfo=UTC)),
        # They go back on Sunday 1 November: 20:00 on Sunday is 25 hours later.
        (date(2026, 10, 31), datetime(2026, 11, 2, 1, 0, tzinfo=UTC)),
    ],
    ids=["summer-time", "winter-time"],
)
def test_the_check_in_keeps_the_sessions_wall_time_across_a_change_of_clocks(
    container: Container,
    member: Member,
    clock: FakeClock,
    sender: FakeSmsSender,
    saturday: date,
    sunday_utc: datetime,
) -> None:
    user = enroll(container, phone=PHONE, first_session_date=saturday)
    session = new_york(saturday, 20)
    sunday = new_york(saturday + timedelta(days=1), 20)
    assert sunday == sunday_utc and sunday - session != timedelta(hours=24)
    assert roll_time(container, user) == session
    dispatch_at(clock, container, session)
    assert member.says("DONE") is not None

    dispatch_at(clock, container, sunday - timedelta(seconds=1))
    assert sent(sender, SKIN_CHECK) == []
    dispatch_at(clock, container, sunday)

    assert sent(sender, SKIN_CHECK) == [sunday_utc]


def test_ok_answers_the_check_in_with_thanks(
    container: Container,
    member: Member,
    clock: FakeClock,
    sender: FakeSmsSender,
    active: User,
) -> None:
    done_with_first_session(container, member, clock, active)
    dispatch_at(clock, container, CHECKIN)
    clock.advance(timedelta(hours=1))

    reply = member.says("OK")

    assert reply == "RollerCare: Glad to hear it! Next roller session Tue 17 Mar 20:00."
    assert [s.checkin for s in ended(container, active)] == [CheckIn.OK]
    assert current(container, active).status is UserStatus.ACTIVE


def test_a_reaction_answers_the_check_in_and_pauses(
    container: Container,
    member: Member,
    clock: FakeClock,
    sender: FakeSmsSender,
    active: User,
) -> None:
    done_with_first_session(container, member, clock, active)
    dispatch_at(clock, container, CHECKIN)
    clock.advance(timedelta(hours=1))

    reply = member.says("a bit itchy")

    assert reply == ADVICE
    assert [s.checkin for s in ended(container, active)] == [CheckIn.REACTION]
    user = current(container, active)
    assert user.status is UserStatus.PAUSED
    assert user.paused_reason is PausedReason.SKIN_REACTION
    assert pending_steps(container, active) == []


def test_silence_leaves_the_check_in_unanswered_and_the_routine_going(
    container: Container,
    member: Member,
    clock: FakeClock,
    sender: FakeSmsSender,
    active: User,
) -> None:
    done_with_first_session(container, member, clock, active)
    dispatch_at(clock, container, CHECKIN)

    dispatch_at(clock, container, CHECKIN + timedelta(days=2, seconds=1))

    assert [s.checkin for s in ended(container, active)] == [CheckIn.ASKED]
    assert current(container, active).status is UserStatus.ACTIVE
    assert roll_time(container, active) == new_york(date(2026, 3, 17), 20)
    assert len(sent(sender, SKIN_CHECK)) == 1
    # Two days on, an OK answers no check-in: it gets the keyword list.
    reply = member.says("OK")
    assert reply is not None and not reply.startswith("RollerCare: Glad")
    assert [s.checkin for s in ended(container, active)] == [CheckIn.ASKED]


def test_the_second_session_done_plans_no_check_in(
    container: Container,
    member: Member,
    clock: FakeClock,
    sender: FakeSmsSender,
    active: User,
) -> None:
    done_with_first_session(container, member, clock, active)
    dispatch_at(clock, container, CHECKIN)
    second = roll_time(container, active)
    dispatch_at(clock, container, second)

    member.says("DONE")

    dispatch_at(clock, container, second + timedelta(days=1))
    dispatch_at(clock, container, second + timedelta(days=2))
    assert skin_checks(container, active) == 1
    assert sent(sender, SKIN_CHECK) == [CHECKIN]
    assert [s.checkin for s in ended(container, active)] == [CheckIn.ASKED, None]


def test_after_resume_from_a_skin_reaction_the_next_done_plans_a_check_in_again(
    container: Container,
    member: Member,
    clock: FakeClock,
    sender: FakeSmsSender,
    active: User,
) -> None:
    done_with_first_session(container, member, clock, active)
    dispatch_at(clock, container, CHECKIN)
    member.says("it stings")
    clock.advance(timedelta(days=3))
    reply = member.says("RESUME")
    assert reply is not None and reply.startswith("RollerCare: Reminders back on.")
    assert current(container, active).paused_reason is None
    again = roll_time(container, active)
    dispatch_at(clock, container, again)

    member.says("DONE")

    local = again.astimezone(NEW_YORK)
    next_day = new_york(local.date() + timedelta(days=1), local.hour, local.minute)
    dispatch_at(clock, container, next_day)
    assert sent(sender, SKIN_CHECK) == [CHECKIN, next_day]


@pytest.mark.parametrize(
    ("went_out", "checks"),
    [(True, 1), (False, 2)],
    ids=["check-in sent before the pause: none after", "cancelled unsent: one after"],
)
def test_after_a_pause_of_their_own_a_check_in_comes_only_if_the_pause_cancelled_it(
    container: Container,
    member: Member,
    clock: FakeClock,
    sender: FakeSmsSender,
    active: User,
    went_out: bool,
    checks: int,
) -> None:
    done_with_first_session(container, member, clock, active)
    if went_out:
        dispatch_at(clock, container, CHECKIN)
    member.says("PAUSE")
    member.says("RESUME")
    again = roll_time(container, active)
    dispatch_at(clock, container, again)

    member.says("DONE")

    assert skin_checks(container, active) == checks


def test_a_notice_planned_again_after_an_outage_brings_no_second_check_in(
    container: Container,
    member: Member,
    clock: FakeClock,
    sender: FakeSmsSender,
    active: User,
) -> None:
    # An outage outlasts the safety notice: the dispatcher first runs a day and more later.
    dispatch_at(clock, container, clock.now() + timedelta(hours=25))
    assert sent(sender, SAFETY_NOTICE) == []
    dispatch_at(clock, container, FIRST_ROLL)
    member.says("DONE")
    dispatch_at(clock, container, CHECKIN)
    assert sent(sender, SKIN_CHECK) == [CHECKIN]
    member.says("PAUSE")
    member.says("RESUME")
    dispatch_at(clock, container, roll_time(container, active))

    member.says("DONE")  # the second session done: no check-in after it

    assert skin_checks(container, active) == 1


def test_checkin_off_plans_no_check_in(
    make_container: Callable[..., Container],
    clock: FakeClock,
    sender: FakeSmsSender,
    seen: list[str],
) -> None:
    container = twilio_container(make_container, checkin="off")
    user = enroll_user(container)
    with webhooks_for(container) as twilio:
        done_with_first_session(container, Member(twilio, seen), clock, user)

    dispatch_at(clock, container, CHECKIN)

    assert skin_checks(container, user) == 0
    assert sent(sender, SKIN_CHECK) == []
    assert [s.checkin for s in ended(container, user)] == [None]


def test_a_checkin_of_30s_goes_out_30s_after_the_session_start(
    make_container: Callable[..., Container],
    clock: FakeClock,
    sender: FakeSmsSender,
    seen: list[str],
) -> None:
    container = twilio_container(make_container, checkin="+30s")
    user = enroll_user(container)
    dispatch_at(clock, container, FIRST_ROLL + timedelta(seconds=10))
    with webhooks_for(container) as twilio:
        Member(twilio, seen).says("DONE")

    dispatch_at(clock, container, FIRST_ROLL + timedelta(seconds=29))
    assert sent(sender, SKIN_CHECK) == []
    dispatch_at(clock, container, FIRST_ROLL + timedelta(seconds=30))

    assert sent(sender, SKIN_CHECK) == [FIRST_ROLL + timedelta(seconds=30)]
    assert [s.checkin for s in ended(container, user)] == [CheckIn.ASKED]
