"""Units of work that race: a real deadlock on PostgreSQL (SQLite's immediate transactions
queue instead) is run again from the start, and errors leave as the ports' errors."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from reminders.bootstrap import Container
from reminders.ports import ConcurrentUpdate, UnitOfWork
from reminders.services.transaction import in_transaction
from tests.conftest import DATABASES, both_databases
from tests.routine_driver import enroll


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest) -> str:
    return both_databases(request)


def test_two_units_of_work_locking_users_in_opposite_orders_both_finish(
    container: Container,
) -> None:
    first = enroll(container, phone="+14155550101").id
    second = enroll(container, phone="+14155550102").id
    # On SQLite the second cannot begin while the first holds the write lock: wait briefly.
    meet_seconds = 10.0 if container.engine.dialect.name == "postgresql" else 1.0
    both_locked_one = threading.Barrier(2)
    runs: list[str] = []
    errors: list[BaseException] = []

    def work(name: str, order: tuple[int, int]) -> Callable[[UnitOfWork], None]:
        def locking(uow: UnitOfWork) -> None:
            runs.append(name)
            uow.users.lock(order[0])
            if runs.count(name) == 1:
                try:  # only the first attempts meet; on SQLite the second waits to begin
                    both_locked_one.wait(timeout=meet_seconds)
                except threading.BrokenBarrierError:
                    pass
            uow.users.lock(order[1])

        return locking

    def run(name: str, order: tuple[int, int]) -> None:
        try:
            in_transaction(container.uow, work(name, order), pause=lambda _: None)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=run, args=("a", (first, second))),
        threading.Thread(target=run, args=("b", (second, first))),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert sorted(set(runs)) == ["a", "b"]
    if container.engine.dialect.name == "postgresql":
        assert len(runs) == 3  # the deadlock's victim ran again


def test_a_race_lost_every_time_gives_up_as_concurrent_update(container: Container) -> None:
    attempts: list[int] = []

    def always_loses(_uow: UnitOfWork) -> None:
        attempts.append(1)
        raise ConcurrentUpdate("lost")

    with pytest.raises(ConcurrentUpdate):
        in_transaction(container.uow, always_loses, attempts=3, pause=lambda _: None)
    assert len(attempts) == 3


def test_work_that_fails_otherwise_is_not_run_again(container: Container) -> None:
    attempts: list[int] = []

    def fails(_uow: UnitOfWork) -> None:
        attempts.append(1)
        raise ValueError("a bug")

    with pytest.raises(ValueError):
        in_transaction(container.uow, fails, pause=lambda _: None)
    assert len(attempts) == 1
