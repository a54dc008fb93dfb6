"""The beat's two times go together: the time it writes to the database is read once the
unit of work has its connection (checking one out can wait), and the send allowance counts
from a monotonic stamp taken just before the beat statement, not from when the commit came
back. `dead_after` assumes both are close."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from reminders.services.liveness import Liveness, dead_after
from reminders.services.policy import Policy
from reminders.services.rescue import Watch
from tests.fakes import FakeClock, FakeSmsSender, InMemoryUnitOfWork, InMemoryUnitOfWorkFactory
from tests.unit.test_liveness import FakeMonotonic

POOL_WAIT = 2.0  # seconds spent waiting for a connection
SLOW_COMMIT = 1.2  # seconds the commit takes to come back


class SlowPool(InMemoryUnitOfWorkFactory):
    """Each unit of work waits POOL_WAIT for its connection: both clocks move on."""

    def __init__(self, clock: FakeClock, monotonic: FakeMonotonic) -> None:
        super().__init__()
        self.clock, self.monotonic = clock, monotonic

    def __call__(self, *, read_only: bool = False, one_statement: bool = False) -> Any:
        self.clock.advance(timedelta(seconds=POOL_WAIT))
        self.monotonic.now += POOL_WAIT
        return super().__call__(read_only=read_only, one_statement=one_statement)


@pytest.fixture
def monotonic() -> FakeMonotonic:
    return FakeMonotonic()


@pytest.fixture
def factory(clock: FakeClock, monotonic: FakeMonotonic) -> SlowPool:
    return SlowPool(clock, monotonic)


@pytest.fixture
def watch(
    factory: SlowPool, sender: FakeSmsSender, clock: FakeClock, monotonic: FakeMonotonic
) -> Watch:
    liveness = Liveness(dead_after=dead_after(5.0), dispatcher_id="me", monotonic=monotonic)
    return Watch(
        uow_factory=factory, sender=sender, clock=clock, policy=Policy(), liveness=liveness
    )


def test_the_beat_writes_the_time_read_once_its_connection_is_had(
    factory: SlowPool, watch: Watch, clock: FakeClock
) -> None:
    asked_at = clock.now()

    assert watch.may_send()

    beat_at = factory.store.tables.dispatchers["me"].beat_at
    assert beat_at == asked_at + timedelta(seconds=POOL_WAIT) == clock.now()


def test_the_send_allowance_counts_from_before_the_beat_statement_not_after_its_commit(
    watch: Watch, monotonic: FakeMonotonic, monkeypatch: pytest.MonkeyPatch
) -> None:
    commit = InMemoryUnitOfWork.commit

    def slow_commit(self: InMemoryUnitOfWork) -> None:
        commit(self)
        monotonic.now += SLOW_COMMIT

    monkeypatch.setattr(InMemoryUnitOfWork, "commit", slow_commit)
    assert watch.may_send()  # 1.2 s since the beat statement: still within 1.5 s

    monotonic.now += 0.4  # 1.6 s since the beat statement, 0.4 s since its commit came back

    assert not watch.liveness.may_send()
