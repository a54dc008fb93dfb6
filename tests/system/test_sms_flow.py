"""The whole SMS flow through real processes: `run_service.py` with the Twilio backend pointed
at the fake Twilio server, an operator enrolling over the admin API, and users texting through
signed webhooks.

Timing. A session time has minute granularity and every UTC offset in use today is a whole
number of minutes, so no time zone puts a session closer than the next minute boundary. The
module picks the first whole minute at least LEAD ahead as the session start T, enrols the
users with that local time (in Asia/Kathmandu, +05:45, so the wall-time conversion is real),
and with the plan makeup_removal@-4s, peeling@-2s, roll@0s waits for T: between LEAD and
LEAD + 60 s, once for every test in the module. The safety notice that consent plans 5 s after
the YES comes in that wait too.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from reminders.domain.messages import format_when
from reminders.domain.sessions import SAFETY_NOTICE_AFTER
from tests.fake_twilio import TEST_ACCOUNT_SID, TEST_AUTH_TOKEN, TEST_FROM_NUMBER
from tests.system.service import FakeTwilioProcess, ServiceProcess, free_port, wait_for
from tests.twilio_webhooks import INBOUND_PATH, FakeTwilioWebhooks

pytestmark = pytest.mark.system

ZONE_NAME = "Asia/Kathmandu"
ZONE = ZoneInfo(ZONE_NAME)
PLAN = "makeup_removal@-4s,peeling@-2s,roll@0s"
OFFSETS_SECONDS = {"makeup_removal": -4.0, "peeling": -2.0, "roll": 0.0}
LEAD = timedelta(seconds=8)  # to enrol, send the consent questions and have them answered
ADMIN_TOKEN = "system-test-admin-token"
# How late an SMS may reach the fake after its time: a dispatch interval (0.2 s), the send,
# and this test's polling (0.05 s), with room for a busy CI machine.
LATENESS_SECONDS = 1.5

ALICE = "+14155550101"  # confirms, gets her session, replies DONE
BOB = "+14155550102"  # confirms, then opts out before the session and his safety notice
CAROL = "+14155550103"  # opts out of a session days away
DAVE = "+14155550104"  # someone forges his YES

STEP_TEXT = {
    "consent_request": "Reply YES",
    "safety_notice": "Don't roll if pregnant",
    "makeup_removal": "remove all makeup",
    "peeling": "gentle peel",
    "roll": "Time to roll",
}


def step_of(body: str) -> str:
    return next(step for step, text in STEP_TEXT.items() if text in body)


@dataclass
class Stack:
    service: ServiceProcess
    twilio: FakeTwilioProcess
    admin: httpx.Client
    webhooks: FakeTwilioWebhooks

    def enroll(self, phone: str, session_at: datetime) -> dict[str, Any]:
        wall = session_at.astimezone(ZONE).strftime("%H:%M")
        response = self.admin.post(
            "/v1/users",
            json={"phone": phone, "timezone": ZONE_NAME, "session_time": wall},
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    def user(self, user_id: int) -> dict[str, Any]:
        response = self.admin.get(f"/v1/users/{user_id}")
        assert response.status_code == 200, response.text
        return dict(response.json())

    def get(self, path: str) -> dict[str, Any]:
        response = self.admin.get(path)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def sent_to(self, phone: str) -> list[dict[str, Any]]:
        return [m for m in self.twilio.messages() if m["params"]["To"] == phone]

    def wait_for_consent_question(self, phone: str) -> str:
        sent = wait_for(
            f"the consent question to {phone}",
            lambda: self.sent_to(phone) or None,
            timeout_seconds=10,
            process=self.service,
        )
        return str(sent[0]["params"]["Body"])


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("system")
    twilio = FakeTwilioProcess(folder / "fake_twilio.log")
    request.addfinalizer(twilio.stop)
    port = free_port()
    public_url = f"http://127.0.0.1:{port}"
    service = ServiceProcess(
        folder / "service.log",
        {
            "REMINDERS_DATABASE_URL": f"sqlite:///{folder / 'reminders.db'}",
            "REMINDERS_HOST": "127.0.0.1",
            "REMINDERS_PORT": str(port),
            "REMINDERS_PUBLIC_URL": public_url,
            "REMINDERS_ADMIN_TOKEN": ADMIN_TOKEN,
            "REMINDERS_SMS_BACKEND": "twilio",
            "REMINDERS_TWILIO_API_URL": twilio.url,
            "TWILIO_ACCOUNT_SID": TEST_ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": TEST_AUTH_TOKEN,
            "TWILIO_FROM_NUMBER": TEST_FROM_NUMBER,
            "REMINDERS_QUIET_HOURS": "off",
            "REMINDERS_PLAN": PLAN,
            "REMINDERS_DISPATCH_INTERVAL_SECONDS": "0.2",
        },
    )
    request.addfinalizer(service.stop)
    with (
        httpx.Client(
            base_url=public_url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=10
        ) as admin,
        httpx.Client(base_url=public_url, timeout=10) as plain,
    ):
        webhooks = FakeTwilioWebhooks(plain, public_url=public_url, auth_token=TEST_AUTH_TOKEN)
        yield Stack(service, twilio, admin, webhooks)


@dataclass
class Journey:
    """What Alice and Bob saw, from enrolment to Alice's DONE after her session at T."""

    session_at: datetime
    alice_id: int
    bob_id: int
    consent_question: str = ""
    welcome: str | None = None
    yes_between: tuple[float, float] = (0.0, 0.0)  # Alice's YES sent, and answered (Unix time)
    bob_stop_reply: str | None = None
    arrived_at: dict[str, float] = field(default_factory=dict)  # step -> Unix time
    roll_sid: str = ""
    done_reply: str | None = None
    alice_after_done: dict[str, Any] = field(default_factory=dict)
    schedule_after_done: dict[str, Any] = field(default_factory=dict)
    sent_to_bob: list[str] = field(default_factory=list)


