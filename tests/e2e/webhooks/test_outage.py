"""Twilio webhooks during a real database outage, on SQLite and PostgreSQL: each is kept in the
spool and answered 200 (a STOP with its confirmation), applied in order once the database is
back, once; the admin API answers 503 with Retry-After meanwhile. Dates: see
tests/e2e/webhook_support.py. The replay job is called directly, as the scheduler would."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from reminders.adapters.db import messages
from reminders.bootstrap import Container
from reminders.domain.model import SessionStatus, User, UserStatus
from reminders.entrypoints.api import create_app
from tests.e2e.conftest import AUTH
from tests.e2e.webhook_support import (
    PHONE,
    at_session,
    current,
    inbound_count,
    past_sessions,
    pending_reminders,
    twilio_container,
    upcoming,
    webhooks_for,
)
from tests.fakes import FakeClock, FakeSmsSender
from tests.outage import PostgresOutage, SqliteOutage, postgres_outage
from tests.twilio_webhooks import INBOUND_PATH, FakeTwilioWebhooks, new_sid, reply_of

OPTED_OUT = "RollerCare: You're unsubscribed and will get no more messages. Reply START to rejoin."


class Case:
    """A container on a database of its own, and the means to cut that database off."""

    def __init__(self, container: Container, outage: PostgresOutage | SqliteOutage) -> None:
        self.container = container
        self.outage = outage

    def cut(self) -> None:
        self.outage.cut()

    def restore(self) -> None:
        self.outage.restore()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def case(
    request: pytest.FixtureRequest, make_container: Callable[..., Container], tmp_path: Path
) -> Iterator[Case]:
    if request.param == "sqlite":
        container = twilio_container(make_container)  # spool: tmp_path/spool, next to the file
        yield Case(container, SqliteOutage(tmp_path / "reminders.db", container.engine))
        return
    with postgres_outage() as outage:
        container = twilio_container(
            make_container, database_url=outage.url, spool_dir=tmp_path / "spool"
        )
        yield Case(container, outage)
        container.close()  # before the database is dropped


@pytest.fixture
def container(case: Case) -> Container:
    return case.container


@pytest.fixture
def admin(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container), headers=AUTH) as client:
        yield client


def spool_files(container: Container) -> list[Path]:
    folder = container.settings.resolved_spool_dir
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


def message_status(container: Container, sid: str) -> str:
    with container.engine.connect() as connection:
        return str(
            connection.execute(
                select(messages.c.status).where(messages.c.provider_sid == sid)
            ).scalar_one()
        )


# --- kept and answered during the outage -----------------------------------------------------


def test_a_stop_during_an_outage_is_confirmed_at_once_and_applied_once_the_database_is_back(
    case: Case, container: Container, twilio: FakeTwilioWebhooks, active: User
) -> None:
    case.cut()
    reply = twilio.text(PHONE, "STOP")
    kept = spool_files(container)
    case.restore()

    report = container.replay_spool()

    assert reply == OPTED_OUT
    assert len(kept) == 1
    assert report is not None and report.applied["inbound"] == 1
    assert current(container, active).status is UserStatus.OPTED_OUT
    assert pending_reminders(container, active) == 0
    assert spool_files(container) == []


def test_a_stop_twilio_already_answered_gets_no_second_answer_and_is_applied(
    case: Case, container: Container, twilio: FakeTwilioWebhooks, active: User
) -> None:
    case.cut()
    reply = twilio.text(PHONE, "STOP", opt_out_type="STOP")
    case.restore()

    container.replay_spool()

    assert reply is None
    assert current(container, active).status is UserStatus.OPTED_OUT


def test_a_done_during_an_outage_gets_no_reply_and_counts_for_the_session_it_was_sent_in(
    case: Case,
    container: Container,
    twilio: FakeTwilioWebhooks,
    active: User,
    clock: FakeClock,
    sender: FakeSmsSender,
) -> None:
    at_session(clock, container, active)
    session = upcoming(container, active)
    case.cut()
    reply = twilio.text(PHONE, "DONE")
    clock.advance(timedelta(hours=13))  # back after the session would have closed unanswered
    case.restore()
    sent_before = len(sender.sent)

    container.replay_spool()

    assert reply is None
    [done] = past_sessions(container, active)
    assert session is not None and done.id == session.id
    assert done.status is SessionStatus.DONE
    assert len(sender.sent) == sent_before  # the reply computed by the replay is not sent


def test_a_status_callback_during_an_outage_is_applied_once_the_database_is_back(
    case: Case,
    container: Container,
    twilio: FakeTwilioWebhooks,
    pending: User,
    sender: FakeSmsSender,
) -> None:
    container.dispatch_due()  # the consent question goes out
    sid = sender.sent[0].sid
    case.cut()
    response = twilio.status(sid, "delivered")
    case.restore()

    container.replay_spool()

    assert response.status_code == 200
    assert reply_of(response) is None
    assert message_status(container, sid) == "delivered"


def test_the_admin_api_answers_503_with_retry_after_during_the_outage_and_works_after(
    case: Case, admin: TestClient, active: User
) -> None:
    case.cut()
    listed = admin.get("/v1/users")
    changed = admin.patch(f"/v1/users/{active.id}", json={"status": "paused"})
    case.restore()
    after = admin.get("/v1/users")

    for response in (listed, changed):
        assert response.status_code == 503, response.text
        assert int(response.headers["Retry-After"]) > 0
        assert "database is unavailable" in response.json()["error"]
    assert after.status_code == 200
    assert [user["id"] for user in after.json()["items"]] == [active.id]


def test_metrics_show_what_waits_in_the_spool_and_what_was_replayed(
    case: Case, container: Container, twilio: FakeTwilioWebhooks, admin: TestClient, active: User
) -> None:
    case.cut()
    twilio.text(PHONE, "STOP")
    during = admin.get("/metrics").text
    case.restore()
    container.replay_spool()
    after = admin.get("/metrics").text

    assert "reminders_spool_waiting 1.0" in during
    assert 'reminders_spool_kept_total{kind="inbound"} 1.0' in during
    assert "reminders_spool_waiting 0.0" in after
    assert 'reminders_spool_replayed_total{kind="inbound"} 1.0' in after


# --- order and idempotence -------------------------------------------------------------------


def test_a_stop_then_a_start_during_the_outage_are_applied_in_that_order(
    case: Case, container: Container, twilio: FakeTwilioWebhooks, active: User
) -> None:
    case.cut()
    twilio.text(PHONE, "STOP")
    twilio.text(PHONE, "START")
    case.restore()

    container.replay_spool()

    assert current(container, active).status is UserStatus.ACTIVE
    assert upcoming(container, active) is not None


def test_a_message_arriving_while_older_ones_wait_joins_them_instead_of_overtaking(
    case: Case, container: Container, twilio: FakeTwilioWebhooks, active: User
) -> None:
    case.cut()
    twilio.text(PHONE, "STOP")
    case.restore()

    reply = twilio.text(PHONE, "START")  # the database answers, but the STOP is not applied yet
    waiting = len(spool_files(container))
    container.replay_spool()

    assert (reply, waiting) == (None, 2)
    assert current(container, active).status is UserStatus.ACTIVE


def test_a_stop_kept_during_the_outage_is_applied_before_the_dispatcher_sends_again(
    case: Case,
    container: Container,
    twilio: FakeTwilioWebhooks,
    active: User,
    clock: FakeClock,
    sender: FakeSmsSender,
) -> None:
    case.cut()
    twilio.text(PHONE, "STOP")
    case.restore()
    session = upcoming(container, active)
    assert session is not None
    clock.set(session.starts_at)  # every step of the session is due

    container.dispatch_due()  # the scheduler's dispatch, before any replay job ran

    assert [sms for sms in sender.sent if sms.to == PHONE] == []
    assert current(container, active).status is UserStatus.OPTED_OUT


def test_a_webhook_twilio_sent_twice_during_the_outage_is_applied_once(
    case: Case, container: Container, twilio: FakeTwilioWebhooks, active: User
) -> None:
    params = twilio.inbound_params(PHONE, "STOP", sid=new_sid())
    case.cut()
    first = twilio.post(INBOUND_PATH, params)
    again = twilio.post(INBOUND_PATH, params)
    case.restore()

    report = container.replay_spool()

    assert (first.status_code, again.status_code) == (200, 200)
    assert report is not None and report.applied["inbound"] == 2
    assert inbound_count(container) == 1
    assert current(container, active).status is UserStatus.OPTED_OUT


def test_replaying_the_same_records_again_after_a_restart_changes_nothing(
    case: Case,
    container: Container,
    twilio: FakeTwilioWebhooks,
    active: User,
    make_container: Callable[..., Container],
    tmp_path: Path,
) -> None:
    case.cut()
    twilio.text(PHONE, "DONE")
    twilio.text(PHONE, "STOP")
    copies = tmp_path / "copies"
    copies.mkdir()
    for path in spool_files(container):  # as if each removal were lost in a crash
        shutil.copy2(path, copies / path.name)
    case.restore()
    container.replay_spool()
    with container.engine.connect() as connection:
        before = connection.execute(select(messages).order_by(messages.c.id)).all()
    for path in copies.iterdir():
        shutil.copy2(path, container.settings.resolved_spool_dir / path.name)

    restarted = twilio_container(make_container, **_same_databases(container))
    report = restarted.replay_spool()

    with container.engine.connect() as connection:
        after = connection.execute(select(messages).order_by(messages.c.id)).all()
    assert report is not None and report.applied["inbound"] == 2
    assert after == before
    assert current(container, active).status is UserStatus.OPTED_OUT


def test_webhooks_kept_before_a_restart_are_applied_by_the_next_process(
    case: Case,
    container: Container,
    twilio: FakeTwilioWebhooks,
    active: User,
    make_container: Callable[..., Container],
) -> None:
    case.cut()
    twilio.text(PHONE, "STOP")
    container.close()  # the replica stops during the outage
    case.restore()

    restarted = twilio_container(make_container, **_same_databases(container))
    restarted.replay_spool()

    assert current(restarted, active).status is UserStatus.OPTED_OUT


def _same_databases(container: Container) -> dict[str, object]:
    return {
        "database_url": container.settings.database_url,
        "spool_dir": container.settings.resolved_spool_dir,
    }


# --- when the spool cannot keep it either ----------------------------------------------------


def test_a_webhook_the_spool_cannot_keep_gets_503_with_retry_after(
    case: Case, container: Container, twilio: FakeTwilioWebhooks, active: User
) -> None:
    folder = container.settings.resolved_spool_dir
    case.cut()
    shutil.rmtree(folder)  # the disk under the spool is gone as well

    response = twilio.post(INBOUND_PATH, twilio.inbound_params(PHONE, "STOP"))

    case.restore()
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    assert "could not be kept" in response.json()["error"]


def test_webhooks_answer_as_before_once_the_database_is_back_and_the_spool_is_empty(
    case: Case, container: Container, active: User
) -> None:
    case.cut()
    with webhooks_for(container) as twilio:
        twilio.text(PHONE, "PAUSE")
    case.restore()
    container.replay_spool()
    paused = current(container, active).status

    with webhooks_for(container) as twilio:
        reply = twilio.text(PHONE, "RESUME")

    assert paused is UserStatus.PAUSED
    assert reply is not None and reply.startswith("RollerCare: Reminders back on.")
    assert current(container, active).status is UserStatus.ACTIVE
    assert spool_files(container) == []
