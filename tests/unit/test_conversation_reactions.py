"""How read_inbound (reminders/domain/conversation.py) weighs a skin reaction against the
keywords: an opt-out anywhere comes first, then a reaction anywhere (read as SORE, with the
word found and whether the message began with DONE), then the first word. The check-in's
answers OK, OKAY, FINE, GOOD and GREAT are first words like the others, and a negated reaction
leaves a message its keyword."""

from __future__ import annotations

import pytest

from reminders.domain.conversation import Inbound, Keyword, read_inbound

# --- an opt-out beats a reaction -------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "STOP my skin is red",
        "stop, it burns",
        "my skin is red, please stop",
        "it burns. unsubscribe",
        "opt out, it's red",
        "sore, stop",
        "SORE STOP",
        "Done but it stings, stop texting me",
        "REDNESS. I revoke consent",
        "rash everywhere, opt-out now",
    ],
)
def test_an_opt_out_beats_a_reaction_anywhere(text: str) -> None:
    inbound = read_inbound(text)

    assert inbound.keyword is Keyword.STOP
    assert (inbound.reaction, inbound.done) == (None, False)


# --- a reaction beats the first word ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reaction"),
    [
        ("HELP my skin is red", "red"),
        ("help? it burns", "burns"),
        ("INFO: is this rash normal", "rash"),
        ("PAUSE it hurts", "hurts"),
        ("pause please, my face is swollen", "swollen"),
        ("RESUME? still a bit itchy", "itchy"),
        ("resume once the redness goes", "redness"),
        ("SKIP, it hurts", "hurts"),
        ("LATER my face is swollen", "swollen"),
        ("NEXT - is redness normal?", "redness"),
        ("TIME 19:30 my skin is red", "red"),
        ("EVERY 14 days, it burns", "burns"),
        ("YES! though my skin is a bit red", "red"),
        ("JOIN, bit of a rash", "rash"),
        ("ok but it's red", "red"),
        ("fine, just slightly itchy", "itchy"),
        ("GOOD apart from the bumps", "bumps"),
        ("great... it stings a bit", "stings"),
    ],
)
def test_a_reaction_anywhere_beats_the_first_word(text: str, reaction: str) -> None:
    opt_in = text.split()[0].strip("!,").upper() in ("YES", "JOIN", "START")

    assert read_inbound(text) == Inbound(Keyword.SORE, reaction=reaction, done=False, opt_in=opt_in)


@pytest.mark.parametrize(
    ("text", "reaction"),
    [
        ("Done, but it stings", "stings"),
        ("DONE red", "red"),
        ("done but red", "red"),
        ("done!! felt fine during but it stung after", "stung"),
        ("DONE. skin is kinda bumpy now", "bumpy"),
        ("  done... a bit itchy ", "itchy"),
    ],
)
def test_a_reaction_in_a_message_that_begins_with_done_is_flagged_done(
    text: str, reaction: str
) -> None:
    assert read_inbound(text) == Inbound(Keyword.SORE, reaction=reaction, done=True)


@pytest.mark.parametrize(
    "text",
    [
        "I'm done, it stings",  # "done" is not the first word
        "all done, bit red",
        "finished, bit red",
        "SORE after DONE",
        "HELP done and it burns",
    ],
)
def test_only_done_as_the_first_word_flags_the_reaction_done(text: str) -> None:
    inbound = read_inbound(text)

    assert inbound.keyword is Keyword.SORE
    assert inbound.done is False


def test_a_reaction_carries_no_argument() -> None:
    # TIME 19:30 with a reaction is a reaction: the time is not changed.
    assert read_inbound("TIME 19:30, it hurts").argument == ""


# --- the reaction words as first words -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reaction"),
    [
        ("SORE", "sore"),
        ("sore!", "sore"),
        ("Irritated", "irritated"),
        ("REDNESS", "redness"),
        ("rash", "rash"),
        ("SWELLING", "swelling"),
    ],
)
def test_a_sore_keyword_alone_names_itself_as_the_reaction(text: str, reaction: str) -> None:
    assert read_inbound(text) == Inbound(Keyword.SORE, reaction=reaction, done=False)


def test_the_sore_keyword_is_a_reaction_even_when_a_later_word_negates_another() -> None:
    # The first word SORE is a report in itself, whatever follows.
    inbound = read_inbound("SORE? no, not sore")

    assert (inbound.keyword, inbound.reaction) == (Keyword.SORE, "sore")


# --- the check-in's answers ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "argument"),
    [
        ("OK", ""),
        ("ok", ""),
        ("OK!!", ""),
        ("okay", ""),
        ("Okay thanks", "thanks"),
        ("FINE", ""),
        ("fine thank you", "thank you"),
        ("Good!", ""),
        ("good.", ""),
        ("GREAT thanks", "thanks"),
        ("great", ""),
    ],
)
def test_ok_fine_good_and_great_answer_the_check_in(text: str, argument: str) -> None:
    assert read_inbound(text) == Inbound(Keyword.OK, argument)


@pytest.mark.parametrize("text", ["all good", "skin is fine", "it's OK", "oki", "goodness"])
def test_the_check_in_answers_count_only_as_the_first_word(text: str) -> None:
    assert read_inbound(text).keyword is Keyword.OTHER


# --- a negated reaction leaves the message its keyword ---------------------------------------


@pytest.mark.parametrize(
    ("text", "keyword"),
    [
        ("OK not sore at all", Keyword.OK),
        ("fine, no swelling or itching", Keyword.OK),
        ("good, nothing red or itchy", Keyword.OK),
        ("great, no irritation at all", Keyword.OK),
        ("okay, no redness", Keyword.OK),
        ("DONE, no redness", Keyword.DONE),
        ("done - not sore at all", Keyword.DONE),
        ("Done no redness or swelling", Keyword.DONE),
        ("done, didn't hurt", Keyword.DONE),
        ("HELP not red", Keyword.HELP),
        ("PAUSE - no pain, travelling", Keyword.PAUSE),
        ("RESUME, no more redness", Keyword.RESUME),
        ("SKIP, no reaction just busy", Keyword.SKIP),
        ("LATER, not sore, just busy", Keyword.LATER),
        ("YES, never had a rash", Keyword.YES),
    ],
)
def test_a_negated_reaction_leaves_the_message_its_keyword(text: str, keyword: Keyword) -> None:
    inbound = read_inbound(text)

    assert inbound.keyword is keyword
    assert (inbound.reaction, inbound.done) == (None, False)


@pytest.mark.parametrize("text", ["not sore", "no redness at all", "never had a rash"])
def test_a_negated_reaction_with_no_keyword_is_other(text: str) -> None:
    assert read_inbound(text) == Inbound(Keyword.OTHER)


@pytest.mark.parametrize(
    ("text", "keyword"),
    [("DONE", Keyword.DONE), ("done!", Keyword.DONE), ("HELP", Keyword.HELP)],
)
def test_a_keyword_with_no_reaction_is_not_flagged(text: str, keyword: Keyword) -> None:
    assert read_inbound(text) == Inbound(keyword)
