"""A dispatcher that died mid-send: the survivors ask the provider before anything is sent
again, record what it had taken as sent, and send the rest at once; on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from config.settings import Settings
from reminders.adapters.db import messages, reminder_rows
from reminders.adapters.repository import ReminderRepository
from reminders.bootstrap import Container, bootstrap
from reminders.domain.errors import SmsLookupError
from reminders.domain.messages import reminder_text
from reminders.domain.model import DueReminder, PhoneNumber, User
from reminders.domain.planning import zone_for
from reminders.ports import SentSms
from reminders.services.delivery import record_status
from reminders.services.liveness import Liveness, dead_after
from tests.conftest import DATABASES, both_databases
from tests.fakes import FakeClock, FakeSmsSender
from tests.routine_driver import enroll
from tests.unit.test_liveness import FakeMonotonic

GHOST = "0" * 31 + "1"  # the dead dispatcher's id
DEAD_AFTER = dead_after(send_timeout_seconds=5.0)


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest) -> str:
    return both_databases(request)


@pytest.fixture
def monotonic() -> FakeMonotonic:
    return FakeMonotonic()


def _replica(
    make_settings: Callable[..., Settings],
    clock: FakeClock,
    sender: FakeSmsSender,
    monotonic: FakeMonotonic,
) -> Container:
    """A dispatcher replica on the test database whose watch reads time from `monotonic`."""
    liveness = Liveness(dead_after=DEAD_AFTER, monotonic=monotonic)
    return bootstrap(make_settings(), clock=clock, sender=sender, liveness=liveness)


@pytest.fixture
def survivor(
    make_settings: Callable[..., Settings],
    clock: FakeClock,
    sender: FakeSmsSender,
    monotonic: FakeMonotonic,
) -> Iterator[Container]:
    container = _replica(make_settings, clock, sender, monotonic)
    yield container
    container.close()


def _ghost_claims(container: Container, *, send_with: FakeSmsSender | None) -> DueReminder:
    """The ghost dispatcher beats once, claims the due consent question and, with
    `send_with`, hands it to the provider; then it dies before recording anything."""
    now = container.clock.now()
    with container.uow() as uow:
        uow.dispatchers.register(GHOST, now)
        (due,) = uow.reminders.claim_due(now, now + timedelta(seconds=60), 10, GHOST)
        uow.commit()
    if send_with is not None:
        assert due.phone is not None
        body = reminder_text(container.policy.brand, due.step, None, zone_for(due.timezone))
        send_with.send(due.phone, body)
    return due


def _judge_ghost_dead(survivor: Container, clock: FakeClock, monotonic: FakeMonotonic) -> None:
    survivor.watch()  # first sight of the ghost's count
    monotonic.now += 2.0
    clock.advance(DEAD_AFTER)


def _reminder(container: Container, reminder_id: int) -> dict[str, object]:
    with container.engine.connect() as connection:
        row = connection.execute(
            select(reminder_rows).where(reminder_rows.c.id == reminder_id)
        ).one()
    return dict(row._mapping)


def _outbound_sids(container: Container) -> list[str | None]:
    with container.engine.connect() as connection:
        rows = connection.execute(
            select(messages.c.provider_sid).where(messages.c.direction == "out")
        )
        return [row.provider_sid for row in rows]


@pytest.fixture
def pending(survivor: Container) -> User:
    return enroll(survivor, confirmed=False)


def test_a_send_the_provider_took_is_recorded_as_sent_not_sent_again(
    survivor: Container,
    pending: User,
    clock: FakeClock,
    sender: FakeSmsSender,
    monotonic: FakeMonotonic,
) -> None:
    due = _ghost_claims(survivor, send_with=sender)
    _judge_ghost_dead(survivor, clock, monotonic)

    report = survivor.watch()
    survivor.dispatch_due()

    assert (report.found, report.released, report.unverified) == (1, 0, 0)
    assert 'reminders_rescued_total{outcome="found"} 1.0' in survivor.metrics.render().decode()
    assert len(sender.sent) == 1
    row = _reminder(survivor, due.id)
    assert (row["status"], row["provider_sid"]) == ("sent", sender.sent[0].sid)
    assert _outbound_sids(survivor) == [sender.sent[0].sid]


def test_a_claim_the_provider_never_saw_is_sent_once_at_once(
    survivor: Container,
    pending: User,
    clock: FakeClock,
    sender: FakeSmsSender,
    monotonic: FakeMonotonic,
) -> None:
    due = _ghost_claims(survivor, send_with=None)
    _judge_ghost_dead(survivor, clock, monotonic)

    report = survivor.watch()
    survivor.dispatch_due()

    assert (report.found, report.released) == (0, 1)
    assert len(sender.sent) == 1
    assert _reminder(survivor, due.id)["status"] == "sent"


def test_nothing_is_rescued_while_the_ghost_is_watched_for_too_short_a_time(
    survivor: Container,
    pending: User,
    clock: FakeClock,
    sender: FakeSmsSender,
    monotonic: FakeMonotonic,
) -> None:
    due = _ghost_claims(survivor, send_with=None)
    survivor.watch()
    monotonic.now += 1.0
    clock.advance(timedelta(hours=1))  # the survivor's clock jumps

    report = survivor.watch()
    survivor.dispatch_due()

    assert (report.found, report.released) == (0, 0)
    assert sender.sent == [] and _reminder(survivor, due.id)["status"] == "sending"


def test_a_live_dispatcher_keeps_its_claims_however_long_it_takes(
    survivor: Container,
    pending: User,
    clock: FakeClock,
    sender: FakeSmsSender,
    monotonic: FakeMonotonic,
) -> None:
    due = _ghost_claims(survivor, send_with=None)
    for _ in range(30):  # a minute and a half of a slow, beating dispatcher
        with survivor.uow() as uow:
            assert uow.dispatchers.beat(GHOST, clock.now())
            uow.commit()
        monotonic.now += 3.0
        clock.advance(timedelta(seconds=3))
        survivor.watch()

    assert sender.sent == [] and sender.lookups == 0
    assert _reminder(survivor, due.id)["status"] == "sending"


def test_when_the_provider_cannot_be_asked_the_claim_is_released_unverified(
    survivor: Container,
    pending: User,
    clock: FakeClock,
    sender: FakeSmsSender,
    monotonic: FakeMonotonic,
) -> None:
    _ghost_claims(survivor, send_with=sender)
    _judge_ghost_dead(survivor, clock, monotonic)
    sender.fail_lookups_with(SmsLookupError("timed out"))

    report = survivor.watch()
    survivor.dispatch_due()

    assert (report.found, report.unverified) == (0, 1)
    assert len(sender.sent) == 2  # the crash window that is left: documented and counted


def test_one_survivor_of_two_takes_the_ghosts_claims(
    survivor: Container,
    pending: User,
    clock: FakeClock,
    sender: FakeSmsSender,
    monotonic: FakeMonotonic,
    make_settings: Callable[..., Settings],
) -> None:
    other = _replica(make_settings, clock, sender, monotonic)
    try:
        _ghost_claims(survivor, send_with=sender)
        survivor.watch()
        other.watch()
        monotonic.now += 2.0
        clock.advance(DEAD_AFTER)

        reports = [survivor.watch(), other.watch()]
    finally:
        other.close()

    assert sorted(r.found for r in reports) == [0, 1]
    assert sender.lookups == 1


def test_a_dispatcher_starting_with_two_beats_at_once_never_judges_itself_dead(
    survivor: Container,
) -> None:
    watch = survivor.dispatcher.watch
    assert watch is not None
    evicted = 0

    def beat_now(start: threading.Barrier) -> None:
        start.wait(timeout=10)
        watch.may_send()

    for _ in range(100):
        watch.liveness.renew()  # a fresh id, as a process has at start
        start = threading.Barrier(2)
        thread = threading.Thread(target=beat_now, args=(start,))
        thread.start()
        start.wait(timeout=10)
        survivor.watch()
        thread.join(timeout=10)
        evicted += watch.liveness.evicted

    assert evicted == 0


class _LookupCrash(FakeSmsSender):
    """A provider whose lookups fail in a way the rescue does not expect."""

    def find_sent(
        self, to: PhoneNumber, body: str, since: datetime, *, excluding: str | None = None
    ) -> SentSms | None:
        raise RuntimeError("the rescuer dies here")


def test_claims_taken_over_by_a_rescuer_that_dies_too_are_rescued_at_once(
    pending: User,
    clock: FakeClock,
    sender: FakeSmsSender,
    monotonic: FakeMonotonic,
    make_settings: Callable[..., Settings],
) -> None:
    doomed = _replica(make_settings, clock, _LookupCrash(clock), monotonic)
    try:
        due = _ghost_claims(doomed, send_with=sender)
        _judge_ghost_dead(doomed, clock, monotonic)
        doomed.watch()  # takes the ghost's claims over, then fails asking the provider
        assert _reminder(doomed, due.id)["claimed_by"] == doomed.dispatcher.watch.dispatcher_id
        doomed.dispatcher.watch.retire()  # and is gone
        other = _replica(make_settings, clock, sender, monotonic)
        try:
            report = other.watch()  # no waiting: nobody is behind those claims any more
        finally:
            other.close()
    finally:
        doomed.engine.dispose()

    assert report.found == 1
    assert len(sender.sent) == 1


def test_sends_whose_record_failed_for_good_are_settled_once_their_lease_runs_out(
    survivor: Container,
    pending: User,
    clock: FakeClock,
    sender: FakeSmsSender,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    finish = ReminderRepository.finish
    calls: list[int] = []

    def fails_once(self: ReminderRepository, *args: Any, **kwargs: Any) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("a fault in what was written")
        finish(self, *args, **kwargs)

    monkeypatch.setattr(ReminderRepository, "finish", fails_once)
    survivor.dispatch_due()  # sent, but its outcome is not recorded
    survivor.watch()
    untouched_while_leased = _outbound_sids(survivor)

    clock.advance(timedelta(seconds=61))
    report = survivor.watch()
    survivor.dispatch_due()

    assert untouched_while_leased == []
    assert report.found == 1 and len(sender.sent) == 1
    assert _outbound_sids(survivor) == [sender.sent[0].sid]


def _sent_then_undelivered(survivor: Container, clock: FakeClock, sender: FakeSmsSender) -> str:
    """The consent question is sent and recorded, then reported undelivered with a code that
    is retried: the reminder is `scheduled` again, keeping its first send's SID and time."""
    survivor.dispatch_due()
    (first,) = sender.sent
    with survivor.uow() as uow:
        record_status(
            uow, clock.now(), message_sid=first.sid, status="undelivered", error_code=30003
        )
        uow.commit()
    clock.advance(timedelta(seconds=6))  # the retry's backoff
    return first.sid


@pytest.mark.parametrize("ghost_sent_the_retry", [False, True])
def test_the_rescue_of_a_retry_never_takes_the_earlier_send_for_it(
    survivor: Container,
    pending: User,
    clock: FakeClock,
    sender: FakeSmsSender,
    monotonic: FakeMonotonic,
    ghost_sent_the_retry: bool,
) -> None:
    first_sid = _sent_then_undelivered(survivor, clock, sender)
    due = _ghost_claims(survivor, send_with=sender if ghost_sent_the_retry else None)
    _judge_ghost_dead(survivor, clock, monotonic)

    report = survivor.watch()
    again = survivor.watch()
    survivor.dispatch_due()

    assert (report.found, report.released) == ((1, 0) if ghost_sent_the_retry else (0, 1))
    assert (again.found, again.released, again.unverified) == (0, 0, 0)
    assert len(sender.sent) == 2
    retry_sid = sender.sent[1].sid
    row = _reminder(survivor, due.id)
    assert (row["status"], row["provider_sid"]) == ("sent", retry_sid)
    assert _outbound_sids(survivor) == [first_sid, retry_sid]
