"""Benchmarks of the service's own design (not pass/fail tests).

    python -m bench.service_bench --db sqlite --users 10000 [--out bench/results/x.json]

Measures, on a fresh database of N enrolled users:
  enroll    bulk enrolment throughput (users/s)
  idle      one dispatch tick with nothing due (ms: mean, p50, p99)
  startup   run_service.py to a ready /readyz (s) and its peak RSS (MB)
  dispatch  N due SMS through the real twilio client to the loopback fake Twilio (another
            process), beside the same client sending alone with the same concurrency
  overhead  N due SMS through a sender that answers at once: our own CPU per SMS, and the
            local PostgreSQL server's (what the ratio above is made of)
  lateness  the real service under a steady 500 due/s (send start minus due time, p50/p99),
            and a burst of 10k due at once (all sent? how long to drain?)
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from datetime import time as wall_time
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, create_engine, select, text, update

from config.settings import Settings
from reminders.adapters.console_sms import ConsoleSmsSender
from reminders.adapters.db import reminder_rows
from reminders.adapters.twilio_sms import TwilioSmsSender
from reminders.bootstrap import bootstrap
from reminders.domain.errors import SmsLookupError
from reminders.domain.messages import consent_request_text
from reminders.domain.model import PhoneNumber, Schedule
from reminders.ports import SentSms
from reminders.services.bulk import Enrollment, enroll_many

ROOT = Path(__file__).resolve().parents[1]
PG_BASE = os.environ.get(
    "REMINDERS_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
ZONES = [
    "America/New_York",
    "America/Los_Angeles",
    "Europe/London",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "Australia/Sydney",
    "America/Sao_Paulo",
]
ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "fake-twilio-auth-token"
FROM_NUMBER = "+15005550006"
# Sending threads for the throughput comparison. On two cores, with a loopback fake that
# answers in well under a millisecond, more threads only contend for the interpreter lock:
# the raw client alone is fastest at two to four (about 1,200-1,500 SMS/s here, against under
# 1,000 at eight). Real Twilio answers in tens to hundreds of milliseconds and wants more.
CONCURRENCY = 4


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def database(kind: str) -> Iterator[str]:
    """A fresh, empty database: a temporary SQLite file or a new PostgreSQL schema."""
    if kind == "sqlite":
        path = ROOT / "data" / f"bench-{uuid.uuid4().hex[:8]}.db"
        path.parent.mkdir(exist_ok=True)
        try:
            yield f"sqlite:///{path}"
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    schema = "bench_" + uuid.uuid4().hex[:8]
    engine = create_engine(PG_BASE)
    with engine.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{PG_BASE}?options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()


def settings_for(url: str, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": url,
        "admin_token": "bench-admin-token-0000",
        "sms_backend": "console",
        "quiet_hours": "off",
    }
    values.update(extra)
    return Settings(**values)


def people(count: int, start: int, confirmed: bool) -> list[Enrollment]:
    rng = random.Random(start)
    return [
        Enrollment(
            PhoneNumber(f"+1{2_000_000_000 + start + i}"),
            Schedule(rng.choice(ZONES), wall_time(rng.randint(9, 20), rng.choice((0, 30))), 14),
            consent_confirmed=confirmed,
        )
        for i in range(count)
    ]


def seed(url: str, users: int, *, confirmed: bool = True, batch: int = 5000) -> float:
    """Enrol `users` in batches; returns users per second."""
    container = bootstrap(settings_for(url), sender=ConsoleSmsSender(), announce_token=False)
    started = time.perf_counter()
    done = 0
    while done < users:
        size = min(batch, users - done)
        with container.uow() as uow:
            enroll_many(uow, container.policy, container.clock.now(), people(size, done, confirmed))
            uow.commit()
        done += size
    elapsed = time.perf_counter() - started
    container.close()
    return users / elapsed


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def idle_tick(url: str, rounds: int = 300) -> dict[str, float]:
    container = bootstrap(settings_for(url), sender=ConsoleSmsSender(), announce_token=False)
    for _ in range(20):
        container.dispatch_due()
    durations = []
    for _ in range(rounds):
        started = time.perf_counter()
        container.dispatch_due()
        durations.append((time.perf_counter() - started) * 1000)
    container.close()
    return {
        "mean_ms": statistics.fmean(durations),
        "p50_ms": percentile(durations, 0.5),
        "p99_ms": percentile(durations, 0.99),
    }


def service_env(url: str, port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REMINDERS_", "TWILIO_"))}
    env.update(
        REMINDERS_DATABASE_URL=url,
        REMINDERS_PORT=str(port),
        REMINDERS_HOST="127.0.0.1",
        REMINDERS_ADMIN_TOKEN="bench-admin-token-0000",
        REMINDERS_QUIET_HOURS="off",
        REMINDERS_LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
    )
    env.update(extra)
    return env


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def wait_ready(port: int, deadline_s: float) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < deadline_s:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as answer:
                if answer.status == 200:
                    return time.perf_counter() - started
        except OSError:
            pass
        time.sleep(0.02)
    raise RuntimeError("service did not become ready")


def startup(url: str) -> dict[str, float]:
    """The service as in production, on the Twilio backend (its client loaded, pointed at a
    closed loopback port: nothing is due, so nothing is sent)."""
    port = free_port()
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "run_service.py")],
        env=service_env(
            url,
            port,
            REMINDERS_SMS_BACKEND="twilio",
            REMINDERS_TWILIO_API_URL="http://127.0.0.1:9",
            TWILIO_ACCOUNT_SID=ACCOUNT_SID,
            TWILIO_AUTH_TOKEN=AUTH_TOKEN,
            TWILIO_FROM_NUMBER=FROM_NUMBER,
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(port, 60)
        ready_s = time.perf_counter() - started
        time.sleep(2)  # a few ticks at rest
        rss = peak_rss_mb(process.pid)
        stop_started = time.perf_counter()
        process.send_signal(signal.SIGTERM)
        code = process.wait(15)
        return {
            "ready_s": ready_s,
            "peak_rss_mb": rss,
            "stop_s": time.perf_counter() - stop_started,
            "exit_code": code,
        }
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@contextmanager
def fake_twilio() -> Iterator[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fake_twilio", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    url = line.strip().rsplit(" ", 1)[-1]
    try:
        yield url
    finally:
        process.terminate()
        process.wait(10)


def fake_count(url: str, at_least: int = 0) -> int:
    """How many messages the fake accepted; with `at_least`, waits (up to 30 s) for that many
    instead of polling, so the benchmark does not load the machine it measures."""
    query = f"?min_count={at_least}&timeout=30" if at_least else ""
    with urllib.request.urlopen(f"{url}/_fake/messages{query}", timeout=40) as answer:
        return len(json.load(answer)["messages"])


def fake_reset(url: str) -> None:
    request = urllib.request.Request(f"{url}/_fake/messages", method="DELETE")
    urllib.request.urlopen(request, timeout=10).close()


def twilio_sender(fake_url: str, concurrency: int) -> TwilioSmsSender:
    return TwilioSmsSender(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        from_number=FROM_NUMBER,
        messaging_service_sid=None,
        status_callback_url="http://127.0.0.1:9/twilio/status",
        api_url=fake_url,
        max_connections=concurrency,
    )


def raw_client_rate(fake_url: str, count: int, concurrency: int) -> float:
    """The same client sending alone: the SMS the dispatcher sends in `dispatch_rate` (a
    consent question), so both sides post and parse the same amount of text."""
    sender = twilio_sender(fake_url, concurrency)
    phone = PhoneNumber("+14155550123")
    body = consent_request_text(settings_for("sqlite://").brand_name)
    with ThreadPoolExecutor(concurrency) as pool:
        started = time.perf_counter()
        list(pool.map(lambda _i: sender.send(phone, body), range(count)))
        elapsed = time.perf_counter() - started
    sender.close()
    return count / elapsed


def dispatch_rate(url: str, fake_url: str, count: int, concurrency: int) -> float:
    """Enrol `count` pending users (a consent SMS each, due now) and time the dispatcher."""
    seed(url, count, confirmed=False)
    sender = twilio_sender(fake_url, concurrency)
    container = bootstrap(
        settings_for(url, dispatch_batch_size=500, dispatch_concurrency=concurrency),
        sender=sender,
        announce_token=False,
    )
    started = time.perf_counter()
    report = container.dispatch_due()
    elapsed = time.perf_counter() - started
    container.close()
    sender.close()
    sent = report.counts.get("sent", 0)
    if sent != count:
        raise RuntimeError(f"dispatched {sent} of {count}: {report.counts}")
    return count / elapsed


class InstantSender:
    """Accepts every SMS at once: what is left of a dispatch is our own work."""

    def __init__(self) -> None:
        self._sids = itertools.count()

    def send(self, to: PhoneNumber, body: str) -> SentSms:
        return SentSms(provider_sid=f"SM{next(self._sids):032x}", status="queued")

    def find_sent(
        self, to: PhoneNumber, body: str, since: datetime, *, excluding: str | None = None
    ) -> SentSms | None:
        raise SmsLookupError("the benchmark's instant sender keeps no record")


def postgres_server_cpu_s() -> float:
    """CPU seconds used so far by the local PostgreSQL server's processes (Linux /proc)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            name, fields = stat.read_text().split(" (", 1)[1].split(")", 1)
        except OSError:
            continue
        if name == "postgres":
            values = fields.split()
            total += int(values[11]) + int(values[12])
    return total / os.sysconf("SC_CLK_TCK")


