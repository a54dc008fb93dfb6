"""The dispatcher: claim due reminders, send them, record what happened.

What to do with each claimed reminder, and what the provider's answer does to it, is the send
policy (sending.py); the threads that send in parallel are the pipeline (pipeline.py). Here:
claiming batch after batch, and recording outcomes without ever losing one.

Delivery guarantee: a reminder is claimed (status `sending`, the dispatcher's id, a lease in
`due_at`) and the claim committed before the provider is called; outcomes are committed as
sends finish, every `record_every` sends or `record_after` seconds, whichever comes first.
A dispatcher never has more than `crash_window` sends started but not recorded (its threads
plus two commits' worth).

- When outcomes cannot be recorded (the database is gone), no further send starts: the
  outcomes are held and recorded once the database takes them again. No send starts either
  unless this dispatcher's liveness beat reached the database moments ago.
- A dispatcher that dies leaves its unrecorded sends `sending`. Its beat stops; another
  dispatcher judges it dead within seconds, asks the provider about each of those claims,
  records the ones the provider took as sent and releases the others to be sent at once
  (see rescue.py). A duplicate is left possible only when the provider cannot be asked.
- Reminders claimed but not yet handed to the provider (the next batch is claimed while the
  last is still sending) are released the same way after a crash: sent once, a few seconds
  late.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from reminders.domain.errors import SmsSendError
from reminders.domain.model import OutboundMessage, SendOutcome, Step, UserStatus
from reminders.domain.outcomes import stops
from reminders.ports import (
    Clock,
    ConcurrentUpdate,
    DatabaseUnavailable,
    DispatchObserver,
    SentSms,
    SmsSender,
    UnitOfWork,
    UnitOfWorkFactory,
)
from reminders.services.pipeline import Pipeline
from reminders.services.policy import Policy
from reminders.services.rescue import Watch
from reminders.services.routine import stop_reminders
from reminders.services.sending import Attempt, ToSend, settle, triage
from reminders.services.transaction import in_transaction

logger = logging.getLogger(__name__)


class NullObserver:
    def sent(self, step: str, lateness_seconds: float) -> None:
        pass

    def finished(self, step: str, status: str, count: int = 1) -> None:
        pass

    def tick(self, at: datetime) -> None:
        pass


@dataclass
class DispatchReport:
    claimed: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, status: str, count: int = 1) -> None:
        self.counts[status] = self.counts.get(status, 0) + count


@dataclass
class Dispatcher:
    """Sends due reminders. `dispatch_due` is the scheduler's heartbeat job."""

    uow_factory: UnitOfWorkFactory
    sender: SmsSender
    clock: Clock
    policy: Policy
    executor: Executor | None = None
    batch_size: int = 200
    lease: timedelta = timedelta(seconds=60)
    observer: DispatchObserver = field(default_factory=NullObserver)
    should_stop: Callable[[], bool] = lambda: False
    concurrency: int = 1  # the executor's threads
    last_beat_at: datetime | None = None  # when it last began or ended a batch
    # Finished sends per commit: fewer commits cost less CPU per SMS, here and in the
    # database, but widen the crash window by two for every one more.
    record_every: int = 32
    # Seconds a finished send may wait for the rest of a commit's worth: with a provider
    # that answers slowly, outcomes (and the status callbacks that look for them) are not
    # held back until 32 sends have finished.
    record_after: float = 0.25
    # The liveness beat: claims carry this dispatcher's id, and no send starts unless a
    # beat reached the database moments ago. None: claims carry no id (tests of parts).
    watch: Watch | None = None
    # How long to wait before trying again to record outcomes the database refused.
    pause: Callable[[float], object] = time.sleep
    _claimer: str = ""
    _held: bool = False  # outcomes could not be recorded: no send starts until they are
    # Claimed and not yet recorded: the watch leaves these alone, however old the claim.
    _in_hand: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        if self.watch is not None:
            self.watch.holding = self.holding

    def holding(self) -> frozenset[int]:
        """The ids of the reminders this dispatcher has claimed and not yet recorded."""
        return frozenset(self._in_hand)

    @property
    def crash_window(self) -> int:
        """The most sends a dying dispatcher can leave started but unrecorded."""
        return self.concurrency + 2 * self.record_every

    def dispatch_due(self) -> DispatchReport:
        """Send everything due now, batch by batch, until nothing is due or a stop is asked
        for. One bad reminder never stops the others."""
        report = DispatchReport()
        if self.watch is not None:
            self.watch.renew()
            if not self.watch.may_send():
                return report  # the database is out of reach: nothing can be recorded
            self._claimer = self.watch.dispatcher_id
        batches = self._claimed_batches(report)
        if self.executor is None:
            for to_send in batches:
                for item in to_send:
                    self._record_sends([self._send_one(item)], report)
        else:
            # At most `crash_window` sends are ever in flight or finished but unrecorded:
            # that is the most a crash can make the next claimer send again. The slack
            # beyond one commit's worth keeps every thread busy while outcomes are being
            # committed.
            Pipeline(
                executor=self.executor,
                send=self._send_one,
                record=lambda attempts: self._record_sends(attempts, report),
                lanes=self.concurrency,
                window=self.crash_window,
                record_every=self.record_every,
                record_after=self.record_after,
                refill_below=max(self.batch_size // 2, self.concurrency),
            ).run(batches)
        self.last_beat_at = self.clock.now()
        self.observer.tick(self.last_beat_at)
        return report

    def _claimed_batches(self, report: DispatchReport) -> Iterator[list[ToSend]]:
        """Claim batch after batch until a claim comes back short or a stop is asked for;
        record at once what needs no sending (see sending.triage) and yield the rest, with
        their texts."""
        while not self.should_stop():
            if self.watch is not None and self.watch.dispatcher_id != self._claimer:
                return  # judged dead and renewed: what it claimed was taken over
            # A beat per batch: draining a long backlog is the dispatcher at work, and
            # readiness must not call it stuck.
            self.last_beat_at = now = self.clock.now()
            with self.uow_factory(one_statement=True) as uow:
                claimed = uow.reminders.claim_due(
                    now, now + self.lease, self.batch_size, self._claimer or None
                )
                uow.commit()
            report.claimed += len(claimed)
            self._in_hand.update(due.id for due in claimed)
            settled, to_send = triage(claimed, now, self.policy)
            if settled:
                self._record([outcome for _, outcome in settled], [], {})
                self._count(report, [step for step, _ in settled], [o for _, o in settled])
            if to_send:
                yield to_send
            if len(claimed) < self.batch_size:
                return

    def _count(
        self, report: DispatchReport, steps: Sequence[Step], outcomes: Sequence[SendOutcome]
    ) -> None:
        finished: dict[tuple[str, str], int] = {}
        for step, outcome in zip(steps, outcomes, strict=True):
            key = (step.value, outcome.status.value)
            finished[key] = finished.get(key, 0) + 1
        for (step_name, status), count in finished.items():
            report.add(status, count)
            self.observer.finished(step_name, status, count)

    def _send_one(self, item: ToSend) -> Attempt:
        """Send one claimed reminder unless sending must stop (a stop asked for, outcomes
        held, no recent beat, this dispatcher judged dead since the claim). Never raises: a
        lane that died would leave its batch waiting for it forever."""
        due, body = item
        started_at = due.send_at  # until the clock has answered
        try:
            started_at = self.clock.now()
            if self.should_stop() or self._held:
                return Attempt(due, body, started_at, None)
            watch = self.watch
            # Judged dead and renewed meanwhile: this claim, made under the old id, was taken
            # over (and maybe released to be sent by another), so it is not this one's to send.
            if watch is not None and (watch.dispatcher_id != self._claimer or not watch.may_send()):
                return Attempt(due, body, started_at, None)
            assert due.phone is not None
            result: SentSms | SmsSendError = self.sender.send(due.phone, body)
        except SmsSendError as exc:
            result = exc
        except Exception as exc:  # a bug here or in a sender must not lose the batch
            logger.exception("sending raised unexpectedly", extra={"reminder_id": due.id})
            result = SmsSendError(f"unexpected {type(exc).__name__}", code=None, permanent=False)
        return Attempt(due, body, started_at, result)

    def _record_sends(self, attempts: list[Attempt], report: DispatchReport) -> None:
        """Commit the outcomes of finished sends. Called every `record_every` sends, so the
        window in which a crash can lead to a second send holds at most that many finished
        sends plus those in flight, never a whole batch."""
        if not attempts:
            return
        now = self.clock.now()
        stopped: dict[int, UserStatus] = {}
        outcomes: list[SendOutcome] = []
        messages: list[OutboundMessage] = []
        for attempt in attempts:
            outcome, message, stops = settle(attempt, now)
            outcomes.append(outcome)
            if message is not None:
                due = attempt.due
                lateness = (attempt.started_at - due.send_at).total_seconds()
                self.observer.sent(due.step.value, lateness)
                messages.append(message)
            elif stops is not None:
                stopped[attempt.due.user_id] = stops
        self._record(outcomes, messages, stopped)
        self._count(report, [attempt.due.step for attempt in attempts], outcomes)

    def _record(
        self,
        outcomes: list[SendOutcome],
        messages: list[OutboundMessage],
        stopped: dict[int, UserStatus],
    ) -> None:
        """Record outcomes; while the database refuses, hold them (and start no send) and try
        again, until it takes them or a stop is asked for. Never send what cannot be recorded:
        at most the crash window is ever held. Left unrecorded at a stop, they are settled by
        asking the provider once this dispatcher's beat has stopped (see rescue.py)."""
        delay = 0.1
        while True:
            try:
                self._write(outcomes, messages, stopped)
            except (DatabaseUnavailable, ConcurrentUpdate):
                if not self._held:
                    logger.exception(
                        "could not record send outcomes: sending stops until they are",
                        extra={"count": len(outcomes)},
                    )
                self._held = True
                if self.should_stop():
                    logger.error(
                        "stopping with send outcomes unrecorded; they will be settled by "
                        "asking the provider",
                        extra={"count": len(outcomes)},
                    )
                    return
                self.pause(delay)
                delay = min(delay * 2, 2.0)
                continue
            except Exception:
                # Not the database going away but a fault in what was written: trying again
                # would fail again. The rows stay `sending`; once their lease has run out the
                # watch settles them by asking the provider.
                logger.exception(
                    "send outcomes could not be recorded; they will be settled by asking the "
                    "provider once their lease runs out",
                    extra={"count": len(outcomes)},
                )
            self._in_hand.difference_update(outcome.reminder_id for outcome in outcomes)
            if self._held:
                logger.info("send outcomes recorded again: sending resumes")
            self._held = False
            return

    def _write(
        self,
        outcomes: list[SendOutcome],
        messages: list[OutboundMessage],
        stopped: dict[int, UserStatus],
    ) -> None:
        at = self.clock.now()
        claimer = self._claimer or None

        def finish(uow: UnitOfWork) -> None:
            # The users' rows before their reminders' (one lock order), by id.
            users = {user_id: uow.users.lock(user_id) for user_id in sorted(stopped)}
            uow.reminders.finish(outcomes, at, sent=messages, claimer=claimer)
            for user_id, status in stopped.items():
                user = users[user_id]
                if user is not None and stops(user.status, status):
                    stop_reminders(uow, user, status, at)

        # Outcomes that stop nobody are a single statement: no transaction needed around it.
        in_transaction(self.uow_factory, finish, one_statement=not stopped)
