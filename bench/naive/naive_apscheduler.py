"""Benchmark the naive design: one APScheduler 3 ``DateTrigger`` job per reminder.

Every reminder becomes its own job in a ``SQLAlchemyJobStore``. This is the design the
service deliberately avoids; the figures here show why. Run from the repository root::

    .venv/bin/python -m bench.naive.naive_apscheduler --reminders 10000 --db sqlite
    .venv/bin/python -m bench.naive.naive_apscheduler --reminders 100000 --db postgresql \\
        --out naive-pg-100k.json

Phases (all against one job store table, ``naive_apscheduler_jobs``):

1. add: ``add_job(send_reminder, "date", run_date=..., id=..., args=[i])`` for N reminders
   spread over the 30 days starting tomorrow, on a scheduler started with ``paused=True``
   (so every call writes straight to the store and nothing runs);
2. restart: a fresh subprocess starts a ``BackgroundScheduler`` on the same store; we
   report its start-up time and peak RSS, then its peak RSS after ``get_jobs()`` (the
   same subprocess is first run on the still empty store, as a baseline);
3. burst: M extra jobs all due at the same instant a couple of seconds ahead, run with the
   default executor (``ThreadPoolExecutor``, 10 workers) and default job settings
   (``misfire_grace_time=1``, ``coalesce=True``, ``max_instances=1``); we count
   ``EVENT_JOB_EXECUTED`` and ``EVENT_JOB_MISSED`` and time the drain.

This is a benchmark, not a test: it never fails on slow figures.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import pickle
import platform
import resource
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    JobEvent,
)
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.util import datetime_to_utc_timestamp

from bench.naive import jobs

TABLENAME = "naive_apscheduler_jobs"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REPO_ROOT = Path(__file__).resolve().parents[2]
MODULE = "bench.naive.naive_apscheduler"
ONE_MILLION = 1_000_000
MIB = 1024 * 1024


# --------------------------------------------------------------------------- results


@dataclass
class AddResult:
    jobs: int
    seconds: float
    jobs_per_second: float
    extrapolated_1m_seconds: float


@dataclass
class RestartResult:
    jobs_in_store: int
    process_wall_seconds: float
    scheduler_start_seconds: float
    first_pass_seconds: float
    rss_before_scheduler_mib: float
    peak_rss_after_start_mib: float
    get_jobs_seconds: float
    get_jobs_count: int
    peak_rss_after_get_jobs_mib: float


@dataclass
class BurstResult:
    jobs: int
    lead_seconds: float
    prepare_seconds: float
    executed: int
    missed: int
    errors: int
    max_instances_skipped: int
    unaccounted: int
    all_accounted_after_due_seconds: float | None
    first_executed_after_due_seconds: float | None
    last_executed_after_due_seconds: float | None
    executed_per_second: float
    outcomes_per_second: float
    scheduler_pass_started_after_due_seconds: float | None
    scheduler_pass_seconds: float
    lateness_p50_seconds: float | None
    lateness_p99_seconds: float | None
    lateness_max_seconds: float | None
    rows_left_due: int


# --------------------------------------------------------------------------- helpers


class InstrumentedScheduler(BackgroundScheduler):  # type: ignore[misc]
    """A default ``BackgroundScheduler`` that times each pass of its processing loop.

    ``_process_jobs`` is APScheduler 3 internal API; wrapping it changes no behaviour and
    lets us tell when the first pass after start-up is done and how long the burst pass
    (load due jobs, submit each, delete each row) took.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # (wall-clock start, perf_counter start, perf_counter end) of each pass
        self.passes: list[tuple[float, float, float]] = []
        self.first_pass_done = threading.Event()
        super().__init__(*args, **kwargs)

    def _process_jobs(self) -> float | None:
        wall_started, started = time.time(), time.perf_counter()
        wait_seconds: float | None = super()._process_jobs()
        self.passes.append((wall_started, started, time.perf_counter()))
        self.first_pass_done.set()
        return wait_seconds


