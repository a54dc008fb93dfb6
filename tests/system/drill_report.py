"""What the hostile drill (tests/system/chaos.py) and the crash drill
(tests/system/crash_drill.py) measured, their targets, and the tables.

A DrillReport turns its figures into rows: plain dicts, one per probe, each with a `target`
cell ('ok', 'MISSED', or 'n/a' for a probe that does not apply). `render_table` prints any
list of such dicts, taking its columns from the rows, so a probe with other figures only has
to add its rows: a CrashOutcome (a SIGKILL, a database outage: sent, lost, duplicates,
mis-recorded, recovery seconds) is one, printed in a table of its own.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field

from tests.system import invariants
from tests.system.oversized import MB, KindResult, OversizedSize, describe_statuses
from tests.system.reply_check import LimitRound

MAX_PEAK_RSS_MB = 150.0
RECOVERY_TARGET_SECONDS = 10.0  # from a SIGKILL until the dead process's claims are settled
QUICK_SECONDS = 5.0  # an oversized body is refused within this, not read to its end
OVERSIZED_ACCEPTED = {
    "admin_no_token": {401, 413},
    "admin_token": {413},
    "webhook_chunked": {413},
    "webhook_lying_length": {413},
}

SETUP = "setup: enrol, re-enrol"
STORM = "storm: one user"
LIMIT_FRESH = "replies: fresh number"
LIMIT_ENROLLED = "replies: storm's user"

Row = dict[str, object]


@dataclass(frozen=True)
class DrillSize:
    rounds: int = 10
    parallel: int = 50
    request_timeout_seconds: float = 30.0
    oversized: OversizedSize = field(default_factory=OversizedSize)


@dataclass
class Tally:
    """HTTP answers of one probe; `unanswered` counts timeouts and dropped connections."""

    requests: int = 0
    ok: int = 0
    client_errors: int = 0
    server_errors: int = 0
    unanswered: int = 0
    why_unanswered: Counter[str] = field(default_factory=Counter)  # by exception name

    def add(self, status: int | None, error: str = "") -> None:
        """Count an answer's status; None with the error when there was no answer."""
        self.requests += 1
        if status is None:
            self.unanswered += 1
            self.why_unanswered[error or "unknown"] += 1
        elif 200 <= status < 300:
            self.ok += 1
        elif 400 <= status < 500:
            self.client_errors += 1
        elif status >= 500:
            self.server_errors += 1

    def figures(self) -> Row:
        return {
            "requests": self.requests,
            "2xx": self.ok,
            "4xx": self.client_errors,
            "5xx": self.server_errors,
            "no answer": self.unanswered,
        }


@dataclass
class LimitCheck:
    """The bursts of one probe against the reply limiter, one per round checked, each judged
    by the rules and by a replay (tests/system/reply_check.py)."""

    rounds: list[LimitRound] = field(default_factory=list)

    def rounds_off(self) -> list[list[str]]:
        """What broke, in every round where something did."""
        return [judged.problems for judged in self.rounds if judged.problems]

    def figures(self) -> Row:
        """Replies got, replayed and allowed by the rules, and answers to the messages never
        limited, summed over the rounds."""
        rounds = self.rounds
        return {
            "replies got": sum(judged.replies for judged in rounds),
            "replayed": sum(judged.replayed or 0 for judged in rounds),
            "allowed": f"{sum(j.low for j in rounds)}-{sum(j.high for j in rounds)}",
            "HELP answered": (
                f"{sum(j.unlimited_answered for j in rounds)}/{sum(j.unlimited for j in rounds)}"
            ),
            "rounds off": f"{len(self.rounds_off())}/{len(rounds)}",
        }


