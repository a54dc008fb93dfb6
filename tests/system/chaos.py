"""A drill that treats the running service as an attacker would, and measures what holds.

One `run_service.py` per database (a temporary SQLite file, or a PostgreSQL database created
for the drill and dropped after it), with the Twilio backend pointed at the fake Twilio server,
signed webhooks, quiet hours off and its log in a file. Then, per round:

1. The reply limiter: `parallel` signed messages at once from a freshly enrolled number,
   and as many from the storm's user, each one that would be answered (BURST_BODIES). The
   user's lock serialises them in an order the service chooses; the drill reads the number's
   window from `reply_log` first and judges the replies by the rules and by a replay of
   `reply_limit.decide` over the order the service recorded them in, and the window left
   afterwards (tests/system/reply_check.py); every HELP must get its answer.
2. The storm: `parallel` requests released together on one enrolled user: PATCHes of
   session_time, cadence_days, timezone and status; signed PAUSE, RESUME, SKIP, LATER, DONE,
   NEXT, OK, TIME hh:mm, EVERY n, STOP, START, a skin reaction in free text and a START
   that reports one; and, every other round (the first, the third ...), one DELETE. The
   number is enrolled again at the start of the next round, erased first when the storm
   left it: so the invariants see what a storm leaves of a user, and of an erased one.
3. The invariants of tests/system/invariants.py, read from the database.

After the rounds, the oversized bodies of tests/system/oversized.py with the service's RSS
sampled, and, once the service has stopped, its whole log searched for phone numbers of the
drill in full.

`run_drill` returns a DrillReport (tests/system/drill_report.py), which holds the targets and
prints the table.
"""

from __future__ import annotations

import contextlib
import json
import random
import re
import threading
import time
import uuid
import xml.etree.ElementTree as ElementTree
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import phonenumbers
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.engine import make_url

from config.settings import Settings
from reminders.adapters.db import messages
from reminders.adapters.repository.users import ReplyLogRepository
from reminders.domain import reply_limit
from reminders.domain.messages import limited_text
from reminders.domain.model import PhoneNumber
from reminders.domain.reply_limit import ReplyWindow
from tests.fake_twilio import TEST_ACCOUNT_SID, TEST_AUTH_TOKEN, TEST_FROM_NUMBER
from tests.system import invariants
from tests.system.drill_report import (
    LIMIT_ENROLLED,
    LIMIT_FRESH,
    SETUP,
    STORM,
    DrillReport,
    DrillSize,
    LimitCheck,
    Tally,
)
from tests.system.oversized import run_oversized
from tests.system.reply_check import Recorded, Sent, judge
from tests.system.service import STARTED, FakeTwilioProcess, ServiceProcess, free_port
from tests.twilio_webhooks import INBOUND_PATH, FakeTwilioWebhooks, reply_of

ADMIN_TOKEN = "chaos-drill-admin-token"
STORM_PHONE = "+14155550142"
OVERSIZED_PHONE = "+14155550190"
ZONES = ("America/New_York", "America/Los_Angeles", "Europe/London", "Asia/Kathmandu")
BURST_BODIES = ("HELP", "NEXT", "hello?")  # each answered, none changes anything
NEVER_LIMITED = frozenset({"HELP"})  # answered whatever the reply limiter says (docs/rules.md)
BRAND = str(Settings.model_fields["brand_name"].default)  # the service's: none is set


def fresh_phone(round_index: int) -> str:
    return f"+1415555{2000 + round_index:04d}"


def phone_pattern(phones: Iterable[str]) -> re.Pattern[str]:
    """Any of `phones` in full: E.164, without '+', the national number, and the formatted
    international and national forms."""
    forms = set()
    for phone in phones:
        parsed = phonenumbers.parse(phone)
        forms |= {
            phone,
            phone.lstrip("+"),
            str(parsed.national_number),
            phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL),
            phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL),
        }
    alternatives = "|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True))
    return re.compile(rf"(?<![0-9])(?:{alternatives})(?![0-9])")