def make_store(url: str) -> SQLAlchemyJobStore:
    return SQLAlchemyJobStore(url=url, tablename=TABLENAME)


def make_scheduler(store: SQLAlchemyJobStore, **extra_jobstores: Any) -> InstrumentedScheduler:
    """Scheduler with APScheduler defaults, ``store`` as its ``default`` store, in UTC."""
    return InstrumentedScheduler(jobstores={"default": store, **extra_jobstores}, timezone=UTC)


def proc_status_kib(field: str) -> int | None:
    """A ``kB`` figure from ``/proc/self/status`` (Linux), or None elsewhere."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far (VmHWM, else ru_maxrss)."""
    kib = proc_status_kib("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib * 1024 / MIB


def current_rss_mib() -> float:
    kib = proc_status_kib("VmRSS")
    return kib * 1024 / MIB if kib is not None else peak_rss_mib()


def percentile(sorted_values: list[float], fraction: float) -> float | None:
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, round(fraction * (len(sorted_values) - 1)))
    return sorted_values[index]


def drop_table(url: str) -> None:
    engine = sa.create_engine(url)
    try:
        sa.Table(TABLENAME, sa.MetaData()).drop(engine, checkfirst=True)
    finally:
        engine.dispose()


@contextmanager
def job_store_url(db: str, pg_url: str) -> Iterator[str]:
    """Yield a database URL with no ``naive_apscheduler_jobs`` table; clean up after."""
    if db == "sqlite":
        with tempfile.TemporaryDirectory(prefix="naive-apscheduler-") as tmp:
            yield f"sqlite:///{Path(tmp) / 'jobs.sqlite'}"
        return
    drop_table(pg_url)  # leftovers of an interrupted run
    try:
        yield pg_url
    finally:
        drop_table(pg_url)


def quiet_apscheduler_logging() -> None:
    """Discard APScheduler's log output (one WARNING per missed job) without disabling it.

    Records are still created and handled, as they would be in a service; they are just
    not written to the terminal.
    """
    logger = logging.getLogger("apscheduler")
    logger.addHandler(logging.NullHandler())
    logger.propagate = False


def rows_due_by(url: str, timestamp: float) -> int:
    """Rows in the job store whose next run time is at or before ``timestamp``."""
    engine = sa.create_engine(url)
    try:
        table = sa.Table(TABLENAME, sa.MetaData(), autoload_with=engine)
        query = (
            sa.select(sa.func.count()).select_from(table).where(table.c.next_run_time <= timestamp)
        )
        with engine.connect() as conn:
            return int(conn.execute(query).scalar_one())
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- phase 1: add


