"""Crashes and outages: the service killed outright, or cut off from its database, in the
middle of a burst of reminders; then what the provider and the database say happened.

Each scenario has its own database (a SQLite file, or a PostgreSQL database created for it and
dropped after it), its own fake Twilio server and fresh `run_service.py` processes: Twilio
backend, quiet hours off, the default lease (60 s) and concurrency (8).

- `kills`: one process, SIGKILLed mid-burst and restarted at once, `kills` times. Each kill
  comes once the previous one's claims are settled and the fake has taken its share of the
  burst, so every kill lands while a live process drains a backlog.
- `replicas` (PostgreSQL only: SQLite serves one process by design): `replicas` processes;
  one is SIGKILLed mid-burst and left dead, and the others must settle its claims.
- `outage`: one process; its database cut off for `outage_seconds` mid-burst. PostgreSQL: the
  scenario's database stops taking connections (`ALLOW_CONNECTIONS false`) and its sessions
  are terminated, from a connection to the server's other database. SQLite has no server to
  lose; its equivalent is a file that takes no writes: another connection holds
  `BEGIN EXCLUSIVE` on it, so every write of the service (claims, outcomes, liveness beats)
  waits out the busy timeout (10 s) and then fails as the database being unavailable, while
  reads go on (WAL).

The burst: `reminders` / 4 users, consent confirmed, enrolled through the bulk path before the
service starts, each with the safety notice that consent plans (held back until the burst) and
a session of three SMS (makeup_removal, peeling, roll). Once the service beats, every reminder
is made due within `spread_seconds`, user by user, and every session to start `lead_seconds`
later: prep steps expire at the session start, so one that a crash leaves unsent has that long
to go out, far more than the drain and a recovery take (a safety notice has HOLD). The fake
answers each send `latency_seconds` late (Twilio takes 100-300 ms), so the service always
holds a backlog of claims and sends in flight when it is killed or cut off, and each lookup of
a rescue (the Message list) `lookup_latency_seconds` late, by default as late as a send.

Counted once nothing of the burst is `scheduled` or `sending` (or a deadline passed), the
processes stopped with SIGTERM, from the fake's record of every message it accepted and the
reminder rows, a reminder being its number and the body it must have (the product's own text):
- sent: reminders the fake accepted at least once; duplicates: more than once;
- lost: reminders the fake never accepted, except an `expired` one whose first claim found it
  stale already (the burst outran its lead: the drill's sizing, not a crash; noted);
- mis-recorded: rows whose status disagrees with the fake: accepted but not `sent`
  (`expired`, `scheduled`, `sending`, `failed`), or `sent` but never accepted;
- recovery: from a SIGKILL until every claim the killed process left `sending` is settled
  (recorded, or released and claimed anew), polled every 0.1 s; the slowest kill;
- claims left, found: `sending` rows of the killed process right after each kill, and how many
  the survivors found at the provider ("the provider had taken a send ..." in their logs);
- held, held s, sent cut off: outcomes the dispatcher could not record and for how long ("could
  not record send outcomes ..." to "send outcomes recorded again ..."), and messages the fake
  accepted while the database was cut off.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as wall_time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, bindparam, create_engine, func, select, text, update
from sqlalchemy.engine import make_url

from config.settings import Settings
from reminders.adapters.db import dispatchers, reminder_rows, sessions, users
from reminders.bootstrap import bootstrap
from reminders.domain.messages import reminder_text
from reminders.domain.model import PhoneNumber, Schedule, Step
from reminders.domain.planning import zone_for
from reminders.services.bulk import Enrollment, enroll_many
from tests.fake_twilio import TEST_ACCOUNT_SID, TEST_AUTH_TOKEN, TEST_FROM_NUMBER
from tests.system.chaos import provisioned_database
from tests.system.drill_report import CrashOutcome
from tests.system.service import STARTED, FakeTwilioProcess, ServiceProcess, free_port, wait_for

KILLS, REPLICAS, OUTAGE = "kills", "replicas", "outage"
SCENARIOS = (KILLS, REPLICAS, OUTAGE)
ADMIN_TOKEN = "crash-drill-admin-token"
PLAN = "makeup_removal@-20s,peeling@-10s,roll@0s"  # the steps; their times are set by the drill
REMINDERS_PER_USER = 4  # the safety notice and the three steps of the session
HOLD = timedelta(hours=1)  # the safety notices wait this long after seeding, until the burst
ZONES = ("UTC", "America/New_York", "Asia/Kathmandu")
SENT = ("sent", "delivered")
ACTIVE = ("scheduled", "sending")
EXAMPLES = 5  # reminders shown per kind of miss
LIVENESS_WAIT_SECONDS = 5.0  # for a new process's first beat (its `dispatchers` row)
LOG_FOUND = "the provider had taken a send with no recorded outcome: recorded as sent"
LOG_UNVERIFIED = "the provider could not be asked about a send with no recorded outcome"
LOG_HELD = "could not record send outcomes: sending stops until they are"
LOG_RESUMED = "send outcomes recorded again: sending resumes"
# Said by a process that finds its beat row gone, and by a dispatcher that drops what it claimed.
LOG_NOTABLE = ("this dispatcher was judged dead", "could not claim or settle due reminders")
LOG_JUDGED = "a dispatcher stopped beating: asking the provider about its claims"


@dataclass(frozen=True)
class CrashSize:
    reminders: int = 6_000
    kills: int = 3
    replicas: int = 3
    outage_seconds: float = 20.0
    latency_seconds: float = 0.03  # how late the fake answers each send
    lookup_latency_seconds: float | None = None  # each lookup of a rescue; None: as a send
    lookups_fail: bool = False  # every lookup answered 500: Twilio cannot be asked
    lead_seconds: float = 60.0  # from the burst to the session start, when prep steps expire
    spread_seconds: float = 2.0  # the burst comes due within this
    wait_seconds: float = 120.0  # the deadline of each wait
    # How long a kill's claims are watched: past the default lease (60 s), after which a
    # claim used to be retried whatever became of it.
    recovery_deadline_seconds: float = 75.0

    @property
    def users(self) -> int:
        return max(1, self.reminders // REMINDERS_PER_USER)


def phone(index: int) -> str:
    return f"+1{3_100_000_000 + index}"


class _ClaimsLeft(threading.Thread):
    """The claims a killed process left `sending` (every `sending` row not claimed by another
    live process: a process may have beaten under more than one id), watched until each is
    settled: no longer `sending`, or `sending` under a claim made after the kill. A take-over
    keeps the claim's time, so a claim a survivor took over but has not settled yet still
    counts as left."""

    def __init__(self, engine: Engine, others: set[str], killed_at: float, deadline: float) -> None:
        super().__init__(daemon=True, name="claims-left")
        r = reminder_rows.c
        query = select(r.id, r.claimed_at, r.claimed_by).where(r.status == "sending")
        with engine.connect() as connection:
            rows = [row for row in connection.execute(query) if row.claimed_by not in others]
        self.claims: dict[int, datetime | None] = {row.id: row.claimed_at for row in rows}
        self.claimers = {str(row.claimed_by) for row in rows}
        self.killed_wall = datetime.now(UTC)
        self.engine = engine
        self.killed_at = killed_at
        self.deadline = deadline
        self.seconds: float | None = None

    def run(self) -> None:
        r = reminder_rows.c
        ids = list(self.claims)
        while True:
            with self.engine.connect() as connection:
                rows = connection.execute(
                    select(r.id, r.status, r.claimed_at).where(r.id.in_(ids))
                ).all()
            left = [
                row.id
                for row in rows
                if row.status == "sending" and row.claimed_at == self.claims[row.id]
            ]
            if not left:
                self.seconds = time.monotonic() - self.killed_at
                return
            if time.monotonic() >= self.deadline:
                return
            time.sleep(0.1)


class _Scenario:
    """One scenario's database, fake Twilio and service processes, and what it saw."""

    def __init__(
        self, database: str, url: str, workdir: Path, size: CrashSize, outcome: CrashOutcome
    ) -> None:
        self.database = database
        self.url = url
        self.workdir = workdir
        self.size = size
        self.outcome = outcome
        self.engine = create_engine(url, pool_pre_ping=True)
        self.max_id = _seed(url, size.users, workdir / "spool-seed")
        self.twilio = FakeTwilioProcess(workdir / "fake_twilio.log")
        lookup = size.lookup_latency_seconds
        lookup = size.latency_seconds if lookup is None else lookup
        if size.lookups_fail:
            self.twilio.add_faults({"status": 500, "times": None, "on": "list"})
            lookup = 0.0
        for on, seconds in (("send", size.latency_seconds), ("list", lookup)):
            if seconds:
                self.twilio.add_faults({"delay_seconds": seconds, "times": None, "on": on})
        self.services: list[ServiceProcess] = []
        self.ids: dict[int, str] = {}  # by process id: each process's dispatcher id, if it beats
        self.kills: list[_ClaimsLeft] = []
        self.marks: list[tuple[int, str]] = []  # (messages accepted by then, what happened)

    # -- moves ----------------------------------------------------------------------------

    def start(self, name: str) -> ServiceProcess:
        """A service process, once its dispatcher beats (its id is a new `dispatchers` row)."""
        known = self._dispatcher_ids()
        port = free_port()
        settings = {
            "REMINDERS_DATABASE_URL": self.url,
            "REMINDERS_HOST": "127.0.0.1",
            "REMINDERS_PORT": str(port),
            "REMINDERS_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "REMINDERS_ADMIN_TOKEN": ADMIN_TOKEN,
            "REMINDERS_SMS_BACKEND": "twilio",
            "REMINDERS_TWILIO_API_URL": self.twilio.url,
            "TWILIO_ACCOUNT_SID": TEST_ACCOUNT_SID,  # one account, as replicas share in production
            "TWILIO_AUTH_TOKEN": TEST_AUTH_TOKEN,
            "TWILIO_FROM_NUMBER": TEST_FROM_NUMBER,
            "REMINDERS_QUIET_HOURS": "off",
            "REMINDERS_PLAN": PLAN,
            "REMINDERS_DISPATCH_INTERVAL_SECONDS": "0.5",
            "REMINDERS_SPOOL_DIR": str(self.workdir / f"spool-{name}"),
        }
        service = ServiceProcess(self.workdir / f"{name}.log", settings)
        self.services.append(service)
        try:
            self.ids[service.popen.pid] = wait_for(
                f"the dispatcher of {name} to beat",
                lambda: next(iter(self._dispatcher_ids() - known), None),
                timeout_seconds=LIVENESS_WAIT_SECONDS,
                process=service,
            )
        except AssertionError:
            if service.exited():
                raise
            note = "no dispatcher beat: a kill's claims are every `sending` row"
            if note not in self.outcome.notes:
                self.outcome.notes.append(note)
        self.mark(f"{name} up")
        return service

    def come_due(self) -> None:
        """Every reminder due within `spread_seconds` from a second from now, user by user,
        and every session starting `lead_seconds` after that; expiries move with the
        sessions, a safety notice's with its send time."""
        burst_at = datetime.now(UTC) + timedelta(seconds=1)
        session_at = burst_at + timedelta(seconds=self.size.lead_seconds)
        r = reminder_rows.c
        with self.engine.begin() as connection:
            starts = dict(connection.execute(select(sessions.c.id, sessions.c.starts_at)).all())
            rows = connection.execute(
                select(r.id, r.session_id, r.send_at, r.expires_at)
                .where(r.id <= self.max_id)
                .order_by(r.user_id, r.id)
            ).all()
            step = timedelta(seconds=self.size.spread_seconds) / max(len(rows), 1)
            due = []
            for i, row in enumerate(rows):
                at = burst_at + i * step
                if row.session_id is None:  # the safety notice
                    expires_at = at + (row.expires_at - row.send_at)
                else:
                    expires_at = session_at + (row.expires_at - starts[row.session_id])
                due.append({"_id": row.id, "_at": at, "_exp": expires_at})
            connection.execute(update(sessions).values(starts_at=session_at))
            connection.execute(
                update(reminder_rows)
                .where(r.id == bindparam("_id"))
                .values(
                    send_at=bindparam("_at"), due_at=bindparam("_at"), expires_at=bindparam("_exp")
                ),
                due,
            )
        self.mark("burst due")

    def kill(self, service: ServiceProcess, label: str) -> _ClaimsLeft:
        """SIGKILL `service`; its claims left `sending` are then watched until settled."""
        killed_at = time.monotonic()
        service.kill()
        self.mark(label)
        others = {
            ident
            for other in self.services
            if other is not service and not other.exited()
            for ident in [self.ids.get(other.popen.pid)]
            if ident is not None
        }
        left = _ClaimsLeft(
            self.engine,
            others,
            killed_at,
            killed_at + self.outcome.recovery_deadline_seconds,
        )
        left.start()
        self.kills.append(left)
        return left

    @contextlib.contextmanager
    def cut_off(self, server_url: str | None) -> Iterator[None]:
        """The database unavailable to the service while inside."""
        if self.database == "sqlite":
            path = make_url(self.url).database
            assert path is not None
            holder = sqlite3.connect(path, timeout=30, isolation_level=None)
            try:
                holder.execute("BEGIN EXCLUSIVE")
                self.mark("cut off")
                yield
            finally:
                if holder.in_transaction:
                    holder.execute("ROLLBACK")
                holder.close()
        else:
            assert server_url is not None
            name = make_url(self.url).database
            server = create_engine(server_url, isolation_level="AUTOCOMMIT")
            try:
                with server.connect() as connection:
                    connection.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
                    connection.execute(
                        text(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                            " WHERE datname = :name AND pid <> pg_backend_pid()"
                        ),
                        {"name": name},
                    )
                self.mark("cut off")
                yield
            finally:
                with server.connect() as connection:
                    connection.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
                server.dispose()
        self.mark("restored")

    # -- reading --------------------------------------------------------------------------

    def accepted(self) -> int:
        return sum(self.twilio.counts().values())

    def mark(self, what: str) -> None:
        self.marks.append((self.accepted(), what))

    def wait_accepted(self, count: int) -> None:
        """Wait until the fake has accepted `count` messages, or nothing of the burst is left
        to claim (it went faster than the drill's moves)."""
        r = reminder_rows.c
        unclaimed = select(func.count()).where(r.id <= self.max_id, r.status == "scheduled")

        def reached() -> bool | None:
            if self.accepted() >= count:
                return True
            with self.engine.connect() as connection:
                return connection.execute(unclaimed).scalar_one() == 0 or None

        wait_for(
            f"{count} messages accepted",
            reached,
            timeout_seconds=self.size.wait_seconds,
            interval_seconds=0.05,
        )

    def wait_holding(self, service: ServiceProcess, timeout_seconds: float = 5.0) -> None:
        """Wait, a few seconds at most, until `service` holds a claim (a `sending` row claimed
        under its dispatcher id); return either way, so a drill that cannot catch it so still
        runs and reports the kill."""
        ident = self.ids.get(service.popen.pid)
        if ident is None:
            return
        r = reminder_rows.c
        query = select(func.count()).where(r.status == "sending", r.claimed_by == ident)

        def holding() -> bool | None:
            with self.engine.connect() as connection:
                return connection.execute(query).scalar_one() > 0 or None

        with contextlib.suppress(AssertionError):
            wait_for(
                "a claim to kill", holding, timeout_seconds=timeout_seconds, interval_seconds=0.01
            )

    def settle(self) -> bool:
        """Wait until nothing of the burst is `scheduled` or `sending`; False at the deadline."""
        r = reminder_rows.c
        query = select(func.count()).where(r.id <= self.max_id, r.status.in_(ACTIVE))

        def nothing_active() -> bool | None:
            with self.engine.connect() as connection:
                return connection.execute(query).scalar_one() == 0 or None

        try:
            wait_for("the burst to settle", nothing_active, timeout_seconds=self.size.wait_seconds)
        except AssertionError:
            return False
        return True

    def _dispatcher_ids(self) -> set[str]:
        with self.engine.connect() as connection:
            return set(connection.execute(select(dispatchers.c.id)).scalars())

    # -- the end --------------------------------------------------------------------------

    def finish(self, brand: str) -> None:
        """Stop what still runs and count into the outcome."""
        outcome = self.outcome
        outcome.settled = self.settle() and outcome.settled
        for left in self.kills:
            left.join()
        codes = [service.stop() for service in self.services if not service.exited()]
        if any(codes):
            outcome.notes.append(f"exit codes on SIGTERM {codes}")
        messages = self.twilio.messages()
        outcome.recovery_seconds = [left.seconds for left in self.kills]
        outcome.claims_left = [len(left.claims) for left in self.kills]
        _tally(self, messages, brand)
        _read_logs(self)

    def close(self) -> None:
        self.engine.dispose()
        self.twilio.stop()


