"""The webhook spool's edges, on SQLite: a transaction that keeps losing races is kept like an
outage, a full spool answers 503 with Retry-After during an outage, and a full spool while the
database is back applies the message rather than refusing it."""

from __future__ import annotations

from pathlib import Path

import pytest

from reminders.adapters.spool import FileSpool
from reminders.bootstrap import Container
from reminders.domain.model import User, UserStatus
from reminders.ports import ConcurrentUpdate, UnitOfWork
from reminders.services.intake import Intake
from tests.e2e.webhook_support import PHONE, current
from tests.outage import SqliteOutage
from tests.twilio_webhooks import INBOUND_PATH, FakeTwilioWebhooks


def small_spool(container: Container, max_records: int) -> FileSpool:
    spool = FileSpool(container.settings.resolved_spool_dir, max_records=max_records)
    container.intake = Intake(
        container.uow, container.clock, container.policy, container.metrics, spool
    )
    return spool


def test_a_webhook_whose_transaction_keeps_losing_races_is_kept_and_answered(
    container: Container,
    twilio: FakeTwilioWebhooks,
    active: User,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def busy(**_: object) -> UnitOfWork:
        raise ConcurrentUpdate("lost a race with another transaction")

    spool = container.intake.spool
    busy_intake = Intake(busy, container.clock, container.policy, container.metrics, spool)
    monkeypatch.setattr(container, "intake", busy_intake)  # every attempt of in_transaction loses
    reply = twilio.text(PHONE, "STOP")
    monkeypatch.undo()

    container.replay_spool()

    assert reply is not None and "unsubscribed" in reply
    assert current(container, active).status is UserStatus.OPTED_OUT


def test_a_full_spool_during_an_outage_answers_503_with_retry_after(
    container: Container, twilio: FakeTwilioWebhooks, active: User, tmp_path: Path
) -> None:
    small_spool(container, max_records=1)
    outage = SqliteOutage(tmp_path / "reminders.db", container.engine)
    outage.cut()
    kept = twilio.post(INBOUND_PATH, twilio.inbound_params(PHONE, "PAUSE"))
    refused = twilio.post(INBOUND_PATH, twilio.inbound_params(PHONE, "STOP"))
    outage.restore()

    assert kept.status_code == 200
    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "5"
    assert current(container, active).status is UserStatus.ACTIVE


def test_a_full_spool_once_the_database_is_back_applies_the_message_rather_than_refuse_it(
    container: Container, twilio: FakeTwilioWebhooks, active: User, tmp_path: Path
) -> None:
    spool = small_spool(container, max_records=1)
    outage = SqliteOutage(tmp_path / "reminders.db", container.engine)
    outage.cut()
    twilio.text(PHONE, "PAUSE")
    outage.restore()

    reply = twilio.text(PHONE, "STOP")  # cannot queue behind the PAUSE: applied at once

    assert reply is not None and "unsubscribed" in reply
    assert current(container, active).status is UserStatus.OPTED_OUT
    assert spool.waiting() == 1
