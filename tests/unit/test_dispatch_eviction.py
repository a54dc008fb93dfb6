"""A dispatcher judged dead while it dispatches, and renewed under a new id, sends nothing
more of what it claimed under the old one: a survivor took those claims over and may have
released them to be sent. On the in-memory unit of work, two dispatchers sharing it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest

from reminders.domain.model import PhoneNumber, ReminderStatus
from reminders.ports import SentSms
from reminders.services import routine
from reminders.services.dispatch import Dispatcher
from reminders.services.liveness import Liveness, dead_after
from reminders.services.policy import Policy
from reminders.services.rescue import Watch
from tests.fakes import FakeClock, FakeSmsSender, InMemoryUnitOfWorkFactory
from tests.unit.test_liveness import FakeMonotonic

POLICY = Policy()
PHONES = ["+14155550121", "+14155550122", "+14155550123"]


class AfterSend(FakeSmsSender):
    """Calls `after(count)` once each send has been taken, with the number taken so far."""

    after: Callable[[int], None] = staticmethod(lambda count: None)

    def send(self, to: PhoneNumber, body: str) -> SentSms:
        sent = super().send(to, body)
        self.after(len(self.sent))
        return sent


class LookupCrash(FakeSmsSender):
    def find_sent(
        self, to: PhoneNumber, body: str, since: datetime, *, excluding: str | None = None
    ) -> SentSms | None:
        self.lookups += 1
        raise RuntimeError("the rescue fails here")


def make(
    factory: InMemoryUnitOfWorkFactory, sender: FakeSmsSender, clock: FakeClock, batch_size: int
) -> Dispatcher:
    liveness = Liveness(dead_after=dead_after(5.0), monotonic=FakeMonotonic())
    watch = Watch(
        uow_factory=factory,
        sender=sender,
        clock=clock,
        policy=POLICY,
        liveness=liveness,
        batch_size=batch_size,
    )
    return Dispatcher(
        uow_factory=factory,
        sender=sender,
        clock=clock,
        policy=POLICY,
        batch_size=batch_size,
        watch=watch,
    )


def enroll_all(factory: InMemoryUnitOfWorkFactory, clock: FakeClock) -> None:
    schedule = routine.make_schedule(
        POLICY, timezone="America/New_York", session_time="20:00", cadence_days=14
    )
    for phone in PHONES:
        with factory() as uow:
            routine.enroll(
                uow,
                POLICY,
                clock.now(),
                phone=PhoneNumber(phone),
                schedule=schedule,
                consent_confirmed=False,
            )
            uow.commit()


def judged_dead_and_renewed(
    factory: InMemoryUnitOfWorkFactory, dying: Dispatcher, survivor: Dispatcher
) -> None:
    """The survivor judges `dying` dead (its row gone) and rescues its claims; then `dying`
    beats, learns it, and carries on under a new id."""
    assert dying.watch is not None and survivor.watch is not None
    old = dying.watch.dispatcher_id
    del factory.store.tables.dispatchers[old]
    survivor.watch.run()
    dying.watch.run()  # its row is gone: evicted
    dying.watch.run()  # renewed
    assert dying.watch.dispatcher_id != old and not dying.watch.liveness.evicted


@pytest.mark.parametrize("batch_size", [200, 1])
def test_a_dispatcher_renewed_mid_dispatch_sends_nothing_more_it_claimed_before(
    clock: FakeClock, batch_size: int
) -> None:
    factory = InMemoryUnitOfWorkFactory()
    enroll_all(factory, clock)
    sender = AfterSend(clock)
    dying = make(factory, sender, clock, batch_size)
    survivor = make(factory, sender, clock, batch_size)
    assert survivor.watch is not None
    survivor.watch.run()

    def evict(count: int) -> None:
        if count == 1:
            judged_dead_and_renewed(factory, dying, survivor)

    sender.after = evict
    dying.dispatch_due()
    sent_by_the_dying = [s.to for s in sender.sent]
    sender.after = lambda count: None
    survivor.dispatch_due()

    assert sent_by_the_dying == PHONES[:1]
    assert sorted(s.to for s in sender.sent) == PHONES  # each once
    statuses = [r.status for r in factory.store.tables.reminders.values() if r.claims]
    assert statuses == [ReminderStatus.SENT] * 3
    if batch_size == 1:  # it stopped claiming under its old id
        claims = sorted(r.claims for r in factory.store.tables.reminders.values() if r.claims)
        assert claims == [1, 1, 1]


def test_a_watch_renewed_drops_what_it_had_taken_over_under_its_old_id(
    clock: FakeClock,
) -> None:
    factory = InMemoryUnitOfWorkFactory()
    enroll_all(factory, clock)
    crashing = LookupCrash(clock)
    dying = make(factory, crashing, clock, 200)
    survivor = make(factory, FakeSmsSender(clock), clock, 200)
    assert dying.watch is not None and survivor.watch is not None
    now = clock.now()
    with factory() as uow:  # a dispatcher with no row claims, and is gone
        uow.reminders.claim_due(now, now, 10, "0" * 31 + "1")
        uow.commit()
    dying.watch.run()  # takes them over, and cannot settle them
    asked = crashing.lookups
    assert len(dying.watch._pending) == 3 and asked > 0

    judged_dead_and_renewed(factory, dying, survivor)
    dying.watch.run()

    assert dying.watch._pending == []
    assert crashing.lookups == asked  # never asked again about claims not its own
    assert all(
        r.status is ReminderStatus.SCHEDULED
        for r in factory.store.tables.reminders.values()
        if r.claims
    )
