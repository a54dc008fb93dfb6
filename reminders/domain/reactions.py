"""A skin reaction reported in the free text of an inbound SMS, found anywhere in the message, so
that the person's reminders can be paused and safety advice sent.

A reaction word (REACTION_WORDS) is matched as a whole word, case-insensitively, with ' and ’
alike. The first one counts unless a negation cancels it:

- A negator (NEGATIONS) cancels the first reaction word after it in the same clause, if within 4
  words of it and only filler words (_NEGATION_FILLERS: any, more, longer, really, even, at,
  all, a, bit, have, feel, look, been ...) come between: "not sore", "not really sore", "I
  don't have any redness", "no longer red". Any other word ends the negation, since it is what
  is negated: "why won't the redness go away?", "I can't stand the itching", "never been so
  red", "nothing helps the burning" report the reaction.
- A list carries the negation on: "no redness or swelling", "no swelling, redness or itching".
  Each item is joined to the previous negated one by or, and, nor, a comma, / or & (with only
  any, other, real, major, obvious, visible or noticeable between) and is within 3 words of it.
- A clause ends at . ! ? ; or a line break, at a comma outside such a list, at but, though, tho,
  although, however, except, yet, still, now, just and only, and where a new subject starts (I,
  I'm, im, it, it's, its, my, this, that's, there, there's, he, she, they, we, you): "no pain,
  just a bit red", "no worries it's red" and "I don't think it's red" report "red".
- Doubt is no negation: a negator followed by sure, certain, know, idea, clue or tell cancels
  nothing ("not sure if red", "no idea why it's red").
- Neither are a bare "no" ended by a clause break ("No. It burns", "no, it's red") nor hardly,
  barely, slightly, nope and nah. A question counts ("is it normal to be red?"): the safe reading.
"""

from __future__ import annotations

import re

REACTION_WORDS: frozenset[str] = frozenset(
    {
        *("sore", "soreness", "sores"),
        *("hurt", "hurts", "hurting"),
        *("pain", "pains", "painful"),
        *("burn", "burns", "burned", "burnt", "burning"),
        *("red", "redder", "redness", "reddened", "reddish"),
        *("swollen", "swelling", "swell", "swells", "swelled"),
        *("itch", "itchy", "itching", "itches", "itched", "itchiness"),
        *("rash", "rashes"),
        *("bump", "bumps", "bumpy"),
        *("bleed", "bleeds", "bleeding", "bled", "blood"),
        *("bruise", "bruises", "bruised", "bruising"),
        *("allergic", "allergy", "allergies"),
        *("reaction", "reactions", "reacted", "reacting"),
        *("irritate", "irritated", "irritation", "irritating", "irritates"),
        *("sting", "stings", "stinging", "stung"),
        *("blister", "blisters", "blistered", "blistering"),
        *("inflamed", "inflammation"),
        *("infected", "infection", "infections"),
        "pus",
    }
)

_CONTRACTIONS = (
    *("isn't", "aren't", "wasn't", "weren't"),
    *("don't", "doesn't", "didn't"),
    *("haven't", "hasn't", "hadn't"),
    *("won't", "wouldn't", "can't", "couldn't", "shouldn't", "shan't"),
    *("mustn't", "needn't", "mightn't", "daren't", "oughtn't", "ain't"),
)

NEGATIONS: frozenset[str] = frozenset(
    {
        *("no", "not", "never", "without", "none", "nothing", "zero", "nor", "neither"),
        "cannot",
        *_CONTRACTIONS,
        *(word.replace("'", "") for word in _CONTRACTIONS),
    }
)

_REACH = 3  # words from the previous negated word of a list
_NEGATION_REACH = 4  # words from a negator, fillers only between
_NEGATION_FILLERS = frozenset(
    {"any", "more", "longer", "real", "really", "major", "obvious", "visible", "noticeable"}
    | {"much", "at", "all", "even", "too", "very", "that", "a", "bit", "little", "slightest"}
    | {"feel", "feels", "feeling", "felt", "look", "looks", "looking", "seem", "seems"}
    | {"have", "has", "had", "got", "get", "getting", "see", "seeing", "notice", "noticed"}
    | {"been", "be", "is", "are", "was", "were", "am", "sign", "signs", "of", "one"}
)
_BREAK_WORDS = frozenset(
    {"but", "though", "tho", "although", "however", "except", "yet", "still", "now", "just", "only"}
)
_SUBJECTS = frozenset(
    {"i", "i'm", "im", "it", "it's", "its", "my", "this", "that's", "there", "there's"}
    | {"he", "she", "they", "we", "you"}
)
_DOUBT = frozenset({"sure", "certain", "know", "idea", "clue", "tell"})
_COORDINATORS = frozenset({"or", "and", "nor"})
_LIST_FILLERS = frozenset({"any", "other", "real", "major", "obvious", "visible", "noticeable"})

# Words (letters and digits, with inner apostrophes), list links and sentence breaks; anything
# else (spaces, emoji, brackets, dashes...) only separates words.
_TOKEN = re.compile(r"(?P<word>[^\W_]+(?:'[^\W_]+)*)|(?P<link>[,/&])|(?P<stop>[.!?;\n])")


def _reaction_word(word: str) -> str | None:
    if word in REACTION_WORDS:
        return word
    if word.endswith("'s") and word[:-2] in REACTION_WORDS:  # "the rash's spreading"
        return word[:-2]
    return None


def find_reaction(text: str) -> str | None:
    """The first reaction word found in `text` that no negation cancels (lower-cased, as
    written), or None; the rules are in the module docstring."""
    negator: int | None = None  # position of the negator in force
    listed: int | None = None  # position of the last negated word a list may carry on from
    linked = False  # a list link came after `listed`
    position = 0
    for token in _TOKEN.finditer((text or "").lower().replace("\u2019", "'")):
        kind = token.lastgroup
        if kind == "stop":
            negator = listed = None
            continue
        if kind == "link":
            negator = None
            linked = listed is not None
            continue
        word = token.group()
        position += 1
        reaction = _reaction_word(word)
        if reaction is not None:
            if (listed is not None and linked and position - listed <= _REACH) or (
                negator is not None and position - negator <= _NEGATION_REACH
            ):
                negator, listed, linked = None, position, False
                continue
            return reaction
        if word in _BREAK_WORDS or word in _SUBJECTS:
            negator = listed = None
        elif word in NEGATIONS:
            negator, listed = position, None
        elif word in _DOUBT:
            negator = listed = None
        else:
            if negator is not None and word not in _NEGATION_FILLERS:
                negator = None  # the negation is of this word, not of a reaction after it
            if listed is not None:
                if word in _COORDINATORS:
                    linked = True
                elif not (linked and word in _LIST_FILLERS):
                    listed = None
    return None
