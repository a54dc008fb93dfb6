"""Every admin endpoint and /metrics need the bearer token; the health checks do not."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.e2e.conftest import TOKEN

PROTECTED = [
    ("POST", "/v1/users", {"phone": "+14155550123"}),
    ("GET", "/v1/users", None),
    ("GET", "/v1/users/1", None),
    ("PATCH", "/v1/users/1", {"status": "paused"}),
    ("DELETE", "/v1/users/1", None),
    ("GET", "/v1/users/1/schedule", None),
    ("GET", "/v1/users/1/history", None),
    ("GET", "/v1/stats", None),
    ("GET", "/metrics", None),
]


def _call(client: TestClient, method: str, path: str, body: Any, **headers: str) -> Any:
    return client.request(method, path, json=body, headers=headers)


@pytest.mark.parametrize(("method", "path", "body"), PROTECTED)
def test_refuses_a_request_without_a_token(
    anonymous: TestClient, method: str, path: str, body: Any
) -> None:
    response = _call(anonymous, method, path, body)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert "bearer token" in response.json()["error"]


@pytest.mark.parametrize(("method", "path", "body"), PROTECTED)
def test_refuses_a_wrong_token(anonymous: TestClient, method: str, path: str, body: Any) -> None:
    response = _call(anonymous, method, path, body, Authorization="Bearer not-the-token")

    assert response.status_code == 401


def test_refuses_the_token_in_another_scheme(anonymous: TestClient) -> None:
    response = anonymous.get("/v1/users", headers={"Authorization": f"Basic {TOKEN}"})

    assert response.status_code == 401


def test_refuses_a_token_that_only_starts_like_the_right_one(anonymous: TestClient) -> None:
    response = anonymous.get("/v1/users", headers={"Authorization": f"Bearer {TOKEN}x"})

    assert response.status_code == 401


def test_refuses_before_looking_at_the_body(anonymous: TestClient) -> None:
    response = anonymous.post("/v1/users", json={"phone": 12})

    assert response.status_code == 401


def test_refused_request_changes_nothing(anonymous: TestClient, client: TestClient) -> None:
    anonymous.post("/v1/users", json={"phone": "+14155550123"})

    assert client.get("/v1/users").json()["items"] == []


def test_accepts_the_right_token(anonymous: TestClient) -> None:
    response = anonymous.get("/v1/users", headers={"Authorization": f"Bearer {TOKEN}"})

    assert response.status_code == 200


@pytest.mark.parametrize("path", ["/healthz", "/openapi.json"])
def test_answers_without_a_token(anonymous: TestClient, path: str) -> None:
    assert anonymous.get(path).status_code == 200


def test_refused_request_logs_neither_given_nor_expected_token(
    anonymous: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)

    anonymous.get("/v1/users", headers={"Authorization": "Bearer guessed-token-123"})

    assert "admin request refused" in caplog.text
    assert "guessed-token-123" not in caplog.text
    assert TOKEN not in caplog.text


def test_openapi_declares_bearer_auth_on_every_admin_operation(anonymous: TestClient) -> None:
    spec = anonymous.get("/openapi.json").json()

    operations = [
        (path, operation)
        for path, item in spec["paths"].items()
        if path.startswith("/v1") or path == "/metrics"
        for operation in item.values()
    ]

    assert spec["components"]["securitySchemes"]["adminToken"]["scheme"] == "bearer"
    assert operations
    assert all({"adminToken": []} in op["security"] for _, op in operations)


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_no_interactive_docs_are_served(anonymous: TestClient, path: str) -> None:
    assert anonymous.get(path).status_code == 404


def test_the_openapi_contract_is_published_without_a_token(anonymous: TestClient) -> None:
    assert anonymous.get("/openapi.json").status_code == 200
