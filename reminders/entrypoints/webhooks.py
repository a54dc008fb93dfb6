"""Twilio webhooks: inbound SMS and status callbacks (signature-checked).

Twilio signs each request over the URL it was configured with and the form parameters. Behind
a TLS-terminating proxy the URL this process sees is not that one, so the signature is checked
against REMINDERS_PUBLIC_URL + path. A request without a valid signature (or any request while
no TWILIO_AUTH_TOKEN is set) gets 403 and changes nothing. A signed request that carries
nothing usable gets 200 and an empty TwiML answer, so Twilio neither retries nor reports an
error to the sender.
"""

from __future__ import annotations

import logging
import re

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from reminders.bootstrap import Container
from reminders.domain.errors import InvalidInput
from reminders.domain.model import PhoneNumber, mask_phone, parse_whole_number
from reminders.entrypoints.limits import Gate, Refusal
from reminders.services.conversation import handle_inbound
from reminders.services.delivery import record_status
from reminders.services.transaction import in_transaction

logger = logging.getLogger(__name__)

INBOUND_PATH = "/twilio/inbound"
STATUS_PATH = "/twilio/status"
SIGNATURE_HEADER = "X-Twilio-Signature"
MAX_BODY_BYTES = 64 * 1024  # Twilio's SMS webhooks are a few hundred bytes
MAX_FIELDS = 200
_SID = re.compile(r"^[A-Za-z0-9]{2,64}$")

_TWIML = {"description": "TwiML", "content": {"application/xml": {}}}
_REFUSED = {
    "description": "missing or invalid X-Twilio-Signature",
    "content": {"application/json": {"example": {"error": "invalid Twilio signature"}}},
}


def twiml(reply: str | None) -> Response:
    """A TwiML answer: one <Message> with the reply, or an empty <Response/>."""
    response = MessagingResponse()
    if reply:
        response.message(reply)
    return Response(str(response), media_type="application/xml")


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
        if not _SID.match(sid) or not sender:
            logger.warning("inbound SMS without a MessageSid or From ignored")
            return None
        try:
            phone = PhoneNumber(sender)
        except InvalidInput:
            logger.warning(
                "inbound SMS from a non-phone sender ignored", extra={"from": mask_phone(sender)}
            )
            return None
        now = container.clock.now()
        result = in_transaction(
            container.uow,
            lambda uow: handle_inbound(
                uow,
                container.policy,
                now,
                phone=phone,
                # PostgreSQL text cannot hold NUL, and no keyword needs one.
                body=params.get("Body", "").replace("\x00", ""),
                message_sid=sid,
                opt_out_type=params.get("OptOutType") or None,
            ),
        )
        if not result.duplicate:
            container.metrics.inbound(result.keyword.value)
        return result.reply

    def status_update(params: dict[str, str]) -> None:
        sid = params.get("MessageSid", "")
        status = params.get("MessageStatus") or params.get("SmsStatus") or ""
        if not _SID.match(sid) or not status:
            logger.warning("status callback without a MessageSid or MessageStatus ignored")
            return
        # Twilio's error codes are five digits; anything else is not one of them.
        code = parse_whole_number(params.get("ErrorCode", "").strip(), max_digits=9)
        now = container.clock.now()
        result = in_transaction(
            container.uow,
            lambda uow: record_status(uow, now, message_sid=sid, status=status, error_code=code),
        )
        logger.debug(
            "status callback handled", extra={"twilio_sid": sid, "outcome": result.outcome.value}
        )

    @router.post(
        INBOUND_PATH,
        response_class=Response,
        responses={200: _TWIML, 403: _REFUSED},
        summary="Twilio inbound SMS webhook",
    )
    async def inbound(request: Request) -> Response:
        """An SMS from a user: applied once per MessageSid, answered with TwiML."""
        params = await check.form(request, INBOUND_PATH)
        return twiml(await run_in_threadpool(inbound_reply, params))

    @router.post(
        STATUS_PATH,
        response_class=Response,
        responses={200: _TWIML, 403: _REFUSED},
        summary="Twilio message status callback",
    )
    async def status(request: Request) -> Response:
        """A delivery status for a message we sent; unknown messages get 200 too."""
        params = await check.form(request, STATUS_PATH)
        await run_in_threadpool(status_update, params)
        return twiml(None)

    return router
