"""The admin API under /v1 and the Prometheus metrics, behind the operator's bearer token."""

from __future__ import annotations

import hmac
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.datastructures import Headers

from reminders.bootstrap import Container
from reminders.domain.errors import Conflict
from reminders.domain.model import UserStatus
from reminders.entrypoints.errors import error_body
from reminders.entrypoints.limits import Gate, Refusal
from reminders.entrypoints.phones import phone_and_zone
from reminders.entrypoints.schemas import (
    MAX_PAGE,
    MAX_SCHEDULE_SESSIONS,
    PLAIN_WHOLE_NUMBER,
    EnrollRequest,
    ErrorBody,
    HistoryOut,
    ScheduleOut,
    StatsOut,
    UserDetailOut,
    UserOut,
    UserPage,
    UserPatch,
    history_out,
    schedule_out,
    stats_out,
    user_detail_out,
    user_out,
)
from reminders.services.operations import MAX_USER_ID

logger = logging.getLogger(__name__)

DESCRIPTION = """\
Operators enrol users, follow their routine and erase them here; users only ever see SMS.

**Authentication.** Every endpoint except `/healthz` and `/readyz` needs
`Authorization: Bearer <REMINDERS_ADMIN_TOKEN>`; `/metrics` too (in Prometheus, set
`authorization: {type: Bearer, credentials: ...}` on the scrape job). When the setting is
not given, the service generates a token at start and logs it once.

**Errors** always answer `{"error": ..., "field": ..., "errors": [{"field", "message"}]}`; each
message names the field and what is accepted. 401: missing or wrong token. 404: no such user
(erased users are gone). 409: the phone number is enrolled already, or a status change the
operator may not make (consent is the user's to give). 422: a value that is not accepted;
nothing is changed.

**Time.** Every instant of a user carries that user's UTC offset; dates are their local
dates.

**Privacy.** Responses show full phone numbers to the operator; logs never do, and message
bodies are never shown. `DELETE /v1/users/{id}` erases the number and every message body.
"""

_USER_ID = Path(alias="id", ge=1, le=MAX_USER_ID, description="The user's id.", examples=[1])
# The validator after the Path: placed before it, FastAPI would describe the bounds as "ge"
# and "le" instead of JSON Schema's "minimum" and "maximum".
UserId = Annotated[int, _USER_ID, PLAIN_WHOLE_NUMBER]
_STRING = {"schema": {"type": "string"}}


def _responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    described = {
        400: "The body could not be read (not UTF-8 text).",
        401: "Missing or wrong bearer token.",
        404: "No such user.",
        409: "Conflicts with the user's state.",
        422: "A value that is not accepted; the message names the field.",
    }
    return {code: {"model": ErrorBody, "description": described[code]} for code in codes}


def _only_query(*names: str) -> Any:
    """Refuse query parameters the operation does not take, and any given twice: a typo such
    as `?stauts=paused` would otherwise quietly answer for every user."""
    accepted = list(names)

    def check(request: Request) -> None:
        given = request.query_params
        problems = [
            {"type": "extra_forbidden", "loc": ("query", name), "ctx": {"accepted": accepted}}
            for name in dict.fromkeys(given.keys())
            if name not in accepted
        ]
        problems += [
            {"type": "repeated", "loc": ("query", name), "msg": "Input is given more than once"}
            for name in accepted
            if len(given.getlist(name)) > 1
        ]
        if problems:
            raise RequestValidationError(problems)

    return Depends(check)


_ENROLL_EXAMPLES = {
    "minimal": {
        "summary": "A US number: the zone comes from the number; consent asked by SMS",
        "value": {"phone": "+14155550123"},
    },
    "confirmed": {
        "summary": "Consent already held, first session chosen",
        "value": {
            "phone": "+447400123456",
            "timezone": "Europe/London",
            "session_time": "19:30",
            "cadence_days": 14,
            "first_session_date": "2026-03-12",
            "consent": "confirmed",
        },
    },
}


