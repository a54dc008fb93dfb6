"""The hostile drill's judge of the reply limiter (reminders/domain/reply_limit.py): what a
burst of messages from one number may get back, judged twice.

- By the rules, whatever order the service takes the burst in (the user's lock serialises
  the messages in an order the drill does not choose): the number of non-empty replies lies
  within `answer_bounds`, at most one of them is the last notice, and they come as answers,
  then the notice, then nothing. With `parallel` messages from a number with no window that
  is at least min(parallel, SAME_TEXT_REPLIES + 1) and at most REPLIES_PER_WINDOW + 1;
  `answer_bounds` gives the exact range for the texts of the burst and the window the number
  had before it (its reply_log row).
- Exactly: every inbound message is recorded under the user's lock, before the limiter is
  asked about its reply, so the order of the rows' ids is the order the limiter saw them, and
  their `created_at` is the `now` it was given. `reply_limit.decide` folded over them gives
  each message's verdict, which its reply must match, and the window the number's reply_log
  row must hold afterwards.

The burst holds no STOP: every message of it would be answered but for the limiter. HELP's
answer is never limited (docs/rules.md): a message the drill marks so must get its answer
whatever the limiter says, and counts for nothing in the window, so the rules and the replay
judge the other messages only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from reminders.domain import reply_limit
from reminders.domain.reply_limit import ReplyWindow, Verdict, text_key


class Start(StrEnum):
    """What the number's window does to the first message of a burst."""

    FRESH = "fresh"  # none, over, or a silence ended: the burst opens a new window
    OPEN = "open"  # the burst counts on in the window
    SILENT = "silent"  # a silence that lasts the whole burst
    BOUNDARY = "boundary"  # a window or silence ends while the burst comes in


def start_of(before: ReplyWindow | None, first: datetime, last: datetime) -> Start:
    """How `before` meets a burst received between `first` and `last`."""
    if before is None:
        return Start.FRESH
    if before.muted_until is not None:
        if before.muted_until > last:
            return Start.SILENT
        return Start.FRESH if before.muted_until <= first else Start.BOUNDARY
    ends = before.started_at + reply_limit.WINDOW
    if ends <= first:
        return Start.FRESH
    return Start.OPEN if ends > last else Start.BOUNDARY


def _longest_unbroken(counts: Counter[str], key: str | None, repeats: int) -> int:
    """The longest run of messages taken from `counts` that no text repeated too often cuts
    off, when the window's last text `key` has been answered `repeats` times in a row: the
    most frequent text in blocks of SAME_TEXT_REPLIES (the first one shorter when it goes on
    from the window's), the others one by one between them."""
    if not counts:
        return 0
    same = reply_limit.SAME_TEXT_REPLIES
    [(lead, top)] = counts.most_common(1)  # with a tie, the rest have room enough either way
    rest = sum(counts.values()) - top
    room = same * (rest + 1) - (min(repeats, same) if lead == key else 0)
    return top + rest if top <= room else room + rest


def answer_bounds(
    before: ReplyWindow | None, keys: Sequence[str], first: datetime, last: datetime
) -> tuple[int, int]:
    """The fewest and the most non-empty replies (the last notice included) that a burst of
    messages with text digests `keys`, each of which would be answered, can get in any order,
    from a number whose window was `before`, received between `first` and `last`.

    A window or silence ending inside the burst leaves the rules no tighter bound than 0 to
    all: the replay still judges such a burst exactly."""
    n = len(keys)
    start = start_of(before, first, last)
    if start is Start.SILENT:
        return 0, 0
    if start is Start.BOUNDARY:
        return 0, n
    replies, key, repeats = 0, None, 0
    if start is Start.OPEN and before is not None:
        replies, key, repeats = before.replies, before.text_key, before.repeats
    same, per_window = reply_limit.SAME_TEXT_REPLIES, reply_limit.REPLIES_PER_WINDOW
    counts = Counter(keys)
    # The message cut off by the window's count, whatever the order.
    by_count = max(1, per_window + 1 - replies)
    # The earliest one a text repeated too often can cut off: its run put first.
    runs = {k: max(1, same + 1 - repeats) if k == key else same + 1 for k in counts}
    by_text = min((run for k, run in runs.items() if counts[k] >= run), default=n)
    low = min(n, by_count, by_text)
    unbroken = min(n, by_count - 1, _longest_unbroken(counts, key, repeats))
    high = n if unbroken == n else unbroken + 1
    return low, high


def replay(
    before: ReplyWindow | None, inbound: Sequence[tuple[str, datetime]]
) -> tuple[list[Verdict], ReplyWindow | None]:
    """`reply_limit.decide` over messages (text digest, received at) in the order the service
    took them: each one's verdict, and the window left."""
    window = before
    verdicts = []
    for key, at in inbound:
        verdict, window = reply_limit.decide(window, key, at)
        verdicts.append(verdict)
    return verdicts, window