def overhead(kind: str, count: int, concurrency: int, rounds: int) -> dict[str, Any]:
    """Dispatch `count` due SMS through an instant sender, `rounds` times: the lowest CPU per
    SMS of our process and of the database server (PostgreSQL only) over the rounds."""
    ours, server = [], []
    for _ in range(rounds):
        with database(kind) as url:
            seed(url, count, confirmed=False)
            container = bootstrap(
                settings_for(url, dispatch_batch_size=500, dispatch_concurrency=concurrency),
                sender=InstantSender(),
                announce_token=False,
            )
            server_before, cpu_before = postgres_server_cpu_s(), time.process_time()
            report = container.dispatch_due()
            ours.append((time.process_time() - cpu_before) / count * 1e6)
            server.append((postgres_server_cpu_s() - server_before) / count * 1e6)
            container.close()
        if report.counts.get("sent", 0) != count:
            raise RuntimeError(f"dispatched {report.counts} of {count}")
    return {
        "count": count,
        "concurrency": concurrency,
        "ours_cpu_us_per_sms": min(ours),
        "database_server_cpu_us_per_sms": min(server) if kind == "postgresql" else None,
        "rounds": {"ours": ours, "server": server},
    }


def run_service_until(url: str, fake_url: str, expected: int, deadline_s: float) -> dict[str, Any]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "run_service.py")],
        env=service_env(
            url,
            port,
            REMINDERS_SMS_BACKEND="twilio",
            REMINDERS_TWILIO_API_URL=fake_url,
            TWILIO_ACCOUNT_SID=ACCOUNT_SID,
            TWILIO_AUTH_TOKEN=AUTH_TOKEN,
            TWILIO_FROM_NUMBER=FROM_NUMBER,
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        started = time.perf_counter()
        while time.perf_counter() - started < deadline_s:
            if fake_count(fake_url, at_least=expected) >= expected:
                break
        drained_s = time.perf_counter() - started
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(20)
    return {"drained_s": drained_s}


def spread_due(url: str, count: int, first_at: datetime, per_second: float | None) -> None:
    """Seed `count` consent SMS due from `first_at`, `per_second` apart (None: all at once)."""
    seed(url, count, confirmed=False)
    engine = create_engine(url)
    with engine.begin() as connection:
        ids = connection.execute(select(reminder_rows.c.id).order_by(reminder_rows.c.id)).scalars()
        rows = []
        for index, reminder_id in enumerate(ids):
            offset = timedelta(seconds=index / per_second) if per_second else timedelta(0)
            at = first_at + offset
            rows.append({"_id": reminder_id, "_at": at})
        connection.execute(
            update(reminder_rows)
            .where(reminder_rows.c.id == bindparam("_id"))
            .values(send_at=bindparam("_at"), due_at=bindparam("_at")),
            rows,
        )
    engine.dispose()


def lateness(url: str) -> dict[str, Any]:
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(
            select(reminder_rows.c.status, reminder_rows.c.send_at, reminder_rows.c.sent_at)
        ).all()
    engine.dispose()
    late = [(r.sent_at - r.send_at).total_seconds() for r in rows if r.sent_at is not None]
    statuses: dict[str, int] = {}
    for row in rows:
        statuses[row.status] = statuses.get(row.status, 0) + 1
    return {
        "count": len(rows),
        "statuses": statuses,
        "lateness_p50_s": percentile(late, 0.5) if late else None,
        "lateness_p99_s": percentile(late, 0.99) if late else None,
        "lateness_max_s": max(late) if late else None,
    }


def steady_and_burst(kind: str, fake_url: str) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with database(kind) as url:
        fake_reset(fake_url)
        count = 10_000
        start_at = datetime.now(UTC) + timedelta(seconds=8)
        spread_due(url, count, start_at, per_second=500)
        run_service_until(url, fake_url, count, deadline_s=60)
        results["steady_500_per_s"] = lateness(url)
    with database(kind) as url:
        fake_reset(fake_url)
        spread_due(url, count, datetime.now(UTC), per_second=None)
        drained = run_service_until(url, fake_url, count, deadline_s=120)
        results["burst_10k"] = {**lateness(url), **drained}
    return results


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "date": datetime.now(UTC).date().isoformat(),
    }


