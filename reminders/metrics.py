"""Prometheus metrics: what the dispatcher and the conversation did, counted as it happens, and
the state of the tables (due backlog, users by status), read when Prometheus scrapes.

Each container has its own `CollectorRegistry`, never the process-global one, so tests can
build many apps in one process."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from reminders.domain.model import UserStatus
from reminders.ports import Clock, DispatchObserver, UnitOfWorkFactory

logger = logging.getLogger(__name__)

# From "on time" to "an hour late": lateness past that is an outage, not a delay.
LAG_BUCKETS_SECONDS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0)


class Metrics:
    """The service's metrics. A DispatchObserver: the dispatcher reports to it directly."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._outcomes = Counter(
            "reminders_sms",
            "Reminder SMS by plan step and outcome: sent, failed, expired, cancelled (the user "
            "could no longer receive it) or scheduled (a retry or a quiet-hours wait).",
            ["step", "status"],
            registry=self.registry,
        )
        self._lag = Histogram(
            "reminders_dispatch_lag_seconds",
            "How late each SMS went out: the start of the send minus the time it was due.",
            ["step"],
            buckets=LAG_BUCKETS_SECONDS,
            registry=self.registry,
        )
        self._inbound = Counter(
            "reminders_inbound_messages",
            "Inbound SMS by the keyword they were read as.",
            ["keyword"],
            registry=self.registry,
        )
        self._reactions = Counter(
            "reminders_skin_reactions",
            "Inbound SMS read as a skin reaction (the user is paused and given advice).",
            registry=self.registry,
        )
        self._checkin_answers = Counter(
            "reminders_checkin_answers",
            "Answers to the check-in after a session, by answer: ok, or reaction (a skin "
            "reaction reported).",
            ["answer"],
            registry=self.registry,
        )
        self._lag_by_step: dict[str, Histogram] = {}
        self._outcome_by_key: dict[tuple[str, str], Counter] = {}
        self._last_tick = Gauge(
            "reminders_dispatch_last_tick_timestamp_seconds",
            "When the dispatcher last finished a pass (Unix time).",
            registry=self.registry,
        )
        self._spool_kept = Counter(
            "reminders_spool_kept",
            "Twilio webhooks kept in this replica's spool because the database could not take "
            "them, by kind (inbound, status).",
            ["kind"],
            registry=self.registry,
        )
        self._spool_replayed = Counter(
            "reminders_spool_replayed",
            "Spooled Twilio webhooks applied once the database was back, by kind.",
            ["kind"],
            registry=self.registry,
        )
        self._rescued = Counter(
            "reminders_rescued",
            "Sends left without a recorded outcome by a dispatcher that stopped, by what the "
            "provider said: found (recorded as sent), released (never taken: sent now), "
            "unverified (the provider could not be asked: sent again, possibly twice), failed (its "
            "user's stored time zone is no longer accepted: not sent).",
            ["outcome"],
            registry=self.registry,
        )
        for outcome in ("found", "released", "unverified", "failed"):
            self._rescued.labels(outcome)
        for answer in ("ok", "reaction"):
            self._checkin_answers.labels(answer)
        for kind in ("inbound", "status"):  # shown at 0 before the first outage
            self._spool_kept.labels(kind)
            self._spool_replayed.labels(kind)

    # Called for every SMS: the labelled children are looked up once and kept, since
    # `labels()` costs more than the observation itself.

    def sent(self, step: str, lateness_seconds: float) -> None:
        lag = self._lag_by_step.get(step)
        if lag is None:
            lag = self._lag_by_step.setdefault(step, self._lag.labels(step))
        lag.observe(max(0.0, lateness_seconds))

    def finished(self, step: str, status: str, count: int = 1) -> None:
        counter = self._outcome_by_key.get((step, status))
        if counter is None:
            counter = self._outcome_by_key.setdefault(
                (step, status), self._outcomes.labels(step, status)
            )
        counter.inc(count)

    def tick(self, at: datetime) -> None:
        self._last_tick.set(at.timestamp())

    def inbound(self, keyword: str) -> None:
        """Count one inbound SMS; called by the intake for each new (not retried) message."""
        self._inbound.labels(keyword).inc()

    def reaction(self) -> None:
        """Count one inbound SMS read as a skin reaction."""
        self._reactions.inc()

    def checkin_answered(self, answer: str) -> None:
        """Count one answer to a check-in: 'ok' or 'reaction'."""
        self._checkin_answers.labels(answer).inc()

    def rescued(self, outcome: str, count: int) -> None:
        """Count sends of stopped dispatchers settled by asking the provider."""
        if count:
            self._rescued.labels(outcome).inc(count)

    def spool_kept(self, kind: str) -> None:
        """Count one webhook kept in the spool."""
        self._spool_kept.labels(kind).inc()

    def spool_replayed(self, kind: str, count: int) -> None:
        """Count spooled webhooks applied by a replay."""
        self._spool_replayed.labels(kind).inc(count)

    def watch_spool(self, waiting: Callable[[], int]) -> None:
        """Report how many spooled webhooks wait, asked at each scrape (no disk access)."""
        Gauge(
            "reminders_spool_waiting",
            "Twilio webhooks in this replica's spool, waiting for the database.",
            registry=self.registry,
        ).set_function(waiting)

    def watch_state(self, uow_factory: UnitOfWorkFactory, clock: Clock) -> None:
        """Report the due backlog and users by status, queried at each scrape."""
        self.registry.register(_StateCollector(uow_factory, clock))

    def render(self) -> bytes:
        """The text exposition format of every metric."""
        return generate_latest(self.registry)


class Observers:
    """Several dispatch observers as one."""

    def __init__(self, *observers: DispatchObserver) -> None:
        self._observers = observers

    def sent(self, step: str, lateness_seconds: float) -> None:
        for observer in self._observers:
            observer.sent(step, lateness_seconds)

    def finished(self, step: str, status: str, count: int = 1) -> None:
        for observer in self._observers:
            observer.finished(step, status, count)

    def tick(self, at: datetime) -> None:
        for observer in self._observers:
            observer.tick(at)


class _StateCollector(Collector):
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow_factory = uow_factory
        self._clock = clock

    def describe(self) -> Iterator[Metric]:
        yield from self._families()

    def collect(self) -> Iterator[Metric]:
        try:
            with self._uow_factory() as uow:
                # Served by the partial index on due_at of scheduled and sending rows.
                backlog = uow.reminders.backlog(self._clock.now())
                users = uow.users.count_by_status()
        except Exception:
            logger.warning("metrics: the database could not be read", exc_info=True)
            yield GaugeMetricFamily(
                "reminders_database_up", "Whether the last scrape could read the database.", 0
            )
            return
        yield from self._families(backlog, users)

    @staticmethod
    def _families(
        backlog: int | None = None, users: dict[UserStatus, int] | None = None
    ) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "reminders_database_up", "Whether the last scrape could read the database."
        )
        due = GaugeMetricFamily(
            "reminders_due_backlog",
            "Reminders due now and not yet sent (scheduled, or in a lease that ran out).",
        )
        by_status = GaugeMetricFamily(
            "reminders_users",
            "Enrolled users by status (erased users left out).",
            labels=["status"],
        )
        if backlog is not None and users is not None:
            up.add_metric([], 1)
            due.add_metric([], backlog)
            for status in UserStatus:
                by_status.add_metric([status.value], users.get(status, 0))
        yield up
        yield due
        yield by_status