@dataclass(frozen=True)
class Sent:
    """One message of a burst: its SID and text, its reply (None: none), whether a 2xx came
    back (without one, the reply is unknown), and whether the limiter judges its reply (HELP:
    not)."""

    sid: str
    body: str
    reply: str | None
    answered: bool
    limited: bool = True


@dataclass(frozen=True)
class Recorded:
    """A message of the burst as the service recorded it: its SID and `created_at`."""

    sid: str
    at: datetime


@dataclass
class LimitRound:
    """One burst from one number, judged."""

    messages: int  # those the limiter judges
    replies: int  # non-empty, the last notice included
    low: int
    high: int
    replayed: int | None = None  # non-empty replies by the replay; None: nothing to replay
    unlimited: int = 0  # messages never limited, answered with a 2xx
    unlimited_answered: int = 0  # of those, answered with their answer
    problems: list[str] = field(default_factory=list)


_EXPECTED = {Verdict.REPLY: "an answer", Verdict.LAST_NOTICE: "the notice", Verdict.SILENT: "none"}


def _kind(reply: str | None, notice: str) -> str:
    if not reply:
        return "none"
    return "the notice" if reply == notice else "an answer"


def _shape(kinds: list[str]) -> list[str]:
    """What breaks "answers, then at most one last notice, then nothing" in service order."""
    problems = []
    notices = kinds.count("the notice")
    if notices > 1:
        problems.append(f"{notices} last notices")
    if notices:
        after = kinds[kinds.index("the notice") + 1 :]
        if any(kind != "none" for kind in after):
            problems.append(f"{len(after) - after.count('none')} replies after the last notice")
    before = kinds[: kinds.index("the notice")] if notices else kinds
    if "none" in before:
        problems.append(f"{before.count('none')} messages left unanswered before any cut-off")
    return problems


def _window(window: ReplyWindow | None) -> str:
    if window is None:
        return "none"
    muted = f", silent until {window.muted_until:%H:%M:%S.%f}" if window.muted_until else ""
    return (
        f"{window.replies} replies from {window.started_at:%H:%M:%S.%f}, "
        f"{window.repeats} repeats{muted}"
    )


def judge(
    before: ReplyWindow | None,
    sent: Sequence[Sent],
    recorded: Sequence[Recorded],
    after: ReplyWindow | None,
    first: datetime,
    last: datetime,
    notice: str,
) -> LimitRound:
    """Judge a burst: `sent` as the drill sent it, `recorded` the service's rows of it in id
    order, the number's window `before` and `after` it, the burst received between `first`
    and `last`; `notice` is the text of the limiter's last notice."""
    unlimited = [_kind(s.reply, notice) for s in sent if s.answered and not s.limited]
    unanswered = sum(1 for s in sent if not s.answered)
    sent = [s for s in sent if s.limited]
    replies = [s.reply for s in sent if s.answered]
    low, high = answer_bounds(before, [text_key(s.body) for s in sent], first, last)
    judged = LimitRound(len(sent), sum(1 for r in replies if r), low, high)
    judged.unlimited, judged.unlimited_answered = len(unlimited), unlimited.count("an answer")
    problems = judged.problems
    if judged.unlimited_answered < judged.unlimited:
        problems.append(
            f"{judged.unlimited - judged.unlimited_answered} of {judged.unlimited} messages"
            f" never limited got {', '.join(sorted(set(unlimited) - {'an answer'}))}"
        )
    if not low <= judged.replies <= high:
        problems.append(f"{judged.replies} replies where the rules allow {low} to {high}")
    if unanswered:
        problems.append(f"{unanswered} messages got no 2xx: their replies are unknown")
    by_sid = {s.sid: s for s in sent}
    mine = [r for r in recorded if r.sid in by_sid]
    unrecorded = len(replies) - sum(1 for r in mine if by_sid[r.sid].answered)
    if unrecorded:
        problems.append(f"{unrecorded} messages answered but not recorded: no order to replay")
    kinds = [_kind(by_sid[r.sid].reply, notice) for r in mine if by_sid[r.sid].answered]
    if start_of(before, first, last) in (Start.FRESH, Start.OPEN):
        problems += _shape(kinds)
    elif kinds.count("the notice") > 1:
        problems.append(f"{kinds.count('the notice')} last notices")
    if not mine:
        return judged
    verdicts, window = replay(before, [(text_key(by_sid[r.sid].body), r.at) for r in mine])
    judged.replayed = sum(1 for v in verdicts if v is not Verdict.SILENT)
    off = [
        (index, verdict, _kind(by_sid[r.sid].reply, notice))
        for index, (r, verdict) in enumerate(zip(mine, verdicts, strict=True), 1)
        if by_sid[r.sid].answered and _kind(by_sid[r.sid].reply, notice) != _EXPECTED[verdict]
    ]
    if off:
        index, verdict, got = off[0]
        problems.append(
            f"{len(off)} replies differ from reply_limit.decide over the recorded order "
            f"(first: message {index} of {len(mine)}, {_EXPECTED[verdict]} expected, {got} got)"
        )
    if window != after:
        problems.append(
            f"reply_log after the burst: {_window(after)}; the replay's: {_window(window)}"
        )
    return judged
