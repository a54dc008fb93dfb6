"""Judging dispatchers dead from their beats: only after watching a count stand still, and
only once the last beat is old; never a replica just started, never across a clock jump."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from reminders.domain.model import DispatcherBeat
from reminders.services.liveness import Liveness, dead_after

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
DEAD_AFTER = dead_after(send_timeout_seconds=5.0)


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _watcher(monotonic: FakeMonotonic) -> Liveness:
    return Liveness(dead_after=DEAD_AFTER, dispatcher_id="watcher", monotonic=monotonic)


def test_dead_after_leaves_room_for_the_last_send_to_finish() -> None:
    assert DEAD_AFTER == timedelta(seconds=1.5 + 5.0 + 0.5)


def test_a_dispatcher_whose_count_stands_still_and_whose_beat_is_old_is_dead() -> None:
    monotonic = FakeMonotonic()
    watcher = _watcher(monotonic)
    ghost = DispatcherBeat("ghost", 41, T0)
    watcher.dead([ghost], T0 + DEAD_AFTER)

    monotonic.now += 2.0

    assert watcher.dead([ghost], T0 + DEAD_AFTER) == [ghost]


def test_a_replica_just_started_judges_nobody_whatever_the_times_say() -> None:
    watcher = _watcher(FakeMonotonic())
    ghost = DispatcherBeat("ghost", 41, T0)

    assert watcher.dead([ghost], T0 + timedelta(hours=5)) == []


def test_a_count_that_moves_is_alive_across_a_wall_clock_jump() -> None:
    monotonic = FakeMonotonic()
    watcher = _watcher(monotonic)
    watcher.dead([DispatcherBeat("busy", 1, T0)], T0)
    monotonic.now += 3.0

    jumped = T0 + timedelta(hours=1)  # the watcher's clock jumps an hour ahead

    assert watcher.dead([DispatcherBeat("busy", 7, T0 + timedelta(seconds=3))], jumped) == []


def test_a_still_count_with_a_recent_beat_is_not_dead_yet() -> None:
    monotonic = FakeMonotonic()
    watcher = _watcher(monotonic)
    ghost = DispatcherBeat("ghost", 41, T0)
    watcher.dead([ghost], T0)
    monotonic.now += 5.0

    assert watcher.dead([ghost], T0 + DEAD_AFTER - timedelta(seconds=1)) == []


def test_what_was_watched_before_the_database_went_away_counts_for_nothing() -> None:
    monotonic = FakeMonotonic()
    watcher = _watcher(monotonic)
    ghost = DispatcherBeat("ghost", 41, T0)
    watcher.dead([ghost], T0 + DEAD_AFTER)
    monotonic.now += 20.0
    watcher.record(None)  # a read or beat of the watcher's own failed meanwhile

    assert watcher.dead([ghost], T0 + timedelta(seconds=30)) == []


def test_the_watcher_never_judges_itself() -> None:
    monotonic = FakeMonotonic()
    watcher = _watcher(monotonic)
    me = DispatcherBeat("watcher", 3, T0)
    watcher.dead([me], T0)
    monotonic.now += 10.0

    assert watcher.dead([me], T0 + timedelta(minutes=1)) == []


def test_a_send_may_start_only_just_after_a_beat_reached_the_database() -> None:
    monotonic = FakeMonotonic()
    liveness = _watcher(monotonic)
    beats: list[str] = []

    def beat(dispatcher_id: str) -> bool:
        beats.append(dispatcher_id)
        return True

    assert liveness.keep_fresh(beat) is True
    monotonic.now += 0.2
    assert liveness.keep_fresh(beat) is True and len(beats) == 1  # fresh enough: no beat
    monotonic.now += 0.4
    assert liveness.keep_fresh(beat) is True and len(beats) == 2


def test_no_send_starts_while_beats_fail() -> None:
    monotonic = FakeMonotonic()
    liveness = _watcher(monotonic)
    liveness.keep_fresh(lambda _id: True)
    monotonic.now += 1.0

    assert liveness.keep_fresh(lambda _id: None) is True  # the last good beat is 1 s old
    monotonic.now += 0.6
    assert liveness.keep_fresh(lambda _id: None) is False


def test_a_dispatcher_judged_dead_sends_nothing_until_it_renews_its_id() -> None:
    liveness = _watcher(FakeMonotonic())

    assert liveness.keep_fresh(lambda _id: False) is False
    assert liveness.evicted

    liveness.renew()
    assert liveness.dispatcher_id != "watcher"
    assert liveness.keep_fresh(lambda _id: True) is True
