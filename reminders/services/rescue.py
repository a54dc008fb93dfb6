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
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from reminders.domain.errors import InvalidInput, SmsLookupError
from reminders.domain.messages import reminder_text
from reminders.domain.model import (
    DueReminder,
    OutboundMessage,
    ReminderStatus,
    SendOutcome,
    TakenOver,
)
from reminders.domain.outcomes import Answer, ProviderAnswer, consequence
from reminders.domain.planning import zone_for
from reminders.ports import (
    Clock,
    ConcurrentUpdate,
    DatabaseUnavailable,
    SentSms,
    SmsSender,
    UnitOfWork,
    UnitOfWorkFactory,
)
from reminders.services.liveness import Beat, Liveness
from reminders.services.policy import Policy
from reminders.services.sending import released, taken
from reminders.services.transaction import in_transaction

logger = logging.getLogger(__name__)

_ALL = 1_000_000  # a dead dispatcher holds a few hundred claims at most

# The provider's clock and ours may differ a little: a message created up to this long
# before the claim still counts as that claim's send.
CLOCK_SKEW = timedelta(minutes=2)


@dataclass
class RescueReport:
    """What one watch run settled: found at the provider, released without a match,
    released without asking (the provider could not be asked), and failed without asking
    (its user's stored zone is not one this service accepts any more)."""

    found: int = 0
    released: int = 0
    unverified: int = 0
    failed: int = 0


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
    # Lookups at the provider made at once: a dead dispatcher may leave a few hundred claims,
    # and one lookup is a round trip to the provider.
    lookup_threads: int = 8
    _registered: str | None = None
    _unreachable: bool = False
    # Taken over, not yet settled: claimed by this dispatcher now, so if this process dies
    # too, they are rescued as its claims.
    _pending: list[TakenOver] = field(default_factory=list)
    _pending_of: str = ""  # the id under which `_pending` was taken over
    # The claims its own dispatcher holds (set by the dispatcher): never settled here.
    holding: Callable[[], frozenset[int]] = frozenset
    _beat_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def dispatcher_id(self) -> str:
        return self.liveness.dispatcher_id

    def may_send(self) -> bool:
        """True when a send may start now: a beat reached the database moments ago and no one
        has judged this dispatcher dead. Beats first when the last beat is getting old."""
        return self.liveness.keep_fresh(self._beat)

    def renew(self) -> None:
        """After an eviction: carry on under a new id. What was taken over under the old one
        went to the dispatcher that judged this one dead: the next run drops it."""
        if self.liveness.evicted:
            self.liveness.renew()

    def _beat(self, dispatcher_id: str) -> Beat:
        # One beat at a time: the first registers the row, and a beat racing it must not take
        # the row it has not seen yet for a sign of having been judged dead.
        with self._beat_lock:
            return self._beat_once(dispatcher_id)

    def _beat_once(self, dispatcher_id: str) -> Beat:
        started: list[float] = []

        def beat(uow: UnitOfWork) -> bool:
            # Read once the connection is ours (checking one out can wait), just before the
            # statement: the time written and the start of the send allowance go together.
            now = self.clock.now()
            started[:] = [self.liveness.monotonic()]
            if uow.dispatchers.beat(dispatcher_id, now):
                return True
            if self._registered == dispatcher_id:
                return False  # our row is gone: judged dead, claims taken over
            uow.dispatchers.register(dispatcher_id, now)
            return True

        try:
            alive = in_transaction(self.uow_factory, beat, one_statement=True)
        except Exception:
            if not self._unreachable:
                logger.warning("dispatcher beat failed: no new sends until one succeeds")
            self._unreachable = True
            return Beat(None)
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
        return Beat(alive, started[-1])

    def run(self) -> RescueReport:
        """The scheduler's watch job: beat, then rescue the claims of any dispatcher judged
        dead. Never raises for a database or provider that cannot be reached."""
        report = RescueReport()
        self.renew()
        if self._pending_of != self.dispatcher_id:
            if self._pending:
                logger.warning(
                    "claims taken over under an id judged dead since are dropped: the "
                    "dispatcher that judged it took them",
                    extra={"count": len(self._pending)},
                )
            self._pending.clear()
            self._pending_of = self.dispatcher_id
        self.liveness.record(self._beat(self.dispatcher_id))
        if self._unreachable or self.liveness.evicted:
            return report  # judged dead: renewed, holding nothing, at the next run
        now = self.clock.now()
        try:
            # Read only: on SQLite a writing unit of work would take the write lock.
            with self.uow_factory(read_only=True) as uow:
                beats = uow.dispatchers.all()
            for beat in self.liveness.dead(beats, now):
                self._take_from_dead(beat.dispatcher_id, beat.beats, now)
            self._take_unowned(now)
            self._settle(report)
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

    def _take_from_dead(self, dead_id: str, beats: int, now: datetime) -> None:
        """Remove a dead dispatcher's row and take all its claims over, in one transaction:
        of several survivors one does it, and nothing is left behind if this one dies next."""
        claimer = self.dispatcher_id

        def take(uow: UnitOfWork) -> list[TakenOver] | None:
            if not uow.dispatchers.remove(dead_id, beats):
                return None  # another survivor was first
            return uow.reminders.take_over(now, now + self.lease, _ALL, claimer, [dead_id])

        taken = in_transaction(self.uow_factory, take)
        if taken is not None:
            logger.warning(
                "a dispatcher stopped beating: asking the provider about its claims",
                extra={"dispatcher": dead_id, "count": len(taken)},
            )
            self._pending.extend(taken)

    def _take_unowned(self, now: datetime) -> None:
        """Take over claims with no live dispatcher behind them (left by one that stopped),
        and this dispatcher's own claims whose lease ran out and that it no longer holds (its
        record of them failed)."""
        claimer = self.dispatcher_id
        while True:
            taken = in_transaction(
                self.uow_factory,
                lambda uow: uow.reminders.take_over(
                    now, now + self.lease, self.batch_size, claimer, []
                ),
            )
            held = self.holding()
            pending = {item.due.id for item in self._pending}
            self._pending.extend(
                item for item in taken if item.due.id not in held and item.due.id not in pending
            )
            if len(taken) < self.batch_size:
                return

    def _settle(self, report: RescueReport) -> None:
        """Ask the provider about what was taken over, batch by batch, and record the answers;
        what is not settled yet (the database out of reach) stays for the next run. A batch
        whose record fails otherwise is dropped: trying it again every beat would fail again.
        Its rows stay claimed by this dispatcher, and `_take_unowned` takes them back once
        their lease has run out."""
        while self._pending:
            batch = self._pending[: self.batch_size]
            self._settle_batch(batch, report)
            del self._pending[: len(batch)]

    def _settle_batch(self, batch: list[TakenOver], report: RescueReport) -> None:
        now = self.clock.now()
        claimer = self.dispatcher_id
        bodies = [self._body(item.due) for item in batch]
        with ThreadPoolExecutor(min(self.lookup_threads, len(batch))) as pool:
            answers = list(pool.map(self._ask, batch, bodies))
        outcomes: list[SendOutcome] = []
        messages: list[OutboundMessage] = []
        for item, body, (found, verdict) in zip(batch, bodies, answers, strict=True):
            due = item.due
            if verdict == "failed":  # as sending.triage does: the others go on
                outcomes.append(SendOutcome(due.id, ReminderStatus.FAILED))
                continue
            if found is None:
                # Due as it first was: ahead of what fell due since, while it is still fresh.
                outcomes.append(released(due, due.send_at))
                continue
            # The provider may have delivered it already: recorded as it says.
            word = Answer.DELIVERED if found.status == "delivered" else Answer.TAKEN
            status = consequence(
                ProviderAnswer(word), attempts=due.attempts + 1, expires_at=due.expires_at, now=now
            ).reminder
            assert body is not None  # found by it
            outcome, message = taken(due, body, found, item.claimed_at or now, status)
            outcomes.append(outcome)
            messages.append(message)
        try:
            in_transaction(
                self.uow_factory,
                lambda uow: uow.reminders.finish(outcomes, now, sent=messages, claimer=claimer),
            )
        except (DatabaseUnavailable, ConcurrentUpdate):
            raise  # kept for the next run
        except Exception:
            logger.exception(
                "the claims of stopped dispatchers could not be recorded; dropped until "
                "their lease runs out",
                extra={"count": len(batch)},
            )
            return
        for _, verdict in answers:
            setattr(report, verdict, getattr(report, verdict) + 1)
        logger.info(
            "claims of stopped dispatchers settled",
            extra={"found": report.found, "released": report.released},
        )

    def _body(self, due: DueReminder) -> str | None:
        """The reminder's text, or None when its user's stored zone is not one this service
        accepts (any more): one bad row must not stop the batch."""
        try:
            zone = zone_for(due.timezone)
        except InvalidInput:
            logger.error(
                "reminder failed: its user's time zone is not one this service knows",
                extra={"reminder_id": due.id, "user_id": due.user_id},
            )
            return None
        return reminder_text(self.policy.brand, due.step, due.session_starts_at, zone)

    def _ask(self, item: TakenOver, body: str | None) -> tuple[SentSms | None, str]:
        """What the provider says of a claim sent as `body`: the message it took, if any, and
        the verdict (`found`, `released`, `unverified`; `failed` when there is no text to
        look for, its zone unknown). The reminder's last recorded send (one the
        provider could not deliver, rescheduled since) may be younger than the lookup's
        margin for clock skew: it is not this claim's send."""
        due, claimed_at = item.due, item.claimed_at
        extra = {"reminder_id": due.id, "user_id": due.user_id, "step": due.step}
        if due.phone is None:  # erased: nothing can be sent again either
            return None, "released"
        if body is None:
            return None, "failed"
        since = (claimed_at or due.send_at) - CLOCK_SKEW
        try:
            found = self.sender.find_sent(due.phone, body, since, excluding=item.provider_sid)
        except SmsLookupError as exc:
            logger.warning(
                "the provider could not be asked about a send with no recorded outcome; "
                "released, so it may go out twice",
                extra={**extra, "reason": str(exc)},
            )
            return None, "unverified"
        if found is None:
            return None, "released"
        logger.info(
            "the provider had taken a send with no recorded outcome: recorded as sent",
            extra={**extra, "twilio_sid": found.provider_sid},
        )
        return found, "found"
