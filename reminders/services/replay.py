"""Provider webhooks replayed from the spool, oldest first, once the database can take them
again (docs/operations.md, "Database outages"); and the two functions that apply a webhook,
used alike at once (intake.py) and in a replay.

A webhook is applied at the instant it was received, whenever that happens: a DONE texted
during a session counts for that session even if the database came back after it. A reply
computed during a replay is not sent (the moment has passed); the webhook already answered a
STOP with its confirmation when it kept it.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from reminders.domain.errors import ReminderError
from reminders.domain.model import PhoneNumber, parse_whole_number
from reminders.ports import (
    ConcurrentUpdate,
    DatabaseUnavailable,
    Spool,
    SpoolEntry,
    SpoolError,
    UnitOfWork,
    UnitOfWorkFactory,
    WebhookKind,
    WebhookRecord,
)
from reminders.services.conversation import InboundResult, handle_inbound
from reminders.services.delivery import StatusResult, record_status
from reminders.services.policy import Policy
from reminders.services.transaction import in_transaction

logger = logging.getLogger(__name__)

# Runs in which a record failed with an error that is not an outage, before it is set aside
# (a few runs: an error the database gives only now and then must not cost a message).
FAILED_RUNS_BEFORE_SET_ASIDE = 5


def apply_inbound(
    uow: UnitOfWork, policy: Policy, record: WebhookRecord, *, answering: bool = True
) -> InboundResult:
    """Apply an inbound SMS at the time it was received; returns handle_inbound's result.
    Without `answering` (a replay: the moment has passed), no reply is made or recorded.

    Raises InvalidInput when its From is not a phone number."""
    params = record.params
    return handle_inbound(
        uow,
        policy,
        record.received_at,
        phone=PhoneNumber(params.get("From", "")),
        body=params.get("Body", ""),
        message_sid=record.message_sid,
        opt_out_type=params.get("OptOutType") or None,
        answering=answering,
    )


def apply_status(uow: UnitOfWork, record: WebhookRecord) -> StatusResult:
    """Apply a status callback at the time it was received; returns record_status's result."""
    params = record.params
    # The provider's error codes are five digits; anything else is not one of them.
    code = parse_whole_number(params.get("ErrorCode", "").strip(), max_digits=9)
    return record_status(
        uow,
        record.received_at,
        message_sid=record.message_sid,
        status=params.get("MessageStatus", ""),
        error_code=code,
    )


@dataclass(frozen=True, slots=True)
class ReplayReport:
    applied: Counter[str] = field(default_factory=Counter)  # by kind, duplicates included
    keywords: tuple[str, ...] = ()  # of the inbound SMS that were new
    checkins: tuple[str, ...] = ()  # the check-in answers among them (ok, reaction)
    set_aside: int = 0
    waiting: int = 0  # records left, for a later run
    stopped: str | None = None  # why the run ended before the spool was empty


class SpoolReplay:
    """Applies spooled webhooks oldest first, each in its own transaction, and removes each
    only after that transaction committed. Safe to call from several threads: runs take
    turns."""

    def __init__(self, spool: Spool, uow_factory: UnitOfWorkFactory, policy: Policy) -> None:
        self.spool = spool
        self._uow_factory = uow_factory
        self._policy = policy
        self._lock = threading.Lock()
        self._failed_runs: dict[str, int] = {}

    def run(self, should_stop: Callable[[], bool] = lambda: False) -> ReplayReport:
        """Apply what the spool holds, until it is empty, the database is unavailable (the
        rest waits for the next run), or `should_stop` says so.

        A record that fails otherwise is left in place for the next run, and set aside after
        FAILED_RUNS_BEFORE_SET_ASIDE such runs (at once when its content breaks a rule), so
        that it cannot hold back the others for ever."""
        if self.spool.waiting() == 0:
            return ReplayReport()
        with self._lock:
            return self._run(should_stop)

    def _run(self, should_stop: Callable[[], bool]) -> ReplayReport:
        applied: Counter[str] = Counter()
        keywords: list[str] = []
        checkins: list[str] = []
        set_aside = 0
        stopped: str | None = None
        try:
            for entry in self.spool.pending():
                if should_stop():
                    stopped = "stopping"
                    break
                try:
                    result = self._apply(entry.record)
                except (DatabaseUnavailable, ConcurrentUpdate) as exc:
                    stopped = str(exc)
                    break
                except Exception as exc:
                    if self._give_up(entry, exc):
                        self.spool.set_aside(entry)
                        set_aside += 1
                        continue
                    stopped = "a record failed; it is tried again at the next run"
                    break
                self.spool.remove(entry)
                self._failed_runs.pop(entry.key, None)
                applied[entry.record.kind.value] += 1
                if result is not None and not result.duplicate:
                    keywords.append(result.keyword.value)
                    if result.checkin is not None:
                        checkins.append(result.checkin.value)
        except SpoolError as exc:
            logger.error("webhook spool unusable during replay: %s", exc)
            stopped = str(exc)
        report = ReplayReport(
            applied, tuple(keywords), tuple(checkins), set_aside, self.spool.waiting(), stopped
        )
        extra = {
            "inbound": applied[WebhookKind.INBOUND.value],
            "status": applied[WebhookKind.STATUS.value],
            "set_aside": set_aside,
            "waiting": report.waiting,
            "stopped": stopped,
        }
        if applied or set_aside:
            logger.info("spooled webhooks replayed", extra=extra)
        else:  # the outage itself is logged by the webhooks and the dispatcher
            logger.debug("spooled webhooks wait for the database", extra=extra)
        return report

    def _apply(self, record: WebhookRecord) -> InboundResult | None:
        """Apply one record; returns what became of an inbound SMS (its reply is not sent: the
        moment has passed, and a STOP was confirmed when it was kept)."""
        if record.kind is WebhookKind.INBOUND:
            return in_transaction(
                self._uow_factory,
                lambda uow: apply_inbound(uow, self._policy, record, answering=False),
            )
        in_transaction(self._uow_factory, lambda uow: apply_status(uow, record))
        return None

    def _give_up(self, entry: SpoolEntry, error: Exception) -> bool:
        runs = self._failed_runs.get(entry.key, 0) + 1
        self._failed_runs[entry.key] = runs
        final = isinstance(error, ReminderError) or runs >= FAILED_RUNS_BEFORE_SET_ASIDE
        logger.error(
            "spooled webhook could not be applied%s",
            "; set aside" if final else "",
            extra={"spool_key": entry.key, "kind": entry.record.kind.value, "runs": runs},
            exc_info=True,
        )
        if final:
            self._failed_runs.pop(entry.key, None)
        return final
