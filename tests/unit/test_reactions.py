"""A skin reaction reported anywhere in an inbound SMS (reminders/domain/reactions.py): reaction
words count unless a negator in the same clause cancels them; doubt, a bare "no" and questions
are no negation."""

from __future__ import annotations

import re

import pytest

from reminders.domain.reactions import NEGATIONS, REACTION_WORDS, find_reaction


def readable(text: str) -> str:
    """A test id: the message in printable ASCII, emoji and line breaks left out."""
    return re.sub(r"\s+", " ", re.sub(r"[^\x20-\x7e\n]", "", text)).strip() or "blank"


MESSAGES: list[tuple[str, str | None]] = [
    # Reactions
    ("my skin is red and sore", "red"),
    ("it hurts a lot", "hurts"),
    ("SORE", "sore"),
    ("bit of a rash on my cheek", "rash"),
    ("Done but it's stinging", "stinging"),
    ("face is swollen :(", "swollen"),
    ("is it normal to be this red?", "red"),
    ("No. It burns", "burns"),
    ("not sure but I think I'm allergic", "allergic"),
    ("it's not sore but quite itchy", "itchy"),
    ("Done. Bit itchy tbh", "itchy"),
    ("did it last night and now theres little bumps everywhere 😬", "bumps"),
    ("Skipped yesterday bc my forehead was still Red", "red"),
    ("lol it's burning a bit, is that ok??", "burning"),
    ("i think im having a reaction", "reaction"),
    ("There's a tiny bit of blood on my chin, normal?", "blood"),
    ("cheeks r swollen and kinda hot", "swollen"),
    ("Hi, my skin is really irritated after last night's session", "irritated"),
    ("no pain, just a bit red", "red"),
    ("not sore but a bit red", "red"),
    ("it didn't hurt but now it's itchy", "itchy"),
    ("dunno, kind of red", "red"),
    ("no idea why it's red", "red"),
    ("not sure if it's red or just the light in here", "red"),
    ("don't know if this is a rash", "rash"),
    ("no, it's red", "red"),
    ("nah its fine, slightly red tho", "red"),
    ("Some redness around my nose 🙁 should I skip?", "redness"),
    ("noticed a blister on my cheek this morning", "blister"),
    ("It’s really painful today", "painful"),
    ("my skin looks inflamed, pls pause", "inflamed"),
    ("BLEEDING a little after rolling, is that normal", "bleeding"),
    ("i think it might be infected", "infected"),
    ("Done!! felt fine during but it stung after", "stung"),
    ("isn't it supposed to be red after?", "red"),
    ("no worries it's just a bit red lol", "red"),
    ("DONE. skin is kinda bumpy now, is that the roller??", "bumpy"),
    # Negated
    ("not sore at all", None),
    ("no redness, all good", None),
    ("Done! no irritation", None),
    ("skin feels great, no bumps or rash", None),
    ("didn't hurt one bit", None),
    ("no longer red, RESUME please", None),
    ("Done, no swelling, redness or itching 🙌", None),
    ("all good, doesn’t hurt at all", None),
    ("tbh I don't have any redness this time", None),
    ("never itchy, love it", None),
    ("did it without any redness!!", None),
    ("No more pain since I started going slower", None),
    ("Done. Zero irritation 😊", None),
    ("skin isnt red anymore", None),
    ("not red or swollen, just tired lol", None),
    ("neither red nor sore 👌", None),
    ("wasnt sore this time", None),
    ("nothing bumpy or red, all smooth", None),
    ("DONE\nno stinging this time!", None),
    # Nothing to report
    ("done", None),
    ("LATER", None),
    ("thanks!", None),
    ("what time is my session?", None),
    ("I read the instructions", None),
    ("redo tomorrow?", None),
    ("ok, I'll redo it on Sunday 👍", None),
    ("my painter is coming so can we do later", None),
    ("the roller handle looks burnished lol", None),
    ("my kids hurtle around the house all morning, evenings are better", None),
    ("these times predate my new job, can I change them?", None),
    ("peeling a bit but that's expected right?", None),
    ("Feeling sensitive today, will do it later", None),
    ("sorry forgot, will do it tonight", None),
    ("Can I move it to 7pm? thx", None),
    ("RESUME", None),
    ("dont think so", None),
]


@pytest.mark.parametrize(("text", "expected"), MESSAGES, ids=[readable(t) for t, _ in MESSAGES])
def test_messages_people_write(text: str, expected: str | None) -> None:
    assert find_reaction(text) == expected