def step(name: str) -> None:
    print(f"-- {name}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--users", type=int, default=10_000, help="0: only --dispatch/--lateness")
    parser.add_argument("--dispatch", type=int, default=0, help="also dispatch N due SMS")
    parser.add_argument("--lateness", action="store_true", help="steady 500/s and a 10k burst")
    parser.add_argument(
        "--overhead", type=int, default=0, help="also dispatch N through an instant sender"
    )
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY, help="sending threads")
    parser.add_argument(
        "--rounds", type=int, default=12, help="dispatch rounds, alternating ours and raw"
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    result: dict[str, Any] = {"db": args.db, "users": args.users, "machine": machine()}
    if args.users:
        with database(args.db) as url:
            step(f"enrolling {args.users} users")
            result["enroll_users_per_s"] = seed(url, args.users)
            step("idle ticks")
            result["idle_tick"] = idle_tick(url)
            step("start-up")
            result["startup"] = startup(url)
    if args.overhead:
        step(f"our own CPU for {args.overhead} SMS")
        result["overhead"] = overhead(args.db, args.overhead, args.concurrency, args.rounds)
    if args.dispatch or args.lateness:
        with fake_twilio() as fake_url:
            if args.dispatch:
                step(f"dispatching {args.dispatch}")
                raw, ours = [], []
                for index in range(args.rounds):
                    # Each round measures both, back to back, in alternating order: the
                    # machine's drift then hits both sides of a round alike.
                    for side in ("raw", "ours") if index % 2 == 0 else ("ours", "raw"):
                        if side == "raw":
                            rate = raw_client_rate(fake_url, args.dispatch, args.concurrency)
                            raw.append(rate)
                        else:
                            with database(args.db) as url:
                                rate = dispatch_rate(url, fake_url, args.dispatch, args.concurrency)
                            ours.append(rate)
                        fake_reset(fake_url)
                ratios = [o / r for o, r in zip(ours, raw, strict=True)]
                result["dispatch"] = {
                    "count": args.dispatch,
                    "concurrency": args.concurrency,
                    "ours_sms_per_s": max(ours),
                    "raw_client_sms_per_s": max(raw),
                    "ratio_of_bests": max(ours) / max(raw),
                    "ratio_median_of_rounds": statistics.median(ratios),
                    "rounds": {"ours": ours, "raw": raw, "ratios": ratios},
                }
            if args.lateness:
                step("steady 500/s and a 10k burst through the real service")
                result.update(steady_and_burst(args.db, fake_url))
    text_out = json.dumps(result, indent=2, default=str)
    print(text_out)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text_out + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