def measure_add(url: str, reminders: int) -> AddResult:
    scheduler = make_scheduler(make_store(url))
    # Started but paused: add_job writes to the job store at once (a stopped scheduler
    # would only queue jobs in memory until start()), and no job is processed.
    scheduler.start(paused=True)
    first = datetime.now(UTC) + timedelta(days=1)
    step = timedelta(days=30) / max(reminders, 1)
    report_every = max(reminders // 10, 1)
    try:
        started = time.perf_counter()
        for i in range(reminders):
            scheduler.add_job(
                jobs.send_reminder,
                "date",
                run_date=first + i * step,
                id=f"reminder-{i}",
                args=[i],
            )
            if (i + 1) % report_every == 0:
                elapsed = time.perf_counter() - started
                print(
                    f"  added {i + 1:>9,} / {reminders:,}  ({(i + 1) / elapsed:,.0f} jobs/s)",
                    file=sys.stderr,
                    flush=True,
                )
        seconds = time.perf_counter() - started
    finally:
        scheduler.shutdown(wait=False)
    rate = reminders / seconds if seconds > 0 else float("inf")
    return AddResult(
        jobs=reminders,
        seconds=seconds,
        jobs_per_second=rate,
        extrapolated_1m_seconds=ONE_MILLION / rate,
    )


# --------------------------------------------------------------------------- phase 2: restart


def restart_child(url: str) -> dict[str, Any]:
    """Body of the restarted process: start a scheduler on the existing store."""
    quiet_apscheduler_logging()
    rss_before = current_rss_mib()
    scheduler = make_scheduler(make_store(url))
    started = time.perf_counter()
    scheduler.start()
    start_seconds = time.perf_counter() - started
    if not scheduler.first_pass_done.wait(timeout=600):
        raise RuntimeError("the scheduler did not finish its first pass within 600 s")
    first_pass_seconds = time.perf_counter() - started
    peak_after_start = peak_rss_mib()

    started = time.perf_counter()
    loaded = scheduler.get_jobs()  # what any "list reminders" admin call would do
    get_jobs_seconds = time.perf_counter() - started
    get_jobs_count = len(loaded)
    peak_after_get_jobs = peak_rss_mib()
    del loaded
    scheduler.shutdown(wait=True)
    return {
        "scheduler_start_seconds": start_seconds,
        "first_pass_seconds": first_pass_seconds,
        "rss_before_scheduler_mib": rss_before,
        "peak_rss_after_start_mib": peak_after_start,
        "get_jobs_seconds": get_jobs_seconds,
        "get_jobs_count": get_jobs_count,
        "peak_rss_after_get_jobs_mib": peak_after_get_jobs,
    }


def measure_restart(url: str, jobs_in_store: int) -> RestartResult:
    command = [sys.executable, "-m", MODULE, "--child-restart", "--url", url]
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(f"restart subprocess failed:\n{completed.stderr}")
    figures = json.loads(completed.stdout.strip().splitlines()[-1])
    return RestartResult(jobs_in_store=jobs_in_store, process_wall_seconds=wall, **figures)


# --------------------------------------------------------------------------- phase 3: burst


class EventTally:
    """Counts job outcome events; sets ``done`` once ``expected`` outcomes were seen."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.counts = {
            EVENT_JOB_EXECUTED: 0,
            EVENT_JOB_MISSED: 0,
            EVENT_JOB_ERROR: 0,
            EVENT_JOB_MAX_INSTANCES: 0,
        }
        self.last_event_at = 0.0
        self.done = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, event: JobEvent) -> None:
        now = time.time()
        with self._lock:
            self.counts[event.code] += 1
            self.last_event_at = now
            if sum(self.counts.values()) >= self.expected:
                self.done.set()


BURST_ATTEMPTS = 4
BURST_MARGIN_SECONDS = 0.25


def stage_burst(scheduler: InstrumentedScheduler, burst_jobs: int) -> list[dict[str, Any]]:
    """Build ``burst_jobs`` jobs through the ordinary ``add_job`` path; return their states.

    They go to an in-memory ``staging`` store (so this is fast) with a placeholder date;
    ``write_burst`` then sets the real due time.
    """
    placeholder = datetime.now(UTC) + timedelta(days=3650)
    states = [
        scheduler.add_job(
            jobs.send_reminder,
            "date",
            run_date=placeholder,
            id=f"burst-{i}",
            args=[i],
            jobstore="staging",
        ).__getstate__()
        for i in range(burst_jobs)
    ]
    scheduler.remove_all_jobs(jobstore="staging")
    return states


def write_burst(store: SQLAlchemyJobStore, states: list[dict[str, Any]], due: datetime) -> None:
    """Insert the staged jobs, due at ``due``, into the SQL store in one transaction.

    Adding them one by one would take longer than the couple of seconds of lead we want
    (see the add rate), so the rows are written in bulk, in the exact form
    ``SQLAlchemyJobStore.add_job`` writes them (``pickle.dumps(job.__getstate__())``).
    """
    rows = [
        {
            "id": state["id"],
            "next_run_time": datetime_to_utc_timestamp(due),
            "job_state": pickle.dumps(
                {**state, "trigger": DateTrigger(run_date=due), "next_run_time": due},
                store.pickle_protocol,
            ),
        }
        for state in states
    ]
    with store.engine.begin() as conn:
        conn.execute(store.jobs_t.insert(), rows)


def delete_burst(store: SQLAlchemyJobStore) -> None:
    with store.engine.begin() as conn:
        conn.execute(store.jobs_t.delete().where(store.jobs_t.c.id.like("burst-%")))


def measure_burst(
    url: str, burst_jobs: int, lead_seconds: float, timeout_seconds: float
) -> BurstResult:
    jobs.reset()
    store = make_store(url)
    scheduler = make_scheduler(store, staging=MemoryJobStore())
    scheduler.start(paused=True)
    tally = EventTally(burst_jobs)
    scheduler.add_listener(
        tally, EVENT_JOB_EXECUTED | EVENT_JOB_MISSED | EVENT_JOB_ERROR | EVENT_JOB_MAX_INSTANCES
    )
    try:
        states = stage_burst(scheduler, burst_jobs)
        # The scheduler is paused, so rows written too late are simply withdrawn and written
        # again with a longer lead: the burst must be due only after it is all in the store.
        for attempt in range(1, BURST_ATTEMPTS + 1):
            prepare_started = time.perf_counter()
            due = datetime.now(UTC) + timedelta(seconds=lead_seconds)
            write_burst(store, states, due)
            prepare_seconds = time.perf_counter() - prepare_started
            if time.time() < due.timestamp() - BURST_MARGIN_SECONDS:
                break
            delete_burst(store)
            if attempt == BURST_ATTEMPTS:
                raise RuntimeError(
                    f"writing the burst took {prepare_seconds:.1f} s, more than "
                    f"--burst-lead {lead_seconds} s; raise --burst-lead"
                )
            print(
                f"  writing the burst took {prepare_seconds:.1f} s; "
                f"retrying with a {2 * lead_seconds:.1f} s lead",
                file=sys.stderr,
            )
            lead_seconds *= 2
        scheduler.resume()  # wakes up at `due` and processes the whole burst
        if not tally.done.wait(timeout=lead_seconds + timeout_seconds):
            print(
                f"  burst not finished after {timeout_seconds:.0f} s past due; "
                "reporting what ran so far",
                file=sys.stderr,
            )
    finally:
        scheduler.shutdown(wait=True)

    due_ts = due.timestamp()
    lateness = sorted(t - due_ts for t in jobs.ran_at())
    executed = tally.counts[EVENT_JOB_EXECUTED]
    accounted = sum(tally.counts.values())
    drain = (tally.last_event_at - due_ts) if accounted else None
    # The burst pass is the longest one: it loads, submits and deletes all M jobs.
    burst_pass = max(scheduler.passes, key=lambda p: p[2] - p[1], default=None)
    return BurstResult(
        jobs=burst_jobs,
        lead_seconds=lead_seconds,
        prepare_seconds=prepare_seconds,
        executed=executed,
        missed=tally.counts[EVENT_JOB_MISSED],
        errors=tally.counts[EVENT_JOB_ERROR],
        max_instances_skipped=tally.counts[EVENT_JOB_MAX_INSTANCES],
        unaccounted=burst_jobs - accounted,
        all_accounted_after_due_seconds=drain,
        first_executed_after_due_seconds=lateness[0] if lateness else None,
        last_executed_after_due_seconds=lateness[-1] if lateness else None,
        executed_per_second=executed / lateness[-1] if lateness and lateness[-1] > 0 else 0.0,
        outcomes_per_second=accounted / drain if drain else 0.0,
        scheduler_pass_started_after_due_seconds=burst_pass[0] - due_ts if burst_pass else None,
        scheduler_pass_seconds=burst_pass[2] - burst_pass[1] if burst_pass else 0.0,
        lateness_p50_seconds=percentile(lateness, 0.50),
        lateness_p99_seconds=percentile(lateness, 0.99),
        lateness_max_seconds=lateness[-1] if lateness else None,
        rows_left_due=rows_due_by(url, due_ts),
    )


# --------------------------------------------------------------------------- report


def package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def database_version(url: str) -> str:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                return "SQLite " + str(conn.execute(sa.text("select sqlite_version()")).scalar())
            return str(conn.execute(sa.text("select version()")).scalar())
    finally:
        engine.dispose()


def machine_facts(url: str) -> dict[str, Any]:
    mem_kib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    except OSError:
        pass
    return {
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model(),
        "memory_total_mib": round(mem_kib / 1024) if mem_kib else None,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "sqlite3_library": sqlite3.sqlite_version,
        "database_server": database_version(url),
        "packages": {
            name: package_version(name)
            for name in ("APScheduler", "SQLAlchemy", "psycopg", "psycopg-binary")
        },
    }


def fmt(value: float | None, unit: str = "", digits: int = 2) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f}{unit}"


def render_table(result: dict[str, Any]) -> str:
    add: dict[str, Any] = result["add"]
    restart: dict[str, Any] = result["restart"]
    burst: dict[str, Any] = result["burst"]
    rows: list[tuple[str, str]] = [
        ("database", result["db"]),
        ("reminders (N)", f"{result['reminders']:,}"),
        ("add: seconds", fmt(add["seconds"], " s", 1)),
        ("add: rate", fmt(add["jobs_per_second"], " jobs/s", 0)),
        ("add: 1M reminders (extrapolated)", fmt(add["extrapolated_1m_seconds"] / 60, " min", 1)),
        ("restart: process wall time", fmt(restart["process_wall_seconds"], " s")),
        ("restart: scheduler.start()", fmt(restart["scheduler_start_seconds"], " s", 3)),
        ("restart: start -> first pass done", fmt(restart["first_pass_seconds"], " s", 3)),
        ("restart: RSS before scheduler", fmt(restart["rss_before_scheduler_mib"], " MiB", 1)),
        (
            "restart: peak RSS after start, empty store",
            fmt(result["restart_empty_store"]["peak_rss_after_start_mib"], " MiB", 1),
        ),
        ("restart: peak RSS after start", fmt(restart["peak_rss_after_start_mib"], " MiB", 1)),
        (
            f"restart: get_jobs() ({restart['get_jobs_count']:,} jobs)",
            fmt(restart["get_jobs_seconds"], " s"),
        ),
        (
            "restart: peak RSS after get_jobs()",
            fmt(restart["peak_rss_after_get_jobs_mib"], " MiB", 1),
        ),
        ("burst: jobs due at one instant (M)", f"{burst['jobs']:,}"),
        ("burst: executed", f"{burst['executed']:,}"),
        ("burst: missed (misfire_grace_time=1)", f"{burst['missed']:,}"),
        (
            "burst: errors / max-instances / unaccounted",
            f"{burst['errors']} / {burst['max_instances_skipped']} / {burst['unaccounted']}",
        ),
        ("burst: all outcomes in, after due", fmt(burst["all_accounted_after_due_seconds"], " s")),
        (
            "burst: first / last execution, after due",
            " / ".join(
                fmt(burst[k], " s", 3)
                for k in ("first_executed_after_due_seconds", "last_executed_after_due_seconds")
            ),
        ),
        (
            "burst: executed per second (until last ran)",
            fmt(burst["executed_per_second"], " jobs/s", 0),
        ),
        (
            "burst: outcomes per second (run or missed)",
            fmt(burst["outcomes_per_second"], " jobs/s", 0),
        ),
        (
            "burst: scheduler pass started, after due",
            fmt(burst["scheduler_pass_started_after_due_seconds"], " s", 3),
        ),
        ("burst: scheduler pass (load+submit+delete)", fmt(burst["scheduler_pass_seconds"], " s")),
        (
            "burst: lateness p50 / p99 / max",
            " / ".join(
                fmt(burst[k], " s", 3)
                for k in ("lateness_p50_seconds", "lateness_p99_seconds", "lateness_max_seconds")
            ),
        ),
        ("burst: due rows left in store", f"{burst['rows_left_due']:,}"),
        ("total benchmark time", fmt(result["total_seconds"], " s", 1)),
        (
            "load average (1 min) at start / end",
            f"{result['machine']['loadavg_1_5_15_at_start'][0]:.2f} / "
            f"{result['machine']['loadavg_1_5_15_at_end'][0]:.2f} "
            f"on {result['machine']['nproc']} CPUs",
        ),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"{name:<{width}}  {value}" for name, value in rows]
    rule = "-" * max(len(line) for line in lines)
    title = "Naive APScheduler 3: one DateTrigger job per reminder in SQLAlchemyJobStore"
    return "\n".join([title, rule, *lines, rule])


# --------------------------------------------------------------------------- main


def run(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    load_at_start = os.getloadavg()
    with job_store_url(args.db, args.pg_url) as url:
        print("[0/3] baseline: a scheduler on an empty store, fresh process", file=sys.stderr)
        restart_empty = measure_restart(url, 0)
        print(f"[1/3] adding {args.reminders:,} date jobs ({args.db})", file=sys.stderr)
        add = measure_add(url, args.reminders)
        print("[2/3] restarting a scheduler in a fresh process", file=sys.stderr)
        restart = measure_restart(url, args.reminders)
        print(f"[3/3] burst of {args.burst_jobs:,} jobs due at one instant", file=sys.stderr)
        burst = measure_burst(url, args.burst_jobs, args.burst_lead, args.burst_timeout)
        machine = machine_facts(url)
    # Other work on the machine (builds, tests) shows up here and skews SQLite especially.
    machine["loadavg_1_5_15_at_start"] = list(load_at_start)
    machine["loadavg_1_5_15_at_end"] = list(os.getloadavg())
    return {
        "benchmark": "naive_apscheduler",
        "design": "one APScheduler 3 DateTrigger job per reminder, SQLAlchemyJobStore",
        "db": args.db,
        "reminders": args.reminders,
        "burst_jobs": args.burst_jobs,
        "scheduler_settings": {
            "scheduler": "BackgroundScheduler",
            "executor": "default ThreadPoolExecutor (10 workers)",
            "job_defaults": "APScheduler defaults: misfire_grace_time=1, coalesce=True, "
            "max_instances=1",
            "tablename": TABLENAME,
        },
        "machine": machine,
        "add": asdict(add),
        "restart_empty_store": asdict(restart_empty),
        "restart": asdict(restart),
        "burst": asdict(burst),
        "total_seconds": time.perf_counter() - started,
    }


def positive_int(text: str) -> int:
    value = int(text)  # accepts 10_000
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=f"python -m {MODULE}",
        description="Benchmark one APScheduler 3 date job per reminder in a SQLAlchemyJobStore.",
    )
    parser.add_argument("--reminders", type=positive_int, default=10_000, help="N (default 10000)")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--out", type=Path, help="write the JSON results to this file")
    parser.add_argument(
        "--burst-jobs", type=positive_int, default=10_000, help="M jobs due at one instant (10000)"
    )
    parser.add_argument(
        "--burst-lead", type=float, default=2.0, help="seconds from preparing to due (2)"
    )
    parser.add_argument(
        "--burst-timeout", type=float, default=600.0, help="max seconds to wait past due (600)"
    )
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL, help="SQLAlchemy URL for PostgreSQL")
    parser.add_argument("--child-restart", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.child_restart:
        print(json.dumps(restart_child(args.url)))
        return
    quiet_apscheduler_logging()
    result = run(args)
    print(render_table(result))
    document = json.dumps(result, indent=2)
    if args.out:
        args.out.write_text(document + "\n")
        print(f"JSON written to {args.out}")
    else:
        print(document)


if __name__ == "__main__":
    main()