def test_the_table_holds_about_as_many_reactions_as_not() -> None:
    reactions = sum(1 for _, expected in MESSAGES if expected is not None)

    assert len(MESSAGES) >= 50
    assert abs(reactions - (len(MESSAGES) - reactions)) <= len(MESSAGES) // 5


# Reaction words


@pytest.mark.parametrize(
    "text",
    ["read", "redo", "hurtle", "painter", "burnished", "predate", "painless", "sorely", "bumper"],
)
def test_only_whole_words_match(text: str) -> None:
    assert find_reaction(f"I {text} it") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [("SoRe", "sore"), ("REDNESS!!", "redness"), ("it's Itchy", "itchy"), ("(swollen)", "swollen")],
)
def test_case_and_punctuation_around_a_word_do_not_matter(text: str, expected: str) -> None:
    assert find_reaction(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("red and sore", "red"), ("sore and red", "sore"), ("fine, fine, then itchy", "itchy")],
)
def test_the_first_reaction_word_is_returned(text: str, expected: str) -> None:
    assert find_reaction(text) == expected


def test_a_possessive_reaction_word_counts() -> None:
    assert find_reaction("the rash's spreading") == "rash"


@pytest.mark.parametrize("text", ["", "   ", "😊👍", "?!", "...", "0.2 mm"])
def test_nothing_to_read(text: str) -> None:
    assert find_reaction(text) is None


def test_a_long_message_is_read_to_its_end() -> None:
    text = "all fine here, thanks for the reminder. " * 39 + "bit red"

    assert len(text) <= 1600
    assert find_reaction(text) == "red"


# A negator cancels a reaction word within 3 words after it in the same clause


@pytest.mark.parametrize(
    "text",
    [
        "not sore",
        "not really sore",
        "doesn't hurt at all",
        "I don't have any redness",
        "no more pain",
        "without any redness",
        "never itchy",
        "no longer sore",
        "not sore anymore",
        "it isn't red any more",
    ],
)
def test_a_negator_cancels_a_reaction_word_within_3_words(text: str) -> None:
    assert find_reaction(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [("there is not a lot of pain", "pain"), ("wasn't expecting so much pain", "pain")],
)
def test_a_reaction_word_further_than_3_words_counts(text: str, expected: str) -> None:
    assert find_reaction(text) == expected


@pytest.mark.parametrize("negator", sorted(NEGATIONS))
def test_every_negator_cancels(negator: str) -> None:
    assert find_reaction(f"{negator} sore") is None


@pytest.mark.parametrize(
    "text", ["doesn’t hurt", "isn’t red", "DON'T hurt", "Didnt hurt", "cant feel any pain"]
)
def test_contractions_with_either_apostrophe_or_none(text: str) -> None:
    assert find_reaction(text) is None


@pytest.mark.parametrize("word", ["hardly", "barely", "slightly", "nope", "nah", "little"])
def test_words_that_only_soften_are_not_negators(word: str) -> None:
    assert find_reaction(f"{word} red") == "red"


def test_a_negator_cancels_only_the_first_reaction_word_after_it() -> None:
    assert find_reaction("not sore skin red") == "red"


# A list carries the negation on


@pytest.mark.parametrize(
    "text",
    [
        "no redness or swelling",
        "no swelling, redness or itching",
        "no swelling, redness, or itching",
        "no redness and swelling",
        "neither red nor sore",
        "no redness/swelling",
        "no redness & swelling",
        "no redness or any swelling",
        "no redness, no swelling",
        "not red, swollen or sore, all good",
    ],
)
def test_a_list_carries_the_negation_on(text: str) -> None:
    assert find_reaction(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("no pain, a bit red", "red"),
        ("no pain and a lot of swelling", "swelling"),
        ("no redness or any other real swelling", "swelling"),
        ("no redness swelling", "swelling"),
        ("no pain and it's red", "red"),
    ],
)
def test_a_list_ends_where_the_words_are_not_joined_as_a_list(text: str, expected: str) -> None:
    assert find_reaction(text) == expected


# A clause break ends a negation


@pytest.mark.parametrize(
    "word",
    [
        "but",
        "though",
        "tho",
        "although",
        "however",
        "except",
        "yet",
        "still",
        "now",
        "just",
        "only",
    ],
)
def test_a_clause_break_word_ends_a_negation(word: str) -> None:
    assert find_reaction(f"not sore {word} red") == "red"
    assert find_reaction(f"no {word} red") == "red"


