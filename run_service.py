"""Run the service: settings, logging, migrations, scheduler and HTTP server in one process.

SIGTERM or SIGINT: stop claiming, finish in-flight sends, close the database, exit 0."""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
from collections.abc import Generator
from types import FrameType

import uvicorn

from reminders.bootstrap import BadSettings, bootstrap, read_settings
from reminders.domain.errors import InvalidInput
from reminders.entrypoints.api import create_app
from reminders.log import configure_logging
from reminders.scheduler import build_scheduler
from reminders.services.liveness import BEAT_EVERY_SECONDS

logger = logging.getLogger("reminders.run")


class _Server(uvicorn.Server):
    """Uvicorn re-raises SIGTERM after its own shutdown, which would kill the process before
    the scheduler is stopped; our handlers below take the signals instead."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def main() -> int:
    try:
        settings = read_settings()
    except BadSettings as exc:
        for line in exc.problems:
            print(line, file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    try:
        container = bootstrap(settings)
    except InvalidInput as exc:  # a setting only the adapters can check, such as a proxy URL
        print(exc.message, file=sys.stderr)
        return 2
    scheduler = build_scheduler(
        dispatch=container.dispatch_due,
        close_sessions=container.close_unconfirmed,
        replay=container.replay_spool,
        dispatch_interval_seconds=settings.dispatch_interval_seconds,
        watch=container.watch,
        watch_interval_seconds=BEAT_EVERY_SECONDS,
    )
    server = _Server(
        uvicorn.Config(
            create_app(container),
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=3,
        )
    )

    def stop(signum: int, _frame: FrameType | None) -> None:
        logger.info("signal received, stopping", extra={"signal": signal.Signals(signum).name})
        container.stop_event.set()
        server.should_exit = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    scheduler.start()  # its first dispatch runs at once, on the scheduler's thread
    logger.info(
        "service started",
        extra={
            "port": settings.port,
            "sms_backend": settings.resolved_sms_backend,
            "database": settings.database_url.split(":", 1)[0],
        },
    )
    try:
        server.run()
    finally:
        logger.info("shutting down: finishing in-flight sends")
        container.stop_event.set()
        scheduler.shutdown(wait=True)
        container.close()
        logger.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
