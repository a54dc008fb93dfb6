"""Hypothesis against the admin API, beyond what its OpenAPI description lets schemathesis
generate: bodies with huge integers, floats and strings for integers, nested objects, numbers
in other scripts, zones under right/ and posix/, datetimes for dates, and ids and query
parameters such as '1_0', '1.0', '+1', ' 1' and '١'. No answer may be a 5xx, every 4xx has
the one error shape, and after every request the stored state still obeys every rule
(tests/e2e/state_checks.py).

Runs are derandomized, so CI sees the same requests each time; on SQLite and PostgreSQL,
whose integer columns are where out-of-range numbers used to surface as 500s."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from reminders.bootstrap import Container
from reminders.services.operations import encode_cursor
from tests.conftest import DATABASES, both_databases
from tests.e2e.state_checks import check_stored_state, error_shape, fuzz_settings, pass_time
from tests.fakes import FakeClock, FakeSmsSender


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest) -> str:
    return both_databases(request)


EXAMPLES = 300  # per database: the module stays under 30 s
LONG_DIGITS = "9" * 5000
BIG = [2**31, 2**31 - 1, -(2**31) - 1, 2**63, 2**63 - 1, -(2**63) - 1, 10**30, 10**400]

# A handful of numbers, so that enrolments meet enrolled numbers (409) and erased ones.
PHONES = [f"+1415555{n:04d}" for n in range(120, 126)] + ["+447400123456", "+61255501234"]
ZONES = ["America/New_York", "Europe/London", "Australia/Lord_Howe", "Asia/Kathmandu", "UTC"]
HOSTILE_ZONES = ["right/UTC", "posix/Europe/London", "right/America/New_York", "posix/UTC"]
HOSTILE_ZONES += ["localtime", "Factory", "EST", "Etc/GMT+2", "Europe/London\x00", "/etc/passwd"]
HOSTILE_ZONES += ["../../../etc/passwd", "europe/london", "Europe/London ", "America/New_York/x"]


def _json_values() -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.sampled_from(BIG),
        st.floats(),
        st.text(max_size=30),
    )
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
        max_leaves=6,
    )


anything = _json_values()


def mostly(valid: list[Any], hostile: list[Any]) -> st.SearchStrategy[Any]:
    """Half the time a valid value, else a hostile one or any JSON value at all."""
    return st.one_of(
        st.sampled_from(valid), st.sampled_from(valid), st.sampled_from(hostile), anything
    )


ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
phones = mostly(
    PHONES,
    [
        PHONES[0].translate(ARABIC_INDIC),
        "+" + LONG_DIGITS,
        "4155550120",
        "+1 415 555 0120",
        "+1²",
        14155550120,
    ],
)
zones = mostly(ZONES, HOSTILE_ZONES)
session_times = mostly(
    ["19:30", "20:00", "09:00", "9:30", "12:00"],
    ["١٢:٣٠", "１９:３０", "19:30:00", "²0:00", "19:3", "24:00", "22:30", "19:30\n", "T19:30"]
    + [" 19:30", "19:" + LONG_DIGITS, 1930, 19.5],
)
cadences = mostly(
    [7, 14, 21, 28],
    [0, 6, 29, -14, *BIG, 14.0, 14.5, "14", "١٤", True, "1_4", LONG_DIGITS],
)
dates = mostly(
    ["2026-03-05", "2026-03-20", "2026-12-25", "2027-02-28"],
    ["2026-12-25T00:00:00", "2026-12-25T00:00:00Z", "2026-12-25 00:00", "1767225600"]
    + [1767225600, "20261225", "2026-W52-5", "+2026-12-25", "٢٠٢٦-١٢-٢٥", "2026-02-30"]
    + ["0000-01-01", "9999-12-31", "2026-12-25\n", "2026-3-5"],
)
consents = mostly(["pending", "confirmed"], ["Confirmed", "yes", ""])
statuses = mostly(["active", "paused"], ["opted_out", "pending", "invalid", "Paused", ""])

enrolments = st.fixed_dictionaries(
    {"phone": phones},
    optional={
        "timezone": zones,
        "session_time": session_times,
        "cadence_days": cadences,
        "first_session_date": dates,
        "consent": consents,
    },
)
patches = st.fixed_dictionaries(
    {},
    optional={
        "session_time": session_times,
        "cadence_days": cadences,
        "timezone": zones,
        "status": statuses,
    },
)
not_objects = st.one_of(
    anything.map(lambda value: json.dumps(value, allow_nan=True).encode()),
    st.dictionaries(st.text(max_size=12), anything, min_size=1).map(
        lambda value: json.dumps(value, allow_nan=True).encode()
    ),
    st.sampled_from([b"", b"{", b"\xff\xfe", b"null", b"[]", b"{}", b'{"phone": NaN}']),
    st.just(b'{"phone": "' + b"1" * 70_000 + b'"}'),  # over the body limit: 413
    st.binary(max_size=40),
)

HOSTILE_NUMBERS = ["1_0", "1.0", "+1", " 1", "1 ", "١", "²", "１", "0", "-1", "01", "1e1"]
HOSTILE_NUMBERS += ["0x1", "2147483648", "9223372036854775807", "9223372036854775808"]
HOSTILE_NUMBERS += [LONG_DIGITS, "", "NaN", "1/2", "%00"]
ids = st.one_of(
    st.integers(1, 8).map(str),
    st.integers(1, 8).map(str),
    st.sampled_from(HOSTILE_NUMBERS),
    st.integers(-(2**70), 2**70).map(str),
    st.text(max_size=12),
)
counts = st.one_of(
    st.integers(1, 30).map(str),
    st.integers(1, 30).map(str),
    st.sampled_from(HOSTILE_NUMBERS),
    st.sampled_from(BIG).map(str),
    st.integers().map(str),
    st.text(max_size=12),
)
cursors = st.one_of(
    st.integers(0, 10).map(encode_cursor),
    st.sampled_from(
        [encode_cursor(2**31), encode_cursor(2**63), encode_cursor(10**30), encode_cursor(-1)]
    ),
    st.sampled_from(["", "=", "====", "%%%", "\x00", "a" * 65, "dXNlcjox"]),
    st.text(max_size=70),
)
QUERIES = {
    "/v1/users": st.fixed_dictionaries(
        {},
        optional={
            "limit": counts,
            "cursor": cursors,
            "status": mostly(["active", "paused", "pending"], ["Active", "", "erased"]).map(str),
        },
    ),
    "/v1/users/{id}/schedule": st.fixed_dictionaries({}, optional={"sessions": counts}),
}
junk_queries = st.dictionaries(
    st.sampled_from(["limit", "sessions", "stauts", "id", ""]), st.text(max_size=8), max_size=2
)
OPERATIONS = [
    ("POST", "/v1/users"),
    ("GET", "/v1/users"),
    ("GET", "/v1/users/{id}"),
    ("PATCH", "/v1/users/{id}"),
    ("DELETE", "/v1/users/{id}"),
    ("GET", "/v1/users/{id}/schedule"),
    ("GET", "/v1/users/{id}/history"),
]


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, str, dict[str, str], bytes | None]:
    """(method, path, query, body) of one admin request."""
    method, template = draw(st.sampled_from(OPERATIONS))
    path = template.replace("{id}", quote(draw(ids), safe=""))
    query = draw(QUERIES.get(template, st.just({})))
    if draw(st.integers(0, 9)) == 0:
        query = draw(junk_queries)
    content = None
    if method in ("POST", "PATCH"):
        fitting = enrolments if method == "POST" else patches
        # allow_nan: NaN and Infinity, which are not JSON, are among what a client may send.
        body = fitting.map(lambda value: json.dumps(value, allow_nan=True).encode())
        content = draw(st.one_of(body, body, body, not_objects))
    return method, path, query, content


@pytest.fixture
def seeded(client: TestClient, container: Container) -> TestClient:
    """Users 1 to 3: active, pending and paused."""
    for phone, consent in zip(PHONES[:3], ["confirmed", "pending", "confirmed"], strict=True):
        response = client.post("/v1/users", json={"phone": phone, "consent": consent})
        assert response.status_code == 201, response.text
    assert client.patch("/v1/users/3", json={"status": "paused"}).status_code == 200
    container.dispatch_due()
    return client


@fuzz_settings(EXAMPLES)
@given(call=requests(), wait=st.sampled_from([None] * 4 + [timedelta(hours=6)]))
def test_admin_api_never_fails_and_always_says_what_is_wrong(
    seeded: TestClient,
    container: Container,
    clock: FakeClock,
    sender: FakeSmsSender,
    call: tuple[str, str, dict[str, str], bytes | None],
    wait: timedelta | None,
) -> None:
    pass_time(container, clock, sender, wait)
    method, path, query, content = call

    response = seeded.request(
        method,
        path,
        params=query,
        content=content,
        headers={"Content-Type": "application/json"} if content is not None else {},
    )

    assert response.status_code < 500, (call, response.text)
    if response.status_code >= 400:
        assert error_shape(response.json()), (method, path, response.text)
    check_stored_state(container)