def _seed(url: str, count: int, spool_dir: Path) -> int:
    """`count` users, consent confirmed, a session each with its three SMS planned and the
    safety notice held back by HOLD (else it would go out as the service starts, before the
    burst); returns the highest reminder id."""
    values: dict[str, Any] = {
        "database_url": url,
        "admin_token": ADMIN_TOKEN,
        "quiet_hours": "off",
        "plan": PLAN,
        "spool_dir": spool_dir,  # for the webhook spool, where the service has one
    }
    container = bootstrap(Settings(**values), announce_token=False)
    try:
        for start in range(0, count, 5000):
            entries = [
                Enrollment(
                    PhoneNumber(phone(i)),
                    Schedule(ZONES[i % len(ZONES)], wall_time(12), 14),
                    consent_confirmed=True,
                )
                for i in range(start, min(start + 5000, count))
            ]
            with container.uow() as uow:
                enroll_many(uow, container.policy, datetime.now(UTC), entries)
                uow.commit()
        held = datetime.now(UTC) + HOLD
        r = reminder_rows.c
        with container.engine.begin() as connection:
            notices = connection.execute(
                update(reminder_rows)
                .where(r.step == Step.SAFETY_NOTICE.value)
                .values(send_at=held, due_at=held, expires_at=held + HOLD)
            )
            assert notices.rowcount == count, f"{notices.rowcount} safety notices for {count} users"
            return int(connection.execute(select(func.max(r.id))).scalar_one())
    finally:
        container.close()


