"""Replaying the webhook spool on SQLite: oldest first, each record removed only once its
transaction committed, a pause at the first outage, and no record that fails for another
reason holding the others back for ever."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest
from sqlalchemy import func, select

from reminders.adapters.db import messages, reply_log
from reminders.bootstrap import Container
from reminders.domain import messages as texts
from reminders.domain.model import PhoneNumber, UserStatus
from reminders.ports import (
    ConcurrentUpdate,
    DatabaseUnavailable,
    UnitOfWork,
    UnitOfWorkFactory,
    WebhookKind,
    WebhookRecord,
)
from reminders.services.replay import FAILED_RUNS_BEFORE_SET_ASIDE, SpoolReplay
from tests.conftest import DATABASES, both_databases
from tests.fakes import FakeClock
from tests.routine_driver import PHONE, enroll, user
from tests.twilio_webhooks import new_sid

STRANGER = "+14155550199"


def inbound(container: Container, body: str, *, sender: str = PHONE) -> WebhookRecord:
    params = {"MessageSid": new_sid(), "From": sender, "Body": body}
    return WebhookRecord(WebhookKind.INBOUND, container.clock.now(), params)


class FailingUnitsOfWork:
    """The container's units of work, except that the ones numbered in `fail` (from 1) raise
    `error` when they begin, or when they commit if `at_commit`."""

    def __init__(
        self,
        container: Container,
        fail: set[int],
        error: Exception,
        *,
        at_commit: bool = False,
    ) -> None:
        self.container = container
        self.fail = fail
        self.error = error
        self.at_commit = at_commit
        self.count = 0

    def __call__(self, **options: bool) -> UnitOfWork:
        self.count += 1
        failing = self.count in self.fail
        if failing and not self.at_commit:
            raise self.error
        return _CommitFails(self.container.uow(**options), self.error if failing else None)


class _CommitFails:
    def __init__(self, inner: UnitOfWork, error: Exception | None) -> None:
        self._inner = inner
        self._error = error

    def __enter__(self) -> Any:
        self._inner.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._inner.__exit__(exc_type, exc, tb)

    def commit(self) -> None:
        if self._error is not None:
            raise self._error
        self._inner.commit()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def replay_with(container: Container, units: UnitOfWorkFactory) -> SpoolReplay:
    assert container.intake.spool is not None
    return SpoolReplay(container.intake.spool, units, container.policy)


def keep(container: Container, *records: WebhookRecord) -> None:
    assert container.intake.spool is not None
    for record in records:
        container.intake.spool.append(record)


def waiting_bodies(container: Container) -> list[str]:
    assert container.intake.spool is not None
    return [entry.record.params["Body"] for entry in container.intake.spool.pending()]


def test_a_run_stops_at_the_first_outage_and_the_next_run_goes_on_from_there(
    container: Container,
) -> None:
    member = enroll(container)
    keep(container, inbound(container, "PAUSE"), inbound(container, "STOP"))
    outage = FailingUnitsOfWork(container, {2}, DatabaseUnavailable("gone"))

    first = replay_with(container, outage).run()
    stopped_at = waiting_bodies(container)
    second = replay_with(container, outage).run()

    assert first.applied["inbound"] == 1
    assert first.stopped == "gone"
    assert stopped_at == ["STOP"]
    assert second.applied["inbound"] == 1 and second.stopped is None
    assert user(container, member.id).status is UserStatus.OPTED_OUT


def test_a_record_stays_in_the_spool_when_its_commit_fails(container: Container) -> None:
    member = enroll(container)
    keep(container, inbound(container, "STOP"))
    lost_commit = FailingUnitsOfWork(container, {1}, DatabaseUnavailable("gone"), at_commit=True)

    report = replay_with(container, lost_commit).run()

    assert report.applied["inbound"] == 0
    assert waiting_bodies(container) == ["STOP"]
    assert user(container, member.id).status is UserStatus.ACTIVE


def test_a_race_lost_on_every_attempt_pauses_the_replay_like_an_outage(
    container: Container,
) -> None:
    enroll(container)
    keep(container, inbound(container, "STOP"))
    busy = FailingUnitsOfWork(container, set(range(1, 6)), ConcurrentUpdate("busy"))

    report = replay_with(container, busy).run()

    assert report.stopped == "busy"
    assert waiting_bodies(container) == ["STOP"]


def test_a_record_failing_for_another_reason_is_set_aside_after_a_few_runs(
    container: Container, caplog: pytest.LogCaptureFixture
) -> None:
    member = enroll(container)
    keep(container, inbound(container, "PAUSE"), inbound(container, "STOP"))
    broken = FailingUnitsOfWork(
        container, set(range(1, FAILED_RUNS_BEFORE_SET_ASIDE + 1)), RuntimeError("bug")
    )
    replay = replay_with(container, broken)

    held_back = [replay.run() for _ in range(FAILED_RUNS_BEFORE_SET_ASIDE - 1)]
    last = replay.run()

    assert all(report.applied["inbound"] == 0 for report in held_back)
    assert waiting_bodies(container) == []
    assert (last.set_aside, last.applied["inbound"]) == (1, 1)
    assert user(container, member.id).status is UserStatus.OPTED_OUT
    assert "spooled webhook could not be applied; set aside" in caplog.text


def test_a_record_that_breaks_a_rule_is_set_aside_at_once(container: Container) -> None:
    member = enroll(container)
    keep(container, inbound(container, "HELLO", sender="12"), inbound(container, "STOP"))

    report = replay_with(container, container.uow).run()

    assert (report.set_aside, report.applied["inbound"]) == (1, 1)
    assert user(container, member.id).status is UserStatus.OPTED_OUT


def test_a_stop_asked_for_ends_the_run_with_the_rest_kept(container: Container) -> None:
    enroll(container)
    keep(container, inbound(container, "PAUSE"), inbound(container, "STOP"))

    report = replay_with(container, container.uow).run(should_stop=lambda: True)

    assert report.stopped == "stopping"
    assert waiting_bodies(container) == ["PAUSE", "STOP"]


def test_the_log_says_how_many_were_applied_without_bodies_or_numbers(
    container: Container, caplog: pytest.LogCaptureFixture
) -> None:
    enroll(container)
    keep(
        container,
        inbound(container, "STOP talking to me"),
        inbound(container, "YES please", sender=STRANGER),
    )

    with caplog.at_level(logging.INFO, logger="reminders.services.replay"):
        container.replay_spool()

    [line] = [r for r in caplog.records if r.name == "reminders.services.replay"]
    fields = {key: value for key, value in vars(line).items() if not key.startswith("_")}
    assert line.getMessage() == "spooled webhooks replayed"
    assert (fields["inbound"], fields["status"], fields["waiting"]) == (2, 0, 0)
    for secret in ("talking", "please", PHONE, STRANGER, PHONE[-7:], STRANGER[-7:]):
        assert all(secret not in str(value) for value in fields.values())


def test_an_empty_spool_costs_no_unit_of_work(container: Container) -> None:
    never = FailingUnitsOfWork(container, set(range(1, 100)), AssertionError("not called"))

    report = replay_with(container, never).run()

    assert (never.count, report.stopped) == (0, None)


def test_a_replayed_message_gets_no_reply_recorded_or_counted(container: Container) -> None:
    enroll(container)
    keep(container, inbound(container, "NEXT"), inbound(container, "what?"))

    container.replay_spool()

    with container.engine.connect() as connection:
        outbound = connection.execute(
            select(func.count()).select_from(messages).where(messages.c.direction == "out")
        ).scalar_one()
        counted = connection.execute(select(func.count()).select_from(reply_log)).scalar_one()
    assert (outbound, counted) == (0, 0)


@pytest.fixture(params=DATABASES)
def shared_database(request: pytest.FixtureRequest) -> str:
    """One database for two replicas, on SQLite and PostgreSQL."""
    return both_databases(request)


def test_a_start_one_replica_kept_does_not_undo_a_later_stop_another_applied(
    shared_database: str,  # set up first: dropped only after the replicas closed
    make_container: Callable[..., Container],
    tmp_path: Path,
    clock: FakeClock,
) -> None:
    replica_a = make_container(database_url=shared_database)
    replica_b = make_container(database_url=shared_database, spool_dir=tmp_path / "spool-b")
    member = enroll(replica_b)
    replica_b.intake.inbound_sms(PhoneNumber(PHONE), "STOP", new_sid())
    clock.advance(timedelta(minutes=1))
    keep(replica_a, inbound(replica_a, "START"))  # replica A could not reach the database
    clock.advance(timedelta(minutes=1))
    replica_b.intake.inbound_sms(PhoneNumber(PHONE), "STOP", new_sid())
    clock.advance(timedelta(minutes=1))

    report = replica_a.replay_spool()

    assert report is not None and report.applied["inbound"] == 1
    assert user(replica_a, member.id).status is UserStatus.OPTED_OUT
    with replica_a.engine.connect() as connection:
        keywords = connection.execute(
            select(messages.c.keyword)
            .where(messages.c.direction == "in")
            .order_by(messages.c.created_at, messages.c.id)
        ).scalars()
        assert list(keywords) == ["STOP", "START", "STOP"]


def test_a_start_kept_after_the_users_last_stop_opts_them_back_in_when_replayed(
    shared_database: str,  # set up first: dropped only after the replicas closed
    make_container: Callable[..., Container],
    tmp_path: Path,
    clock: FakeClock,
) -> None:
    replica_a = make_container(database_url=shared_database)
    replica_b = make_container(database_url=shared_database, spool_dir=tmp_path / "spool-b")
    member = enroll(replica_b)
    replica_b.intake.inbound_sms(PhoneNumber(PHONE), "STOP", new_sid())
    clock.advance(timedelta(minutes=1))
    keep(replica_a, inbound(replica_a, "START"))
    clock.advance(timedelta(minutes=1))

    replica_a.replay_spool()

    assert user(replica_a, member.id).status is UserStatus.ACTIVE


def test_a_strangers_replayed_yes_leaves_the_days_answer_for_their_next_one(
    container: Container,
) -> None:
    keep(container, inbound(container, "YES", sender=STRANGER))
    container.replay_spool()

    answer = container.intake.inbound_sms(PhoneNumber(STRANGER), "YES", new_sid())

    assert answer.reply == texts.not_enrolled_text(container.policy.brand)
