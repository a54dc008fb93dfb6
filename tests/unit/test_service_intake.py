"""The provider's webhooks as use cases (services/intake.py), on the in-memory unit of work and
an in-memory spool: applied at once, kept while the database is away or older ones wait, and
refused only when the spool cannot keep them either."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import timedelta

import pytest

from reminders.domain import messages as texts
from reminders.domain.conversation import Keyword
from reminders.domain.model import (
    CheckIn,
    PhoneNumber,
    PlannedReminder,
    PlannedSession,
    ReminderStatus,
    SessionStatus,
    Step,
    UserStatus,
)
from reminders.ports import DatabaseUnavailable, SpoolEntry, SpoolError, WebhookRecord
from reminders.services.intake import Intake, NotKept
from reminders.services.operations import Operations
from reminders.services.policy import Policy
from tests.fakes import FakeClock, InMemoryUnitOfWorkFactory

POLICY = Policy()
PHONE = PhoneNumber("+14155550123")
_SIDS = itertools.count(1)


def sid() -> str:
    return f"SM{next(_SIDS):032d}"


class MemorySpool:
    """The Spool port in a list; with `full`, it keeps nothing."""

    def __init__(self) -> None:
        self.entries: list[SpoolEntry] = []
        self.full = False
        self._keys = itertools.count(1)

    def append(self, record: WebhookRecord) -> None:
        if self.full:
            raise SpoolError("the spool is full")
        self.entries.append(SpoolEntry(f"{next(self._keys):012d}", record))

    def pending(self) -> Iterator[SpoolEntry]:
        return iter(list(self.entries))

    def remove(self, entry: SpoolEntry) -> None:
        if entry in self.entries:
            self.entries.remove(entry)

    def set_aside(self, entry: SpoolEntry) -> None:
        self.remove(entry)

    def waiting(self) -> int:
        return len(self.entries)

    def bodies(self) -> list[str]:
        return [entry.record.params.get("Body", "") for entry in self.entries]


class RecordingObserver:
    """The IntakeObserver port, recording what it is told."""

    def __init__(self) -> None:
        self.counted: list[str] = []
        self.kept: list[str] = []
        self.replayed: list[tuple[str, int]] = []
        self.reactions = 0
        self.checkins: list[str] = []

    def inbound(self, keyword: str) -> None:
        self.counted.append(keyword)

    def reaction(self) -> None:
        self.reactions += 1

    def checkin_answered(self, answer: str) -> None:
        self.checkins.append(answer)

    def spool_kept(self, kind: str) -> None:
        self.kept.append(kind)

    def spool_replayed(self, kind: str, count: int) -> None:
        self.replayed.append((kind, count))


@pytest.fixture
def spool() -> MemorySpool:
    return MemorySpool()


@pytest.fixture
def observer() -> RecordingObserver:
    return RecordingObserver()


@pytest.fixture
def intake(
    factory: InMemoryUnitOfWorkFactory,
    clock: FakeClock,
    observer: RecordingObserver,
    spool: MemorySpool,
) -> Intake:
    return Intake(factory, clock, POLICY, observer, spool)


@pytest.fixture
def user_id(factory: InMemoryUnitOfWorkFactory, clock: FakeClock) -> int:
    view = Operations(factory, clock, POLICY).enroll(
        phone=PHONE,
        timezone="America/New_York",
        session_time="20:00",
        cadence_days=14,
        first_session_date=None,
        consent_confirmed=True,
    )
    return view.user.id


def status(factory: InMemoryUnitOfWorkFactory, user_id: int) -> UserStatus:
    return factory.store.tables.users[user_id].status


def kept_during_an_outage(intake: Intake, factory: InMemoryUnitOfWorkFactory, *bodies: str) -> None:
    """Each of `bodies` comes in while the database is away, so the spool keeps it."""
    factory.store.unavailable = True
    for body in bodies:
        intake.inbound_sms(PHONE, body, sid())
    factory.store.unavailable = False


def test_an_sms_is_applied_at_once_answered_and_counted(
    intake: Intake,
    factory: InMemoryUnitOfWorkFactory,
    observer: RecordingObserver,
    spool: MemorySpool,
    user_id: int,
) -> None:
    answer = intake.inbound_sms(PHONE, "PAUSE", sid())

    assert (answer.keyword, answer.kept) == (Keyword.PAUSE, False)
    assert answer.reply == texts.paused_text(POLICY.brand)
    assert status(factory, user_id) is UserStatus.PAUSED
    assert (observer.counted, spool.entries) == (["PAUSE"], [])


def test_a_retried_sms_is_applied_and_counted_once(
    intake: Intake, observer: RecordingObserver, user_id: int
) -> None:
    message_sid = sid()
    intake.inbound_sms(PHONE, "NEXT", message_sid)

    again = intake.inbound_sms(PHONE, "NEXT", message_sid)

    assert again.reply is None
    assert observer.counted == ["NEXT"]


def test_a_stop_kept_while_the_database_is_away_is_confirmed_at_once(
    intake: Intake,
    factory: InMemoryUnitOfWorkFactory,
    observer: RecordingObserver,
    spool: MemorySpool,
    user_id: int,
) -> None:
    factory.store.unavailable = True

    answer = intake.inbound_sms(PHONE, "STOP", sid())

    assert (answer.keyword, answer.kept) == (Keyword.STOP, True)
    assert answer.reply == texts.opted_out_text(POLICY.brand)
    assert (spool.bodies(), observer.kept, observer.counted) == (["STOP"], ["inbound"], [])


def test_a_kept_stop_the_provider_answered_gets_no_reply(
    intake: Intake, factory: InMemoryUnitOfWorkFactory, user_id: int
) -> None:
    factory.store.unavailable = True

    answer = intake.inbound_sms(PHONE, "STOP", sid(), opt_out_type="STOP")

    assert answer.kept and answer.reply is None


def test_a_kept_message_is_read_as_the_provider_read_it(
    intake: Intake, factory: InMemoryUnitOfWorkFactory, user_id: int
) -> None:
    factory.store.unavailable = True

    opt_out = intake.inbound_sms(PHONE, "ARRET", sid(), opt_out_type="STOP")
    opt_in = intake.inbound_sms(PHONE, "stop? no, START again", sid(), opt_out_type="START")

    assert (opt_out.keyword, opt_out.kept, opt_out.reply) == (Keyword.STOP, True, None)
    assert (opt_in.keyword, opt_in.kept, opt_in.reply) == (Keyword.START, True, None)


def test_any_other_kept_message_gets_no_reply(
    intake: Intake, factory: InMemoryUnitOfWorkFactory, user_id: int
) -> None:
    factory.store.unavailable = True

    answer = intake.inbound_sms(PHONE, "NEXT", sid())

    assert (answer.keyword, answer.kept, answer.reply) == (Keyword.NEXT, True, None)


def test_a_new_message_waits_behind_kept_ones_to_keep_their_order(
    intake: Intake, factory: InMemoryUnitOfWorkFactory, spool: MemorySpool, user_id: int
) -> None:
    kept_during_an_outage(intake, factory, "STOP")

    answer = intake.inbound_sms(PHONE, "START", sid())

    assert answer.kept
    assert spool.bodies() == ["STOP", "START"]
    assert status(factory, user_id) is UserStatus.ACTIVE


def test_the_replay_applies_kept_messages_in_order_and_counts_them(
    intake: Intake,
    factory: InMemoryUnitOfWorkFactory,
    observer: RecordingObserver,
    spool: MemorySpool,
    user_id: int,
) -> None:
    kept_during_an_outage(intake, factory, "PAUSE", "STOP")

    report = intake.replay()

    assert report is not None and report.applied["inbound"] == 2
    assert status(factory, user_id) is UserStatus.OPTED_OUT
    assert (observer.replayed, observer.counted) == ([("inbound", 2)], ["PAUSE", "STOP"])
    assert spool.entries == []


def test_a_full_spool_during_an_outage_refuses_the_webhook(
    intake: Intake, factory: InMemoryUnitOfWorkFactory, spool: MemorySpool, user_id: int
) -> None:
    factory.store.unavailable = True
    spool.full = True

    with pytest.raises(NotKept):
        intake.inbound_sms(PHONE, "STOP", sid())


def test_a_full_spool_behind_waiting_ones_applies_the_message_out_of_order(
    intake: Intake, factory: InMemoryUnitOfWorkFactory, spool: MemorySpool, user_id: int
) -> None:
    kept_during_an_outage(intake, factory, "PAUSE")
    spool.full = True

    answer = intake.inbound_sms(PHONE, "STOP", sid())

    assert not answer.kept and answer.reply == texts.opted_out_text(POLICY.brand)
    assert status(factory, user_id) is UserStatus.OPTED_OUT
    assert spool.bodies() == ["PAUSE"]


def test_a_status_callback_is_kept_while_the_database_is_away(
    intake: Intake,
    factory: InMemoryUnitOfWorkFactory,
    observer: RecordingObserver,
    spool: MemorySpool,
) -> None:
    factory.store.unavailable = True

    intake.status_callback("SM" + "1" * 32, "delivered", "30003")

    [entry] = spool.entries
    assert dict(entry.record.params) == {
        "MessageSid": "SM" + "1" * 32,
        "MessageStatus": "delivered",
        "ErrorCode": "30003",
    }
    assert observer.kept == ["status"]


def test_without_a_spool_an_outage_raises_as_any_use_case_does(
    factory: InMemoryUnitOfWorkFactory, clock: FakeClock, user_id: int
) -> None:
    intake = Intake(factory, clock, POLICY, RecordingObserver())
    factory.store.unavailable = True

    with pytest.raises(DatabaseUnavailable):
        intake.inbound_sms(PHONE, "STOP", sid())
    assert intake.replay() is None


def test_the_replay_counts_reactions_and_check_in_answers(
    intake: Intake,
    factory: InMemoryUnitOfWorkFactory,
    clock: FakeClock,
    observer: RecordingObserver,
    user_id: int,
) -> None:
    now = clock.now()
    with factory() as uow:
        done = uow.sessions.add(
            user_id, PlannedSession(now.date(), now, ()), now, status=SessionStatus.DONE
        )
        uow.sessions.set_checkin(done.id, CheckIn.ASKED)
        uow.reminders.add(
            user_id, done.id, [PlannedReminder(Step.SKIN_CHECK, now, now + timedelta(days=1))], now
        )
        uow.commit()
    [check] = [r for r in factory.store.tables.reminders.values() if r.step is Step.SKIN_CHECK]
    check.status, check.sent_at = ReminderStatus.SENT, now
    kept_during_an_outage(intake, factory, "ok", "my skin is red")

    intake.replay()

    assert (observer.checkins, observer.reactions) == (["ok"], 1)