def _phase(marks: list[tuple[int, str]], index: int) -> str:
    """What had last happened when the fake accepted its `index`-th message (from 0)."""
    before = [what for count, what in marks if count <= index]
    return before[-1] if before else "start"


def _tally(scenario: _Scenario, messages: list[dict[str, Any]], brand: str) -> None:
    outcome = scenario.outcome
    r, u, s = reminder_rows.c, users.c, sessions.c
    query = (
        select(r.id, r.user_id, r.step, r.status, r.claims, u.phone, u.timezone, s.starts_at)
        .join(users, u.id == r.user_id)
        .outerjoin(sessions, s.id == r.session_id)
        .where(r.id <= scenario.max_id)
        .order_by(r.id)
    )
    with scenario.engine.connect() as connection:
        rows = connection.execute(query).all()
    copies: dict[tuple[str, str], list[int]] = defaultdict(list)
    for index, message in enumerate(messages):
        copies[(message["params"]["To"], message["params"]["Body"])].append(index)
    left_by = {rid: k for k, left in enumerate(scenario.kills, 1) for rid in left.claims}
    expected: set[tuple[str, str]] = set()
    examples: dict[str, list[str]] = defaultdict(list)
    stale = 0
    statuses: Counter[str] = Counter()
    for row in rows:
        body = reminder_text(brand, Step(row.step), row.starts_at, zone_for(row.timezone))
        key = (row.phone, body)
        expected.add(key)
        found = copies.get(key, [])
        statuses[row.status] += 1
        where = f", left sending by kill {left_by[row.id]}" if row.id in left_by else ""
        seen = ", ".join(f"#{i} after '{_phase(scenario.marks, i)}'" for i in found)
        about = (
            f"reminder {row.id} ({row.step}, user {row.user_id}): status {row.status}, "
            f"{row.claims} claims{where}; accepted {len(found)}x" + (f" ({seen})" if seen else "")
        )
        if found:
            outcome.sent += 1
        if len(found) > 1:
            outcome.duplicates += 1
            examples["duplicate"].append(about)
        if not found:
            if row.status == "expired" and row.claims <= 1:
                stale += 1
            else:
                outcome.lost += 1
                examples["lost"].append(about)
        if bool(found) != (row.status in SENT):
            outcome.mis_recorded += 1
            examples["mis-recorded"].append(about)
    outcome.reminders = len(rows)
    unexpected = sum(len(v) for key, v in copies.items() if key not in expected)
    if stale:
        outcome.notes.append(f"{stale} expired before their first claim (burst outran its lead)")
    if unexpected:
        outcome.notes.append(f"{unexpected} messages the fake took match no reminder")
    outcome.notes.append("statuses " + ", ".join(f"{k} {n}" for k, n in sorted(statuses.items())))
    for kind, lines in examples.items():
        shown = lines[:EXAMPLES]
        more = len(lines) > len(shown)
        outcome.evidence += [f"{kind}: {line}" for line in shown]
        if more:
            outcome.evidence.append(f"{kind}: {len(lines) - len(shown)} more like these")
    if outcome.evidence:
        timeline = ", ".join(f"'{what}' at #{count}" for count, what in scenario.marks)
        outcome.evidence.append(f"timeline (messages accepted by then): {timeline}")


