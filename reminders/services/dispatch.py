"""The dispatcher: claim due reminders, send them, record what happened.

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
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from queue import Empty, SimpleQueue
from threading import Condition, Semaphore
from typing import Any

from reminders.domain.errors import InvalidInput, SmsSendError
from reminders.domain.messages import reminder_text
from reminders.domain.model import (
    DueReminder,
    ReminderStatus,
    Step,
    UserStatus,
)
from reminders.domain.outcomes import INVALID_NUMBER_CODES, OPTED_OUT_CODES, retry_delay
from reminders.domain.planning import decide_send, zone_for
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
from reminders.services.policy import Policy
from reminders.services.rescue import Watch
from reminders.services.routine import stop_reminders
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


@dataclass(frozen=True, slots=True)
class _Attempt:
    due: DueReminder
    body: str
    started_at: datetime
    result: SentSms | SmsSendError | None  # None: released unsent (shutting down)


@dataclass
class _Window:
    """What the sending lanes share with the thread recording their outcomes: the sends not
    yet taken (None tells a lane to stop), a slot per send that may be in flight or finished
    but not yet recorded, and the finished attempts."""

    slots: Semaphore
    inbox: SimpleQueue[tuple[DueReminder, str] | None] = field(default_factory=SimpleQueue)
    finished: list[_Attempt] = field(default_factory=list)
    wanted: int = 1  # how many finished attempts the recording thread waits for
    changed: Condition = field(default_factory=Condition)

    def put(self, attempt: _Attempt) -> None:
        with self.changed:
            self.finished.append(attempt)
            if len(self.finished) >= self.wanted:
                self.changed.notify()

    def take(self, count: int, patience: float) -> list[_Attempt]:
        """Wait until `count` attempts have finished, or at least one has and `patience`
        seconds have passed; take every finished one."""
        with self.changed:
            self.wanted = count
            if not self.changed.wait_for(lambda: len(self.finished) >= count, patience):
                self.wanted = 1
                self.changed.wait_for(lambda: len(self.finished) >= 1)
            taken, self.finished = self.finished, []
            return taken


def _may_receive(due: DueReminder) -> bool:
    if due.phone is None:
        return False
    if due.step is Step.CONSENT_REQUEST:
        return due.user_status is UserStatus.PENDING
    return due.user_status is UserStatus.ACTIVE


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
            if self.watch.liveness.evicted:
                self.watch.liveness.renew()
            if not self.watch.may_send():
                return report  # the database is out of reach: nothing can be recorded
            self._claimer = self.watch.dispatcher_id
        batches = self._claimed_batches(report)
        if self.executor is None:
            for to_send in batches:
                for item in to_send:
                    self._record_sends([self._send_one(item)], report)
        else:
            self._send_windowed(self.executor, batches, report)
        self.last_beat_at = self.clock.now()
        self.observer.tick(self.last_beat_at)
        return report

    def _claimed_batches(self, report: DispatchReport) -> Iterator[list[tuple[DueReminder, str]]]:
        """Claim batch after batch until a claim comes back short or a stop is asked for;
        settle what needs no sending at once and yield the rest, with their texts."""
        while not self.should_stop():
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
            settled, to_send = self._triage(claimed, now)
            if settled:
                self._record([outcome for _, outcome in settled], [], {})
                self._count(report, settled)
            if to_send:
                yield to_send
            if len(claimed) < self.batch_size:
                return

    def _count(self, report: DispatchReport, outcomes: list[tuple[Step, dict[str, Any]]]) -> None:
        finished: dict[tuple[str, str], int] = {}
        for step, outcome in outcomes:
            key = (step.value, outcome["status"])
            finished[key] = finished.get(key, 0) + 1
        for (step_name, status), count in finished.items():
            report.add(status, count)
            self.observer.finished(step_name, status, count)

    def _triage(
        self, claimed: list[DueReminder], now: datetime
    ) -> tuple[list[tuple[Step, dict[str, Any]]], list[tuple[DueReminder, str]]]:
        """Split claimed reminders into those settled without sending (cancelled, expired,
        waiting out quiet hours) and those to send now, with their text."""
        settled: list[tuple[Step, dict[str, Any]]] = []
        to_send: list[tuple[DueReminder, str]] = []
        for reminder in claimed:
            if not _may_receive(reminder):
                outcome = {"id": reminder.id, "status": ReminderStatus.CANCELLED.value}
                settled.append((reminder.step, outcome))
                continue
            try:
                zone = zone_for(reminder.timezone)
            except InvalidInput:  # one bad row must not stop the batch
                logger.error(
                    "reminder failed: its user's time zone is not one this service knows",
                    extra={"reminder_id": reminder.id, "user_id": reminder.user_id},
                )
                outcome = {"id": reminder.id, "status": ReminderStatus.FAILED.value}
                settled.append((reminder.step, outcome))
                continue
            decision = decide_send(
                now=now, expires_at=reminder.expires_at, zone=zone, quiet=self.policy.quiet_hours
            )
            if decision.action == "expire":
                outcome = {"id": reminder.id, "status": ReminderStatus.EXPIRED.value}
                settled.append((reminder.step, outcome))
            elif decision.action == "wait":
                outcome = {
                    "id": reminder.id,
                    "status": ReminderStatus.SCHEDULED.value,
                    "due_at": decision.wait_until,
                }
                settled.append((reminder.step, outcome))
            else:
                body = reminder_text(
                    self.policy.brand, reminder.step, reminder.session_starts_at, zone
                )
                to_send.append((reminder, body))
        return settled, to_send

    def _send_windowed(
        self,
        executor: Executor,
        batches: Iterator[list[tuple[DueReminder, str]]],
        report: DispatchReport,
    ) -> None:
        """Send in parallel, committing outcomes every `record_every` finished sends, or
        sooner once `record_after` seconds have passed. At most `crash_window` sends are
        ever in flight or finished but unrecorded: that is the most a crash can make the
        next claimer send again. The slack beyond one commit's worth keeps every thread busy
        while outcomes are being committed.

        The executor's threads run one lane each for the whole dispatch, taking sends from
        an inbox once the window has room. This thread sleeps until a commit's worth has
        finished, instead of waking for every SMS: at a thousand sends a second, each wake-up
        is a contended hand-over of the interpreter lock that the lanes pay for. It claims
        the next batch while half of the last one is still waiting to be sent, so the lanes
        never stand idle while a claim is made."""
        window = _Window(slots=Semaphore(self.crash_window))
        refill_below = max(self.batch_size // 2, self.concurrency)
        unrecorded = 0
        more = True

        def refill() -> None:
            nonlocal unrecorded, more
            while more and window.inbox.qsize() < refill_below:
                try:
                    to_send = next(batches, None)
                except Exception:
                    # A claim, or the record of what it settled without sending, failed:
                    # what is already claimed is still sent and recorded; the rest waits
                    # for its lease or the next tick.
                    logger.exception("could not claim or settle due reminders")
                    to_send = None
                if to_send is None:
                    more = False
                    return
                for item in to_send:
                    window.inbox.put(item)
                unrecorded += len(to_send)

        refill()
        if not unrecorded:
            return
        lanes = [executor.submit(self._lane, window) for _ in range(self.concurrency)]
        try:
            while unrecorded:
                finished = window.take(min(self.record_every, unrecorded), self.record_after)
                unrecorded -= len(finished)
                self._record_sends(finished, report)
                window.slots.release(len(finished))
                refill()
        finally:
            while True:  # when leaving early: the lanes stop taking sends
                try:
                    window.inbox.get_nowait()
                except Empty:
                    break
            for _ in lanes:
                window.inbox.put(None)
            window.slots.release(len(lanes))
            wait(lanes)

    def _lane(self, window: _Window) -> None:
        """One sending thread's loop: send while there is something to send and room in
        the window."""
        while (item := window.inbox.get()) is not None:
            window.slots.acquire()
            window.put(self._send_one(item))

    def _record_sends(self, attempts: list[_Attempt], report: DispatchReport) -> None:
        """Commit the outcomes of finished sends. Called every `record_every` sends, so the
        window in which a crash can lead to a second send holds at most that many finished
        sends plus those in flight, never a whole batch."""
        if not attempts:
            return
        stopped: dict[int, UserStatus] = {}
        outcomes = []
        messages = []
        for attempt in attempts:
            outcome = self._outcome(attempt, stopped)
            outcomes.append(outcome)
            if outcome["status"] == ReminderStatus.SENT.value:
                reminder = attempt.due
                messages.append(
                    {
                        "user_id": reminder.user_id,
                        "reminder_id": reminder.id,
                        "direction": "out",
                        "step": reminder.step.value,
                        "body": attempt.body,
                        "status": outcome.pop("provider_status"),
                        "provider_sid": outcome["provider_sid"],
                    }
                )
        self._record(outcomes, messages, stopped)
        steps = [attempt.due.step for attempt in attempts]
        self._count(report, list(zip(steps, outcomes, strict=True)))

    def _record(
        self,
        outcomes: list[dict[str, Any]],
        messages: list[dict[str, Any]],
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
            self._in_hand.difference_update(outcome["id"] for outcome in outcomes)
            if self._held:
                logger.info("send outcomes recorded again: sending resumes")
            self._held = False
            return

    def _write(
        self,
        outcomes: list[dict[str, Any]],
        messages: list[dict[str, Any]],
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
                if user is not None:
                    stop_reminders(uow, user, status, at)

        # Outcomes that stop nobody are a single statement: no transaction needed around it.
        in_transaction(self.uow_factory, finish, one_statement=not stopped)

    def _send_one(self, item: tuple[DueReminder, str]) -> _Attempt:
        """Never raises: a lane that died would leave its batch waiting for it forever."""
        due, body = item
        started_at = due.send_at  # until the clock has answered
        try:
            started_at = self.clock.now()
            if self.should_stop() or self._held:
                return _Attempt(due, body, started_at, None)
            if self.watch is not None and not self.watch.may_send():
                return _Attempt(due, body, started_at, None)
            assert due.phone is not None
            result: SentSms | SmsSendError = self.sender.send(due.phone, body)
        except SmsSendError as exc:
            result = exc
        except Exception as exc:  # a bug here or in a sender must not lose the batch
            logger.exception("sending raised unexpectedly", extra={"reminder_id": due.id})
            result = SmsSendError(f"unexpected {type(exc).__name__}", code=None, permanent=False)
        return _Attempt(due, body, started_at, result)

    def _outcome(self, attempt: _Attempt, stopped: dict[int, UserStatus]) -> dict[str, Any]:
        reminder = attempt.due
        extra = {"reminder_id": reminder.id, "user_id": reminder.user_id, "step": reminder.step}
        result = attempt.result
        if result is None:
            return {
                "id": reminder.id,
                "status": ReminderStatus.SCHEDULED.value,
                "due_at": attempt.started_at,
            }
        if isinstance(result, SentSms):
            lateness = (attempt.started_at - reminder.send_at).total_seconds()
            self.observer.sent(reminder.step.value, lateness)
            logger.info("reminder sent", extra={**extra, "twilio_sid": result.provider_sid})
            return {
                "id": reminder.id,
                "status": ReminderStatus.SENT.value,
                "provider_sid": result.provider_sid,
                "provider_status": result.status,
                "sent_at": attempt.started_at,
                "attempts": reminder.attempts + 1,
                "error_code": None,
            }
        attempts = reminder.attempts + 1
        if result.permanent:
            if result.code in OPTED_OUT_CODES:
                stopped[reminder.user_id] = UserStatus.OPTED_OUT
            elif result.code in INVALID_NUMBER_CODES:
                stopped[reminder.user_id] = UserStatus.INVALID
            logger.info("reminder failed permanently", extra={**extra, "error_code": result.code})
            return {
                "id": reminder.id,
                "status": ReminderStatus.FAILED.value,
                "attempts": attempts,
                "error_code": result.code,
            }
        retry_at = self.clock.now() + retry_delay(attempts)
        if retry_at >= reminder.expires_at:
            logger.warning(
                "reminder failed: no retry fits before it goes stale",
                extra={**extra, "error_code": result.code, "attempts": attempts},
            )
            return {
                "id": reminder.id,
                "status": ReminderStatus.FAILED.value,
                "attempts": attempts,
                "error_code": result.code,
            }
        logger.warning(
            "send failed, will retry",
            extra={
                **extra,
                "error_code": result.code,
                "attempts": attempts,
                "retry_at": retry_at.isoformat(),
            },
        )
        return {
            "id": reminder.id,
            "status": ReminderStatus.SCHEDULED.value,
            "due_at": retry_at,
            "attempts": attempts,
            "error_code": result.code,
        }
