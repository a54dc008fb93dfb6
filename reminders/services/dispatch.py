"""The dispatcher: claim due reminders, send them, record what happened.

Delivery guarantee: a reminder is claimed (status `sending`, a lease in `due_at`) and the claim
committed before the provider is called; outcomes are committed as sends finish, every
`record_every` sends or `record_after` seconds, whichever comes first. A process that dies
between the provider accepting a message and that commit leaves the row in `sending`; when the
lease runs out another dispatcher claims it again and the SMS goes out a second time. A
dispatcher never has more than `crash_window` sends started but not recorded (its threads plus
two commits' worth), so that is the most a dying process can leave to be sent twice, never its
whole batch. It is the only way a duplicate can happen, and `claims > 1` on a sent reminder
marks the ones that went through it.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from threading import Condition, Semaphore
from typing import Any

from reminders.domain.errors import SmsSendError
from reminders.domain.messages import reminder_text
from reminders.domain.model import (
    INVALID_NUMBER_CODES,
    OPTED_OUT_CODES,
    DueReminder,
    ReminderStatus,
    Step,
    UserStatus,
)
from reminders.domain.planning import decide_send, retry_delay, zone_for
from reminders.ports import Clock, DispatchObserver, SentSms, SmsSender, UnitOfWorkFactory
from reminders.services.policy import Policy
from reminders.services.routine import stop_reminders

logger = logging.getLogger(__name__)


class NullObserver:
    def sent(self, step: str, lateness_seconds: float) -> None:
        pass

    def finished(self, step: str, status: str, count: int = 1) -> None:
        pass

    def tick(self, at: datetime, backlog: int | None) -> None:
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
    """What the sending lanes of one batch share with the thread recording their outcomes:
    the sends not yet taken, a slot per send that may be in flight or finished but not yet
    recorded, and the finished attempts."""

    items: deque[tuple[DueReminder, str]]
    slots: Semaphore
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

    @property
    def crash_window(self) -> int:
        """The most sends a dying dispatcher can leave started but unrecorded."""
        return self.concurrency + 2 * self.record_every

    def dispatch_due(self) -> DispatchReport:
        """Send everything due now, batch by batch, until nothing is due or a stop is asked
        for. One bad reminder never stops the others."""
        report = DispatchReport()
        while not self.should_stop():
            # A beat per batch: draining a long backlog is the dispatcher at work, and
            # readiness must not call it stuck.
            self.last_beat_at = self.clock.now()
            claimed = self._dispatch_batch(report)
            if claimed < self.batch_size:
                break
        self.last_beat_at = self.clock.now()
        self.observer.tick(self.last_beat_at, None)
        return report

    def _dispatch_batch(self, report: DispatchReport) -> int:
        now = self.clock.now()
        with self.uow_factory() as uow:
            claimed = uow.reminders.claim_due(now, now + self.lease, self.batch_size)
            uow.commit()
        if not claimed:
            return 0
        report.claimed += len(claimed)
        outcomes, to_send = self._triage(claimed, now)
        if outcomes:
            self._record(outcomes, [], {})
        if self.executor is None or len(to_send) <= 1:
            for item in to_send:
                outcomes.extend(self._record_sends([self._send_one(item)]))
        else:
            outcomes.extend(self._send_windowed(self.executor, to_send))
        steps = {due.id: due.step.value for due in claimed}
        finished: dict[tuple[str, str], int] = {}
        for outcome in outcomes:
            key = (steps[outcome["id"]], outcome["status"])
            finished[key] = finished.get(key, 0) + 1
        for (step, status), count in finished.items():
            report.add(status, count)
            self.observer.finished(step, status, count)
        return len(claimed)

    def _triage(
        self, claimed: list[DueReminder], now: datetime
    ) -> tuple[list[dict[str, Any]], list[tuple[DueReminder, str]]]:
        """Split claimed reminders into those settled without sending (cancelled, expired,
        waiting out quiet hours) and those to send now, with their text."""
        outcomes: list[dict[str, Any]] = []
        to_send: list[tuple[DueReminder, str]] = []
        for reminder in claimed:
            if not _may_receive(reminder):
                outcomes.append({"id": reminder.id, "status": ReminderStatus.CANCELLED.value})
                continue
            zone = zone_for(reminder.timezone)
            decision = decide_send(
                now=now, expires_at=reminder.expires_at, zone=zone, quiet=self.policy.quiet_hours
            )
            if decision.action == "expire":
                outcomes.append({"id": reminder.id, "status": ReminderStatus.EXPIRED.value})
            elif decision.action == "wait":
                outcomes.append(
                    {
                        "id": reminder.id,
                        "status": ReminderStatus.SCHEDULED.value,
                        "due_at": decision.wait_until,
                    }
                )
            else:
                body = reminder_text(
                    self.policy.brand, reminder.step, reminder.session_starts_at, zone
                )
                to_send.append((reminder, body))
        return outcomes, to_send

    def _send_windowed(
        self, executor: Executor, to_send: list[tuple[DueReminder, str]]
    ) -> list[dict[str, Any]]:
        """Send in parallel, committing outcomes every `record_every` finished sends, or
        sooner once `record_after` seconds have passed. At most `crash_window` sends are
        ever in flight or finished but unrecorded: that is the most a crash can make the
        next claimer send again. The slack beyond one commit's worth keeps every thread busy
        while outcomes are being committed.

        The executor's threads run one lane each for the whole batch, taking sends from a
        shared deque once the window has room. This thread sleeps until a commit's worth has
        finished, instead of waking for every SMS: at a thousand sends a second, each wake-up
        is a contended hand-over of the interpreter lock that the lanes pay for."""
        window = _Window(items=deque(to_send), slots=Semaphore(self.crash_window))
        lanes = [
            executor.submit(self._lane, window) for _ in range(min(self.concurrency, len(to_send)))
        ]
        outcomes: list[dict[str, Any]] = []
        unrecorded = len(to_send)
        try:
            while unrecorded:
                finished = window.take(min(self.record_every, unrecorded), self.record_after)
                unrecorded -= len(finished)
                outcomes.extend(self._record_sends(finished))
                window.slots.release(len(finished))
        finally:
            window.items.clear()  # when leaving early: the lanes stop taking sends
            window.slots.release(len(lanes))
            wait(lanes)
        return outcomes

    def _lane(self, window: _Window) -> None:
        """One sending thread's loop: send while there is room in the window and something
        left to send."""
        while True:
            window.slots.acquire()
            try:
                item = window.items.popleft()
            except IndexError:
                window.slots.release()
                return
            window.put(self._send_one(item))

    def _record_sends(self, attempts: list[_Attempt]) -> list[dict[str, Any]]:
        """Commit the outcomes of finished sends. Called every `record_every` sends, so the
        window in which a crash can lead to a second send holds at most that many finished
        sends plus those in flight, never a whole batch."""
        if not attempts:
            return []
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
        try:
            self._record(outcomes, messages, stopped)
        except Exception:
            # The rows stay `sending` and their lease will run out: retried, not lost.
            logger.exception("could not record send outcomes", extra={"count": len(outcomes)})
        return outcomes

    def _record(
        self,
        outcomes: list[dict[str, Any]],
        messages: list[dict[str, Any]],
        stopped: dict[int, UserStatus],
    ) -> None:
        at = self.clock.now()
        with self.uow_factory() as uow:
            uow.reminders.finish(outcomes, at)
            uow.messages.add_many(messages, at)
            for user_id, status in stopped.items():
                user = uow.users.get(user_id)
                if user is not None:
                    stop_reminders(uow, user, status, at)
            uow.commit()

    def _send_one(self, item: tuple[DueReminder, str]) -> _Attempt:
        """Never raises: a lane that died would leave its batch waiting for it forever."""
        due, body = item
        started_at = due.send_at  # until the clock has answered
        try:
            started_at = self.clock.now()
            if self.should_stop():
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
