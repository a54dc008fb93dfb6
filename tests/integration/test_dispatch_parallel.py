"""The dispatcher sending on several threads: every due SMS once, outcomes committed as sends
finish, never more than the crash window sent but unrecorded, a stop releases what is unsent,
and a sender that blows up on one thread loses nothing."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.exc import OperationalError

from reminders.adapters.db import reminder_rows
from reminders.adapters.repository import ReminderRepository
from reminders.bootstrap import Container
from reminders.domain.model import PhoneNumber
from tests.conftest import DATABASES, both_databases
from tests.fakes import FakeSmsSender
from tests.routine_driver import enroll

USERS = 120
CONCURRENCY = 4


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest) -> str:
    return both_databases(request)


@pytest.fixture
def parallel(make_container: Callable[..., Container]) -> Container:
    """A dispatcher on four threads, with USERS pending users whose consent SMS is due."""
    container = make_container(dispatch_concurrency=CONCURRENCY, dispatch_batch_size=50)
    for n in range(USERS):
        enroll(container, phone=f"+1415555{n:04d}", confirmed=False)
    return container


def count_status(database_url: str, status: str) -> int:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return int(
                connection.execute(
                    select(func.count()).where(reminder_rows.c.status == status)
                ).scalar_one()
            )
    finally:
        engine.dispose()


def test_every_due_sms_goes_out_once_and_is_recorded(
    parallel: Container, sender: FakeSmsSender, database_url: str
) -> None:
    report = parallel.dispatch_due()

    assert report.counts == {"sent": USERS}
    assert sorted(s.to for s in sender.sent) == sorted(f"+1415555{n:04d}" for n in range(USERS))
    assert count_status(database_url, "sent") == USERS


def watch_unrecorded(
    sender: FakeSmsSender, database_url: str, answer_after: float = 0.0
) -> list[int]:
    """As each send starts, note how many sends the provider took that are not recorded
    yet: what a crash then could make another replica send again. `answer_after` makes the
    provider take that long to answer."""
    seen: list[int] = []
    lock = threading.Lock()

    def before_send(_to: PhoneNumber, _body: str) -> None:
        recorded = count_status(database_url, "sent")
        with lock:
            seen.append(len(sender.sent) - recorded)
        time.sleep(answer_after)

    sender.before_send = before_send
    return seen


def test_sent_but_unrecorded_never_exceeds_the_crash_window(
    parallel: Container, sender: FakeSmsSender, database_url: str
) -> None:
    """What a crash could make another replica send again: sends the provider took minus
    outcomes committed, looked at as each send starts."""
    parallel.dispatcher.record_after = 60.0  # only full commits' worth, however slow
    window = parallel.dispatcher.crash_window
    seen = watch_unrecorded(sender, database_url)
    parallel.dispatch_due()

    assert len(sender.sent) == USERS
    assert max(seen) <= window
    assert max(seen) >= parallel.dispatcher.record_every  # outcomes are batched, as designed


def test_a_slow_provider_s_outcomes_are_committed_before_a_full_commit_s_worth(
    parallel: Container, sender: FakeSmsSender, database_url: str
) -> None:
    """Sends that take 20 ms each on four threads would fill a commit's worth in 160 ms;
    outcomes are committed once `record_after` has passed instead, so a status callback
    soon after a send finds its message."""
    parallel.dispatcher.record_after = 0.01
    seen = watch_unrecorded(sender, database_url, answer_after=0.02)
    parallel.dispatch_due()

    assert count_status(database_url, "sent") == USERS
    assert max(seen) < parallel.dispatcher.record_every


def test_a_stop_mid_batch_releases_the_unsent_for_later(
    parallel: Container, sender: FakeSmsSender, database_url: str
) -> None:
    def stop_after_ten(_to: PhoneNumber, _body: str) -> None:
        if len(sender.sent) >= 10:
            parallel.stop_event.set()

    sender.before_send = stop_after_ten
    parallel.dispatch_due()

    sent = len(sender.sent)
    assert 10 <= sent < USERS
    assert count_status(database_url, "sent") == sent
    assert count_status(database_url, "sending") == 0  # nothing left holding a lease
    assert count_status(database_url, "scheduled") == USERS - sent


def test_a_sender_that_raises_on_one_thread_loses_nothing(
    parallel: Container, sender: FakeSmsSender, database_url: str
) -> None:
    blew_up = threading.Event()

    def explode_once(to: PhoneNumber, _body: str) -> None:
        if not blew_up.is_set():
            blew_up.set()
            raise RuntimeError("a bug in the sender")

    sender.before_send = explode_once
    report = parallel.dispatch_due()

    assert report.counts == {"sent": USERS - 1, "scheduled": 1}  # the one is retried later
    assert count_status(database_url, "sending") == 0


def test_the_next_batch_is_claimed_while_the_last_is_still_sending(
    parallel: Container, sender: FakeSmsSender, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lanes never stand idle waiting for a claim: the last sends of the first batch of
    50 are held until the second claim has begun, which would never happen if claims waited
    for the batch to drain."""
    second_claim = threading.Event()
    waits: list[bool] = []
    claims = 0
    claim_due = ReminderRepository.claim_due

    def noting_claims(self: ReminderRepository, *args: Any) -> Any:
        nonlocal claims
        claims += 1
        print("claim", claims, len(sender.sent), time.monotonic())
        if claims == 2:
            second_claim.set()
        return claim_due(self, *args)

    def hold_the_tail_of_the_first_batch(_to: PhoneNumber, _body: str) -> None:
        if len(sender.sent) >= 40 and not second_claim.is_set():
            waits.append(second_claim.wait(5))

    monkeypatch.setattr(ReminderRepository, "claim_due", noting_claims)
    sender.before_send = hold_the_tail_of_the_first_batch
    parallel.dispatch_due()

    assert len(sender.sent) == USERS
    assert waits and all(waits)


def test_a_claim_that_fails_mid_dispatch_still_records_what_was_sent(
    parallel: Container, sender: FakeSmsSender, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    claims = 0
    claim_due = ReminderRepository.claim_due

    def failing_second_claim(self: ReminderRepository, *args: Any) -> Any:
        nonlocal claims
        claims += 1
        if claims == 2:
            raise OperationalError("claim", {}, Exception("the database went away"))
        return claim_due(self, *args)

    monkeypatch.setattr(ReminderRepository, "claim_due", failing_second_claim)
    report = parallel.dispatch_due()

    assert report.counts == {"sent": 50}  # the first batch
    assert count_status(database_url, "sent") == 50
    assert count_status(database_url, "sending") == 0
    assert count_status(database_url, "scheduled") == USERS - 50
    parallel.dispatch_due()  # the next tick sends the rest
    assert count_status(database_url, "sent") == USERS
