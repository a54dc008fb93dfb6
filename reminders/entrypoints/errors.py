"""The one shape of every error body, and the exception handlers that give it.

Every error answers `{"error": message, "field": name or null, "errors": [...]}` (ErrorBody):
the message names the field and what is accepted, whether pydantic (422 on shape) or the
routine's own rules (422 on meaning, 409, 404) found the problem."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from reminders.domain.model import MAX_CADENCE_DAYS, MIN_CADENCE_DAYS, UserStatus
from reminders.entrypoints.schemas import MAX_PAGE, MAX_SCHEDULE_SESSIONS
from reminders.services.operations import MAX_USER_ID


def error_body(message: str, field: str | None = None) -> dict[str, Any]:
    """The JSON of an error about one field (or none)."""
    problems = [{"field": field, "message": message}] if field else []
    return {"error": message, "field": field, "errors": problems}


ACCEPTED: dict[str, str] = {
    "phone": "an E.164 number such as +14155550123, or a national number of the region "
    "REMINDERS_DEFAULT_REGION",
    "timezone": "an IANA time zone name such as 'Europe/Kyiv'",
    "session_time": "a 24-hour time 'HH:MM' such as '20:00'",
    "cadence_days": f"a whole number of days from {MIN_CADENCE_DAYS} to {MAX_CADENCE_DAYS}",
    "first_session_date": "a local date 'YYYY-MM-DD', today or later",
    "consent": "'pending' or 'confirmed'",
    "body.status": "'active' or 'paused'",
    "query.status": "one of " + ", ".join(s.value for s in UserStatus),
    "limit": f"a whole number from 1 to {MAX_PAGE}",
    "cursor": "the next_cursor of the previous page, unchanged",
    "sessions": f"a whole number from 1 to {MAX_SCHEDULE_SESSIONS}",
    "id": f"a user id: a whole number from 1 to {MAX_USER_ID} in digits 0-9",
    "body": "a JSON object",
}
_LOCATIONS = ("body", "query", "path", "header", "cookie")
# Pydantic's own words for these repeat a regular expression or the list of choices.
_SAID_BY_ACCEPTED = frozenset({"string_pattern_mismatch", "literal_error", "enum"})


def _body_fields(request: Request) -> list[str]:
    route = request.scope.get("route")
    body_field = getattr(route, "body_field", None)
    model = getattr(getattr(body_field, "field_info", None), "annotation", None)
    fields = getattr(model, "model_fields", None)
    return list(fields) if isinstance(fields, dict) else []


def _problem(item: Any, request: Request) -> dict[str, str]:
    location = item.get("loc") or ()
    where = str(location[0]) if location and location[0] in _LOCATIONS else "body"
    names = [str(p) for p in location[1:] if not isinstance(p, int)] if location else []
    field = ".".join(names) or ("body" if where == "body" else "(unnamed)")
    accepted = ACCEPTED.get(f"{where}.{field}") or ACCEPTED.get(field) or ACCEPTED["body"]
    kind = item.get("type", "")
    if field == "body":
        known = _body_fields(request)
        message = "the body must be a JSON object"
        if known:
            message += " with the fields " + ", ".join(known)
        if kind == "json_invalid":
            message = "the body is not valid JSON; " + message
    elif kind == "missing":
        message = f"{field} is required; accepted: {accepted}"
    elif kind == "extra_forbidden" and where == "query":
        accepted_names = (item.get("ctx") or {}).get("accepted") or []
        message = f"{field[:40]} is not a query parameter of this operation; accepted: "
        message += ", ".join(accepted_names) if accepted_names else "none"
    elif kind == "repeated":
        message = f"{field} is given more than once; give it once: {accepted}"
    elif kind == "extra_forbidden":
        known = _body_fields(request)
        message = f"{field[:40]} is not a field of this request"
        if known:
            message += "; accepted fields: " + ", ".join(known)
    else:
        value = item.get("input")
        shown = "" if field == "phone" or isinstance(value, (dict, list)) else f" {value!r:.40}"
        if kind in _SAID_BY_ACCEPTED:
            message = f"{field}{shown} is not accepted; accepted: {accepted}"
        else:
            reason = str(item.get("msg", "is not valid"))
            reason = reason[:1].lower() + reason[1:]
            message = f"{field}{shown}: {reason}; accepted: {accepted}"
    return {"field": field, "message": message}


def validation_error(request: Request, exc: Exception) -> JSONResponse:
    """422 for a request that does not fit the models: every problem named, with the rejected
    value when it is short and not a phone number."""
    assert isinstance(exc, RequestValidationError)
    problems = [_problem(item, request) for item in exc.errors()]
    first = problems[0] if problems else {"field": "body", "message": "the request is not valid"}
    return JSONResponse(
        {"error": first["message"], "field": first["field"], "errors": problems},
        status_code=422,
    )


def http_error(_request: Request, exc: Exception) -> JSONResponse:
    """401, 404, 405 and the like in the same shape as every other error."""
    assert isinstance(exc, HTTPException)
    return JSONResponse(
        error_body(str(exc.detail)), status_code=exc.status_code, headers=exc.headers
    )
