"""What the SMS provider tells us, taken in: an SMS from a user and a delivery status, each
applied at once or, while the database cannot take it, kept in the spool and replayed in order
once it can (docs/operations.md, "Database outages: the webhook spool").

While older webhooks wait in the spool, a new one joins them rather than overtaking them, so
that a STOP and a START keep their order. A kept STOP is answered with the opt-out
confirmation at once (unless the provider's Advanced Opt-Out answered it); any other kept
message gets no reply. Only when the spool cannot keep a webhook either is it refused
(NotKept), and the provider's retries apply. Without a spool (the command line, which must not
write to the service's own), a database that cannot take a webhook raises as any use case
does."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from reminders.domain import messages as texts
from reminders.domain.conversation import Keyword
from reminders.domain.model import PhoneNumber
from reminders.ports import (
    Clock,
    ConcurrentUpdate,
    DatabaseUnavailable,
    IntakeObserver,
    Spool,
    SpoolError,
    UnitOfWorkFactory,
    WebhookKind,
    WebhookRecord,
)
from reminders.services.conversation import inbound_keyword
from reminders.services.delivery import StatusResult
from reminders.services.policy import Policy
from reminders.services.replay import ReplayReport, SpoolReplay, apply_inbound, apply_status
from reminders.services.transaction import in_transaction

logger = logging.getLogger(__name__)

T = TypeVar("T")


class NotKept(Exception):
    """Neither the database nor the spool could take a webhook; nothing was changed."""


@dataclass(frozen=True, slots=True)
class InboundAnswer:
    """What became of an inbound SMS: the keyword it was read as, and the reply to send now
    (None for none). One kept in the spool is read as it will be applied
    (conversation.inbound_keyword)."""

    keyword: Keyword
    reply: str | None
    kept: bool = False


class Intake:
    """The provider's webhooks as use cases, applied or kept; safe to use from several
    threads."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        policy: Policy,
        observer: IntakeObserver,
        spool: Spool | None = None,
    ) -> None:
        self._uow = uow_factory
        self._clock = clock
        self._policy = policy
        self._observer = observer
        self._spool = spool
        self._replay = SpoolReplay(spool, uow_factory, policy) if spool is not None else None

    @property
    def spool(self) -> Spool | None:
        """Where webhooks wait while the database cannot take them; None for none."""
        return self._spool

    def inbound_sms(
        self,
        phone: PhoneNumber,
        body: str,
        message_sid: str,
        *,
        opt_out_type: str | None = None,
    ) -> InboundAnswer:
        """An SMS from `phone`, received now: applied once per `message_sid` (see
        conversation.handle_inbound), or kept. `opt_out_type` is the provider's Advanced
        Opt-Out verdict, when it gave one. Raises NotKept."""
        params = {"MessageSid": message_sid, "From": phone.e164, "Body": body}
        if opt_out_type:
            params["OptOutType"] = opt_out_type
        record = WebhookRecord(WebhookKind.INBOUND, self._clock.now(), params)
        applied = self._apply_or_keep(record, self._apply_inbound)
        if applied is not None:
            return applied
        # Read as handle_inbound reads it; the provider's Advanced Opt-Out has answered.
        keyword = inbound_keyword(body, opt_out_type).keyword
        stop = keyword is Keyword.STOP and not opt_out_type
        reply = texts.opted_out_text(self._policy.brand) if stop else None
        return InboundAnswer(keyword, reply, kept=True)

    def status_callback(self, message_sid: str, status: str, error_code: str | None) -> None:
        """A delivery status for a message we sent, received now, with the provider's error
        code as it gave it (read when applied: records in the spool keep it as text). Unknown
        messages and statuses change nothing (see delivery.record_status). Raises NotKept."""
        params = {"MessageSid": message_sid, "MessageStatus": status}
        if error_code:
            params["ErrorCode"] = error_code
        record = WebhookRecord(WebhookKind.STATUS, self._clock.now(), params)
        self._apply_or_keep(record, self._apply_status)

    def replay(self, should_stop: Callable[[], bool] = lambda: False) -> ReplayReport | None:
        """Apply the webhooks kept during a database outage, oldest first (see SpoolReplay);
        None without a spool or when the run failed. Never raises: it runs again shortly."""
        if self._replay is None:
            return None
        try:
            report = self._replay.run(should_stop)
        except Exception:
            logger.exception("replay of spooled webhooks failed; it runs again shortly")
            return None
        for kind, count in report.applied.items():
            self._observer.spool_replayed(kind, count)
        for keyword in report.keywords:
            self._observer.inbound(keyword)
            if keyword == Keyword.SORE.value:
                self._observer.reaction()
        for answer in report.checkins:
            self._observer.checkin_answered(answer)
        return report

    def _apply_or_keep(
        self, record: WebhookRecord, apply: Callable[[WebhookRecord], T]
    ) -> T | None:
        """What `apply` returned; or None when the webhook was kept in the spool, because the
        database cannot take it or older webhooks wait there. Raises NotKept when neither
        can take it."""
        spool = self._spool
        if spool is None:
            return apply(record)
        queued_behind = spool.waiting() > 0
        if not queued_behind:
            try:
                return apply(record)
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
                # Out of order, but applied: better than sending it back to the provider.
                with contextlib.suppress(DatabaseUnavailable, ConcurrentUpdate):
                    return apply(record)
            raise NotKept(str(exc)) from exc
        self._observer.spool_kept(record.kind.value)
        logger.info(
            "webhook kept in the spool",
            extra={
                "kind": record.kind.value,
                "twilio_sid": record.message_sid,
                "waiting": spool.waiting(),
            },
        )
        return None

    def _apply_inbound(self, record: WebhookRecord) -> InboundAnswer:
        inbound = in_transaction(self._uow, lambda uow: apply_inbound(uow, self._policy, record))
        if not inbound.duplicate:
            self._observer.inbound(inbound.keyword.value)
            if inbound.keyword is Keyword.SORE:
                self._observer.reaction()
            if inbound.checkin is not None:
                self._observer.checkin_answered(inbound.checkin.value)
        return InboundAnswer(inbound.keyword, inbound.reply)

    def _apply_status(self, record: WebhookRecord) -> StatusResult:
        result = in_transaction(self._uow, lambda uow: apply_status(uow, record))
        logger.debug(
            "status callback handled",
            extra={"twilio_sid": record.message_sid, "outcome": result.outcome.value},
        )
        return result
