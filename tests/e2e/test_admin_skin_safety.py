"""What an operator sees of skin safety: why a user is paused, their adherence, the paused and
check-in figures of the stats, and the metrics of reactions and check-in answers.

Users are enrolled over the admin API and text the service through the signed Twilio webhook.
A +1 415 user enrolled at START (Monday 2 March 2026) has their first session on Tuesday 3 March
at 20:00 in Los Angeles, the next ones every 14 days; the check-in after a session done goes
out a day later at the session's time (REMINDERS_CHECKIN's default, +1d)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from reminders.bootstrap import Container
from reminders.ports import WebhookKind, WebhookRecord
from tests.e2e.test_admin_metrics import sample
from tests.e2e.webhook_support import twilio_container, webhooks_for
from tests.fakes import FakeClock
from tests.twilio_webhooks import FakeTwilioWebhooks, new_sid

Enroll = Callable[..., dict[str, Any]]
Deliver = Callable[[int], datetime]
PHONE = "+14155550123"
OTHER = "+14155550124"
NO_SESSIONS = {"done": 0, "skipped": 0, "unconfirmed": 0, "streak": 0}


@pytest.fixture
def container(make_container: Callable[..., Container]) -> Container:
    return twilio_container(make_container)


@pytest.fixture
def twilio(container: Container) -> Iterator[FakeTwilioWebhooks]:
    with webhooks_for(container) as webhooks:
        yield webhooks


def shown(client: TestClient, user: dict[str, Any]) -> dict[str, Any]:
    response = client.get(f"/v1/users/{user['id']}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def listed(client: TestClient) -> list[dict[str, Any]]:
    return list(client.get("/v1/users").json()["items"])


def checkins_sent(container: Container, clock: FakeClock, session_start: datetime) -> None:
    """Move the clock to the check-in after the session that started then, and dispatch."""
    clock.set(session_start + timedelta(days=1))
    container.dispatch_due()


# --- why a user is paused -------------------------------------------------------------------


def test_an_active_user_has_no_paused_reason(client: TestClient, enroll: Enroll) -> None:
    user = enroll()

    assert shown(client, user)["paused_reason"] is None
    assert listed(client)[0]["paused_reason"] is None


def test_a_user_paused_over_the_api_is_paused_by_the_operator(
    client: TestClient, enroll: Enroll
) -> None:
    user = enroll()

    answer = client.patch(f"/v1/users/{user['id']}", json={"status": "paused"}).json()

    assert (answer["status"], answer["paused_reason"]) == ("paused", "operator")
    assert shown(client, user)["paused_reason"] == "operator"
    assert listed(client)[0]["paused_reason"] == "operator"


@pytest.mark.parametrize(
    ("body", "reason"),
    [("PAUSE", "user"), ("my cheeks came up in a rash", "skin_reaction")],
    ids=["PAUSE: paused by themselves", "a skin reaction: paused for it"],
)
def test_a_user_who_texts_is_paused_with_the_reason_their_text_gives(
    client: TestClient, enroll: Enroll, twilio: FakeTwilioWebhooks, body: str, reason: str
) -> None:
    user = enroll()

    twilio.text(PHONE, body)

    assert (shown(client, user)["status"], shown(client, user)["paused_reason"]) == (
        "paused",
        reason,
    )
    assert listed(client)[0]["paused_reason"] == reason


def test_resuming_clears_the_paused_reason(
    client: TestClient, enroll: Enroll, twilio: FakeTwilioWebhooks
) -> None:
    user = enroll()
    twilio.text(PHONE, "SORE")

    answer = client.patch(f"/v1/users/{user['id']}", json={"status": "active"}).json()

    assert (answer["status"], answer["paused_reason"]) == ("active", None)
    assert shown(client, user)["paused_reason"] is None


# --- adherence ------------------------------------------------------------------------------


def test_a_new_user_has_done_no_session(client: TestClient, enroll: Enroll) -> None:
    user = enroll()

    assert shown(client, user)["adherence"] == NO_SESSIONS


def test_adherence_counts_sessions_done_and_skipped_and_the_streak(
    client: TestClient,
    enroll: Enroll,
    twilio: FakeTwilioWebhooks,
    deliver_next_session: Deliver,
) -> None:
    user = enroll()
    for answer in ("DONE", "SKIP", "DONE", "DONE"):
        deliver_next_session(user["id"])
        twilio.text(PHONE, answer)

    adherence = shown(client, user)["adherence"]

    assert adherence == {"done": 3, "skipped": 1, "unconfirmed": 0, "streak": 2}


def test_a_session_nobody_answered_is_unconfirmed_and_ends_the_streak(
    client: TestClient,
    enroll: Enroll,
    container: Container,
    clock: FakeClock,
    twilio: FakeTwilioWebhooks,
    deliver_next_session: Deliver,
) -> None:
    user = enroll()
    deliver_next_session(user["id"])
    twilio.text(PHONE, "DONE")
    deliver_next_session(user["id"])
    clock.advance(timedelta(hours=12))
    container.close_unconfirmed()

    adherence = shown(client, user)["adherence"]

    assert adherence == {"done": 1, "skipped": 0, "unconfirmed": 1, "streak": 0}


def test_the_user_list_stays_without_adherence(client: TestClient, enroll: Enroll) -> None:
    enroll()

    assert "adherence" not in listed(client)[0]


def test_the_adherence_of_an_unknown_user_is_404(client: TestClient) -> None:
    assert client.get("/v1/users/9").status_code == 404


# --- stats ----------------------------------------------------------------------------------


def test_stats_start_with_nobody_paused_and_no_check_in(client: TestClient) -> None:
    stats = client.get("/v1/stats").json()

    assert stats["paused"] == {"user": 0, "operator": 0, "skin_reaction": 0}
    assert stats["checkins"] == {"ok": 0, "reaction": 0, "none": 0}


def test_stats_count_paused_users_by_reason(
    client: TestClient, enroll: Enroll, twilio: FakeTwilioWebhooks
) -> None:
    operator = enroll("+14155550101")
    enroll("+14155550102")
    enroll("+14155550103")
    enroll("+14155550104")
    client.patch(f"/v1/users/{operator['id']}", json={"status": "paused"})
    twilio.text("+14155550102", "PAUSE")
    twilio.text("+14155550103", "a bit of redness today")

    stats = client.get("/v1/stats").json()

    assert stats["paused"] == {"user": 1, "operator": 1, "skin_reaction": 1}
    assert stats["users"]["paused"] == 3


def test_stats_count_check_ins_sent_and_how_they_were_answered(
    client: TestClient,
    enroll: Enroll,
    container: Container,
    clock: FakeClock,
    twilio: FakeTwilioWebhooks,
    deliver_next_session: Deliver,
) -> None:
    first = enroll(PHONE)
    enroll(OTHER)
    session_start = deliver_next_session(first["id"])  # both users' first session
    twilio.text(PHONE, "DONE")
    twilio.text(OTHER, "DONE")
    checkins_sent(container, clock, session_start)

    asked = client.get("/v1/stats").json()["checkins"]
    twilio.text(PHONE, "OK")
    twilio.text(OTHER, "SORE")
    answered = client.get("/v1/stats").json()

    assert asked == {"ok": 0, "reaction": 0, "none": 2}
    assert answered["checkins"] == {"ok": 1, "reaction": 1, "none": 0}
    assert answered["paused"]["skin_reaction"] == 1


# --- metrics --------------------------------------------------------------------------------


def test_metrics_show_no_reaction_and_no_check_in_answer_at_first(client: TestClient) -> None:
    assert sample(client, "reminders_skin_reactions_total") == 0
    assert sample(client, "reminders_checkin_answers_total", answer="ok") == 0
    assert sample(client, "reminders_checkin_answers_total", answer="reaction") == 0


def test_metrics_count_a_skin_reaction(
    client: TestClient, enroll: Enroll, twilio: FakeTwilioWebhooks
) -> None:
    enroll()

    twilio.text(PHONE, "my skin is irritated")

    assert sample(client, "reminders_skin_reactions_total") == 1
    assert sample(client, "reminders_inbound_messages_total", keyword="SORE") == 1
    assert sample(client, "reminders_checkin_answers_total", answer="reaction") == 0


def test_metrics_count_a_retried_reaction_once(
    client: TestClient, enroll: Enroll, twilio: FakeTwilioWebhooks
) -> None:
    enroll()
    sid = new_sid()

    twilio.text(PHONE, "SORE", sid=sid)
    twilio.text(PHONE, "SORE", sid=sid)

    assert sample(client, "reminders_skin_reactions_total") == 1


def test_metrics_count_check_in_answers(
    client: TestClient,
    enroll: Enroll,
    container: Container,
    clock: FakeClock,
    twilio: FakeTwilioWebhooks,
    deliver_next_session: Deliver,
) -> None:
    first = enroll(PHONE)
    enroll(OTHER)
    session_start = deliver_next_session(first["id"])
    twilio.text(PHONE, "DONE")
    twilio.text(OTHER, "DONE")
    checkins_sent(container, clock, session_start)

    twilio.text(PHONE, "OK")
    twilio.text(OTHER, "SORE")

    assert sample(client, "reminders_checkin_answers_total", answer="ok") == 1
    assert sample(client, "reminders_checkin_answers_total", answer="reaction") == 1
    assert sample(client, "reminders_skin_reactions_total") == 1


def test_an_ok_that_answers_no_check_in_is_not_counted_as_an_answer(
    client: TestClient, enroll: Enroll, twilio: FakeTwilioWebhooks
) -> None:
    enroll()

    twilio.text(PHONE, "OK")

    assert sample(client, "reminders_checkin_answers_total", answer="ok") == 0


def test_metrics_count_a_reaction_kept_in_the_spool_once_it_is_replayed(
    client: TestClient, enroll: Enroll, container: Container, clock: FakeClock
) -> None:
    enroll()
    spool = container.intake.spool
    assert spool is not None
    params = {"MessageSid": new_sid(), "From": PHONE, "Body": "rash on my chin"}
    spool.append(WebhookRecord(WebhookKind.INBOUND, clock.now(), params))

    container.replay_spool()

    assert sample(client, "reminders_skin_reactions_total") == 1
    assert sample(client, "reminders_spool_replayed_total", kind="inbound") == 1