@pytest.mark.parametrize("mark", [".", "!", "?", ";", "\n", ","])
def test_sentence_punctuation_and_a_comma_outside_a_list_end_a_negation(mark: str) -> None:
    assert find_reaction(f"not{mark} red") == "red"
    assert find_reaction(f"no pain{mark} bit red") == "red"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("not sore but a bit red", "red"),
        ("no pain, just a bit red", "red"),
        ("it didn't hurt but now it's itchy", "itchy"),
        ("no worries it's red", "red"),
        ("I don't think it's red", "red"),
        ("no im sore", "sore"),
        ("isn't my skin red?", "red"),
    ],
)
def test_a_new_clause_is_not_negated(text: str, expected: str) -> None:
    assert find_reaction(text) == expected


# Doubt, a bare "no" and questions are no negation


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("not sure if it's red", "red"),
        ("not sure if red", "red"),
        ("not really sure red", "red"),
        ("don't know if this is a rash", "rash"),
        ("dont know, kinda red", "red"),
        ("dunno, kind of red", "red"),
        ("no idea why it's red", "red"),
        ("no clue why red", "red"),
        ("can't tell if swollen", "swollen"),
        ("not certain rash", "rash"),
    ],
)
def test_doubt_is_not_a_negation(text: str, expected: str) -> None:
    assert find_reaction(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("No. It hurts", "hurts"), ("no, it's red", "red"), ("No! sore", "sore"), ("no\nred", "red")],
)
def test_a_bare_no_negates_nothing(text: str, expected: str) -> None:
    assert find_reaction(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("is it normal to be red after?", "red"), ("is redness normal??", "redness")],
)
def test_a_question_counts(text: str, expected: str) -> None:
    assert find_reaction(text) == expected


# The constants

LISTED_FORMS = """
    sore soreness sores hurt hurts hurting pain pains painful burn burns burned burnt burning
    red redness reddened reddish swollen swelling swell swells swelled
    itch itchy itching itches itchiness rash rashes bump bumps bumpy
    bleed bleeds bleeding bled blood bruise bruises bruised bruising allergic allergy allergies
    reaction reactions reacted reacting irritated irritation irritating irritates
    sting stings stinging blister blisters blistering inflamed inflammation infected infection pus
""".split()

LISTED_NEGATORS = """
    no not never without none nothing zero nor neither cannot
    isn't aren't wasn't weren't don't doesn't didn't haven't hasn't hadn't won't wouldn't can't
    ain't isnt arent wasnt werent dont doesnt didnt havent hasnt hadnt wont wouldnt cant aint
""".split()


@pytest.mark.parametrize("word", LISTED_FORMS)
def test_every_listed_form_is_a_reaction_word(word: str) -> None:
    assert word in REACTION_WORDS
    assert find_reaction(f"it's {word}") == word


@pytest.mark.parametrize("word", ["peel", "peeling", "peeled", "sensitive", "read", "painless"])
def test_routine_and_lookalike_words_are_not_reaction_words(word: str) -> None:
    assert word not in REACTION_WORDS
    assert find_reaction(f"it's {word}") is None


@pytest.mark.parametrize("word", LISTED_NEGATORS)
def test_every_listed_negator_is_in_negations(word: str) -> None:
    assert word in NEGATIONS


@pytest.mark.parametrize("word", ["hardly", "barely", "slightly", "nope", "nah", "dunno"])
def test_softeners_and_doubt_are_not_in_negations(word: str) -> None:
    assert word not in NEGATIONS


def test_the_constants_are_lower_case_single_words() -> None:
    for word in REACTION_WORDS | NEGATIONS:
        assert word == word.lower()
        assert re.fullmatch(r"[a-z']+", word), word


@pytest.mark.parametrize(
    ("text", "reaction"),
    [
        ("Why won't the redness go away?", "redness"),
        ("I can't stand the itching", "itching"),
        ("I can't take the pain anymore", "pain"),
        ("Never been so red", "red"),
        ("can't believe how red it is", "red"),
        ("Nothing helps the burning", "burning"),
        ("Doesn't the swelling usually go down by now?", "swelling"),
        ("Hasn't the rash gone yet?", "rash"),
    ],
)
def test_a_negation_of_another_word_does_not_cancel_the_reaction_after_it(
    text: str, reaction: str
) -> None:
    assert find_reaction(text) == reaction


@pytest.mark.parametrize(
    "text",
    [
        "I haven't noticed any redness",
        "no sign of any redness",
        "it doesn't feel sore",
        "skin isn't very red",
        "has not been itchy at all",
    ],
)
def test_a_negation_reaches_past_filler_words(text: str) -> None:
    assert find_reaction(text) is None