def _log_entries(paths: list[Path]) -> Iterator[dict[str, Any]]:
    for path in paths:
        with path.open(errors="replace") as log:
            for line in log:
                with contextlib.suppress(ValueError, TypeError):  # not a JSON object
                    yield dict(json.loads(line))


def _read_logs(scenario: _Scenario) -> None:
    outcome = scenario.outcome
    held_at: datetime | None = None
    judged: dict[str, datetime] = {}
    for service in scenario.services:
        for entry in _log_entries([service.log_path]):
            message = str(entry.get("msg", ""))
            at = datetime.fromisoformat(str(entry["ts"]))
            if message == LOG_FOUND:
                outcome.found += 1
            elif message.startswith(LOG_UNVERIFIED):
                outcome.unverified += 1
            elif message == LOG_HELD:
                outcome.held = (outcome.held or 0) + int(entry.get("count", 0))
                held_at = held_at or at
            elif message == LOG_RESUMED and held_at is not None:
                outcome.held_seconds = (outcome.held_seconds or 0.0) + (
                    at - held_at
                ).total_seconds()
                held_at = None
            elif message == LOG_JUDGED:
                judged.setdefault(str(entry.get("dispatcher")), at)
            notable = next((n for n in LOG_NOTABLE if message.startswith(n)), None)
            if notable is not None:
                name = service.log_path.stem
                cause = str(entry.get("exc", "")).strip().splitlines()[-1:]
                because = f" ({cause[0]})" if cause else ""
                outcome.notes.append(f"{name}: {notable}")
                clock = at.strftime("%H:%M:%S.%f")[:-3]
                outcome.evidence.append(f"{name} at {clock}: {message}{because}")
    if held_at is not None:
        outcome.notes.append("outcomes still held when the service stopped")
    if outcome.unverified:
        outcome.notes.append(f"{outcome.unverified} claims released unverified")
    for kill, left in enumerate(scenario.kills, 1):
        outcome.evidence.append(f"kill {kill}: {_recovery_story(left, judged)}")


