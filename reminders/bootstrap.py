"""Composition root: Settings -> engine, unit of work, sender, clock, policy -> Container."""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy import Engine

from config.settings import Settings, describe_errors
from reminders.adapters.clock import SystemClock
from reminders.adapters.console_sms import ConsoleSmsSender
from reminders.adapters.db import make_engine
from reminders.adapters.migrate import migrate
from reminders.adapters.spool import FileSpool
from reminders.adapters.unit_of_work import SqlAlchemyUnitOfWorkFactory
from reminders.domain.errors import InvalidInput
from reminders.metrics import Metrics, Observers
from reminders.ports import Clock, DispatchObserver, SmsSender, SpoolError, UnitOfWork
from reminders.services.dispatch import Dispatcher, DispatchReport
from reminders.services.intake import Intake
from reminders.services.liveness import Liveness, dead_after
from reminders.services.operations import Operations
from reminders.services.policy import Policy
from reminders.services.replay import ReplayReport
from reminders.services.rescue import RescueReport, Watch

logger = logging.getLogger(__name__)

SEND_TIMEOUT_SECONDS = 5.0


class BadSettings(Exception):
    """The settings in the environment are not valid; `problems` has one line per setting,
    naming the variable and what is accepted."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def read_settings() -> Settings:
    """The settings from the environment. Raises BadSettings."""
    try:
        return Settings()
    except ValidationError as exc:
        raise BadSettings(describe_errors(exc)) from None


@dataclass
class Container:
    """Everything the entrypoints need, built once: the application's use cases (operations,
    intake), the dispatcher, and the jobs the scheduler runs."""

    settings: Settings
    engine: Engine
    clock: Clock
    sender: SmsSender
    policy: Policy
    admin_token: str
    operations: Operations
    intake: Intake
    dispatcher: Dispatcher
    executor: ThreadPoolExecutor | None
    stop_event: threading.Event = field(default_factory=threading.Event)
    metrics: Metrics = field(default_factory=Metrics)

    def uow(self, *, read_only: bool = False, one_statement: bool = False) -> UnitOfWork:
        """A unit of work on the engine (see UnitOfWorkFactory), for health checks, metrics
        and tests; the use cases have the factory they were built with."""
        return SqlAlchemyUnitOfWorkFactory(self.engine)(
            read_only=read_only, one_statement=one_statement
        )

    def dispatch_due(self) -> DispatchReport:
        self.replay_spool()  # a STOP kept during an outage is applied before anything is sent
        return self.dispatcher.dispatch_due()

    def watch(self) -> RescueReport:
        """Beat for this process's dispatcher and rescue the claims of stopped ones."""
        assert self.dispatcher.watch is not None
        report = self.dispatcher.watch.run()
        self.metrics.rescued("found", report.found)
        self.metrics.rescued("released", report.released)
        self.metrics.rescued("unverified", report.unverified)
        self.metrics.rescued("failed", report.failed)
        return report

    def close_unconfirmed(self) -> int:
        return self.operations.close_unconfirmed(self.stop_event.is_set)

    def heartbeat_age(self) -> timedelta | None:
        """How long since the dispatcher last began or finished a batch; None before it ran."""
        beat = self.dispatcher.last_beat_at
        return None if beat is None else self.clock.now() - beat

    def replay_spool(self) -> ReplayReport | None:
        """Apply the webhooks kept during a database outage, oldest first; never raises."""
        return self.intake.replay(self.stop_event.is_set)

    def close(self) -> None:
        self.stop_event.set()
        if self.executor is not None:
            self.executor.shutdown(wait=True)
        if self.dispatcher.watch is not None:
            self.dispatcher.watch.retire()
        self.engine.dispose()


def open_spool(directory: Path) -> FileSpool:
    """The webhook spool in `directory`. Raises InvalidInput (a bad setting) when it cannot be
    created or written."""
    try:
        return FileSpool(directory)
    except SpoolError as exc:
        raise InvalidInput(
            "spool_dir",
            f"setting REMINDERS_SPOOL_DIR: {exc}; it must be a folder this process can create"
            " and write",
        ) from exc


