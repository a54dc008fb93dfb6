"""Property test (hypothesis): whatever a user texts and whenever, skin reactions included, the
next planned session is never fewer than 7 local days after the last one (R2), and no SMS is
due in quiet hours (R7)."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from config.settings import Settings
from reminders.adapters.db import reminder_rows
from reminders.bootstrap import bootstrap
from reminders.domain.model import MIN_DAYS_BETWEEN_SESSIONS
from tests.fakes import FakeClock, FakeSmsSender
from tests.routine_driver import enroll, text, upcoming, user

ZONES = ["America/New_York", "Australia/Sydney", "Europe/Berlin", "Asia/Kathmandu"]

actions = st.one_of(
    st.sampled_from(["DONE", "SKIP", "LATER", "PAUSE", "RESUME", "NEXT", "STOP", "START"]),
    # The skin-safety paths: a DONE that also reports a reaction records the session before
    # pausing, an opted-out user's START with a reaction comes back paused, OK answers a
    # check-in.
    st.sampled_from(["Done but it stings", "my skin is red", "START, the redness is gone", "OK"]),
    st.integers(1, 30).map(lambda n: f"EVERY {n}"),
    st.tuples(st.integers(8, 21), st.sampled_from([0, 15, 30, 45])).map(
        lambda t: f"TIME {t[0]:02d}:{t[1]:02d}"
    ),
    st.just("NO REPLY"),
    st.integers(1, 240).map(lambda hours: f"WAIT {hours}"),
)

SPOOL = Path(tempfile.mkdtemp(prefix="reminders-spool-"))  # never written: no outage here


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    zone=st.sampled_from(ZONES),
    cadence=st.integers(7, 28),
    start=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31)),
    script=st.lists(actions, min_size=1, max_size=25),
)
def test_sessions_stay_a_week_apart_and_out_of_quiet_hours(
    zone: str, cadence: int, start: datetime, script: list[str]
) -> None:
    clock = FakeClock(start.replace(tzinfo=UTC))
    container = bootstrap(
        Settings(  # type: ignore[call-arg]
            database_url="sqlite://",
            admin_token="t" * 16,
            sms_backend="console",
            spool_dir=SPOOL,
        ),
        clock=clock,
        sender=FakeSmsSender(clock),
        make_executor=lambda _n: None,
    )
    try:
        enrolled = enroll(container, timezone=zone, cadence_days=cadence)
        for action in script:
            if action == "NO REPLY":
                session = upcoming(container, enrolled.id)
                if session is not None:
                    clock.set(max(clock.now(), session.starts_at + timedelta(hours=12)))
                container.close_unconfirmed()
            elif action.startswith("WAIT"):
                clock.advance(timedelta(hours=int(action.split()[1])))
                container.close_unconfirmed()
            else:
                text(container, action)
            check_invariants(container, enrolled.id, zone)
    finally:
        container.close()


def check_invariants(container: object, user_id: int, zone: str) -> None:
    from reminders.bootstrap import Container

    assert isinstance(container, Container)
    current = user(container, user_id)
    session = upcoming(container, user_id)
    if session is not None and current.last_session_date is not None:
        gap = (session.local_date - current.last_session_date).days
        assert gap >= MIN_DAYS_BETWEEN_SESSIONS, (session, current.last_session_date)
    quiet = container.policy.quiet_hours
    assert quiet is not None
    with container.engine.connect() as connection:
        due = connection.execute(
            select(reminder_rows.c.due_at).where(reminder_rows.c.status == "scheduled")
        ).scalars()
        for at in due:
            assert not quiet.contains_instant(at, ZoneInfo(zone)), at
