"""The reply limiter: a person always gets an answer, a loop with another bot does not go on.

Every auto-reply to a member counts in a window of `WINDOW` that starts with the first reply.
A number is cut off when, inside one window, it sends the same text more than
`SAME_TEXT_REPLIES` times in a row, or gets more than `REPLIES_PER_WINDOW` replies: that
message gets one last notice ("replies paused for N minutes") and every reply after it is
left out until `SILENCE` has passed. Its messages are still read and applied meanwhile; only
the replies are held back. STOP's confirmation never passes through here.

The figures: a person's busiest conversation (enrol, YES, NEXT, TIME, EVERY, LATER, DONE
twice, HELP ...) is about 15 messages in two minutes, each different or repeated two or three
times; a bot that echoes a reply, or answers every message with the same text, repeats
itself at once and is cut off after `SAME_TEXT_REPLIES` replies; one whose text varies, after
`REPLIES_PER_WINDOW`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

WINDOW = timedelta(minutes=10)
REPLIES_PER_WINDOW = 20
SAME_TEXT_REPLIES = 5
SILENCE = timedelta(minutes=30)


@dataclass(frozen=True, slots=True)
class ReplyWindow:
    """What the limiter remembers of a number: the window's start and its replies, the last
    text answered (a digest) and how many times in a row, and the end of a silence."""

    started_at: datetime
    replies: int
    text_key: str | None
    repeats: int
    muted_until: datetime | None = None


class Verdict(StrEnum):
    REPLY = "reply"
    LAST_NOTICE = "last_notice"  # the reply is replaced by "replies paused for N minutes"
    SILENT = "silent"  # no reply


def text_key(body: str) -> str:
    """A short digest of a message's text, the same for the same words whatever their case and
    spacing: the limiter keeps no message body."""
    normal = " ".join(body.casefold().split())
    return hashlib.sha256(normal.encode()).hexdigest()[:16]


def decide(window: ReplyWindow | None, key: str, now: datetime) -> tuple[Verdict, ReplyWindow]:
    """Whether a reply to a message with text digest `key` goes out `now`, and the window to
    remember afterwards."""
    if window is not None and window.muted_until is not None and now < window.muted_until:
        return Verdict.SILENT, window
    if window is None or window.muted_until is not None or now - window.started_at >= WINDOW:
        return Verdict.REPLY, ReplyWindow(now, 1, key, 1)
    repeats = window.repeats + 1 if key == window.text_key else 1
    replies = window.replies + 1
    if repeats > SAME_TEXT_REPLIES or replies > REPLIES_PER_WINDOW:
        return Verdict.LAST_NOTICE, ReplyWindow(now, replies, key, repeats, now + SILENCE)
    return Verdict.REPLY, ReplyWindow(window.started_at, replies, key, repeats)


def silence_minutes() -> int:
    return int(SILENCE.total_seconds() // 60)