# Module-level: the route signatures below are read from their (string) annotations, which
# can only name module globals.
_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="adminToken",
    description="REMINDERS_ADMIN_TOKEN, as `Authorization: Bearer <token>`.",
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


MAX_BODY_BYTES = 64 * 1024  # the largest admin JSON body is a few hundred bytes
_TOKEN_REQUIRED = "a valid bearer token is required: Authorization: Bearer <REMINDERS_ADMIN_TOKEN>"
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def _token_matches(authorization: str | None, expected: bytes) -> bool:
    scheme, _, given = (authorization or "").partition(" ")
    # compare_digest: how long the comparison takes tells nothing about the token.
    matches = hmac.compare_digest(given.strip().encode(), expected)
    return scheme.lower() == "bearer" and matches


def _refused(path: str) -> None:
    logger.warning("admin request refused: missing or wrong bearer token", extra={"path": path})


def token_gate(container: Container) -> Gate:
    """The admin token, checked on the headers before any body is read (see limits.py)."""
    expected = container.admin_token.encode()

    def gate(headers: Headers, path: str) -> Refusal | None:
        if _token_matches(headers.get("authorization"), expected):
            return None
        _refused(path)
        return Refusal(401, _TOKEN_REQUIRED, tuple(_CHALLENGE.items()))

    return gate


