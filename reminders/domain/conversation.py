"""Reading an inbound SMS (docs/rules.md, the conversation): the first word decides, except
opt-outs, which are also found anywhere in the message."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


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
    "SORE": Keyword.SORE,
    "IRRITATED": Keyword.SORE,
    "REDNESS": Keyword.SORE,
    "RASH": Keyword.SORE,
    "SWELLING": Keyword.SORE,
}

_OPT_OUT_ANYWHERE = re.compile(r"\b(stop|unsubscribe|revoke|opt[\s-]*out)\b", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z0-9:]+")


@dataclass(frozen=True, slots=True)
class Inbound:
    keyword: Keyword
    argument: str = ""  # the rest of the message, for EVERY n and TIME hh:mm


def read_inbound(text: str) -> Inbound:
    """The keyword of an inbound message, matched case-insensitively on its first word after
    trimming punctuation and white space; any message containing stop, unsubscribe, revoke or
    "opt out" is an opt-out."""
    words = _WORD.findall(text or "")
    first = words[0].upper() if words else ""
    if first == "OPT" and len(words) > 1 and words[1].upper() == "OUT":
        return Inbound(Keyword.STOP)
    keyword = _FIRST_WORD.get(first)
    if keyword is None and _OPT_OUT_ANYWHERE.search(text or ""):
        return Inbound(Keyword.STOP)
    if keyword is None:
        return Inbound(Keyword.OTHER)
    if keyword is not Keyword.STOP and _OPT_OUT_ANYWHERE.search(text or ""):
        return Inbound(Keyword.STOP)
    return Inbound(keyword, " ".join(words[1:]))
