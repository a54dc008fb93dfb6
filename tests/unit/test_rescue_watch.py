"""The watch's rescue on the in-memory unit of work: a batch that cannot be recorded, or a
stored zone the service no longer accepts, never keeps it looping or stops the others."""

from __future__ import annotations

import dataclasses
import logging
from datetime import timedelta
from typing import Any

import pytest

from reminders.domain.model import PhoneNumber, ReminderStatus
from reminders.services import routine
from reminders.services.liveness import Liveness, dead_after
from reminders.services.policy import Policy
from reminders.services.rescue import Watch
from tests.fakes import FakeClock, FakeSmsSender, InMemoryUnitOfWorkFactory
from tests.fakes.reminders import InMemoryReminderRepository
from tests.unit.test_liveness import FakeMonotonic

POLICY = Policy()
GHOST = "0" * 31 + "1"  # a dispatcher with no row: its claims are anyone's to rescue
LEASE = timedelta(seconds=60)


def enroll(factory: InMemoryUnitOfWorkFactory, clock: FakeClock, phone: str) -> int:
    schedule = routine.make_schedule(
        POLICY, timezone="America/New_York", session_time="20:00", cadence_days=14
    )
    with factory() as uow:
        user = routine.enroll(
            uow,
            POLICY,
            clock.now(),
            phone=PhoneNumber(phone),
            schedule=schedule,
            consent_confirmed=False,
        )
        uow.commit()
    return user.id


def ghost_claims(factory: InMemoryUnitOfWorkFactory, clock: FakeClock) -> list[int]:
    """The ghost claims every due consent question and dies before sending any."""
    now = clock.now()
    with factory() as uow:
        claimed = uow.reminders.claim_due(now, now + LEASE, 10, GHOST)
        uow.commit()
    return [due.id for due in claimed]


@pytest.fixture
def factory() -> InMemoryUnitOfWorkFactory:
    return InMemoryUnitOfWorkFactory()


@pytest.fixture
def monotonic() -> FakeMonotonic:
    return FakeMonotonic()


@pytest.fixture
def watch(
    factory: InMemoryUnitOfWorkFactory,
    sender: FakeSmsSender,
    clock: FakeClock,
    monotonic: FakeMonotonic,
) -> Watch:
    liveness = Liveness(dead_after=dead_after(5.0), monotonic=monotonic)
    return Watch(uow_factory=factory, sender=sender, clock=clock, policy=POLICY, liveness=liveness)


def status(factory: InMemoryUnitOfWorkFactory, reminder_id: int) -> ReminderStatus:
    return factory.store.tables.reminders[reminder_id].status


def test_a_batch_whose_record_fails_is_dropped_until_its_lease_runs_out(
    factory: InMemoryUnitOfWorkFactory,
    watch: Watch,
    sender: FakeSmsSender,
    clock: FakeClock,
    monotonic: FakeMonotonic,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    enroll(factory, clock, "+14155550123")
    (reminder_id,) = ghost_claims(factory, clock)

    def fails(self: InMemoryReminderRepository, *args: Any, **kwargs: Any) -> None:
        raise ValueError("a fault in what was written")

    monkeypatch.setattr(InMemoryReminderRepository, "finish", fails)
    with caplog.at_level(logging.ERROR, logger="reminders.services.rescue"):
        watch.run()
    for _ in range(5):  # beats go on: the batch is not asked about again
        monotonic.now += 0.5
        clock.advance(timedelta(seconds=0.5))
        watch.run()

    assert sender.lookups == 1
    assert watch._pending == []
    assert status(factory, reminder_id) is ReminderStatus.SENDING
    assert "could not be recorded" in caplog.text

    monkeypatch.undo()
    clock.advance(LEASE)
    report = watch.run()  # its lease ran out: taken back and settled

    assert sender.lookups == 2
    assert (report.found, report.released) == (0, 1)
    assert status(factory, reminder_id) is ReminderStatus.SCHEDULED


def test_a_stored_zone_no_longer_accepted_fails_its_reminder_and_the_others_go_on(
    factory: InMemoryUnitOfWorkFactory,
    watch: Watch,
    sender: FakeSmsSender,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    stale = enroll(factory, clock, "+14155550123")
    enroll(factory, clock, "+14155550124")
    row = factory.store.tables.users[stale]
    row.schedule = dataclasses.replace(row.schedule, timezone="Mars/Olympus_Mons")
    claimed = ghost_claims(factory, clock)

    with caplog.at_level(logging.ERROR, logger="reminders.services.rescue"):
        report = watch.run()

    reminders = factory.store.tables.reminders
    statuses = {reminders[i].user_id: reminders[i].status for i in claimed}
    assert statuses == {stale: ReminderStatus.FAILED, stale + 1: ReminderStatus.SCHEDULED}
    assert (report.released, report.failed) == (1, 1)
    assert sender.lookups == 1  # the other one only
    assert watch._pending == []
    assert "time zone is not one this service knows" in caplog.text


def test_the_watch_reads_the_beats_in_a_read_only_unit_of_work(
    factory: InMemoryUnitOfWorkFactory, watch: Watch
) -> None:
    watch.run()

    beat, read, *_ = factory.opened
    assert beat == (False, True)  # the beat: one statement
    assert read == (True, False)  # every dispatcher's row, read only