def build_router(container: Container) -> APIRouter:
    expected = container.admin_token.encode()

    def require_token(request: Request, _credentials: Credentials) -> None:
        # token_gate has refused a wrong token already; this keeps the routes safe on their
        # own, and _credentials declares the scheme in the OpenAPI description.
        if not _token_matches(request.headers.get("authorization"), expected):
            _refused(request.url.path)
            raise HTTPException(401, detail=_TOKEN_REQUIRED, headers=_CHALLENGE)

    router = APIRouter(dependencies=[Depends(require_token)], responses=_responses(401))
    users = APIRouter(prefix="/v1", tags=["users"])

    @users.post(
        "/users",
        summary="Enrol a user",
        response_description="The enrolled user.",
        dependencies=[_only_query()],
        status_code=201,
        response_model=UserOut,
        responses={
            201: {"headers": {"Location": {"description": "The user's URL.", **_STRING}}},
            **_responses(400, 409, 422),
        },
    )
    def enroll(
        body: Annotated[EnrollRequest, Body(openapi_examples=_ENROLL_EXAMPLES)],
        response: Response,
    ) -> UserOut | JSONResponse:
        """Enrol a user: 201 with the user; 409 when the number is enrolled."""
        phone, zone = phone_and_zone(body.phone, container.settings.default_region, body.timezone)
        try:
            view = container.operations.enroll(
                phone=phone,
                timezone=zone,
                session_time=body.session_time,
                cadence_days=body.cadence_days,
                first_session_date=body.first_session_date,
                consent_confirmed=body.consent == "confirmed",
            )
        except Conflict as exc:
            return JSONResponse(error_body(str(exc), "phone"), status_code=409)
        response.headers["Location"] = f"/v1/users/{view.user.id}"
        return user_out(view.user, view.next_session)

    @users.get(
        "/users",
        summary="List users",
        response_description="A page of users.",
        dependencies=[_only_query("status", "limit", "cursor")],
        response_model=UserPage,
        responses=_responses(422),
    )
    def list_users(
        status: Annotated[
            UserStatus | None, Query(description="Only users with this status.")
        ] = None,
        limit: Annotated[
            int, Query(ge=1, le=MAX_PAGE, description="Page size."), PLAIN_WHOLE_NUMBER
        ] = 50,
        cursor: Annotated[
            str | None,
            Query(max_length=64, description="`next_cursor` of the previous page."),
        ] = None,
    ) -> UserPage:
        """Users by id, a page at a time: follow `next_cursor` until it is null."""
        page = container.operations.list_users(status=status, limit=limit, cursor=cursor)
        return UserPage(
            items=[user_out(v.user, v.next_session) for v in page.users],
            next_cursor=page.next_cursor,
        )

    @users.get(
        "/users/{id}",
        summary="Show a user",
        response_description="The user.",
        dependencies=[_only_query()],
        response_model=UserDetailOut,
        responses=_responses(404, 422),
    )
    def show_user(user_id: UserId) -> UserDetailOut:
        """One user, with the start of their next session, why they are paused (when they
        are) and their adherence: sessions done, skipped and unconfirmed, and the streak."""
        detail = container.operations.show(user_id)
        return user_detail_out(detail.user, detail.next_session, detail.adherence)

    @users.patch(
        "/users/{id}",
        summary="Change a user's schedule or pause and resume",
        response_description="The user as changed.",
        dependencies=[_only_query()],
        response_model=UserOut,
        responses=_responses(400, 404, 409, 422),
    )
    def update_user(user_id: UserId, changes: UserPatch) -> UserOut:
        """Change the schedule or pause and resume, by the same rules as the SMS commands
        TIME, EVERY, PAUSE and RESUME. Either every change is made or none."""
        view = container.operations.change(
            user_id,
            session_time=changes.session_time,
            cadence_days=changes.cadence_days,
            timezone=changes.timezone,
            status=UserStatus(changes.status) if changes.status else None,
        )
        return user_out(view.user, view.next_session)

    @users.delete(
        "/users/{id}",
        summary="Erase a user",
        dependencies=[_only_query()],
        status_code=204,
        response_class=Response,
        responses={204: {"description": "Erased."}, **_responses(404, 422)},
    )
    def delete_user(user_id: UserId) -> Response:
        """Erase a user: reminders cancelled, phone number and message bodies deleted. The
        number can be enrolled again afterwards. Anonymous session outcomes stay for stats."""
        container.operations.delete(user_id)
        return Response(status_code=204)

    @users.get(
        "/users/{id}/schedule",
        summary="A user's next sessions and their SMS",
        response_description="The upcoming session, then projected ones.",
        dependencies=[_only_query("sessions")],
        response_model=ScheduleOut,
        responses=_responses(404, 422),
    )
    def user_schedule(
        user_id: UserId,
        sessions: Annotated[
            int,
            Query(ge=1, le=MAX_SCHEDULE_SESSIONS, description="How many sessions."),
            PLAIN_WHOLE_NUMBER,
        ] = 3,
    ) -> ScheduleOut:
        """The next sessions and their SMS: the upcoming one as planned, later ones
        projected by the cadence (status `projected`)."""
        user, planned = container.operations.schedule(user_id, sessions)
        return schedule_out(user, planned)

    @users.get(
        "/users/{id}/history",
        summary="A user's past sessions and SMS",
        response_description="Ended sessions and messages, newest first.",
        dependencies=[_only_query()],
        response_model=HistoryOut,
        responses=_responses(404, 422),
    )
    def user_history(user_id: UserId) -> HistoryOut:
        """Ended sessions with their outcomes (newest 100) and SMS in and out (newest 200)."""
        user, history = container.operations.history(user_id)
        return history_out(user, history)

    @users.get(
        "/stats",
        summary="Counts by status and adherence",
        response_description="The service's figures.",
        dependencies=[_only_query()],
        response_model=StatsOut,
        responses=_responses(422),
        tags=["stats"],
    )
    def stats() -> StatsOut:
        """Users, sessions, reminders and SMS by status, paused users by reason, check-ins by
        answer, and adherence."""
        return stats_out(container.operations.stats())

    @router.get(
        "/metrics",
        summary="Prometheus metrics",
        dependencies=[_only_query()],
        response_class=Response,
        tags=["health"],
        responses={
            200: {
                "description": "Prometheus text exposition format.",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            },
            **_responses(422),
        },
    )
    def metrics() -> Response:
        """Prometheus metrics (bearer token required): SMS by step and outcome, dispatch lag,
        due backlog, inbound SMS by keyword, skin reactions reported, check-in answers, users by
        status."""
        return Response(container.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    router.include_router(users)
    return router