@dataclass
class CrashOutcome:
    """What one scenario of the crash drill measured (see tests/system/crash_drill.py for how
    each figure is counted). `recovery_seconds` has one entry per SIGKILL, None when the
    killed process's claims were not all settled within the drill's deadline."""

    probe: str
    reminders: int = 0
    sent: int = 0
    lost: int = 0
    duplicates: int = 0
    mis_recorded: int = 0
    recovery_seconds: list[float | None] = field(default_factory=list)
    recovery_deadline_seconds: float = 0.0  # how long the drill watched each kill's claims
    claims_left: list[int] = field(default_factory=list)  # `sending` at each SIGKILL
    found: int = 0  # claims left by a killed process that the provider had taken
    unverified: int = 0  # released without asking the provider (it could not be asked)
    held: int | None = None  # outcomes the dispatcher could not record (outage only)
    held_seconds: float | None = None
    sent_cut_off: int | None = None  # messages the provider took while the database was cut
    settled: bool = True  # nothing of the burst left `scheduled` or `sending` by the deadline
    seconds: float = 0.0
    not_run: str = ""  # why the scenario does not apply to this database
    notes: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)  # a few reminders behind each miss

    def row(self) -> Row:
        if self.not_run:
            return {"probe": self.probe, "notes": self.not_run, "target": "n/a"}
        row: Row = {
            "probe": self.probe,
            "reminders": self.reminders,
            "sent": self.sent,
            "lost": self.lost,
            "duplicates": self.duplicates,
            "mis-recorded": self.mis_recorded,
        }
        if self.recovery_seconds:
            known = [s for s in self.recovery_seconds if s is not None]
            slowest = max(known) if len(known) == len(self.recovery_seconds) else None
            never = f"> {self.recovery_deadline_seconds:.0f}"
            row["recovery s"] = slowest if slowest is not None else never
            row["claims left"] = "+".join(map(str, self.claims_left))
            row["found"] = self.found
        if self.held is not None:
            row["held"] = self.held
            row["held s"] = self.held_seconds if self.held_seconds is not None else "-"
            row["sent cut off"] = self.sent_cut_off if self.sent_cut_off is not None else "-"
        row["seconds"] = self.seconds
        if self.notes:
            row["notes"] = "; ".join(self.notes)
        return row

    def misses(self) -> list[str]:
        if self.not_run:
            return []
        misses = [
            f"{count} {what}"
            for count, what in (
                (self.lost, "lost"),
                (self.duplicates, "sent more than once"),
                (self.mis_recorded, "mis-recorded"),
            )
            if count
        ]
        if not self.settled:
            misses.append("reminders still scheduled or sending at the deadline")
        for kill, seconds in enumerate(self.recovery_seconds, 1):
            if seconds is None:
                deadline = self.recovery_deadline_seconds
                misses.append(f"kill {kill}: claims left unsettled for {deadline:.0f} s and more")
            elif seconds >= RECOVERY_TARGET_SECONDS:
                target = RECOVERY_TARGET_SECONDS
                misses.append(f"kill {kill}: recovery {seconds:.1f} s (target < {target:.0f} s)")
        return misses


