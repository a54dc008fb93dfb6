"""Running a use case in a unit of work: commit on success, run it again from the start when
it lost a race with a concurrent one."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from reminders.ports import ConcurrentUpdate, UnitOfWork, UnitOfWorkFactory

logger = logging.getLogger(__name__)

T = TypeVar("T")

ATTEMPTS = 5


def in_transaction(
    uow_factory: UnitOfWorkFactory,
    work: Callable[[UnitOfWork], T],
    *,
    attempts: int = ATTEMPTS,
    pause: Callable[[float], None] = time.sleep,
    one_statement: bool = False,
) -> T:
    """Run `work` in a fresh unit of work and commit it; returns what `work` returned.

    One lock order makes deadlocks rare, but not impossible (a foreign-key check takes its
    own lock), so a unit of work that lost a race (ConcurrentUpdate) is run again from the
    start, after a short random pause, up to `attempts` times in all. `work` must therefore
    have no effect outside the unit of work. `one_statement` tells the factory that `work` is
    a single statement (see UnitOfWorkFactory). Raises ConcurrentUpdate when every attempt
    lost."""
    for attempt in range(1, attempts + 1):
        try:
            with uow_factory(one_statement=one_statement) as uow:
                result = work(uow)
                uow.commit()
                return result
        except ConcurrentUpdate:
            if attempt == attempts:
                raise
            logger.warning("unit of work lost a race, running it again", extra={"attempt": attempt})
            pause(random.uniform(0, 0.005 * 2**attempt))
    raise AssertionError("unreachable")
