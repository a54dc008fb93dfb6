"""Twilio webhooks: inbound SMS and status callbacks (signature-checked).

Twilio signs each request over the URL it was configured with and the form parameters. Behind
a TLS-terminating proxy the URL this process sees is not that one, so the signature is checked
against REMINDERS_PUBLIC_URL + path. A request without a valid signature (or any request while
no TWILIO_AUTH_TOKEN is set) gets 403 and changes nothing. A signed request that carries
nothing usable gets 200 and an empty TwiML answer, so Twilio neither retries nor reports an
error to the sender.

While the database cannot take a webhook (it is unavailable, or the transaction kept losing
races), the webhook is kept in the spool on this replica's disk and answered 200; the replay
job applies it once the database is back (reminders/services/replay.py). While older ones
wait there, a new one joins them rather than overtaking them, so that a STOP and a START
keep their order. A kept STOP is answered with the opt-out confirmation at once (unless
Twilio's Advanced Opt-Out answered it); any other kept message gets no reply. Only when the
spool cannot keep it either does the webhook answer 503 with Retry-After, and Twilio's
retries or fallback URL apply.
"""

from __future__ import annotations

import contextlib
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
from reminders.domain import messages as texts
from reminders.domain.conversation import Keyword, read_inbound
from reminders.domain.errors import InvalidInput
from reminders.domain.model import PhoneNumber, mask_phone
from reminders.entrypoints import errors
from reminders.entrypoints.limits import Gate, Refusal
from reminders.ports import (
    ConcurrentUpdate,
    DatabaseUnavailable,
    SpoolError,
    WebhookKind,
    WebhookRecord,
)
from reminders.services.replay import apply_inbound, apply_status
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
_NOT_KEPT_MESSAGE = "the database is unavailable and the webhook could not be kept; try again"
_NOT_KEPT = {
    "description": "the database is unavailable and the spool could not keep the webhook "
    "either; Retry-After says when to try again",
    "content": {"application/json": {"example": {"error": _NOT_KEPT_MESSAGE}}},
}
RETRY_AFTER_SECONDS = 5


class _NotKept(Exception):
    """Neither the database nor the spool could take a webhook."""


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

    def apply_or_keep(record: WebhookRecord) -> str | None:
        """Apply the webhook and return the reply to send; or, when the database cannot take
        it or older webhooks wait in the spool, keep it there and return the reply due at
        once (a STOP's confirmation). Raises _NotKept when neither can take it."""
        spool = container.spool
        if spool is None:
            return apply_now(record)  # the app answers 503 when the database cannot take it
        queued_behind = spool.waiting() > 0
        if not queued_behind:
            try:
                return apply_now(record)
            except (DatabaseUnavailable, ConcurrentUpdate) as exc:
                logger.warning(
                    "database cannot take a webhook: %s; keeping it in the spool",
                    exc,
                    extra={"kind": record.kind.value, "twilio_sid": record.message_sid},
                )
        try:
            spool.append(record)
        except SpoolError as exc:
            logger.error(
                "webhook could not be kept in the spool: %s",
                exc,
                extra={"kind": record.kind.value, "twilio_sid": record.message_sid},
            )
            if queued_behind:
                # Out of order, but applied: better than sending it back to Twilio.
                with contextlib.suppress(DatabaseUnavailable, ConcurrentUpdate):
                    return apply_now(record)
            raise _NotKept(str(exc)) from exc
        container.metrics.spool_kept(record.kind.value)
        logger.info(
            "webhook kept in the spool",
            extra={
                "kind": record.kind.value,
                "twilio_sid": record.message_sid,
                "waiting": spool.waiting(),
            },
        )
        return reply_when_kept(record)

    def apply_now(record: WebhookRecord) -> str | None:
        if record.kind is WebhookKind.STATUS:
            result = in_transaction(container.uow, lambda uow: apply_status(uow, record))
            logger.debug(
                "status callback handled",
                extra={"twilio_sid": record.message_sid, "outcome": result.outcome.value},
            )
            return None
        inbound = in_transaction(
            container.uow, lambda uow: apply_inbound(uow, container.policy, record)
        )
        if not inbound.duplicate:
            container.metrics.inbound(inbound.keyword.value)
        return inbound.reply

    def reply_when_kept(record: WebhookRecord) -> str | None:
        # Read as handle_inbound reads it; Twilio's Advanced Opt-Out (OptOutType) has answered.
        if record.kind is WebhookKind.STATUS or record.params.get("OptOutType"):
            return None
        if read_inbound(record.params.get("Body", "")).keyword is Keyword.STOP:
            return texts.opted_out_text(container.policy.brand)
        return None

    def inbound_reply(params: dict[str, str]) -> str | None:
        sid = params.get("MessageSid", "")
        sender = params.get("From", "").strip()
        if not _SID.match(sid) or not sender:
            logger.warning("inbound SMS without a MessageSid or From ignored")
            return None
        try:
            PhoneNumber(sender)
        except InvalidInput:
            logger.warning(
                "inbound SMS from a non-phone sender ignored", extra={"from": mask_phone(sender)}
            )
            return None
        kept = {
            "MessageSid": sid,
            "From": sender,
            # PostgreSQL text cannot hold NUL, and no keyword needs one.
            "Body": params.get("Body", "").replace("\x00", ""),
        }
        if params.get("OptOutType"):
            kept["OptOutType"] = params["OptOutType"]
        return apply_or_keep(WebhookRecord(WebhookKind.INBOUND, container.clock.now(), kept))

    def status_update(params: dict[str, str]) -> None:
        sid = params.get("MessageSid", "")
        status = params.get("MessageStatus") or params.get("SmsStatus") or ""
        if not _SID.match(sid) or not status:
            logger.warning("status callback without a MessageSid or MessageStatus ignored")
            return
        kept = {"MessageSid": sid, "MessageStatus": status}
        if params.get("ErrorCode"):
            kept["ErrorCode"] = params["ErrorCode"]
        apply_or_keep(WebhookRecord(WebhookKind.STATUS, container.clock.now(), kept))

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
        except _NotKept:
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
        except _NotKept:
            return _not_kept()
        return twiml(None)

    return router
