"""The dispatcher's watch: its liveness beat, and the rescue of what dispatchers that stopped
beating left half done.

A dispatcher that dies between the provider taking a message and the commit that records it
leaves the reminder `sending`. Its beat stops; once another dispatcher judges it dead (see
liveness.py), that one removes its row (only one can), takes its claims over, and asks the
provider about each: a message with the same body to the same number, created after the
claim. Found: recorded as sent, with the provider's id. Not found: released to be sent at
once (or expired, if it is no longer fresh). Only when the provider cannot be asked is a
reminder released without knowing: the one case left in which an SMS can go out twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from reminders.domain.errors import SmsLookupError
from reminders.domain.messages import reminder_text
from reminders.domain.model import DueReminder, ReminderStatus
from reminders.domain.planning import zone_for
from reminders.ports import Clock, SentSms, SmsSender, UnitOfWork, UnitOfWorkFactory
from reminders.services.liveness import Liveness
from reminders.services.policy import Policy
from reminders.services.transaction import in_transaction

logger = logging.getLogger(__name__)

# The provider's clock and ours may differ a little: a message created up to this long
# before the claim still counts as that claim's send.
CLOCK_SKEW = timedelta(minutes=2)


@dataclass
class RescueReport:
    """What one watch run settled: found at the provider, released without a match, and
    released without asking (the provider could not be asked)."""

    found: int = 0
    released: int = 0
    unverified: int = 0


@dataclass
class Watch:
    """Beats for its dispatcher and rescues the claims of dispatchers that stopped."""

    uow_factory: UnitOfWorkFactory
    sender: SmsSender
    clock: Clock
    policy: Policy
    liveness: Liveness
    lease: timedelta = timedelta(seconds=60)
    batch_size: int = 200
    # For the beat, one statement most of the time: see Dispatcher.statement_uow_factory.
    statement_uow_factory: UnitOfWorkFactory | None = None
    _registered: str | None = None
    _unreachable: bool = False

    @property
    def dispatcher_id(self) -> str:
        return self.liveness.dispatcher_id

    def may_send(self) -> bool:
        """True when a send may start now: a beat reached the database moments ago and no one
        has judged this dispatcher dead. Beats first when the last beat is getting old."""
        return self.liveness.keep_fresh(self._beat)

    def _beat(self, dispatcher_id: str) -> bool | None:
        now = self.clock.now()

        def beat(uow: UnitOfWork) -> bool:
            if uow.dispatchers.beat(dispatcher_id, now):
                return True
            if self._registered == dispatcher_id:
                return False  # our row is gone: judged dead, claims taken over
            uow.dispatchers.register(dispatcher_id, now)
            return True

        try:
            alive = in_transaction(self.statement_uow_factory or self.uow_factory, beat)
        except Exception:
            if not self._unreachable:
                logger.warning("dispatcher beat failed: no new sends until one succeeds")
            self._unreachable = True
            return None
        if self._unreachable:
            logger.info("dispatcher beat succeeded again")
        self._unreachable = False
        self._registered = dispatcher_id
        if not alive:
            logger.error(
                "this dispatcher was judged dead and its claims were taken over; it drops "
                "what it holds and carries on under a new id",
                extra={"dispatcher": dispatcher_id},
            )
        return alive

    def run(self) -> RescueReport:
        """The scheduler's watch job: beat, then rescue the claims of any dispatcher judged
        dead. Never raises for a database or provider that cannot be reached."""
        report = RescueReport()
        if self.liveness.evicted:
            self.liveness.renew()
        self.liveness.record(self._beat(self.dispatcher_id))
        if self._unreachable:
            return report
        now = self.clock.now()
        try:
            with self.uow_factory() as uow:
                beats = uow.dispatchers.all()
            dead = self.liveness.dead(beats, now)
            won = [
                beat.dispatcher_id for beat in dead if self._remove(beat.dispatcher_id, beat.beats)
            ]
            for dispatcher_id in won:
                logger.warning(
                    "a dispatcher stopped beating: asking the provider about its claims",
                    extra={"dispatcher": dispatcher_id},
                )
            self._rescue(won, report)
        except Exception:
            self.liveness.record(None)
            logger.exception("could not rescue the claims of stopped dispatchers")
        return report

    def retire(self) -> None:
        """On a clean stop: remove this dispatcher's row; anything it still held becomes
        claimable once its lease runs out."""
        dispatcher_id = self.dispatcher_id
        try:
            in_transaction(self.uow_factory, lambda uow: uow.dispatchers.remove(dispatcher_id))
        except Exception:
            logger.warning("could not remove this dispatcher's beat row", exc_info=True)

    def _remove(self, dispatcher_id: str, beats: int) -> bool:
        return in_transaction(
            self.uow_factory, lambda uow: uow.dispatchers.remove(dispatcher_id, beats)
        )

    def _rescue(self, dead: list[str], report: RescueReport) -> None:
        """Take over and settle, batch by batch, what `dead` dispatchers held, and any
        `sending` reminder whose lease ran out with no live dispatcher behind it."""
        while self._rescue_batch(dead, report) == self.batch_size:
            pass

    def _rescue_batch(self, dead: list[str], report: RescueReport) -> int:
        now = self.clock.now()
        claimer = self.dispatcher_id
        taken = in_transaction(
            self.uow_factory,
            lambda uow: uow.reminders.take_over(
                now, now + self.lease, self.batch_size, claimer, dead
            ),
        )
        if not taken:
            return 0
        outcomes: list[dict[str, Any]] = []
        messages: list[dict[str, Any]] = []
        for due, claimed_at in taken:
            found = self._ask(due, claimed_at or due.send_at, report)
            outcomes.append(_outcome(due, found, claimed_at or now, now))
            if found is not None:
                messages.append(_message(due, found, self._body(due)))
        in_transaction(
            self.uow_factory,
            lambda uow: uow.reminders.finish(outcomes, now, sent=messages, claimer=claimer),
        )
        logger.info(
            "claims of stopped dispatchers settled",
            extra={"found": report.found, "released": report.released},
        )
        return len(taken)

    def _body(self, due: DueReminder) -> str:
        zone = zone_for(due.timezone)
        return reminder_text(self.policy.brand, due.step, due.session_starts_at, zone)

    def _ask(self, due: DueReminder, claimed_at: datetime, report: RescueReport) -> SentSms | None:
        extra = {"reminder_id": due.id, "user_id": due.user_id, "step": due.step}
        if due.phone is None:  # erased: nothing can be sent again either
            report.released += 1
            return None
        try:
            found = self.sender.find_sent(due.phone, self._body(due), claimed_at - CLOCK_SKEW)
        except SmsLookupError as exc:
            report.unverified += 1
            logger.warning(
                "the provider could not be asked about a send with no recorded outcome; "
                "released, so it may go out twice",
                extra={**extra, "reason": str(exc)},
            )
            return None
        if found is None:
            report.released += 1
        else:
            report.found += 1
            logger.info(
                "the provider had taken a send with no recorded outcome: recorded as sent",
                extra={**extra, "twilio_sid": found.provider_sid},
            )
        return found


def _outcome(
    due: DueReminder, found: SentSms | None, sent_at: datetime, now: datetime
) -> dict[str, Any]:
    if found is None:
        return {"id": due.id, "status": ReminderStatus.SCHEDULED.value, "due_at": now}
    status = ReminderStatus.DELIVERED if found.status == "delivered" else ReminderStatus.SENT
    return {
        "id": due.id,
        "status": status.value,
        "provider_sid": found.provider_sid,
        "sent_at": sent_at,
        "attempts": due.attempts + 1,
        "error_code": None,
    }


def _message(due: DueReminder, found: SentSms, body: str) -> dict[str, Any]:
    return {
        "user_id": due.user_id,
        "reminder_id": due.id,
        "direction": "out",
        "step": due.step.value,
        "body": body,
        "status": found.status,
        "provider_sid": found.provider_sid,
    }
