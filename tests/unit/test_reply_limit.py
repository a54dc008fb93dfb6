"""The reply limiter (reminders/domain/reply_limit.py), pure: decide() on a chain of messages.

A person always gets an answer; a number that sends the same text over and over, or more than
REPLIES_PER_WINDOW messages in a window, gets one last notice and then silence until SILENCE
has passed. Times are fixed instants, never the machine's clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reminders.domain.reply_limit import (
    REPLIES_PER_WINDOW,
    SAME_TEXT_REPLIES,
    SILENCE,
    WINDOW,
    ReplyWindow,
    Verdict,
    decide,
    silence_minutes,
    text_key,
)
from tests.conversations import JOURNEY

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
TICK = timedelta(microseconds=1)
OUT = (Verdict.REPLY, Verdict.LAST_NOTICE)  # a text goes back to the number

Message = tuple[datetime, str]  # when it came in, and its text


def run(messages: Sequence[Message], window: ReplyWindow | None = None) -> list[Verdict]:
    """The verdicts on `messages`, in order, as handle_inbound applies them: the window is
    carried from one message to the next (a silent verdict leaves it as it was)."""
    verdicts = []
    for at, body in messages:
        verdict, after = decide(window, text_key(body), at)
        if verdict is Verdict.SILENT:
            assert after == window  # nothing is remembered of a message left unanswered
        window = after
        verdicts.append(verdict)
    return verdicts


def every(seconds: float, bodies: Sequence[str], start: datetime = T0) -> list[Message]:
    """`bodies` one after the other, `seconds` apart from `start`."""
    return [(start + timedelta(seconds=seconds * i), body) for i, body in enumerate(bodies)]


def replies_then(verdicts: Sequence[Verdict]) -> tuple[int, Verdict | None]:
    """How many REPLY verdicts came first, and the verdict that ended the run of them."""
    count = 0
    for verdict in verdicts:
        if verdict is not Verdict.REPLY:
            return count, verdict
        count += 1
    return count, None


# --- the first message, the figures -----------------------------------------------------------


def test_the_first_message_of_a_number_gets_a_reply_and_opens_a_window() -> None:
    verdict, window = decide(None, text_key("NEXT"), T0)

    assert verdict is Verdict.REPLY
    assert window == ReplyWindow(T0, 1, text_key("NEXT"), 1, None)


def test_the_figures_are_generous_for_a_person() -> None:
    assert (WINDOW, REPLIES_PER_WINDOW, SAME_TEXT_REPLIES, SILENCE) == (
        timedelta(minutes=10),
        20,
        5,
        timedelta(minutes=30),
    )
    assert silence_minutes() == 30


# --- the same text over and over -------------------------------------------------------------


def test_the_same_text_five_times_in_a_row_gets_five_replies() -> None:
    assert run(every(1, ["NEXT"] * SAME_TEXT_REPLIES)) == [Verdict.REPLY] * SAME_TEXT_REPLIES


def test_the_same_text_a_sixth_time_in_a_row_gets_the_last_notice_then_silence() -> None:
    verdicts = run(every(1, ["NEXT"] * (SAME_TEXT_REPLIES + 3)))

    assert verdicts == [Verdict.REPLY] * SAME_TEXT_REPLIES + [
        Verdict.LAST_NOTICE,
        Verdict.SILENT,
        Verdict.SILENT,
    ]


def test_the_last_notice_remembers_when_the_silence_ends() -> None:
    window = None
    for at, body in every(1, ["NEXT"] * SAME_TEXT_REPLIES):
        _, window = decide(window, text_key(body), at)
    at = T0 + timedelta(seconds=SAME_TEXT_REPLIES)

    verdict, after = decide(window, text_key("NEXT"), at)

    assert verdict is Verdict.LAST_NOTICE
    assert after.muted_until == at + SILENCE
    assert (after.repeats, after.replies) == (SAME_TEXT_REPLIES + 1, SAME_TEXT_REPLIES + 1)


def test_another_text_in_between_starts_the_count_of_repeats_again() -> None:
    bodies = ["NEXT"] * SAME_TEXT_REPLIES + ["HELP"] + ["NEXT"] * SAME_TEXT_REPLIES

    assert run(every(1, bodies)) == [Verdict.REPLY] * len(bodies)


def test_repeats_are_counted_in_a_row_not_in_all() -> None:
    # NEXT eight times, never more than twice in a row: no notice.
    bodies = ["NEXT", "NEXT", "DONE"] * 4

    assert run(every(1, bodies)) == [Verdict.REPLY] * len(bodies)


# --- the text digest -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body", ["NEXT", "next", "  Next ", "nExT\n", "\tNEXT\t\t", "NEXT\r\n"], ids=repr
)
def test_the_digest_ignores_case_and_surrounding_spacing(body: str) -> None:
    assert text_key(body) == text_key("NEXT")


def test_the_digest_ignores_how_the_words_are_spaced() -> None:
    assert text_key("my  skin\tis\n red") == text_key("My skin is red")


@pytest.mark.parametrize("body", ["NEXT!", "NEXTT", "N EXT", "NEXT 2", "", "next?"], ids=repr)
def test_other_words_or_punctuation_make_another_digest(body: str) -> None:
    assert text_key(body) != text_key("NEXT")


def test_the_digest_keeps_no_message_body() -> None:
    key = text_key("my skin is red")

    assert len(key) == 16
    assert set(key) <= set("0123456789abcdef")
    assert "red" not in key


def test_the_same_words_in_other_case_and_spacing_count_as_a_repeat() -> None:
    bodies = ["NEXT", "next", " Next", "NEXT ", "next\n", "NeXt"]

    assert run(every(1, bodies))[-1] is Verdict.LAST_NOTICE


# --- the rate --------------------------------------------------------------------------------


def distinct(count: int) -> list[str]:
    return [f"message {n}" for n in range(count)]


def test_twenty_different_texts_in_a_window_all_get_replies() -> None:
    assert run(every(1, distinct(REPLIES_PER_WINDOW))) == [Verdict.REPLY] * REPLIES_PER_WINDOW


def test_the_twenty_first_in_a_window_gets_the_last_notice() -> None:
    verdicts = run(every(1, distinct(REPLIES_PER_WINDOW + 2)))

    assert verdicts[-2:] == [Verdict.LAST_NOTICE, Verdict.SILENT]
    assert verdicts[:-2] == [Verdict.REPLY] * REPLIES_PER_WINDOW


def test_the_twenty_first_a_moment_before_the_window_ends_still_gets_the_notice() -> None:
    messages = every(1, distinct(REPLIES_PER_WINDOW))
    messages.append((T0 + WINDOW - TICK, "one more"))

    assert run(messages)[-1] is Verdict.LAST_NOTICE


def test_the_window_restarts_exactly_when_it_is_over() -> None:
    window = None
    for at, body in every(1, distinct(REPLIES_PER_WINDOW)):
        _, window = decide(window, text_key(body), at)

    verdict, after = decide(window, text_key("one more"), T0 + WINDOW)

    assert verdict is Verdict.REPLY
    assert after == ReplyWindow(T0 + WINDOW, 1, text_key("one more"), 1, None)


def test_the_window_starts_with_its_first_reply_not_with_each_message() -> None:
    # 20 replies, the 20th nine minutes in: the window still started at T0, so a message at
    # T0 + WINDOW opens a new one rather than being the 21st.
    messages = every(1, distinct(REPLIES_PER_WINDOW - 1))
    messages.append((T0 + timedelta(minutes=9), "late"))
    messages.append((T0 + WINDOW, "new window"))

    assert run(messages) == [Verdict.REPLY] * (REPLIES_PER_WINDOW + 1)


def test_a_new_window_starts_the_count_of_repeats_again() -> None:
    messages = every(1, ["NEXT"] * SAME_TEXT_REPLIES)
    messages.append((T0 + WINDOW, "NEXT"))

    assert run(messages) == [Verdict.REPLY] * (SAME_TEXT_REPLIES + 1)


# --- the silence -----------------------------------------------------------------------------


def silenced() -> tuple[ReplyWindow, datetime]:
    """The window right after a last notice, and when that notice went."""
    window = None
    for at, body in every(1, ["NEXT"] * SAME_TEXT_REPLIES):
        _, window = decide(window, text_key(body), at)
    at = T0 + timedelta(seconds=SAME_TEXT_REPLIES)
    verdict, window = decide(window, text_key("NEXT"), at)
    assert verdict is Verdict.LAST_NOTICE
    return window, at


def test_every_message_during_the_silence_is_left_unanswered_whatever_its_text() -> None:
    window, noticed_at = silenced()

    for offset, body in [(TICK, "NEXT"), (timedelta(minutes=1), "HELP"), (SILENCE - TICK, "x")]:
        verdict, after = decide(window, text_key(body), noticed_at + offset)
        assert (verdict, after) == (Verdict.SILENT, window)


def test_the_silence_ends_exactly_after_silence_and_a_fresh_window_opens() -> None:
    window, noticed_at = silenced()

    verdict, after = decide(window, text_key("NEXT"), noticed_at + SILENCE)

    assert verdict is Verdict.REPLY
    assert after == ReplyWindow(noticed_at + SILENCE, 1, text_key("NEXT"), 1, None)


def test_after_the_silence_the_same_text_gets_five_replies_again() -> None:
    window, noticed_at = silenced()
    messages = every(1, ["NEXT"] * (SAME_TEXT_REPLIES + 2), start=noticed_at + SILENCE)

    assert run(messages, window) == [Verdict.REPLY] * SAME_TEXT_REPLIES + [
        Verdict.LAST_NOTICE,
        Verdict.SILENT,
    ]


# --- a person and the bots -------------------------------------------------------------------


def test_a_persons_whole_fifteen_message_journey_in_two_minutes_gets_every_reply() -> None:
    messages = every(120 / (len(JOURNEY) - 1), JOURNEY)
    assert messages[-1][0] == T0 + timedelta(minutes=2)

    assert run(messages) == [Verdict.REPLY] * len(JOURNEY)


def test_the_journey_twice_over_in_one_window_still_gets_every_reply_it_can() -> None:
    # 30 messages in four minutes: a person going over it all again gets 20 answers and one
    # notice, never silence before the 21st.
    verdicts = run(every(8, JOURNEY * 2))

    assert replies_then(verdicts) == (REPLIES_PER_WINDOW, Verdict.LAST_NOTICE)


def test_an_echo_loop_is_cut_off_after_five_replies_and_one_notice() -> None:
    # A bot answering each reply at once with the same text, for an hour.
    verdicts = run(every(1, ["Thanks for your message!"] * 3600))

    assert verdicts[: SAME_TEXT_REPLIES + 1] == [Verdict.REPLY] * SAME_TEXT_REPLIES + [
        Verdict.LAST_NOTICE
    ]
    out = [(n, v) for n, v in enumerate(verdicts) if v in OUT]
    # Silenced for 30 minutes, then five replies and a notice again: 12 texts in an hour.
    assert len(out) == 2 * (SAME_TEXT_REPLIES + 1)
    assert out[SAME_TEXT_REPLIES + 1][0] == SAME_TEXT_REPLIES + int(SILENCE.total_seconds())


def test_an_echo_loop_across_a_window_boundary_gets_ten_replies_and_the_notice() -> None:
    # The worst case for one text: repeats are counted within a window, so a loop that
    # starts five seconds before its window ends gets five there and five in the next.
    messages = [(T0, "HELP")] + every(1, ["Thanks!"] * 20, start=T0 + WINDOW - timedelta(seconds=5))

    verdicts = run(messages)[1:]

    assert verdicts[: 2 * SAME_TEXT_REPLIES + 1] == [Verdict.REPLY] * 2 * SAME_TEXT_REPLIES + [
        Verdict.LAST_NOTICE
    ]
    assert set(verdicts[2 * SAME_TEXT_REPLIES + 1 :]) == {Verdict.SILENT}


def test_a_bot_whose_text_varies_is_cut_off_by_the_rate() -> None:
    verdicts = run(every(1, distinct(600)))

    assert replies_then(verdicts) == (REPLIES_PER_WINDOW, Verdict.LAST_NOTICE)
    assert sum(v in OUT for v in verdicts) == REPLIES_PER_WINDOW + 1


def test_a_slow_bot_under_the_rate_is_answered() -> None:
    # One message every 31 seconds is 19 or 20 per window: a person could do that too.
    assert set(run(every(31, distinct(100)))) == {Verdict.REPLY}


_texts = st.sampled_from(["NEXT", "next ", "DONE", "HELP", "ok", "x"])
_gaps = st.one_of(
    st.integers(min_value=0, max_value=5),  # a loop, or a person typing fast
    st.integers(min_value=0, max_value=120),
    st.sampled_from([599, 600, 601, 1799, 1800, 1801]),  # around WINDOW and SILENCE
    st.integers(min_value=0, max_value=4000),
)
_sequences = st.lists(st.tuples(_gaps, _texts), max_size=150)


def timeline(steps: Sequence[tuple[int, str]]) -> list[Message]:
    messages = []
    at = T0
    for gap, body in steps:
        at += timedelta(seconds=gap)
        messages.append((at, body))
    return messages


@settings(max_examples=300, deadline=None)
@given(_sequences)
def test_no_window_of_the_limiter_ever_gets_more_than_the_rate_and_one_notice(
    steps: list[tuple[int, str]],
) -> None:
    messages = timeline(steps)
    window: ReplyWindow | None = None
    per_window: dict[datetime, int] = {}
    opened = T0
    for at, body in messages:
        verdict, after = decide(window, text_key(body), at)
        if verdict is Verdict.REPLY and after.replies == 1:
            opened = at  # this reply opened a window
            per_window[opened] = 0
        if verdict in OUT:
            assert at - opened < WINDOW
            per_window[opened] += 1
        window = after
    assert all(count <= REPLIES_PER_WINDOW + 1 for count in per_window.values())


@settings(max_examples=300, deadline=None)
@given(_sequences)
def test_a_span_of_one_window_never_gets_more_than_two_windows_worth(
    steps: list[tuple[int, str]],
) -> None:
    messages = timeline(steps)
    verdicts = run(messages)
    sent = [at for (at, _), verdict in zip(messages, verdicts, strict=True) if verdict in OUT]
    for start in sent:
        assert sum(1 for at in sent if start <= at < start + WINDOW) <= 2 * REPLIES_PER_WINDOW + 1


@settings(max_examples=300, deadline=None)
@given(_sequences)
def test_a_last_notice_is_followed_by_silence_until_the_silence_ends(
    steps: list[tuple[int, str]],
) -> None:
    messages = timeline(steps)
    verdicts = run(messages)
    for n, verdict in enumerate(verdicts):
        if verdict is not Verdict.LAST_NOTICE:
            continue
        ends = messages[n][0] + SILENCE
        after = list(zip(messages[n + 1 :], verdicts[n + 1 :], strict=True))
        during = [v for (at, _), v in after if at < ends]
        first_after = next((v for (at, _), v in after if at >= ends), None)
        assert during == [Verdict.SILENT] * len(during)
        assert first_after in (None, Verdict.REPLY)


@settings(max_examples=300, deadline=None)
@given(_sequences)
def test_only_a_last_notice_starts_a_silence_and_every_message_is_answered_otherwise(
    steps: list[tuple[int, str]],
) -> None:
    messages = timeline(steps)
    verdicts = run(messages)
    muted_until: datetime | None = None
    for (at, _), verdict in zip(messages, verdicts, strict=True):
        if muted_until is not None and at < muted_until:
            assert verdict is Verdict.SILENT
            continue
        assert verdict in OUT
        if verdict is Verdict.LAST_NOTICE:
            muted_until = at + SILENCE


@settings(max_examples=300, deadline=None)
@given(_sequences, st.sampled_from(["Thanks!", "NEXT"]))
def test_an_echo_loop_wherever_it_starts_is_cut_off_within_two_windows_of_repeats(
    steps: list[tuple[int, str]], echoed: str
) -> None:
    # Whatever came before, a loop of one text a second gets at most five replies in the
    # window it starts in and five in the next (repeats start again with a window), then the
    # notice: eleven texts at most before the silence.
    history = timeline(steps)
    window: ReplyWindow | None = None
    for at, body in history:
        _, window = decide(window, text_key(body), at)
    at = (history[-1][0] if history else T0) + timedelta(seconds=1)
    out = 0
    for _ in range(int(SILENCE.total_seconds()) + 3 * SAME_TEXT_REPLIES):
        verdict, window = decide(window, text_key(echoed), at)
        out += verdict in OUT
        if verdict is Verdict.LAST_NOTICE:
            break
        at += timedelta(seconds=1)

    assert verdict is Verdict.LAST_NOTICE
    assert out <= 2 * SAME_TEXT_REPLIES + 1