def scan_log(path: Path, phones: Iterable[str]) -> Counter[str]:
    """Occurrences of `phones` in full in a JSON-lines log, by the field they are in ('raw'
    for a line that is not JSON, such as a traceback printed as it is)."""
    pattern = phone_pattern(phones)
    found: Counter[str] = Counter()
    with path.open(errors="replace") as log:
        for line in log:
            if not pattern.search(line):
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                entry = None
            if not isinstance(entry, dict):
                found["raw"] += len(pattern.findall(line))
                continue
            for key, value in entry.items():
                found[key] += len(pattern.findall(str(value)))
    return +found


@contextlib.contextmanager
def provisioned_database(database: str, workdir: Path, postgres_url: str | None) -> Iterator[str]:
    """The URL of an empty database: a SQLite file in `workdir`, or a PostgreSQL database
    created on the server of `postgres_url` and dropped afterwards."""
    if database == "sqlite":
        yield f"sqlite:///{workdir / 'reminders.db'}"
        return
    if not postgres_url:
        raise ValueError("a PostgreSQL URL is needed for --database postgres")
    base = make_url(postgres_url)
    name = "chaos_" + uuid.uuid4().hex[:12]
    server = create_engine(base, isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


class _Drill:
    """The drill's moves against one running service; counts into `report`."""

    def __init__(
        self, service: ServiceProcess, engine: Engine, report: DrillReport, seed: int
    ) -> None:
        size = report.size
        self.engine = engine
        self.report = report
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.sent_sids: set[str] = set()
        self.acked_sids: set[str] = set()
        # A new connection per request, as Twilio's webhooks come: a kept-alive one that the
        # server closes as idle just when it is reused fails on the client's side, which would
        # count as a request the service never answered.
        self.client = httpx.Client(
            base_url=service.url,
            timeout=size.request_timeout_seconds,
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=0),
        )
        self.webhooks = FakeTwilioWebhooks(
            self.client, public_url=service.url, auth_token=TEST_AUTH_TOKEN
        )
        self.pool = ThreadPoolExecutor(max_workers=2 * size.parallel)
        self.user_id = 0

    def close(self) -> None:
        self.pool.shutdown()
        self.client.close()

    def _count(self, probe: str, status: int | None, error: Exception | None = None) -> None:
        with self.lock:
            tally = self.report.tallies.setdefault(probe, Tally())
            tally.add(status, type(error).__name__ if error is not None else "")

    def admin(
        self, probe: str, method: str, path: str, body: dict[str, Any] | None = None
    ) -> httpx.Response | None:
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        try:
            response = self.client.request(method, path, json=body, headers=headers)
        except httpx.HTTPError as exc:
            self._count(probe, None, exc)
            return None
        self._count(probe, response.status_code)
        return response

    def text(self, probe: str, phone: str, body: str) -> str | None:
        """A signed inbound SMS; returns the reply (None: no reply, or no 2xx)."""
        return self.sms(probe, phone, body).reply

    def sms(self, probe: str, phone: str, body: str) -> Sent:
        """A signed inbound SMS, its SID and what came back."""
        sid = "SM" + uuid.uuid4().hex
        params = self.webhooks.inbound_params(phone, body, sid=sid)
        with self.lock:
            self.sent_sids.add(sid)
        try:
            response = self.webhooks.post(INBOUND_PATH, params)
        except httpx.HTTPError as exc:
            self._count(probe, None, exc)
            return Sent(sid, body, None, answered=False, limited=body not in NEVER_LIMITED)
        self._count(probe, response.status_code)
        if not response.is_success:
            return Sent(sid, body, None, answered=False, limited=body not in NEVER_LIMITED)
        with self.lock:
            self.acked_sids.add(sid)
        try:
            reply = reply_of(response)
        except (ElementTree.ParseError, AssertionError):
            reply = None
        return Sent(sid, body, reply, answered=True, limited=body not in NEVER_LIMITED)

    def fire(self, calls: list[Callable[[], Any]]) -> list[Any]:
        """Run `calls` at once: every worker waits at a barrier until all are ready."""
        barrier = threading.Barrier(len(calls))

        def run(call: Callable[[], Any]) -> Any:
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait(timeout=30)
            return call()

        futures = [self.pool.submit(run, call) for call in calls]
        return [future.result() for future in futures]

    def find_user(self, phone: str) -> int | None:
        cursor: str | None = None
        while True:
            query = urlencode({"limit": 200, **({"cursor": cursor} if cursor else {})})
            response = self.admin(SETUP, "GET", f"/v1/users?{query}")
            if response is None or response.status_code != 200:
                return None
            page = response.json()
            for user in page["items"]:
                if user["phone"] == phone:
                    return int(user["id"])
            cursor = page["next_cursor"]
            if not cursor:
                return None

    def enrol(self, phone: str) -> int | None:
        """Enrol `phone`, consent confirmed; a user left over with the number (a DELETE that
        failed) is erased first. Returns the user's id, None when that did not work."""
        body = {
            "phone": phone,
            "timezone": "America/New_York",
            "session_time": "19:30",
            "consent": "confirmed",
        }
        for _ in range(2):
            response = self.admin(SETUP, "POST", "/v1/users", body)
            if response is not None and response.status_code == 201:
                return int(response.json()["id"])
            if response is None or response.status_code != 409:
                return None
            existing = self.find_user(phone)
            if existing is not None:
                self.admin(SETUP, "DELETE", f"/v1/users/{existing}")
        return None

    def reply_window(self, phone: str) -> ReplyWindow | None:
        """The reply limiter's window of `phone`, read as the service reads it."""
        with self.engine.connect() as connection:
            return ReplyLogRepository(connection).window(PhoneNumber(phone))

    def recorded(self, sent: list[Sent]) -> list[Recorded]:
        """The messages of `sent` the service recorded, in the order of their ids: the order
        its limiter took them in (tests/system/reply_check.py)."""
        query = (
            select(messages.c.provider_sid, messages.c.created_at)
            .where(
                messages.c.direction == "in",
                messages.c.provider_sid.in_([s.sid for s in sent]),
            )
            .order_by(messages.c.id)
        )
        with self.engine.connect() as connection:
            return [Recorded(row.provider_sid, row.created_at) for row in connection.execute(query)]

    def burst(self, phone: str, probe: str) -> Callable[[], Sent]:
        return partial(self.sms, probe, phone, self.rng.choice(BURST_BODIES))

    def storm(self, user_id: int, erase: bool) -> list[Callable[[], Any]]:
        """`parallel` requests on one user, with `erase` the DELETE among them."""
        rng = self.rng
        path = f"/v1/users/{user_id}"

        def patch(body: dict[str, Any]) -> Callable[[], Any]:
            return partial(self.admin, STORM, "PATCH", path, body)

        def sms(body: str) -> Callable[[], Any]:
            return partial(self.text, STORM, STORM_PHONE, body)

        def hhmm() -> str:
            return f"{rng.randint(9, 20):02d}:{rng.choice((0, 15, 30, 45)):02d}"

        calls = [patch({"session_time": hhmm()}) for _ in range(6)]
        calls += [patch({"cadence_days": rng.randint(7, 28)}) for _ in range(4)]
        calls += [patch({"timezone": rng.choice(ZONES)}) for _ in range(4)]
        calls += [patch({"status": status}) for status in ("active", "paused") * 3]
        words = ["PAUSE"] * 3 + ["RESUME"] * 3 + ["SKIP", "LATER", "DONE"] * 3 + ["NEXT", "OK"]
        words += ["my skin stings a bit", "START, the redness is gone"]  # reactions: SORE
        words += [f"TIME {hhmm()}" for _ in range(3)]
        words += [f"EVERY {rng.randint(7, 28)}" for _ in range(3)]
        words += ["STOP", "START"] * 2
        calls += [sms(word) for word in words]
        parallel = self.report.size.parallel
        many = [calls[i % len(calls)] for i in range(parallel - 1 if erase else parallel)]
        if erase:
            many.append(partial(self.admin, STORM, "DELETE", path))
        rng.shuffle(many)
        return many

    def round(self, index: int) -> None:
        size = self.report.size
        user_id = self.enrol(STORM_PHONE)
        self.user_id = user_id or self.user_id
        fresh = fresh_phone(index)
        checks: list[tuple[str, str, ReplyWindow | None]] = []
        if self.enrol(fresh) is not None:
            checks.append((LIMIT_FRESH, fresh, self.reply_window(fresh)))
        if user_id is not None:  # else the user's state, and so its replies, are unknown
            checks.append((LIMIT_ENROLLED, STORM_PHONE, self.reply_window(STORM_PHONE)))
        calls = [
            self.burst(phone, probe) for probe, phone, _ in checks for _ in range(size.parallel)
        ]
        first = datetime.now(UTC)
        bursts: list[Sent] = self.fire(calls) if calls else []
        last = datetime.now(UTC)
        notice = limited_text(BRAND, reply_limit.silence_minutes())
        for i, (probe, phone, before) in enumerate(checks):
            mine = bursts[i * size.parallel : (i + 1) * size.parallel]
            after = self.reply_window(phone)
            judged = judge(before, mine, self.recorded(mine), after, first, last, notice)
            self.report.limits.setdefault(probe, LimitCheck()).rounds.append(judged)

        self.fire(self.storm(self.user_id, erase=index % 2 == 0))

        with self.lock:
            sent, acked = set(self.sent_sids), set(self.acked_sids)
        for kind, keys in invariants.check(self.engine, sent, acked).items():
            if keys:
                self.report.violation_rounds[kind] += 1
                self.report.violations.setdefault(kind, set()).update(keys)