def build_sender(settings: Settings) -> SmsSender:
    if settings.resolved_sms_backend == "console":
        return ConsoleSmsSender()
    from reminders.adapters.twilio_sms import TwilioSmsSender

    assert settings.twilio_account_sid and settings.twilio_auth_token
    return TwilioSmsSender(
        account_sid=settings.twilio_account_sid,
        auth_token=settings.twilio_auth_token.get_secret_value(),
        from_number=settings.twilio_from_number,
        messaging_service_sid=settings.twilio_messaging_service_sid,
        status_callback_url=settings.public_url + "/twilio/status",
        api_url=settings.twilio_api_url,
        # Short enough that a hanging provider cannot hold a SIGTERM past 10 s.
        timeout_seconds=SEND_TIMEOUT_SECONDS,
        max_connections=settings.dispatch_concurrency,  # one per sending thread
    )


def bootstrap(
    settings: Settings,
    *,
    clock: Clock | None = None,
    sender: SmsSender | None = None,
    observer: DispatchObserver | None = None,
    run_migrations: bool = True,
    make_executor: Callable[[int], ThreadPoolExecutor | None] | None = None,
    announce_token: bool = True,
    liveness: Liveness | None = None,
    keep_webhooks: bool = True,
) -> Container:
    """Build the container. Tests pass their own clock and sender; nothing else differs.

    Without `keep_webhooks` (the command line) no spool is opened: a spool is this service
    process's own, and only it replays what it kept."""
    # Before the database is touched: a spool that cannot keep anything stops the start.
    spool = open_spool(settings.resolved_spool_dir) if keep_webhooks else None
    engine = make_engine(settings.database_url)
    if run_migrations:
        migrate(engine)
    policy = Policy(
        plan=settings.parsed_plan,
        quiet_hours=settings.parsed_quiet_hours,
        brand=settings.brand_name,
        help_contact=settings.help_contact,
        checkin=settings.parsed_checkin,
    )
    if settings.admin_token is not None:
        admin_token = settings.admin_token.get_secret_value()
    else:
        admin_token = secrets.token_urlsafe(24)
        # Said once, so that an operator who did not set one can still call the API.
        if announce_token:
            logger.warning(
                "REMINDERS_ADMIN_TOKEN is not set; generated one for this run",
                extra={"admin_token": admin_token},
            )
    concurrency = settings.dispatch_concurrency
    if make_executor is not None:
        executor = make_executor(concurrency)
    else:
        executor = ThreadPoolExecutor(concurrency, "send") if concurrency > 1 else None
    stop_event = threading.Event()
    metrics = Metrics()
    chosen_sender = sender if sender is not None else build_sender(settings)
    chosen_clock = clock if clock is not None else SystemClock()
    uow_factory = SqlAlchemyUnitOfWorkFactory(engine)
    watch = Watch(
        uow_factory=uow_factory,
        sender=chosen_sender,
        clock=chosen_clock,
        policy=policy,
        liveness=liveness or Liveness(dead_after=dead_after(SEND_TIMEOUT_SECONDS)),
        lease=timedelta(seconds=settings.lease_seconds),
        batch_size=settings.dispatch_batch_size,
    )
    dispatcher = Dispatcher(
        uow_factory=uow_factory,
        sender=chosen_sender,
        clock=chosen_clock,
        policy=policy,
        executor=executor,
        concurrency=concurrency if executor is not None else 1,
        batch_size=settings.dispatch_batch_size,
        lease=timedelta(seconds=settings.lease_seconds),
        observer=metrics if observer is None else Observers(metrics, observer),
        should_stop=stop_event.is_set,
        watch=watch,
        pause=stop_event.wait,
    )
    container = Container(
        settings=settings,
        engine=engine,
        clock=chosen_clock,
        sender=chosen_sender,
        policy=policy,
        admin_token=admin_token,
        operations=Operations(uow_factory, chosen_clock, policy),
        intake=Intake(uow_factory, chosen_clock, policy, metrics, spool),
        dispatcher=dispatcher,
        executor=executor,
        stop_event=stop_event,
        metrics=metrics,
    )
    if spool is not None:
        metrics.watch_spool(spool.waiting)
    metrics.watch_state(partial(container.uow, read_only=True), container.clock)
    return container
