"""Reading an inbound SMS (docs/rules.md): the first word decides, case-insensitively and without
punctuation; opt-outs are also found anywhere in the message."""

from __future__ import annotations

import pytest

from reminders.domain.conversation import Inbound, Keyword, read_inbound


@pytest.mark.parametrize(
    ("text", "keyword"),
    [
        ("YES", Keyword.YES),
        ("y", Keyword.YES),
        ("START", Keyword.START),
        ("unstop", Keyword.START),
        ("JOIN", Keyword.JOIN),
        ("HELP", Keyword.HELP),
        ("info", Keyword.HELP),
        ("DONE", Keyword.DONE),
        ("SKIP", Keyword.SKIP),
        ("LATER", Keyword.LATER),
        ("NEXT", Keyword.NEXT),
        ("PAUSE", Keyword.PAUSE),
        ("RESUME", Keyword.RESUME),
        ("EVERY 14", Keyword.EVERY),
        ("TIME 19:30", Keyword.TIME),
        ("SORE", Keyword.SORE),
        ("irritated", Keyword.SORE),
        ("REDNESS", Keyword.SORE),
        ("Rash", Keyword.SORE),
        ("SWELLING", Keyword.SORE),
    ],
)
def test_first_word_names_the_keyword(text: str, keyword: Keyword) -> None:
    assert read_inbound(text).keyword is keyword


@pytest.mark.parametrize("text", ["done", "Done!", "  DONE.  ", '"done"', "done, thanks", "DoNe"])
def test_case_punctuation_and_white_space_around_the_first_word_do_not_matter(text: str) -> None:
    assert read_inbound(text).keyword is Keyword.DONE


@pytest.mark.parametrize(
    "text",
    ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT", "OPT OUT"],
)
def test_opt_out_keywords(text: str) -> None:
    assert read_inbound(text).keyword is Keyword.STOP


@pytest.mark.parametrize(
    "text",
    [
        "please stop texting me",
        "Can you STOP?",
        "i want to unsubscribe",
        "I revoke consent",
        "let me opt out",
        "opt-out please",
        "DONE but stop now",
        "TIME 19:30 or just stop",
    ],
)
def test_an_opt_out_anywhere_in_the_message_wins(text: str) -> None:
    assert read_inbound(text).keyword is Keyword.STOP


@pytest.mark.parametrize("text", ["stopwatch broke", "I love options", "the end is near?"])
def test_opt_out_words_inside_other_words_or_later_in_the_text_are_not_opt_outs(
    text: str,
) -> None:
    assert read_inbound(text).keyword is Keyword.OTHER


@pytest.mark.parametrize("text", ["", "   ", "?!", "hello", "🙂", "yess"])
def test_anything_else_is_other(text: str) -> None:
    assert read_inbound(text).keyword is Keyword.OTHER


def test_every_keeps_its_argument() -> None:
    assert read_inbound("every 21 days") == Inbound(Keyword.EVERY, "21 days")


def test_time_keeps_its_argument_with_the_colon() -> None:
    assert read_inbound("Time 7:30") == Inbound(Keyword.TIME, "7:30")
