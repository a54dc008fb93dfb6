"""The SMS conversation of docs/rules.md, end to end: each keyword through the signed Twilio
webhook into the bootstrapped app (fake clock, fake sender), the TwiML reply out. Dates: see
tests/e2e/webhook_support.py."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from config.settings import MAX_BRAND_LENGTH, MAX_HELP_CONTACT_LENGTH
from reminders.bootstrap import Container
from reminders.domain.messages import gsm7_length
from reminders.domain.model import PausedReason, SessionStatus, User, UserStatus
from tests.e2e.webhook_support import (
    FIRST_SESSION,
    PHONE,
    at_session,
    current,
    enroll_user,
    past_sessions,
    pending_reminders,
    pending_steps,
    twilio_container,
    upcoming,
    webhooks_for,
)
from tests.fakes import FakeClock, FakeSmsSender
from tests.twilio_webhooks import FakeTwilioWebhooks

# --- consent (double opt-in) -----------------------------------------------------------------


def test_yes_from_a_pending_user_confirms_consent_and_names_the_first_session(
    container: Container, twilio: FakeTwilioWebhooks, pending: User
) -> None:
    reply = twilio.text(PHONE, "Yes!")

    assert reply == (
        f"RollerCare: You're in! First roller session {FIRST_SESSION}. Reply HELP for help,"
        " STOP to opt out. Msg & data rates may apply."
    )
    assert current(container, pending).status is UserStatus.ACTIVE
    session = upcoming(container, pending)
    assert session is not None and session.local_date.isoformat() == "2026-03-03"


def test_pending_user_who_texts_anything_else_is_asked_for_yes_and_stays_pending(
    container: Container, twilio: FakeTwilioWebhooks, pending: User
) -> None:
    reply = twilio.text(PHONE, "DONE")

    assert reply is not None and "Reply YES to start" in reply
    assert current(container, pending).status is UserStatus.PENDING
    assert upcoming(container, pending) is None


# --- opting out ------------------------------------------------------------------------------

STOP_MESSAGES = [
    "STOP",
    "stop",
    "Stop.",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "REVOKE",
    "OPTOUT",
    "opt out",
    "Opt-out",
    "please stop texting me",
    "I want to unsubscribe",
    "Done. Also revoke my consent",
]


@pytest.mark.parametrize("body", STOP_MESSAGES)
def test_stop_words_opt_out_at_once_and_cancel_every_pending_reminder(
    container: Container, twilio: FakeTwilioWebhooks, active: User, body: str
) -> None:
    reply = twilio.text(PHONE, body)

    assert reply == (
        "RollerCare: You're unsubscribed and will get no more messages. Reply START to rejoin."
    )
    assert current(container, active).status is UserStatus.OPTED_OUT
    assert pending_reminders(container, active) == 0
    assert upcoming(container, active) is None


def test_stop_from_a_pending_user_cancels_the_unanswered_consent_question(
    container: Container, twilio: FakeTwilioWebhooks, sender: FakeSmsSender, pending: User
) -> None:
    twilio.text(PHONE, "STOP")
    container.dispatch_due()

    assert current(container, pending).status is UserStatus.OPTED_OUT
    assert sender.sent == []


def test_opted_out_user_gets_no_reminder_ever_again(
    container: Container,
    twilio: FakeTwilioWebhooks,
    clock: FakeClock,
    sender: FakeSmsSender,
    active: User,
) -> None:
    twilio.text(PHONE, "STOP")

    for _ in range(4 * 24):
        container.dispatch_due()
        clock.advance(timedelta(hours=1))

    assert sender.sent == []


def test_a_second_stop_gets_no_second_confirmation(
    twilio: FakeTwilioWebhooks, active: User
) -> None:
    twilio.text(PHONE, "STOP")

    assert twilio.text(PHONE, "STOP") is None


def test_opted_out_user_gets_no_reply_to_routine_keywords(
    twilio: FakeTwilioWebhooks, active: User
) -> None:
    twilio.text(PHONE, "STOP")

    assert twilio.text(PHONE, "NEXT") is None


def test_no_reply_when_twilio_already_answered_the_opt_out(
    container: Container, twilio: FakeTwilioWebhooks, active: User
) -> None:
    reply = twilio.text(PHONE, "STOP", opt_out_type="STOP")

    assert reply is None
    assert current(container, active).status is UserStatus.OPTED_OUT


def test_an_opt_out_twilio_recognised_is_honoured_whatever_the_word(
    container: Container, twilio: FakeTwilioWebhooks, active: User
) -> None:
    twilio.text(PHONE, "ARRET", opt_out_type="STOP")  # an Advanced Opt-Out custom keyword

    assert current(container, active).status is UserStatus.OPTED_OUT
    assert pending_reminders(container, active) == 0


# --- opting back in --------------------------------------------------------------------------


@pytest.mark.parametrize("body", ["START", "unstop", "YES"])
def test_start_after_opting_out_resubscribes_and_names_the_next_session(
    container: Container, twilio: FakeTwilioWebhooks, active: User, body: str
) -> None:
    twilio.text(PHONE, "STOP")

    reply = twilio.text(PHONE, body)

    assert reply == (
        f"RollerCare: You're subscribed again. Next roller session {FIRST_SESSION}. Reply STOP"
        " to opt out."
    )
    assert current(container, active).status is UserStatus.ACTIVE


def test_start_soon_after_a_session_keeps_a_week_between_sessions(
    container: Container, twilio: FakeTwilioWebhooks, clock: FakeClock, active: User
) -> None:
    at_session(clock, container, active)
    twilio.text(PHONE, "DONE")  # Tuesday 3 March
    twilio.text(PHONE, "STOP")
    clock.advance(timedelta(days=2))

    reply = twilio.text(PHONE, "START")

    assert reply is not None and "Next roller session Tue 10 Mar 20:00" in reply


def test_no_reply_to_start_when_twilio_already_answered_it(
    container: Container, twilio: FakeTwilioWebhooks, active: User
) -> None:
    twilio.text(PHONE, "STOP")

    reply = twilio.text(PHONE, "START", opt_out_type="START")

    assert reply is None
    assert current(container, active).status is UserStatus.ACTIVE


# --- help ------------------------------------------------------------------------------------


@pytest.mark.parametrize("body", ["HELP", "info"])
def test_help_names_the_program_frequency_keywords_rates_and_how_to_stop(
    twilio: FakeTwilioWebhooks, active: User, body: str
) -> None:
    reply = twilio.text(PHONE, body)

    assert reply == (
        "RollerCare: 4 roller msgs per session, max weekly. Reply DONE SKIP LATER SORE. Help:"
        " help@example.com. Msg&data rates may apply. STOP to end"
    )


def test_help_changes_nothing(
    container: Container, twilio: FakeTwilioWebhooks, active: User
) -> None:
    before = upcoming(container, active)

    twilio.text(PHONE, "HELP")

    assert current(container, active).status is UserStatus.ACTIVE
    assert upcoming(container, active) == before


def test_no_help_reply_when_twilio_already_answered_it(
    twilio: FakeTwilioWebhooks, active: User
) -> None:
    assert twilio.text(PHONE, "HELP", opt_out_type="HELP") is None


# --- the session: DONE, SKIP, LATER, NEXT ----------------------------------------------------


def test_done_during_a_session_ends_it_and_plans_the_next_cadence_days_later(
    container: Container, twilio: FakeTwilioWebhooks, clock: FakeClock, active: User
) -> None:
    at_session(clock, container, active)

    reply = twilio.text(PHONE, "done")

    assert reply == "RollerCare: Well done! Next roller session Tue 17 Mar 20:00."
    assert [s.status for s in past_sessions(container, active)] == [SessionStatus.DONE]


def test_done_with_no_session_pending_is_asked_again_then_recorded_with_a_weekly_warning(
    container: Container, twilio: FakeTwilioWebhooks, clock: FakeClock, active: User
) -> None:
    at_session(clock, container, active)
    twilio.text(PHONE, "DONE")  # Tuesday 3 March
    clock.advance(timedelta(days=2))
    asked = twilio.text(PHONE, "DONE")
    recorded_before = len(past_sessions(container, active))
    clock.advance(timedelta(minutes=5))

    reply = twilio.text(PHONE, "DONE")

    assert asked == (
        "RollerCare: Reply DONE again to log a session today; next planned Tue 17 Mar 20:00."
    )
    assert recorded_before == 1
    assert reply is not None and "at most once a week" in reply
    assert "Next roller session Thu 19 Mar 20:00" in reply
    assert [s.kind for s in past_sessions(container, active)] == ["extra", "planned"]


def test_skip_ends_the_session_and_plans_the_next_from_its_planned_date(
    container: Container, twilio: FakeTwilioWebhooks, active: User
) -> None:
    reply = twilio.text(PHONE, "SKIP")

    assert reply == "RollerCare: Skipped. Next roller session Tue 17 Mar 20:00."
    assert [s.status for s in past_sessions(container, active)] == [SessionStatus.SKIPPED]


def test_later_moves_the_session_one_day_at_the_same_time(
    container: Container, twilio: FakeTwilioWebhooks, active: User
) -> None:
    reply = twilio.text(PHONE, "LATER")  # Monday 10:00: the session is more than a day away

    assert reply == "RollerCare: Moved to Wed 4 Mar 20:00."
    session = upcoming(container, active)
    assert session is not None and session.local_date.isoformat() == "2026-03-04"


def test_later_on_a_session_under_way_invites_a_done(
    container: Container, twilio: FakeTwilioWebhooks, clock: FakeClock, active: User
) -> None:
    at_session(clock, container, active)

    reply = twilio.text(PHONE, "LATER")

    assert reply == "RollerCare: Moved to Wed 4 Mar 20:00. Reply DONE when finished."


def test_a_fourth_later_is_refused_and_the_session_stays(
    container: Container, twilio: FakeTwilioWebhooks, active: User
) -> None:
    for _ in range(3):
        twilio.text(PHONE, "LATER")

    reply = twilio.text(PHONE, "LATER")

    assert reply is not None and "moved 3 times already" in reply
    session = upcoming(container, active)
    assert session is not None and session.local_date.isoformat() == "2026-03-06"


def test_next_names_the_next_session_and_changes_nothing(
    container: Container, twilio: FakeTwilioWebhooks, active: User
) -> None:
    before = upcoming(container, active)

    reply = twilio.text(PHONE, "NEXT")

    assert reply == f"RollerCare: Next roller session {FIRST_SESSION}."
    assert upcoming(container, active) == before


# --- PAUSE, RESUME, SORE ---------------------------------------------------------------------


def test_pause_stops_every_reminder(
    container: Container, twilio: FakeTwilioWebhooks, active: User
) -> None:
    reply = twilio.text(PHONE, "PAUSE")

    assert reply == "RollerCare: Reminders paused. Reply RESUME to restart them."
    paused = current(container, active)
    assert (paused.status, paused.paused_reason) == (UserStatus.PAUSED, PausedReason.USER)
    assert pending_steps(container, active) == ["safety_notice"]  # a pause keeps it


def test_resume_restarts_reminders_and_names_the_next_session(
    container: Container, twilio: FakeTwilioWebhooks, active: User
) -> None:
    twilio.text(PHONE, "PAUSE")

    reply = twilio.text(PHONE, "RESUME")

    assert reply == f"RollerCare: Reminders back on. Next roller session {FIRST_SESSION}."
    resumed = current(container, active)
    assert (resumed.status, resumed.paused_reason) == (UserStatus.ACTIVE, None)
    assert pending_steps(container, active) == [
        "safety_notice",
        "heads_up",
        "makeup_removal",
        "peeling",
        "roll",
    ]


@pytest.mark.parametrize(
    "body",
    ["SORE", "irritated", "Redness", "RASH", "swelling", "sore :("]
    + ["my skin is a bit red", "it hurts", "Is it normal to itch?"],
)
def test_irritation_pauses_the_routine_and_cancels_its_reminders(
    container: Container, twilio: FakeTwilioWebhooks, active: User, body: str
) -> None:
    twilio.text(PHONE, body)

    paused = current(container, active)
    assert (paused.status, paused.paused_reason) == (UserStatus.PAUSED, PausedReason.SKIN_REACTION)
    assert pending_steps(container, active) == ["safety_notice"]  # a pause keeps it
    assert upcoming(container, active) is None


@pytest.mark.parametrize("body", ["No redness at all", "not sore, thanks", "my skin is fine"])
def test_a_reaction_that_is_negated_or_absent_pauses_nothing(
    container: Container, twilio: FakeTwilioWebhooks, active: User, body: str
) -> None:
    twilio.text(PHONE, body)

    assert current(container, active).status is UserStatus.ACTIVE
    assert pending_reminders(container, active) == 5


def test_irritation_gets_safety_advice_and_how_to_resume(
    twilio: FakeTwilioWebhooks, active: User
) -> None:
    reply = twilio.text(PHONE, "SORE")

    assert reply == (
        "RollerCare: Reminders paused. Redness & swelling usually settle in a few days; see a"
        " doctor if worse, lasting, pus or fever. RESUME once calm."
    )


def test_done_with_a_reaction_records_the_session_then_pauses(
    container: Container, twilio: FakeTwilioWebhooks, clock: FakeClock, active: User
) -> None:
    at_session(clock, container, active)

    reply = twilio.text(PHONE, "DONE but it stings")

    assert reply is not None and reply.startswith("RollerCare: Reminders paused.")
    # Newest first: the session the DONE planned, cancelled by the pause, and the one done.
    assert [s.status for s in past_sessions(container, active)] == [
        SessionStatus.CANCELLED,
        SessionStatus.DONE,
    ]
    paused = current(container, active)
    assert (paused.status, paused.paused_reason) == (UserStatus.PAUSED, PausedReason.SKIN_REACTION)
    assert paused.last_session_date is not None
    assert paused.last_session_date.isoformat() == "2026-03-03"
    assert upcoming(container, active) is None


# --- EVERY n, TIME hh:mm ---------------------------------------------------------------------


def test_every_changes_the_cadence_and_names_the_next_session(
    container: Container, twilio: FakeTwilioWebhooks, active: User
) -> None:
    reply = twilio.text(PHONE, "EVERY 21")

    assert reply == f"RollerCare: Now every 21 days. Next roller session {FIRST_SESSION}."
    assert current(container, active).schedule.cadence_days == 21


@pytest.mark.parametrize("body", ["EVERY 6", "every 1", "EVERY 0", "EVERY", "EVERY two"])
def test_every_below_seven_or_unreadable_is_refused_as_at_most_weekly(
    container: Container, twilio: FakeTwilioWebhooks, active: User, body: str
) -> None:
    reply = twilio.text(PHONE, body)

    assert reply is not None and "at most once a week" in reply and "EVERY 14" in reply
    assert current(container, active).schedule.cadence_days == 14


def test_time_changes_the_session_time_and_names_the_next_session(
    container: Container, twilio: FakeTwilioWebhooks, active: User
) -> None:
    reply = twilio.text(PHONE, "TIME 19:30")

    assert reply == ("RollerCare: Session time is now 19:30. Next roller session Tue 3 Mar 19:30.")


def test_time_in_quiet_hours_is_refused_naming_the_allowed_window(
    container: Container, twilio: FakeTwilioWebhooks, active: User
) -> None:
    reply = twilio.text(PHONE, "TIME 22:00")

    assert reply == (
        "RollerCare: 22:00 would text you in quiet hours. Reply TIME with a time in 08:45-20:59."
    )
    assert current(container, active).schedule.session_time.isoformat() == "20:00:00"


def test_time_that_is_not_a_time_gets_an_example(twilio: FakeTwilioWebhooks, active: User) -> None:
    assert twilio.text(PHONE, "TIME soon") == (
        "RollerCare: Reply TIME with a 24-hour time, e.g. TIME 19:30."
    )


# --- anything else ---------------------------------------------------------------------------


def test_unknown_text_gets_the_list_of_keywords(twilio: FakeTwilioWebhooks, active: User) -> None:
    reply = twilio.text(PHONE, "what is this?")

    assert reply == (
        "RollerCare: Reply DONE, SKIP, LATER, NEXT, PAUSE, RESUME, TIME hh:mm, EVERY n, HELP,"
        " STOP, or SORE if your skin reacts."
    )


@pytest.mark.parametrize(
    "body",
    ["YES", "HELP", "STOP", "DONE", "SKIP", "LATER", "NEXT", "PAUSE", "RESUME", "EVERY 5"]
    + ["EVERY 28", "TIME 23:59", "TIME 9:00", "SORE", "hello"],
)
def test_every_reply_is_one_gsm7_segment_naming_the_brand_at_its_longest(
    make_container: Callable[..., Container], body: str
) -> None:
    brand = "B" * MAX_BRAND_LENGTH
    contact = "c" * (MAX_HELP_CONTACT_LENGTH - len("@example")) + "@example"
    container = twilio_container(make_container, brand_name=brand, help_contact=contact)
    enroll_user(container, confirmed=body != "YES")
    with webhooks_for(container) as twilio:
        reply = twilio.text(PHONE, body)

    assert reply is not None and reply.startswith(brand + ":")
    length = gsm7_length(reply)
    assert length is not None and length <= 160, reply