def _recovery_story(left: _ClaimsLeft, judged: dict[str, datetime]) -> str:
    """Where a kill's recovery time went: judging the process dead, then asking about claims."""
    story = f"{len(left.claims)} claims left"
    times = [judged[c] for c in left.claimers if c in judged and judged[c] >= left.killed_wall]
    at = min(times, default=None)
    if at is not None:
        story += f", judged dead {(at - left.killed_wall).total_seconds():.1f} s after the kill"
    if left.seconds is None:
        return story + ", not all settled by the deadline"
    story += f", all settled {left.seconds:.1f} s after it"
    if at is not None and left.claims:
        asking = left.seconds - (at - left.killed_wall).total_seconds()
        story += f" ({asking:.1f} s asking the provider: {1000 * asking / len(left.claims):.0f} ms"
        story += " a claim)"
    return story


# -- the scenarios ----------------------------------------------------------------------------


def _kills(scenario: _Scenario, _server_url: str | None) -> None:
    size = scenario.size
    service = scenario.start("service-0")
    scenario.come_due()
    total = size.users * REMINDERS_PER_USER
    for kill in range(1, size.kills + 1):
        if scenario.kills:
            scenario.kills[-1].join()  # each kill rescued by a live process, not the next kill
        scenario.wait_accepted(max(kill * total // (size.kills + 1), scenario.accepted() + 100))
        scenario.kill(service, f"kill {kill}")
        service = scenario.start(f"service-{kill}")


def _replicas(scenario: _Scenario, _server_url: str | None) -> None:
    services = [scenario.start(f"replica-{i}") for i in range(scenario.size.replicas)]
    scenario.come_due()
    scenario.wait_accepted(scenario.size.users * REMINDERS_PER_USER // 3)  # a third of the burst
    # Replicas share the burst tick by tick: the one to kill may be between two claims at
    # this instant, and a kill that leaves nothing to rescue tests nothing.
    scenario.wait_holding(services[0])
    scenario.kill(services[0], "kill replica-0")


def _outage(scenario: _Scenario, server_url: str | None) -> None:
    scenario.start("service")
    scenario.come_due()
    scenario.wait_accepted(scenario.size.users * REMINDERS_PER_USER // 4)  # a quarter of it
    with scenario.cut_off(server_url):
        before = scenario.accepted()  # once the cut is in force: what follows, it could not stop
        time.sleep(scenario.size.outage_seconds)
        scenario.outcome.sent_cut_off = scenario.accepted() - before
    scenario.outcome.held = scenario.outcome.held or 0


def _probe(database: str, kind: str, size: CrashSize) -> str:
    if kind == KILLS:
        return f"{size.kills} SIGKILL{'s' if size.kills != 1 else ''}, restarted at once"
    if kind == REPLICAS:
        return f"SIGKILL 1 of {size.replicas} replicas"
    what = "write lock" if database == "sqlite" else "database outage"
    return f"{size.outage_seconds:g} s {what}"


RUNS: dict[str, Callable[[_Scenario, str | None], None]] = {
    KILLS: _kills,
    REPLICAS: _replicas,
    OUTAGE: _outage,
}


def run_scenario(
    database: str,
    kind: str,
    size: CrashSize,
    workdir: Path,
    *,
    postgres_url: str | None = None,
) -> CrashOutcome:
    """Run one scenario; every process it starts is stopped, and a PostgreSQL database it
    created dropped, before it returns."""
    outcome = CrashOutcome(
        _probe(database, kind, size), recovery_deadline_seconds=size.recovery_deadline_seconds
    )
    if kind == REPLICAS and database == "sqlite":
        outcome.not_run = "SQLite serves one process by design (docs/operations.md)"
        return outcome
    started = time.monotonic()
    first_started = len(STARTED)
    workdir.mkdir(parents=True, exist_ok=True)
    brand = str(Settings.model_fields["brand_name"].default)  # the service's: none is set
    with provisioned_database(database, workdir, postgres_url) as url:
        scenario = _Scenario(database, url, workdir, size, outcome)
        try:
            try:
                RUNS[kind](scenario, postgres_url)
            except AssertionError as exc:  # a wait ran out: count what happened all the same
                outcome.notes.append(f"cut short: {exc}")
                outcome.settled = False
            scenario.finish(brand)
        finally:
            for process in STARTED[first_started:]:
                process.kill()
            scenario.close()
    outcome.seconds = time.monotonic() - started
    return outcome


def run_crash_drill(
    database: str,
    size: CrashSize,
    workdir: Path,
    *,
    postgres_url: str | None = None,
    scenarios: tuple[str, ...] = SCENARIOS,
    progress: Callable[[str], None] | None = None,
) -> list[CrashOutcome]:
    """Every scenario in `scenarios` on `database`, one after the other."""
    outcomes = []
    for kind in scenarios:
        outcome = run_scenario(database, kind, size, workdir / kind, postgres_url=postgres_url)
        outcomes.append(outcome)
        if progress is not None:
            misses = outcome.misses()
            verdict = "; ".join(misses) if misses else "targets met"
            progress(f"{database}: {outcome.probe}: {verdict} ({outcome.seconds:.0f} s)")
    return outcomes
