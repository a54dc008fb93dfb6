"""Reading an inbound SMS (docs/rules.md, the conversation): the first word decides, except
opt-outs and then skin reactions, which are found anywhere in the message."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from reminders.domain.reactions import find_reaction


class Keyword(StrEnum):
    YES = "YES"
    STOP = "STOP"
    START = "START"
    HELP = "HELP"
    DONE = "DONE"
    SKIP = "SKIP"
    LATER = "LATER"
    NEXT = "NEXT"
    PAUSE = "PAUSE"
    RESUME = "RESUME"
    EVERY = "EVERY"
    TIME = "TIME"
    SORE = "SORE"
    JOIN = "JOIN"
    OK = "OK"  # an answer to the check-in: the skin is fine
    OTHER = "OTHER"


_FIRST_WORD = {
    "YES": Keyword.YES,
    "Y": Keyword.YES,
    "STOP": Keyword.STOP,
    "STOPALL": Keyword.STOP,
    "UNSUBSCRIBE": Keyword.STOP,
    "CANCEL": Keyword.STOP,
    "END": Keyword.STOP,
    "QUIT": Keyword.STOP,
    "REVOKE": Keyword.STOP,
    "OPTOUT": Keyword.STOP,
    "START": Keyword.START,
    "UNSTOP": Keyword.START,
    "JOIN": Keyword.JOIN,
    "HELP": Keyword.HELP,
    "INFO": Keyword.HELP,
    "DONE": Keyword.DONE,
    "SKIP": Keyword.SKIP,
    "LATER": Keyword.LATER,
    "NEXT": Keyword.NEXT,
    "PAUSE": Keyword.PAUSE,
    "RESUME": Keyword.RESUME,
    "EVERY": Keyword.EVERY,
    "TIME": Keyword.TIME,
    "OK": Keyword.OK,
    "OKAY": Keyword.OK,
    "FINE": Keyword.OK,
    "GOOD": Keyword.OK,
    "GREAT": Keyword.OK,
}

OPT_INS = (Keyword.START, Keyword.YES, Keyword.JOIN)  # consent given, or given again

_OPT_OUT_ANYWHERE = re.compile(r"\b(stop|unsubscribe|revoke|opt[\s-]*out)\b", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z0-9:]+")


@dataclass(frozen=True, slots=True)
class Inbound:
    keyword: Keyword
    argument: str = ""  # the rest of the message, for EVERY n and TIME hh:mm
    reaction: str | None = None  # the reaction word found, when the keyword is SORE
    done: bool = False  # a reaction in a message that begins with DONE ("done, but it stings")
    opt_in: bool = False  # a reaction in a message that begins with START, YES or JOIN


def read_inbound(text: str) -> Inbound:
    """The keyword of an inbound message, matched case-insensitively on its first word after
    trimming punctuation and white space. Two things are found anywhere in it instead, in
    this order: an opt-out (stop, unsubscribe, revoke, "opt out"), then a skin reaction that
    no negation cancels (`reactions.find_reaction`), which reads as SORE."""
    body = text or ""
    words = _WORD.findall(body)
    first = words[0].upper() if words else ""
    if first == "OPT" and len(words) > 1 and words[1].upper() == "OUT":
        return Inbound(Keyword.STOP)
    keyword = _FIRST_WORD.get(first)
    if keyword is not Keyword.STOP and _OPT_OUT_ANYWHERE.search(body):
        return Inbound(Keyword.STOP)
    if keyword is Keyword.STOP:
        return Inbound(keyword, " ".join(words[1:]))
    reaction = find_reaction(body)
    if reaction is not None:  # SORE, RASH ... as a first word are reactions too
        return Inbound(
            Keyword.SORE,
            reaction=reaction,
            done=keyword is Keyword.DONE,
            opt_in=keyword in OPT_INS,
        )
    if keyword is None:
        return Inbound(Keyword.OTHER)
    return Inbound(keyword, " ".join(words[1:]))
