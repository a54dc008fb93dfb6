"""What an operator reads: a user's schedule and history, and the service's stats.

A +1 415 user enrolled at START (Monday 2 March 2026) has their first session on Tuesday 3 March
at 20:00 in Los Angeles, the next ones every 14 days."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from reminders.bootstrap import Container
from tests.fakes import FakeClock
from tests.routine_driver import text

Enroll = Callable[..., dict[str, Any]]
Deliver = Callable[[int], datetime]
PHONE = "+14155550123"


# --- schedule -------------------------------------------------------------------------------


def test_schedule_shows_the_next_three_sessions_by_default(
    client: TestClient, enroll: Enroll
) -> None:
    user = enroll()

    sessions = client.get(f"/v1/users/{user['id']}/schedule").json()["sessions"]

    assert [s["date"] for s in sessions] == ["2026-03-03", "2026-03-17", "2026-03-31"]


def test_schedule_shows_the_planned_sms_of_the_upcoming_session(
    client: TestClient, enroll: Enroll
) -> None:
    user = enroll()

    first = client.get(f"/v1/users/{user['id']}/schedule").json()["sessions"][0]

    assert first["starts_at"] == "2026-03-03T20:00:00-08:00"
    assert first["reminders"] == [
        {"step": "heads_up", "send_at": "2026-03-02T20:00:00-08:00", "status": "scheduled"},
        {"step": "makeup_removal", "send_at": "2026-03-03T19:15:00-08:00", "status": "scheduled"},
        {"step": "peeling", "send_at": "2026-03-03T19:40:00-08:00", "status": "scheduled"},
        {"step": "roll", "send_at": "2026-03-03T20:00:00-08:00", "status": "scheduled"},
    ]


def test_schedule_marks_later_sessions_projected(client: TestClient, enroll: Enroll) -> None:
    user = enroll()

    later = client.get(f"/v1/users/{user['id']}/schedule").json()["sessions"][1]

    assert {r["status"] for r in later["reminders"]} == {"projected"}


def test_schedule_gives_local_times_after_the_dst_change(
    client: TestClient, enroll: Enroll
) -> None:
    user = enroll()

    later = client.get(f"/v1/users/{user['id']}/schedule").json()["sessions"][1]

    assert later["starts_at"] == "2026-03-17T20:00:00-07:00"


def test_schedule_shows_as_many_sessions_as_asked(client: TestClient, enroll: Enroll) -> None:
    user = enroll()

    sessions = client.get(f"/v1/users/{user['id']}/schedule", params={"sessions": 5}).json()

    assert len(sessions["sessions"]) == 5


def test_schedule_shows_what_was_sent(
    client: TestClient, enroll: Enroll, container: Container, clock: FakeClock
) -> None:
    user = enroll()
    clock.set(datetime.fromisoformat("2026-03-02T20:00:00-08:00"))
    container.dispatch_due()

    first = client.get(f"/v1/users/{user['id']}/schedule").json()["sessions"][0]

    assert first["reminders"][0] == {
        "step": "heads_up",
        "send_at": "2026-03-02T20:00:00-08:00",
        "status": "sent",
    }


def test_pending_user_has_no_schedule(client: TestClient) -> None:
    user = client.post("/v1/users", json={"phone": PHONE}).json()

    schedule = client.get(f"/v1/users/{user['id']}/schedule").json()

    assert schedule == {"user_id": user["id"], "timezone": "America/Los_Angeles", "sessions": []}


def test_schedule_answers_404_for_an_unknown_user(client: TestClient) -> None:
    assert client.get("/v1/users/9/schedule").status_code == 404


# --- history --------------------------------------------------------------------------------


def test_new_user_has_no_history(client: TestClient, enroll: Enroll) -> None:
    user = enroll()

    history = client.get(f"/v1/users/{user['id']}/history").json()

    assert (history["sessions"], history["messages"]) == ([], [])


def test_history_shows_a_done_session(
    client: TestClient, enroll: Enroll, container: Container, deliver_next_session: Deliver
) -> None:
    user = enroll()
    deliver_next_session(user["id"])
    text(container, "DONE", sid="SM-done")

    sessions = client.get(f"/v1/users/{user['id']}/history").json()["sessions"]

    assert sessions == [
        {
            "date": "2026-03-03",
            "starts_at": "2026-03-03T20:00:00-08:00",
            "status": "done",
            "kind": "planned",
            "later_count": 0,
            "outcome_at": "2026-03-03T20:00:00-08:00",
        }
    ]


def test_history_shows_a_session_nobody_answered_as_unconfirmed(
    client: TestClient,
    enroll: Enroll,
    container: Container,
    clock: FakeClock,
    deliver_next_session: Deliver,
) -> None:
    user = enroll()
    deliver_next_session(user["id"])
    clock.advance(timedelta(hours=12))
    container.close_unconfirmed()

    sessions = client.get(f"/v1/users/{user['id']}/history").json()["sessions"]

    assert [s["status"] for s in sessions] == ["unconfirmed"]


def test_history_lists_messages_newest_first_without_bodies(
    client: TestClient, enroll: Enroll, container: Container, deliver_next_session: Deliver
) -> None:
    user = enroll()
    deliver_next_session(user["id"])
    text(container, "DONE", sid="SM-done")

    response = client.get(f"/v1/users/{user['id']}/history")
    messages = response.json()["messages"]

    assert [(m["direction"], m["step"] or m["keyword"]) for m in messages] == [
        ("out", "DONE"),  # the reply
        ("in", "DONE"),
        ("out", "roll"),
        ("out", "peeling"),
        ("out", "makeup_removal"),
        ("out", "heads_up"),
        ("out", "safety_notice"),  # once consent is given
    ]
    assert "body" not in messages[0]
    assert "Well done" not in response.text


def test_history_gives_message_times_in_the_users_offset(
    client: TestClient, enroll: Enroll, container: Container, deliver_next_session: Deliver
) -> None:
    user = enroll()
    deliver_next_session(user["id"])

    messages = client.get(f"/v1/users/{user['id']}/history").json()["messages"]

    assert messages[0]["at"] == "2026-03-03T20:00:00-08:00"


def test_history_answers_404_for_an_unknown_user(client: TestClient) -> None:
    assert client.get("/v1/users/9/history").status_code == 404


# --- stats ----------------------------------------------------------------------------------


def test_stats_start_at_zero(client: TestClient) -> None:
    stats = client.get("/v1/stats").json()

    assert set(stats["users"].values()) == {0}
    assert stats["adherence"] is None


def test_stats_count_users_by_status(client: TestClient, enroll: Enroll) -> None:
    enroll("+14155550101")
    client.post("/v1/users", json={"phone": "+14155550102"})

    users = client.get("/v1/stats").json()["users"]

    assert users == {"pending": 1, "active": 1, "paused": 0, "opted_out": 0, "invalid": 0}


def test_stats_count_sent_reminders(
    client: TestClient, enroll: Enroll, deliver_next_session: Deliver
) -> None:
    user = enroll()
    deliver_next_session(user["id"])

    stats = client.get("/v1/stats").json()

    # The four steps of the session, and the safety notice planned at enrolment.
    assert stats["reminders"]["sent"] == 5
    assert stats["messages"]["out"] == {"queued": 5}


def test_adherence_is_the_share_of_ended_sessions_done(
    client: TestClient, enroll: Enroll, container: Container, deliver_next_session: Deliver
) -> None:
    done = enroll("+14155550101")
    skipped = enroll("+14155550102")
    deliver_next_session(done["id"])
    deliver_next_session(skipped["id"])
    text(container, "DONE", sid="SM-1", phone="+14155550101")
    text(container, "SKIP", sid="SM-2", phone="+14155550102")

    stats = client.get("/v1/stats").json()

    assert stats["adherence"] == 0.5


def test_stats_keep_the_outcomes_of_an_erased_user(
    client: TestClient, enroll: Enroll, container: Container, deliver_next_session: Deliver
) -> None:
    user = enroll()
    deliver_next_session(user["id"])
    text(container, "DONE", sid="SM-done")

    client.delete(f"/v1/users/{user['id']}")
    stats = client.get("/v1/stats").json()

    assert stats["users"]["active"] == 0
    assert stats["sessions"]["done"] == 1
    assert stats["adherence"] == 1.0
