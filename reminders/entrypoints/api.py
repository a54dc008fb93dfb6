"""The HTTP application: health checks, the admin API and the Twilio webhooks, behind the
request limits."""

from __future__ import annotations

import logging
from datetime import timedelta

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from reminders.bootstrap import Container
from reminders.domain.errors import Conflict, InvalidInput, NotFound, ReminderError
from reminders.entrypoints import admin, errors, webhooks
from reminders.entrypoints.limits import RequestLimits, Route
from reminders.ports import ConcurrentUpdate, DatabaseUnavailable

logger = logging.getLogger(__name__)

_READY = {"status": "ok"}
_NOT_READY = {"status": "unavailable", "problems": ["scheduler not running"]}


def create_app(container: Container) -> FastAPI:
    # /openapi.json is the published contract and holds no data, so it stays open; the
    # interactive /docs and /redoc pages (scripts from a CDN) are not served.
    app = FastAPI(
        title="Roller reminders",
        version="0.1.0",
        description=admin.DESCRIPTION,
        docs_url=None,
        redoc_url=None,
    )
    app.state.container = container
    stale_after = timedelta(seconds=max(30.0, container.settings.dispatch_interval_seconds * 10))

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["health"],
        responses={
            200: {"description": "Ready.", "content": {"application/json": {"example": _READY}}},
            503: {
                "description": "Not ready: the problems are listed.",
                "content": {"application/json": {"example": _NOT_READY}},
            },
        },
    )
    def readyz() -> JSONResponse:
        """Readiness: the database answers and the dispatcher ran recently."""
        problems = []
        try:
            with container.uow(read_only=True) as uow:
                uow.ping()
        except Exception:
            logger.warning("readiness: database unreachable", exc_info=True)
            problems.append("database unreachable")
        age = container.heartbeat_age()
        if age is None or age > stale_after:
            problems.append("scheduler not running")
        if problems:
            return JSONResponse({"status": "unavailable", "problems": problems}, status_code=503)
        return JSONResponse({"status": "ok"})

    @app.exception_handler(ReminderError)
    def domain_error(_request: Request, exc: Exception) -> JSONResponse:
        status = 400
        if isinstance(exc, NotFound):
            status = 404
        elif isinstance(exc, Conflict):
            status = 409
        elif isinstance(exc, InvalidInput):
            status = 422
        body = errors.error_body(str(exc), getattr(exc, "field", None))
        return JSONResponse(body, status_code=status)

    @app.exception_handler(ConcurrentUpdate)
    def busy(_request: Request, _exc: Exception) -> JSONResponse:
        logger.warning("request gave up: the user's data stayed busy")
        body = errors.error_body("the user's data is being changed by other requests; try again")
        return JSONResponse(body, status_code=503, headers={"Retry-After": "1"})

    @app.exception_handler(DatabaseUnavailable)
    def unavailable(_request: Request, exc: Exception) -> JSONResponse:
        logger.warning("request failed: %s", exc)
        body = errors.error_body("the database is unavailable; nothing was changed; try again")
        return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})

    app.add_exception_handler(RequestValidationError, errors.validation_error)
    app.add_exception_handler(HTTPException, errors.http_error)
    # Outermost: nothing is parsed, and no body read, before these limits are checked.
    gate = admin.token_gate(container)
    app.add_middleware(
        RequestLimits,
        routes=[
            Route("/v1/", admin.MAX_BODY_BYTES, gate),
            Route("/metrics", admin.MAX_BODY_BYTES, gate),
            Route("/twilio/", webhooks.MAX_BODY_BYTES, webhooks.signature_gate(container)),
        ],
    )

    app.include_router(admin.build_router(container))
    app.include_router(webhooks.build_router(container))
    return app
