"""Property-based run of the OpenAPI description against the app (schemathesis, in process).

For each operation, requests that fit the schema and requests that break it are generated
and sent with the bearer token: no answer may be a 5xx, every answer must match the status
codes, media types, headers and schemas that /openapi.json documents, requests that break the
schema must be refused, and no operation may answer without the token. The Twilio webhooks
are left out: they need a signature over each body (see test_webhooks_*).

Schemathesis' pytest plugin (`from_fixture`) does not run under pytest 9, so Hypothesis drives
each operation's strategy directly. Runs are derandomized: CI sees the same requests each time.
"""

from __future__ import annotations

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from reminders.bootstrap import Container
from reminders.entrypoints.api import create_app
from tests.e2e.conftest import AUTH

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    ignored_auth,
]
OPERATIONS = [
    ("POST", "/v1/users"),
    ("GET", "/v1/users"),
    ("GET", "/v1/users/{id}"),
    ("PATCH", "/v1/users/{id}"),
    ("DELETE", "/v1/users/{id}"),
    ("GET", "/v1/users/{id}/schedule"),
    ("GET", "/v1/users/{id}/history"),
    ("GET", "/v1/stats"),
    ("GET", "/metrics"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
]
WITHOUT_INPUT = {"/healthz", "/readyz"}  # nothing in the request can break their schema
RUNS = [
    pytest.param(method, path, mode, id=f"{method} {path} {mode}")
    for method, path in OPERATIONS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE or path not in WITHOUT_INPUT
]
EXAMPLES_PER_OPERATION = 40


@pytest.fixture
def api_schema(container: Container) -> schemathesis.BaseSchema:
    """The app with users 1 to 3 enrolled (active, pending, paused), so that generated ids
    also reach real users, and a dispatcher heartbeat, so /readyz answers 200."""
    app = create_app(container)
    with TestClient(app, headers=AUTH) as client:
        client.post("/v1/users", json={"phone": "+14155550101", "consent": "confirmed"})
        client.post("/v1/users", json={"phone": "+14155550102"})
        client.post("/v1/users", json={"phone": "+14155550103", "consent": "confirmed"})
        client.patch("/v1/users/3", json={"status": "paused"})
    container.dispatch_due()
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def test_every_operation_but_the_webhooks_is_fuzzed(api_schema: schemathesis.BaseSchema) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]  # type: ignore[union-attr]

    documented = {
        (op.method.upper(), op.path) for op in operations if not op.path.startswith("/twilio/")
    }

    assert documented == set(OPERATIONS)


@pytest.mark.parametrize(("method", "path", "mode"), RUNS)
def test_every_generated_request_gets_a_documented_answer(
    api_schema: schemathesis.BaseSchema, method: str, path: str, mode: GenerationMode
) -> None:
    operation = api_schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def check(case: schemathesis.Case) -> None:  # type: ignore[type-arg]
        case.call_and_validate(headers=AUTH, checks=CHECKS)

    check()
