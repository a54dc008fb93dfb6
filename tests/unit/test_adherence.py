"""Adherence and the conversation's timing rules (reminders/domain/sessions.py): the streak and
counts of a user's ended sessions, when a repeated DONE counts, when LATER invites a DONE."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reminders.domain.model import Session, SessionKind, SessionStatus
from reminders.domain.sessions import (
    DONE_CONFIRM_WITHIN,
    Adherence,
    adherence,
    done_confirmed,
    under_way,
)

DONE = SessionStatus.DONE
SKIPPED = SessionStatus.SKIPPED
UNCONFIRMED = SessionStatus.UNCONFIRMED

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
TICK = timedelta(microseconds=1)

# --- adherence(): newest first --------------------------------------------------------------


def test_no_session_ended_yet_is_all_zero() -> None:
    assert adherence([]) == Adherence(done=0, skipped=0, unconfirmed=0, streak=0)


def test_one_session_done_is_a_streak_of_one() -> None:
    assert adherence([DONE]) == Adherence(done=1, skipped=0, unconfirmed=0, streak=1)


@pytest.mark.parametrize(
    ("outcomes", "streak"),
    [
        ([DONE, DONE, DONE], 3),
        ([DONE, DONE, SKIPPED, DONE], 2),
        ([DONE, UNCONFIRMED, DONE, DONE], 1),
        ([SKIPPED, DONE, DONE, DONE], 0),
        ([UNCONFIRMED, DONE], 0),
        ([SKIPPED], 0),
    ],
)
def test_the_streak_counts_sessions_done_in_a_row_back_from_the_newest(
    outcomes: list[SessionStatus], streak: int
) -> None:
    assert adherence(outcomes).streak == streak


def test_the_streak_is_counted_from_the_newest_so_order_matters() -> None:
    # Newest first: done twice lately after a skip, or a skip lately after two done.
    assert adherence([DONE, DONE, SKIPPED]).streak == 2
    assert adherence([SKIPPED, DONE, DONE]).streak == 0


def test_the_counts_take_every_ended_session_whatever_the_streak() -> None:
    outcomes = [SKIPPED, DONE, UNCONFIRMED, DONE, DONE, SKIPPED, UNCONFIRMED, UNCONFIRMED]

    assert adherence(outcomes) == Adherence(done=3, skipped=2, unconfirmed=3, streak=0)


def test_a_long_run_of_sessions_done() -> None:
    assert adherence([DONE] * 52) == Adherence(done=52, skipped=0, unconfirmed=0, streak=52)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([DONE, SKIPPED, UNCONFIRMED]), max_size=60))
def test_adherence_adds_up_for_any_history(outcomes: list[SessionStatus]) -> None:
    result = adherence(outcomes)

    assert result.done + result.skipped + result.unconfirmed == len(outcomes)
    assert 0 <= result.streak <= result.done
    assert outcomes[: result.streak] == [DONE] * result.streak
    assert result.streak == len(outcomes) or outcomes[result.streak] is not DONE


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([DONE, SKIPPED, UNCONFIRMED]), max_size=30))
def test_one_more_session_done_adds_one_to_the_streak_and_the_count(
    outcomes: list[SessionStatus],
) -> None:
    before = adherence(outcomes)

    after = adherence([DONE, *outcomes])

    assert (after.streak, after.done) == (before.streak + 1, before.done + 1)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from([DONE, SKIPPED, UNCONFIRMED]), max_size=30),
    st.sampled_from([SKIPPED, UNCONFIRMED]),
)
def test_a_session_not_done_ends_the_streak(
    outcomes: list[SessionStatus], missed: SessionStatus
) -> None:
    assert adherence([missed, *outcomes]).streak == 0


# --- done_confirmed(): a DONE with no session under way counts when sent again --------------


def test_a_done_never_asked_for_again_does_not_count() -> None:
    assert done_confirmed(None, NOW) is False


@pytest.mark.parametrize(
    "since_asked",
    [timedelta(0), timedelta(seconds=1), timedelta(minutes=9, seconds=59), DONE_CONFIRM_WITHIN],
    ids=str,
)
def test_a_done_again_within_ten_minutes_counts(since_asked: timedelta) -> None:
    assert done_confirmed(NOW - since_asked, NOW) is True


@pytest.mark.parametrize(
    "since_asked",
    [DONE_CONFIRM_WITHIN + TICK, DONE_CONFIRM_WITHIN + timedelta(seconds=1), timedelta(days=1)],
    ids=str,
)
def test_a_done_again_after_ten_minutes_does_not_count(since_asked: timedelta) -> None:
    assert done_confirmed(NOW - since_asked, NOW) is False


def test_the_confirmation_window_is_ten_minutes() -> None:
    assert DONE_CONFIRM_WITHIN == timedelta(minutes=10)


# --- under_way(): whether LATER's reply invites a DONE -------------------------------------


def session_starting(starts_at: datetime) -> Session:
    return Session(
        id=1,
        user_id=1,
        local_date=date(2026, 3, 3),
        starts_at=starts_at,
        status=SessionStatus.PLANNED,
        kind=SessionKind.PLANNED,
        later_count=0,
        outcome_at=None,
    )


@pytest.mark.parametrize(
    "ahead",
    [
        timedelta(days=1),  # exactly a day away: the heads-up's time
        timedelta(hours=23, minutes=59, seconds=59),
        timedelta(minutes=20),
        timedelta(0),  # starting now
        -timedelta(minutes=30),  # started half an hour ago
        -timedelta(hours=11, minutes=59),  # started, not yet unconfirmed
    ],
    ids=str,
)
def test_a_session_within_a_day_or_started_is_under_way(ahead: timedelta) -> None:
    assert under_way(session_starting(NOW + ahead), NOW) is True


@pytest.mark.parametrize(
    "ahead",
    [timedelta(days=1) + TICK, timedelta(days=1, seconds=1), timedelta(days=2), timedelta(days=14)],
    ids=str,
)
def test_a_session_more_than_a_day_away_is_not_under_way(ahead: timedelta) -> None:
    assert under_way(session_starting(NOW + ahead), NOW) is False
