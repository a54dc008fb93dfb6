"""Twilio webhooks: inbound SMS and status callbacks (signature-checked).

Twilio signs each request over the URL it was configured with and the form parameters. Behind
a TLS-terminating proxy the URL this process sees is not that one, so the signature is checked
against REMINDERS_PUBLIC_URL + path. A request without a valid signature (or any request while
no TWILIO_AUTH_TOKEN is set) gets 403 and changes nothing. A signed request that carries
nothing usable gets 200 and an empty TwiML answer, so Twilio neither retries nor reports an
error to the sender.

The use cases (services/intake.py) apply a webhook, or keep it in the spool while the database
cannot take it, and say what to reply; this module reads the form and writes the answer: TwiML
with the reply, or 503 with Retry-After when neither the database nor the spool could take the
webhook, so that Twilio's retries or fallback URL apply.
"""

from __future__ import annotations

import logging
import re

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from reminders.bootstrap import Container
from reminders.domain.errors import InvalidInput
from reminders.domain.model import PhoneNumber, mask_phone
from reminders.entrypoints import errors
from reminders.entrypoints.limits import Gate, Refusal
from reminders.services.intake import NotKept

logger = logging.getLogger(__name__)

INBOUND_PATH = "/twilio/inbound"
STATUS_PATH = "/twilio/status"
SIGNATURE_HEADER = "X-Twilio-Signature"
MAX_BODY_BYTES = 64 * 1024  # Twilio's SMS webhooks are a few hundred bytes
MAX_FIELDS = 200
_SID = re.compile(r"[A-Za-z0-9]{2,64}")  # fullmatch: '$' would let a final newline in

_TWIML = {"description": "TwiML", "content": {"application/xml": {}}}
_REFUSED = {
    "description": "missing or invalid X-Twilio-Signature",
    "content": {"application/json": {"example": {"error": "invalid Twilio signature"}}},
}
_NOT_KEPT_MESSAGE = "the database is unavailable and the webhook could not be kept; try again"
_NOT_KEPT = {
    "description": "the database is unavailable and the spool could not keep the webhook "
    "either; Retry-After says when to try again",
    "content": {"application/json": {"example": {"error": _NOT_KEPT_MESSAGE}}},
}
RETRY_AFTER_SECONDS = 5


def twiml(reply: str | None) -> Response:
    """A TwiML answer: one <Message> with the reply, or an empty <Response/>."""
    response = MessagingResponse()
    if reply:
        response.message(reply)
    return Response(str(response), media_type="application/xml")


def _not_kept() -> Response:
    return JSONResponse(
        errors.error_body(_NOT_KEPT_MESSAGE),
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def _refused(path: str, reason: str) -> HTTPException:
    logger.warning("twilio webhook refused", extra={"path": path, "reason": reason})
    return HTTPException(status_code=403, detail="invalid Twilio signature")


class _SignatureCheck:
    def __init__(self, auth_token: str | None, public_url: str) -> None:
        self._validator = RequestValidator(auth_token) if auth_token else None
        self._public_url = public_url.rstrip("/")

    async def form(self, request: Request, path: str) -> dict[str, str]:
        """The request's form parameters. Raises a 403 HTTPException unless Twilio signed
        them."""
        if self._validator is None:
            raise _refused(path, "TWILIO_AUTH_TOKEN is not set")
        signature = request.headers.get(SIGNATURE_HEADER)
        if not signature:
            raise _refused(path, "no signature")
        try:
            form = await request.form(max_files=0, max_fields=MAX_FIELDS)
        except (HTTPException, ValueError):
            raise _refused(path, "unreadable form") from None
        url = self._public_url + path
        if request.url.query:
            url += "?" + request.url.query
        if not self._validator.validate(url, form, signature):
            raise _refused(path, "signature does not match")
        return {key: value for key, value in form.items() if isinstance(value, str)}


def signature_gate(container: Container) -> Gate:
    """Refuses, before the body is read (see limits.py), a webhook request that cannot be
    Twilio's: no signature header, or no auth token to check one with."""
    configured = container.settings.twilio_auth_token is not None

    def gate(headers: Headers, path: str) -> Refusal | None:
        if not configured:
            reason = "TWILIO_AUTH_TOKEN is not set"
        elif not headers.get(SIGNATURE_HEADER):
            reason = "no signature"
        else:
            return None
        logger.warning("twilio webhook refused", extra={"path": path, "reason": reason})
        return Refusal(403, "invalid Twilio signature")

    return gate


def build_router(container: Container) -> APIRouter:
    router = APIRouter(tags=["twilio"])
    token = container.settings.twilio_auth_token
    check = _SignatureCheck(
        token.get_secret_value() if token is not None else None, container.settings.public_url
    )
    if token is None:
        logger.info("TWILIO_AUTH_TOKEN is not set: the Twilio webhooks answer every request 403")

    def inbound_reply(params: dict[str, str]) -> str | None:
        sid = params.get("MessageSid", "")
        sender = params.get("From", "").strip()
        if not _SID.fullmatch(sid) or not sender:
            logger.warning("inbound SMS without a MessageSid or From ignored")
            return None
        try:
            phone = PhoneNumber(sender)
        except InvalidInput:
            logger.warning(
                "inbound SMS from a non-phone sender ignored", extra={"from": mask_phone(sender)}
            )
            return None
        answer = container.intake.inbound_sms(
            phone,
            # PostgreSQL text cannot hold NUL, and no keyword needs one.
            params.get("Body", "").replace("\x00", ""),
            sid,
            opt_out_type=params.get("OptOutType") or None,
        )
        return answer.reply

    def status_update(params: dict[str, str]) -> None:
        sid = params.get("MessageSid", "")
        status = params.get("MessageStatus") or params.get("SmsStatus") or ""
        if not _SID.fullmatch(sid) or not status:
            logger.warning("status callback without a MessageSid or MessageStatus ignored")
            return
        container.intake.status_callback(sid, status, params.get("ErrorCode") or None)

    @router.post(
        INBOUND_PATH,
        response_class=Response,
        responses={200: _TWIML, 403: _REFUSED, 503: _NOT_KEPT},
        summary="Twilio inbound SMS webhook",
    )
    async def inbound(request: Request) -> Response:
        """An SMS from a user: applied once per MessageSid (kept and applied later while the
        database is unavailable), answered with TwiML."""
        params = await check.form(request, INBOUND_PATH)
        try:
            return twiml(await run_in_threadpool(inbound_reply, params))
        except NotKept:
            return _not_kept()

    @router.post(
        STATUS_PATH,
        response_class=Response,
        responses={200: _TWIML, 403: _REFUSED, 503: _NOT_KEPT},
        summary="Twilio message status callback",
    )
    async def status(request: Request) -> Response:
        """A delivery status for a message we sent (kept and applied later while the
        database is unavailable); unknown messages get 200 too."""
        params = await check.form(request, STATUS_PATH)
        try:
            await run_in_threadpool(status_update, params)
        except NotKept:
            return _not_kept()
        return twiml(None)

    return router