def wait_for_alices_session(stack: Stack, journey: Journey) -> None:
    """Poll the fake until Alice's three session SMS and her safety notice have arrived,
    noting when each did."""
    seen: set[str] = set()

    def all_arrived() -> bool | None:
        for message in stack.sent_to(ALICE):
            if message["sid"] not in seen:
                seen.add(message["sid"])
                step = step_of(message["params"]["Body"])
                journey.arrived_at.setdefault(step, time.time())
                if step == "roll":
                    journey.roll_sid = message["sid"]
        expected = [*OFFSETS_SECONDS, "safety_notice"]
        return all(step in journey.arrived_at for step in expected) or None

    wait_for(
        "Alice's session SMS",
        all_arrived,
        timeout_seconds=(journey.session_at - datetime.now(UTC)).total_seconds() + 10,
        process=stack.service,
    )


@pytest.fixture(scope="module")
def journey(stack: Stack) -> Journey:
    now = datetime.now(UTC)
    session_at = (now + LEAD).replace(second=0, microsecond=0) + timedelta(minutes=1)
    alice = stack.enroll(ALICE, session_at)
    bob = stack.enroll(BOB, session_at)
    journey = Journey(session_at, alice["id"], bob["id"])
    journey.consent_question = stack.wait_for_consent_question(ALICE)
    stack.wait_for_consent_question(BOB)

    yes_sent = time.time()
    journey.welcome = stack.webhooks.text(ALICE, "YES")
    journey.yes_between = (yes_sent, time.time())
    stack.webhooks.text(BOB, "yes")
    journey.bob_stop_reply = stack.webhooks.text(BOB, "STOP")
    first_step_at = session_at + timedelta(seconds=min(OFFSETS_SECONDS.values()))
    assert datetime.now(UTC) < first_step_at, "enrolment took longer than LEAD; raise it"

    wait_for_alices_session(stack, journey)
    # Past T, Bob's roll would have been sent by now had his STOP not cancelled it.
    time.sleep(max(0.0, session_at.timestamp() + LATENESS_SECONDS - time.time()))
    journey.done_reply = stack.webhooks.text(ALICE, "DONE")
    journey.alice_after_done = stack.user(journey.alice_id)
    journey.schedule_after_done = stack.get(f"/v1/users/{journey.alice_id}/schedule?sessions=1")
    journey.sent_to_bob = [m["params"]["Body"] for m in stack.sent_to(BOB)]
    return journey


def test_an_enrolled_user_is_asked_for_consent_by_sms(journey: Journey) -> None:
    assert journey.consent_question.startswith("RollerCare: Reply YES for reminders")