@dataclass
class DrillReport:
    database: str
    size: DrillSize
    seconds: float = 0.0
    exit_code: int | None = None
    hostile: bool = True  # False: only the crash drill ran, the hostile rows are left out
    crashes: list[CrashOutcome] = field(default_factory=list)
    crash_seconds: float = 0.0
    tallies: dict[str, Tally] = field(default_factory=dict)
    limits: dict[str, LimitCheck] = field(default_factory=dict)
    violations: dict[str, set[Hashable]] = field(default_factory=dict)  # distinct, by kind
    violation_rounds: Counter[str] = field(default_factory=Counter)
    oversized: list[KindResult] = field(default_factory=list)
    unmasked: Counter[str] = field(default_factory=Counter)  # occurrences by log field

    def title(self) -> str:
        return (
            f"{self.database}: {self.size.rounds} rounds of {self.size.parallel} parallel "
            f"requests, {self.seconds:.0f} s, service exit code {self.exit_code}"
        )

    def _http_rows(self) -> Iterator[tuple[Row, list[str]]]:
        for probe, tally in self.tallies.items():
            row: Row = {"probe": probe, **tally.figures()}
            misses = []
            if tally.server_errors:
                misses.append(f"{tally.server_errors} answered 5xx")
            if tally.unanswered:
                why = ", ".join(f"{name} {n}" for name, n in tally.why_unanswered.most_common())
                row["notes"] = f"no answer: {why}"
                misses.append(f"{tally.unanswered} got no answer ({why})")
            limit = self.limits.get(probe)
            if limit is not None:
                row.update(limit.figures())
                misses += [
                    f"auto-replies, round {index}: {problem}"
                    for index, judged in enumerate(limit.rounds, 1)
                    for problem in judged.problems
                ]
            yield row, misses

    def _invariant_rows(self) -> Iterator[tuple[Row, list[str]]]:
        for kind, label in invariants.KINDS.items():
            count = len(self.violations.get(kind, ()))
            rounds = self.violation_rounds[kind]
            row: Row = {
                "probe": label,
                "rounds off": f"{rounds}/{self.size.rounds}",
                "violations": count,
            }
            yield row, [f"{count} distinct, seen in {rounds} rounds"] if count else []

    def _oversized_rows(self) -> Iterator[tuple[Row, list[str]]]:
        for result in self.oversized:
            answers = result.answers
            accepted = OVERSIZED_ACCEPTED[result.kind]
            slowest = max((a.seconds for a in answers), default=0.0)
            row: Row = {
                "probe": f"big: {self.size.oversized.label(result.kind)}",
                "requests": len(answers),
                "statuses": describe_statuses(answers),
                "seconds": slowest,
                "MB sent": max((a.sent_bytes for a in answers), default=0) / MB,
                "peak RSS MB": result.peak_rss_mb,
                "notes": f"RSS {result.rss_before_mb:.0f} MB before",
            }
            misses = []
            if any(a.status not in accepted for a in answers):
                wanted = " or ".join(map(str, sorted(accepted)))
                misses.append(f"answered {describe_statuses(answers)}, not {wanted}")
            if slowest > QUICK_SECONDS:
                misses.append(f"slowest answer {slowest:.1f} s (target {QUICK_SECONDS:.0f} s)")
            if result.peak_rss_mb >= MAX_PEAK_RSS_MB:
                peak, limit = result.peak_rss_mb, MAX_PEAK_RSS_MB
                misses.append(f"peak RSS {peak:.0f} MB (target < {limit:.0f} MB)")
            yield row, misses

    def _log_rows(self) -> Iterator[tuple[Row, list[str]]]:
        total = sum(self.unmasked.values())
        where = ", ".join(f"{key} {n}" for key, n in self.unmasked.most_common())
        row: Row = {"probe": "log: numbers in full", "unmasked": total}
        if where:
            row["notes"] = f"in: {where}"
        yield row, [f"{total} occurrences (by field: {where})"] if total else []

    def _hostile_checked(self) -> Iterator[tuple[Row, list[str]]]:
        if not self.hostile:
            return
        yield from self._http_rows()
        yield from self._invariant_rows()
        yield from self._oversized_rows()
        yield from self._log_rows()

    def _crash_checked(self) -> Iterator[tuple[Row, list[str]]]:
        for outcome in self.crashes:
            yield outcome.row(), outcome.misses()

    def _checked(self) -> Iterator[tuple[Row, list[str]]]:
        yield from self._hostile_checked()
        yield from self._crash_checked()

    def rows(self) -> list[Row]:
        """One dict per probe; `target` is 'ok' or 'MISSED' ('n/a': the probe does not apply)."""
        return _targeted(self._checked())

    def missed(self) -> list[str]:
        """Every target missed, as 'probe: what'."""
        return [f"{row['probe']}: {miss}" for row, misses in self._checked() for miss in misses]

    def crash_title(self) -> str:
        return (
            f"{self.database}: crashes and outages, {self.crash_seconds:.0f} s (each scenario: "
            "a fresh database, fake Twilio and service processes)"
        )

    def render(self) -> str:
        """The tables (hostile, then crashes and outages), then every target missed and the
        reminders behind the crash drill's misses."""
        lines = []
        if self.hostile:
            lines.append(render_table(self.title(), _targeted(self._hostile_checked())))
        if self.crashes:
            lines.append(render_table(self.crash_title(), _targeted(self._crash_checked())))
        lines += [f"  MISSED {miss}" for miss in self.missed()] or ["  every target met"]
        for outcome in self.crashes:
            lines += [f"  {outcome.probe}: {line}" for line in outcome.evidence]
        return "\n".join(lines)


def _targeted(checked: Iterator[tuple[Row, list[str]]]) -> list[Row]:
    return [
        {**row, "target": row.get("target") or ("MISSED" if misses else "ok")}
        for row, misses in checked
    ]


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def render_table(title: str, rows: list[Row]) -> str:
    """A plain-text table of `rows`: the columns are every key, in the order first seen,
    `notes` and `target` last; a row without a key leaves its cell empty. Columns of numbers
    are right-aligned."""
    columns: list[str] = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    for last in ("notes", "target"):
        if last in columns:
            columns.remove(last)
            columns.append(last)
    cells = [[_cell(row[c]) if c in row else "" for c in columns] for row in rows]
    widths = [max([len(c), *(len(line[i]) for line in cells)]) for i, c in enumerate(columns)]
    numeric = [all(isinstance(row[c], int | float) for row in rows if c in row) for c in columns]

    def line(values: list[str]) -> str:
        parts = [
            value.rjust(width) if right else value.ljust(width)
            for value, width, right in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([title, line(columns), rule, *(line(values) for values in cells)])