def _service_settings(url: str, port: int, twilio: FakeTwilioProcess) -> dict[str, str]:
    return {
        "REMINDERS_DATABASE_URL": url,
        "REMINDERS_HOST": "127.0.0.1",
        "REMINDERS_PORT": str(port),
        "REMINDERS_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "REMINDERS_ADMIN_TOKEN": ADMIN_TOKEN,
        "REMINDERS_SMS_BACKEND": "twilio",
        "REMINDERS_TWILIO_API_URL": twilio.url,
        "TWILIO_ACCOUNT_SID": TEST_ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": TEST_AUTH_TOKEN,
        "TWILIO_FROM_NUMBER": TEST_FROM_NUMBER,
        "REMINDERS_QUIET_HOURS": "off",
        "REMINDERS_DISPATCH_INTERVAL_SECONDS": "0.5",
    }


def _progress_line(report: DrillReport, index: int) -> str:
    failed = sum(t.server_errors + t.unanswered for t in report.tallies.values())
    off = sum(len(check.rounds_off()) for check in report.limits.values())
    broken = sum(len(keys) for keys in report.violations.values())
    return (
        f"{report.database} round {index + 1}/{report.size.rounds}, so far: {failed} 5xx or "
        f"unanswered, {off} reply counts off, {broken} invariant violations"
    )