def test_yes_confirms_consent_and_names_the_first_session(journey: Journey) -> None:
    when = format_when(journey.session_at, ZONE)

    assert journey.welcome is not None
    assert journey.welcome.startswith(f"RollerCare: You're in! First roller session {when}.")


def test_consent_by_sms_sends_the_safety_notice_once_5_s_after_the_yes(
    stack: Stack, journey: Journey
) -> None:
    sent, answered = journey.yes_between
    after = SAFETY_NOTICE_AFTER.total_seconds()

    steps = [step_of(message["params"]["Body"]) for message in stack.sent_to(ALICE)]
    assert steps.count("safety_notice") == 1
    assert sent + after - 0.1 <= journey.arrived_at["safety_notice"]
    assert journey.arrived_at["safety_notice"] <= answered + after + LATENESS_SECONDS


def test_each_prep_sms_and_the_roll_arrive_at_their_time(journey: Journey) -> None:
    lateness = {
        step: journey.arrived_at[step] - (journey.session_at.timestamp() + offset)
        for step, offset in OFFSETS_SECONDS.items()
    }

    for step, seconds in lateness.items():
        assert -0.1 <= seconds <= LATENESS_SECONDS, f"{step} arrived {seconds:+.2f} s off"


def test_done_plans_the_next_session_cadence_days_later(journey: Journey) -> None:
    next_at = journey.session_at + timedelta(days=14)  # Kathmandu has no DST

    assert journey.done_reply == (
        f"RollerCare: Well done! Next roller session {format_when(next_at, ZONE)}."
    )
    assert datetime.fromisoformat(journey.alice_after_done["next_session_at"]) == next_at


def test_the_next_session_has_its_sms_scheduled(journey: Journey) -> None:
    [session] = journey.schedule_after_done["sessions"]

    assert (
        session["date"]
        == (journey.session_at.astimezone(ZONE) + timedelta(days=14)).date().isoformat()
    )
    assert [(r["step"], r["status"]) for r in session["reminders"]] == [
        ("makeup_removal", "scheduled"),
        ("peeling", "scheduled"),
        ("roll", "scheduled"),
    ]


def test_stop_before_the_session_ends_every_send(journey: Journey) -> None:
    # His YES planned the safety notice 5 s later; his STOP came first and cancelled it too.
    assert journey.bob_stop_reply is not None and "unsubscribed" in journey.bob_stop_reply
    assert [step_of(body) for body in journey.sent_to_bob] == ["consent_request"]


def test_a_delivery_status_callback_updates_the_message(stack: Stack, journey: Journey) -> None:
    response = stack.webhooks.status(journey.roll_sid, "delivered")

    assert response.status_code == 200
    history = stack.get(f"/v1/users/{journey.alice_id}/history")
    assert [m["status"] for m in history["messages"] if m["step"] == "roll"] == ["delivered"]


def test_stop_after_a_session_cancels_the_next_one(stack: Stack) -> None:
    carol = stack.enroll(CAROL, datetime.now(UTC) + timedelta(hours=3))
    stack.wait_for_consent_question(CAROL)
    stack.webhooks.text(CAROL, "YES")

    reply = stack.webhooks.text(CAROL, "please stop texting me")

    assert reply is not None and "no more messages" in reply
    user = stack.user(carol["id"])
    assert (user["status"], user["next_session_at"]) == ("opted_out", None)
    assert stack.get(f"/v1/users/{carol['id']}/schedule")["sessions"] == []


def test_a_forged_or_missing_signature_is_refused_and_changes_nothing(stack: Stack) -> None:
    dave = stack.enroll(DAVE, datetime.now(UTC) + timedelta(hours=3))
    stack.wait_for_consent_question(DAVE)
    params = stack.webhooks.inbound_params(DAVE, "YES")

    forged = stack.webhooks.post(INBOUND_PATH, params, signature="Zm9yZ2VkIHNpZ25hdHVyZQ==")
    unsigned = stack.webhooks.post(INBOUND_PATH, params, signature=None)

    assert (forged.status_code, unsigned.status_code) == (403, 403)
    assert stack.user(dave["id"])["status"] == "pending"


def test_the_service_stops_cleanly_on_sigterm(stack: Stack, journey: Journey) -> None:
    assert stack.service.stop() == 0
