"""The hostile drill's bounds on auto-replies (tests/system/reply_check.py) against every
order of small bursts: whatever order reply_limit.decide is given, the replies stay within
the bounds, and some order reaches each end. With the product's figures, and with small ones
under which a short burst reaches every cut-off. No process is started."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import product

import pytest

from reminders.domain import reply_limit
from reminders.domain.reply_limit import ReplyWindow, Verdict
from tests.system.reply_check import Recorded, Sent, answer_bounds, judge, replay

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
NOTICE = "notice"


def windows(counts: tuple[int, ...]) -> Iterator[ReplyWindow | None]:
    """No window, and open ones with `counts` replies, going on with the burst's first text
    ("a"), with another ("z") or with none (a "not enrolled" row); one over, one silent, one
    whose silence has ended."""
    same = reply_limit.SAME_TEXT_REPLIES
    started = NOW - timedelta(minutes=1)
    yield None
    for replies in counts:
        yield ReplyWindow(started, replies, None, 0)
        for key, repeats in product(("a", "z"), range(1, min(same, replies) + 1)):
            yield ReplyWindow(started, replies, key, repeats)
    yield ReplyWindow(NOW - reply_limit.WINDOW, 7, "a", 3)
    yield ReplyWindow(started, 9, "a", 1, NOW + timedelta(minutes=1))
    yield ReplyWindow(started, 9, "a", 1, NOW)


def replies(window: ReplyWindow | None, keys: tuple[str, ...]) -> int:
    verdicts, _ = replay(window, [(key, NOW) for key in keys])
    return sum(1 for verdict in verdicts if verdict is not Verdict.SILENT)


def assert_bounds_exact(counts: tuple[int, ...], texts: str, longest: int) -> None:
    for window in windows(counts):
        seen: dict[tuple[tuple[str, int], ...], list[int]] = defaultdict(list)
        for n in range(1, longest + 1):
            for keys in product(texts, repeat=n):
                multiset = tuple(sorted(Counter(keys).items()))
                seen[multiset].append(replies(window, keys))
        for multiset, got in seen.items():
            every = [key for key, m in multiset for _ in range(m)]
            bounds = answer_bounds(window, every, NOW, NOW)
            assert bounds == (min(got), max(got)), (window, multiset)


def test_the_bounds_are_exact_with_the_products_figures() -> None:
    per_window = reply_limit.REPLIES_PER_WINDOW
    assert_bounds_exact((0, 2, per_window - 6, per_window - 1, per_window), "abc", 7)


def test_the_bounds_are_exact_when_a_short_burst_reaches_every_cut_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(reply_limit, "SAME_TEXT_REPLIES", 2)
    monkeypatch.setattr(reply_limit, "REPLIES_PER_WINDOW", 6)

    assert_bounds_exact((0, 2, 4, 6), "ab", 10)
    assert_bounds_exact((0, 3, 5), "abc", 7)


def test_a_fresh_burst_of_50_gets_from_6_to_21_replies() -> None:
    keys = ("HELP", "NEXT", "hello?") * 16 + ("HELP", "NEXT")

    assert answer_bounds(None, keys, NOW, NOW) == (
        reply_limit.SAME_TEXT_REPLIES + 1,
        reply_limit.REPLIES_PER_WINDOW + 1,
    )


def test_a_window_that_ends_inside_the_burst_is_left_to_the_replay() -> None:
    window = ReplyWindow(NOW - reply_limit.WINDOW, 20, "a", 5)

    assert answer_bounds(window, ("a",) * 8, NOW - timedelta(seconds=1), NOW) == (0, 8)


def burst(texts: str, replies: list[str | None]) -> list[Sent]:
    pairs = enumerate(zip(texts, replies, strict=True))
    return [Sent(f"SM{i}", text, reply, answered=True) for i, (text, reply) in pairs]


def test_the_judge_accepts_what_the_limiter_does_and_names_what_differs() -> None:
    same = reply_limit.SAME_TEXT_REPLIES
    texts = "a" * (same + 3)
    right = ["answer"] * same + [NOTICE, None, None]
    wrong = ["answer"] * (same + 1) + [NOTICE, None]
    order = [Recorded(f"SM{i}", NOW) for i in range(len(texts))]
    key = reply_limit.text_key("a")
    muted = ReplyWindow(NOW, same + 1, key, same + 1, NOW + reply_limit.SILENCE)

    good = judge(None, burst(texts, right), order, muted, NOW, NOW, NOTICE)
    bad = judge(None, burst(texts, wrong), order, None, NOW, NOW, NOTICE)

    assert (good.replies, good.low, good.high, good.replayed, good.problems) == (
        same + 1,
        same + 1,
        same + 1,
        same + 1,
        [],
    )
    assert len(bad.problems) == 3, bad.problems
    assert bad.problems[0].startswith(f"{same + 2} replies where the rules allow")
    assert "message 6 of 8, the notice expected, an answer got" in bad.problems[1]
    assert bad.problems[2].startswith("reply_log after the burst: none")


def test_a_message_never_limited_is_judged_apart_and_must_get_its_answer() -> None:
    same = reply_limit.SAME_TEXT_REPLIES
    limited = burst("a" * (same + 2), ["answer"] * same + [NOTICE, None])
    helps = [
        Sent("SMh1", "HELP", "help", answered=True, limited=False),
        Sent("SMh2", "HELP", None, answered=True, limited=False),
    ]
    order = [Recorded(s.sid, NOW) for s in [limited[0], *helps, *limited[1:]]]
    key = reply_limit.text_key("a")
    muted = ReplyWindow(NOW, same + 1, key, same + 1, NOW + reply_limit.SILENCE)

    judged = judge(None, [*limited, *helps], order, muted, NOW, NOW, NOTICE)

    assert (judged.messages, judged.replies, judged.replayed) == (same + 2, same + 1, same + 1)
    assert (judged.unlimited, judged.unlimited_answered) == (2, 1)
    assert judged.problems == ["1 of 2 messages never limited got none"]
