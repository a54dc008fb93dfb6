"""Every SMS text is GSM-7 and one segment, even with the longest values it can be given."""

from __future__ import annotations

import inspect
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from config.settings import MAX_BRAND_LENGTH, MAX_HELP_CONTACT_LENGTH
from reminders.domain import messages
from reminders.domain.model import MAX_CADENCE_DAYS, PLAN_STEPS, Step
from reminders.domain.planning import describe_windows
from reminders.domain.reply_limit import silence_minutes

BRAND = "W" * MAX_BRAND_LENGTH
CONTACT = "h" * (MAX_HELP_CONTACT_LENGTH - len("@example.com")) + "@example.com"
ZONE = ZoneInfo("Pacific/Chatham")  # +12:45/+13:45: any zone renders local dates the same way
LATEST_TIME = "23:59"
# A streak of a thousand sessions, every week for nearly twenty years; the silence in minutes
# written with as many digits as the limiter's constant could take.
LONGEST_STREAK = 1000
LONGEST_SILENCE = 999
TWO_WINDOWS = describe_windows([(time(8, 45), time(12, 59)), (time(14, 0), time(20, 59))])


def _longest_session_instant() -> datetime:
    """The instant whose rendering ('Wed 30 Sep 23:59') is the longest of a whole year."""
    day = date(2026, 1, 1)
    candidates = []
    while day.year == 2026:
        local = datetime.combine(day, time(23, 59), ZONE)
        candidates.append(local.astimezone(UTC))
        day += timedelta(days=1)
    return max(candidates, key=lambda at: len(messages.format_when(at, ZONE)))


AT = _longest_session_instant()
WHEN = messages.format_when(AT, ZONE)

# Every text the service can send, with the longest values each can be given.
RENDERED: dict[str, list[str]] = {
    "reminder_text": [messages.reminder_text(BRAND, step, AT, ZONE) for step in Step],
    "consent_request_text": [messages.consent_request_text(BRAND)],
    "welcome_text": [messages.welcome_text(BRAND, WHEN)],
    "opted_out_text": [messages.opted_out_text(BRAND)],
    "resubscribed_text": [messages.resubscribed_text(BRAND, WHEN)],
    "help_text": [messages.help_text(BRAND, CONTACT, len(PLAN_STEPS))],
    "done_text": [
        messages.done_text(BRAND, when, too_soon, LONGEST_STREAK)
        for when in (WHEN, None)
        for too_soon in (True, False)
    ],
    "done_confirm_text": [
        messages.done_confirm_text(BRAND, WHEN),
        messages.done_confirm_text(BRAND, None),
    ],
    "skipped_text": [messages.skipped_text(BRAND, WHEN)],
    "moved_text": [
        messages.moved_text(BRAND, WHEN, soon=True),
        messages.moved_text(BRAND, WHEN, soon=False),
    ],
    "later_refused_text": [messages.later_refused_text(BRAND)],
    "next_text": [messages.next_text(BRAND, WHEN), messages.next_text(BRAND, None)],
    "paused_text": [messages.paused_text(BRAND)],
    "resumed_text": [messages.resumed_text(BRAND, WHEN)],
    "cadence_text": [messages.cadence_text(BRAND, MAX_CADENCE_DAYS, WHEN)],
    "cadence_refused_text": [messages.cadence_refused_text(BRAND)],
    "time_text": [messages.time_text(BRAND, LATEST_TIME, WHEN)],
    "time_refused_text": [messages.time_refused_text(BRAND, LATEST_TIME, TWO_WINDOWS)],
    "time_help_text": [messages.time_help_text(BRAND)],
    "sore_text": [messages.sore_text(BRAND)],
    "safety_notice_text": [messages.safety_notice_text(BRAND)],
    "skin_check_text": [messages.skin_check_text(BRAND)],
    "checkin_ok_text": [
        messages.checkin_ok_text(BRAND, WHEN),
        messages.checkin_ok_text(BRAND, None),
    ],
    "limited_text": [messages.limited_text(BRAND, LONGEST_SILENCE)],
    "keywords_text": [messages.keywords_text(BRAND)],
    "not_enrolled_text": [messages.not_enrolled_text(BRAND)],
    "confirm_first_text": [messages.confirm_first_text(BRAND)],
}


