"""Hypothesis against the Twilio webhooks: correctly signed form posts whose parameters are
anything a caller could put there (numbers in other scripts, 5,000-digit strings, NUL, emoji,
words Twilio never sends, keys it never sends). No answer may be a 5xx: a signed request gets
200 and TwiML, one that is not signed 403, a body over the limit 413; and after every request
the stored state still obeys every rule (tests/e2e/state_checks.py).

Runs are derandomized, so CI sees the same requests each time; on SQLite and PostgreSQL (its
int4 and text columns are stricter than SQLite's)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reminders.bootstrap import Container
from reminders.entrypoints.webhooks import MAX_BODY_BYTES
from tests.conftest import DATABASES, both_databases
from tests.e2e.conftest import AUTH
from tests.e2e.state_checks import check_stored_state, fuzz_settings, pass_time
from tests.e2e.webhook_support import PHONE, STRANGER, enroll_user
from tests.fakes import FakeClock, FakeSmsSender
from tests.twilio_webhooks import (
    INBOUND_PATH,
    STATUS_PATH,
    FakeTwilioWebhooks,
    new_sid,
)


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest) -> str:
    return both_databases(request)


PENDING_PHONE = "+14155550124"
PAUSED_PHONE = "+14155550125"
ENROLLED = [PHONE, PENDING_PHONE, PAUSED_PHONE]
EXAMPLES = 120  # per endpoint and database: the module stays well under 30 s

LONG_DIGITS = "9" * 5000
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")

phones = st.one_of(
    st.sampled_from([*ENROLLED, STRANGER]),
    st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True),
    st.sampled_from(
        [
            PHONE.translate(ARABIC_INDIC),
            PHONE.translate(FULLWIDTH),
            PHONE + "\x00",
            f" {PHONE} ",
            "+1 415 555 0123",
            "tel:" + PHONE,
            "whatsapp:" + PHONE,
            "+" + LONG_DIGITS,
            LONG_DIGITS,
            "+1" + "٥" * 5000,
            "+²",
            "",
        ]
    ),
    st.text(max_size=40),
)
KEYWORDS = ["YES", "DONE", "SKIP", "LATER", "NEXT", "PAUSE", "RESUME", "STOP", "START", "HELP"]
KEYWORDS += ["EVERY 7", "EVERY 21", "TIME 19:30", "TIME 9:00", "unstop", "SORE"]
HOSTILE_BODIES = [
    "EVERY " + LONG_DIGITS,
    "EVERY ²",
    "EVERY ١٤",
    "EVERY １４",
    "EVERY -14",
    "EVERY 14.0",
    "EVERY 1_4",
    "EVERY 2147483648",
    "EVERY 99999999999999999999",
    "TIME ١٢:٣٠",
    "TIME ¹⁹:³⁰",
    "TIME 19:30:00",
    "TIME 99:99",
    "TIME " + LONG_DIGITS,
    "TIME 19:" + LONG_DIGITS,
    "LATER " + LONG_DIGITS,
    "\x00",
    "DONE\x00",
    "YES\x00\x00",
    "😀",
    "DONE 😀",
    "²",
    "STOP" * 1000,
    " \t\r\n ",
    "",
]
bodies = st.one_of(
    st.sampled_from(KEYWORDS),
    st.sampled_from(HOSTILE_BODIES),
    st.builds(
        lambda word, tail: f"{word} {tail}",
        st.sampled_from(["EVERY", "TIME", "LATER", "YES", "STOP"]),
        st.text(max_size=40),
    ),
    st.text(max_size=300),
)
HOSTILE_ERROR_CODES = [
    "²",
    "2147483648",
    "-2147483649",
    "9223372036854775808",
    LONG_DIGITS,
    "-" + LONG_DIGITS,
    "-30005",
    " 30005 ",
    "3 0005",
    "30_005",
    "30005.0",
    "1e5",
    "0x7530",
    "٣٠٠٠٥",
    "",
]
error_codes = st.one_of(
    st.sampled_from(["30001", "30003", "30005", "21610", "21211", "21614", "0"]),
    st.sampled_from(HOSTILE_ERROR_CODES),
    st.integers().map(str),
    st.text(max_size=20),
)
STATUS_WORDS = ["queued", "sending", "sent", "delivered", "undelivered", "failed", "read"]
STATUS_WORDS += ["received", "accepted", "canceled", "scheduled", "DELIVERED", " failed "]
message_statuses = st.one_of(st.sampled_from(STATUS_WORDS), st.text(max_size=30))
opt_out_types = st.one_of(
    st.sampled_from(["STOP", "START", "HELP", "stop", " STOP ", "STOPALL", ""]),
    st.text(max_size=20),
)
# ("sent", n): the n-th SMS the service sent (so callbacks reach real messages), else as is.
sids = st.one_of(
    st.tuples(st.just("sent"), st.integers(0, 1000)),
    st.builds(new_sid),
    st.sampled_from(["", "SM", "SM" + "0" * 32, "SM" + "f" * 64, "SM" + "f" * 65, "SM-1"]),
    st.sampled_from(["SM" + "١" * 32, "SM" + "0" * 32 + "\x00", "MM" + "0" * 32]),
    st.text(max_size=70),
)
extra_params = st.dictionaries(st.text(min_size=1, max_size=20), st.text(max_size=60), max_size=3)
# Most requests are signed correctly; the rest either carry no signature or a wrong one.
signings = st.sampled_from(["signed"] * 6 + ["none", "wrong"])
# A few go over the body limit.
paddings = st.sampled_from([0] * 15 + [MAX_BODY_BYTES + 1])
# Between requests time passes and the dispatcher runs, so that later requests meet sessions,
# reminders and messages in other states.
waits = st.sampled_from([None] * 3 + [timedelta(minutes=20), timedelta(hours=5), timedelta(days=1)])


@pytest.fixture
def population(
    container: Container, twilio: FakeTwilioWebhooks, clock: FakeClock, sender: FakeSmsSender
) -> FakeTwilioWebhooks:
    """An active, a pending and a paused user, and the first SMS sent to them."""
    enroll_user(container)
    enroll_user(container, phone=PENDING_PHONE, confirmed=False)
    enroll_user(container, phone=PAUSED_PHONE)
    twilio.text(PAUSED_PHONE, "PAUSE")
    clock.advance(timedelta(hours=10))
    container.dispatch_due()
    assert sender.sent
    return twilio


def _resolve(value: Any, sender: FakeSmsSender) -> str | None:
    if isinstance(value, tuple):
        return sender.sent[value[1] % len(sender.sent)].sid if sender.sent else new_sid()
    return value  # type: ignore[no-any-return]


def _post(
    twilio: FakeTwilioWebhooks, path: str, params: dict[str, str], signing: str, padding: int
) -> None:
    if padding:
        params = {**params, "Padding": "x" * padding}
    if signing == "none":
        response = twilio.post(path, params, signature=None)
    elif signing == "wrong":
        response = twilio.post(path, params, signature="bm90IGEgc2lnbmF0dXJl")
    else:
        response = twilio.post(path, params)

    if padding and signing == "signed":
        assert response.status_code == 413, (response.status_code, response.text)
    elif padding:
        # Refused either way: for the missing or wrong signature, or for the size.
        assert response.status_code in (403, 413), (response.status_code, response.text)
    elif signing != "signed":
        assert response.status_code == 403, (response.status_code, response.text)
    else:
        assert response.status_code == 200, (response.status_code, response.text)
        assert response.headers["content-type"].startswith("application/xml")


def _set_or_drop(params: dict[str, str], values: dict[str, str | None]) -> None:
    for key, value in values.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = value


@fuzz_settings(EXAMPLES)
@given(
    phone=st.one_of(st.none(), phones),
    body=st.one_of(st.none(), bodies),
    sid=st.one_of(st.none(), sids),
    opt_out_type=st.one_of(st.none(), st.none(), opt_out_types),
    extra=extra_params,
    signing=signings,
    padding=paddings,
    wait=waits,
)
def test_inbound_webhook_never_fails_on_any_form(
    population: FakeTwilioWebhooks,
    container: Container,
    clock: FakeClock,
    sender: FakeSmsSender,
    phone: str | None,
    body: str | None,
    sid: Any,
    opt_out_type: str | None,
    extra: dict[str, str],
    signing: str,
    padding: int,
    wait: timedelta | None,
) -> None:
    pass_time(container, clock, sender, wait)
    params = population.inbound_params(PHONE, "")
    params.update(extra)
    _set_or_drop(
        params,
        {
            "From": phone,
            "Body": body,
            "MessageSid": _resolve(sid, sender),
            "OptOutType": opt_out_type,
        },
    )

    _post(population, INBOUND_PATH, params, signing, padding)

    check_stored_state(container)


@fuzz_settings(EXAMPLES)
@given(
    sid=st.one_of(st.none(), sids),
    status=st.one_of(st.none(), message_statuses),
    sms_status=st.one_of(st.none(), message_statuses),
    error_code=st.one_of(st.none(), error_codes),
    extra=extra_params,
    signing=signings,
    padding=paddings,
    wait=waits,
)
def test_status_webhook_never_fails_on_any_form(
    population: FakeTwilioWebhooks,
    container: Container,
    clock: FakeClock,
    sender: FakeSmsSender,
    sid: Any,
    status: str | None,
    sms_status: str | None,
    error_code: str | None,
    extra: dict[str, str],
    signing: str,
    padding: int,
    wait: timedelta | None,
) -> None:
    pass_time(container, clock, sender, wait)
    params = population.status_params("", "sent")
    params.update(extra)
    _set_or_drop(
        params,
        {
            "MessageSid": _resolve(sid, sender),
            "MessageStatus": status,
            "SmsStatus": sms_status,
            "ErrorCode": error_code,
        },
    )

    _post(population, STATUS_PATH, params, signing, padding)

    check_stored_state(container)


def test_hostile_texts_and_callbacks_are_answered_and_leave_every_user_readable(
    population: FakeTwilioWebhooks, container: Container, sender: FakeSmsSender
) -> None:
    for body in HOSTILE_BODIES:
        population.text(PHONE, body)
    for code in HOSTILE_ERROR_CODES:
        for sent in sender.sent:
            params = population.status_params(sent.sid, "failed")
            params["ErrorCode"] = code
            assert population.post(STATUS_PATH, params).status_code == 200

    for user_id in (1, 2, 3):
        for path in ("", "/schedule", "/history"):
            response = population.client.get(f"/v1/users/{user_id}{path}", headers=AUTH)
            assert response.status_code == 200, response.text
    check_stored_state(container)