def run_drill(
    database: str,
    size: DrillSize,
    workdir: Path,
    *,
    postgres_url: str | None = None,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> DrillReport:
    """Run the whole drill on `database` ('sqlite' or 'postgres'); every process it starts
    is stopped, and a PostgreSQL database it created dropped, before it returns."""
    report = DrillReport(database, size)
    say = progress or (lambda _line: None)
    started = time.monotonic()
    first_started = len(STARTED)
    with provisioned_database(database, workdir, postgres_url) as url:
        engine = create_engine(url)
        service: ServiceProcess | None = None
        twilio: FakeTwilioProcess | None = None
        try:
            twilio = FakeTwilioProcess(workdir / "fake_twilio.log")
            port = free_port()
            service = ServiceProcess(workdir / "service.log", _service_settings(url, port, twilio))
            drill = _Drill(service, engine, report, seed)
            try:
                for index in range(size.rounds):
                    drill.round(index)
                    say(_progress_line(report, index))
            finally:
                drill.close()
            say(f"{database}: oversized bodies")
            report.oversized = run_oversized(
                service.popen.pid, port, ADMIN_TOKEN, OVERSIZED_PHONE, size.oversized
            )
        finally:
            engine.dispose()
            if service is not None:
                report.exit_code = service.stop()
            if twilio is not None:
                twilio.stop()
            for process in STARTED[first_started:]:  # one that failed to come up
                process.kill()
    phones = [STORM_PHONE, OVERSIZED_PHONE, *(fresh_phone(i) for i in range(size.rounds))]
    report.unmasked = scan_log(workdir / "service.log", phones)
    report.seconds = time.monotonic() - started
    return report