def _cases() -> list[tuple[str, str]]:
    return [(name, text) for name, texts in RENDERED.items() for text in texts]


def test_every_text_template_is_rendered_here() -> None:
    templates = {
        name
        for name, value in vars(messages).items()
        if name.endswith("_text") and inspect.isfunction(value)
    }

    assert templates == set(RENDERED)


def test_the_longest_values_are_as_long_as_they_get() -> None:
    assert len(str(silence_minutes())) <= len(str(LONGEST_SILENCE))
    assert len(WHEN) == len("Wed 30 Sep 23:59")
    assert len(TWO_WINDOWS) == len("08:45-12:59 or 14:00-20:59")
    assert len(BRAND) == MAX_BRAND_LENGTH and len(CONTACT) == MAX_HELP_CONTACT_LENGTH


@pytest.mark.parametrize(("template", "text"), _cases(), ids=[name for name, _ in _cases()])
def test_text_is_gsm7_and_one_segment_at_its_longest(template: str, text: str) -> None:
    length = messages.gsm7_length(text)

    assert length is not None, f"{template} needs UCS-2: {text!r}"
    assert length <= messages.SEGMENT, f"{template} is {length} GSM-7 characters: {text!r}"


@pytest.mark.parametrize(("template", "text"), _cases(), ids=[name for name, _ in _cases()])
def test_text_names_the_brand(template: str, text: str) -> None:
    assert text.startswith(BRAND + ": ")


def test_texts_about_the_roll_name_the_needle_length() -> None:
    heads_up = messages.reminder_text(BRAND, Step.HEADS_UP, AT, ZONE)
    roll = messages.reminder_text(BRAND, Step.ROLL, AT, ZONE)

    assert "0.2 mm" in heads_up and "0.2 mm" in roll


def test_the_welcome_text_gives_help_stop_and_rates() -> None:
    text = messages.welcome_text(BRAND, WHEN)

    assert "HELP" in text and "STOP" in text and "Msg & data rates may apply." in text


def test_gsm7_extension_characters_count_twice() -> None:
    assert messages.gsm7_length("€[]") == 6


@pytest.mark.parametrize("text", ["naïve", "“quoted”", "smile 🙂", "Łódź"])
def test_text_outside_gsm7_has_no_gsm7_length(text: str) -> None:
    assert messages.gsm7_length(text) is None


def test_a_text_of_161_characters_is_two_segments() -> None:
    assert messages.is_single_segment("x" * 160)
    assert not messages.is_single_segment("x" * 161)


def test_help_and_the_keyword_list_name_sore() -> None:
    assert "SORE" in messages.help_text(BRAND, CONTACT, 4)
    assert "SORE" in messages.keywords_text(BRAND)


@pytest.mark.parametrize("per_session", [1, 2, 3, 4])
def test_help_counts_the_messages_of_the_active_plan(per_session: int) -> None:
    assert f" {per_session} roller msgs per session" in messages.help_text(
        BRAND, CONTACT, per_session
    )


def test_the_safety_notice_names_who_must_not_roll_and_the_allergy_check() -> None:
    text = messages.safety_notice_text(BRAND).lower()

    for words in ("pregnant", "autoimmune", "broken", "infected", "allergies", "doctor"):
        assert words in text


def test_the_skin_reaction_advice_names_when_to_see_a_doctor_and_resume() -> None:
    text = messages.sore_text(BRAND)

    for words in ("few days", "doctor", "worse", "lasting", "pus", "fever", "RESUME"):
        assert words in text


def test_the_streak_is_named_from_two_sessions_on() -> None:
    assert "in a row" not in messages.done_text(BRAND, WHEN, False, 1)
    assert "2 sessions in a row" in messages.done_text(BRAND, WHEN, False, 2)
    assert "in a row" not in messages.done_text(BRAND, WHEN, True, 5)


def test_later_names_done_only_for_a_session_under_way() -> None:
    assert "DONE" in messages.moved_text(BRAND, WHEN, soon=True)
    assert "DONE" not in messages.moved_text(BRAND, WHEN, soon=False)
