"""The crash drill (tests/system/crash_drill.py, also `scripts/chaos --only crashes`),
shortened: a burst of 1,500 reminders, one SIGKILL of a process restarted at once, one of
three replicas SIGKILLed (PostgreSQL), and an 8 s database outage (SQLite: the write lock held
12 s, past the 10 s busy timeout, so that writes fail rather than only wait). The fake Twilio
answers sends and the rescue's lookups 30 ms late, as the drill's does. Each scenario runs
once; each test checks one of its targets and shows the scenario's row, and the reminders and
log lines behind any miss, when it fails."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

from reminders.services.dispatch import Dispatcher
from tests.conftest import postgres_url
from tests.system.crash_drill import (
    KILLS,
    OUTAGE,
    REMINDERS_PER_USER,
    REPLICAS,
    CrashSize,
    run_scenario,
)
from tests.system.drill_report import (
    RECOVERY_TARGET_SECONDS,
    CrashOutcome,
    DrillReport,
    DrillSize,
)

pytestmark = pytest.mark.system

SIZE = CrashSize(
    reminders=1_500,
    kills=1,
    outage_seconds=8.0,
    lead_seconds=45.0,
    wait_seconds=60.0,
    recovery_deadline_seconds=20.0,
)
SQLITE_LOCK = replace(SIZE, outage_seconds=12.0)  # past the busy timeout: writes fail
CONCURRENCY = 8  # the service's default, which the drill leaves as it is
CRASH_WINDOW = CONCURRENCY + 2 * Dispatcher.record_every

KILL_CASES = [
    pytest.param(("sqlite", KILLS), id="sqlite-sigkill"),
    pytest.param(("postgres", KILLS), id="postgres-sigkill", marks=pytest.mark.postgres),
    pytest.param(("postgres", REPLICAS), id="postgres-replica", marks=pytest.mark.postgres),
]
OUTAGE_CASES = [
    pytest.param(("sqlite", OUTAGE), id="sqlite-write-lock"),  # see SQLITE_LOCK
    pytest.param(("postgres", OUTAGE), id="postgres-outage", marks=pytest.mark.postgres),
]


@dataclass(frozen=True)
class Run:
    outcome: CrashOutcome
    table: str  # the scenario's row, and the reminders behind any miss


_RUNS: dict[tuple[str, str], Run] = {}


@pytest.fixture
def run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The scenario, run on first use and kept for the module's other tests."""
    database, kind = request.param
    if (database, kind) not in _RUNS:
        workdir = tmp_path_factory.mktemp(f"crash-{database}-{kind}")
        size = SQLITE_LOCK if (database, kind) == ("sqlite", OUTAGE) else SIZE
        outcome = run_scenario(database, kind, size, workdir, postgres_url=postgres_url())
        report = DrillReport(database, DrillSize(), hostile=False, crashes=[outcome])
        report.crash_seconds = outcome.seconds
        _RUNS[(database, kind)] = Run(outcome, report.render())
        print("\n" + report.render())
    return _RUNS[(database, kind)]


@pytest.mark.parametrize("run", KILL_CASES + OUTAGE_CASES, indirect=True)
def test_every_reminder_of_the_burst_goes_out(run: Run) -> None:
    outcome = run.outcome

    assert outcome.settled, run.table
    assert outcome.lost == 0, run.table
    assert outcome.sent == outcome.reminders == SIZE.users * REMINDERS_PER_USER, run.table


@pytest.mark.parametrize("run", KILL_CASES + OUTAGE_CASES, indirect=True)
def test_no_reminder_goes_out_twice(run: Run) -> None:
    assert run.outcome.duplicates == 0, run.table


@pytest.mark.parametrize("run", KILL_CASES + OUTAGE_CASES, indirect=True)
def test_every_status_agrees_with_what_the_provider_took(run: Run) -> None:
    assert run.outcome.mis_recorded == 0, run.table


@pytest.mark.parametrize("run", KILL_CASES, indirect=True)
def test_the_claims_of_a_killed_process_are_settled_within_10_s(run: Run) -> None:
    recovery = run.outcome.recovery_seconds

    assert sum(run.outcome.claims_left) > 0, f"the kill found no claims\n{run.table}"
    assert recovery and None not in recovery, run.table
    assert max(s for s in recovery if s is not None) < RECOVERY_TARGET_SECONDS, run.table


@pytest.mark.parametrize("run", OUTAGE_CASES, indirect=True)
def test_sending_stops_while_the_database_is_cut_off(run: Run) -> None:
    sent = run.outcome.sent_cut_off

    # What was in flight, or finished but unrecorded, when it went: never a batch after that.
    assert sent is not None and sent <= CRASH_WINDOW, run.table
