"""The migrations build the schema the models describe, on SQLite and PostgreSQL: a column,
index or constraint added to one and not the other fails here."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import text

from reminders.adapters import migrate as migrate_module
from reminders.adapters.db import make_engine, metadata
from reminders.adapters.migrate import migrate
from tests.conftest import DATABASES, both_databases


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest) -> str:
    return both_databases(request)


def test_migrated_schema_matches_the_models(database_url: str) -> None:
    engine = make_engine(database_url)
    migrate(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        differences = compare_metadata(context, metadata)
    engine.dispose()
    assert differences == []


def test_users_stored_with_a_right_or_posix_zone_get_the_plain_name(database_url: str) -> None:
    engine = make_engine(database_url)
    config = Config()
    migrations = Path(migrate_module.__file__).parent.parent / "migrations"
    config.set_main_option("script_location", str(migrations))
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0002")
        for index, zone in enumerate(["right/Europe/London", "posix/Asia/Tokyo", "Europe/Kyiv"]):
            connection.execute(
                text(
                    "INSERT INTO users (phone, status, timezone, session_time, cadence_days, "
                    "created_at, updated_at) VALUES (:phone, 'active', :zone, '20:00', 14, "
                    ":at, :at)"
                ),
                {"phone": f"+1415555010{index}", "zone": zone, "at": datetime(2026, 3, 2)},
            )
        connection.commit()
    migrate(engine)
    with engine.connect() as connection:
        zones = connection.execute(text("SELECT timezone FROM users ORDER BY id")).scalars().all()
    engine.dispose()

    assert zones == ["Europe/London", "Asia/Tokyo", "Europe/Kyiv"]


# Users at revision 0003, each with a status and the keywords of the SMS they sent, oldest
# first; and the paused_reason 0004 gives them.
USERS_BEFORE_0004 = [
    ("paused", ["YES", "DONE", "SORE"], "skin_reaction"),
    ("paused", ["YES", "PAUSE"], "user"),
    ("paused", ["SORE", "RESUME", "PAUSE", "HELP", "NEXT"], "user"),  # the last that decides
    ("paused", ["PAUSE", "SORE", "OTHER"], "skin_reaction"),
    ("paused", ["PAUSE", "RESUME"], "operator"),  # paused by an operator since they resumed
    ("paused", ["YES", "DONE"], "operator"),
    ("paused", [], "operator"),
    ("active", ["SORE", "RESUME"], None),
    ("opted_out", ["PAUSE", "STOP"], None),
]


def test_users_paused_before_0004_get_the_reason_their_last_message_gives(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    config = Config()
    migrations = Path(migrate_module.__file__).parent.parent / "migrations"
    config.set_main_option("script_location", str(migrations))
    at = datetime(2026, 3, 2)
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0003")
        for index, (status, _, _) in enumerate(USERS_BEFORE_0004):
            connection.execute(
                text(
                    "INSERT INTO users (id, phone, status, timezone, session_time, cadence_days,"
                    " created_at, updated_at) VALUES (:id, :phone, :status, 'America/New_York',"
                    " '20:00', 14, :at, :at)"
                ),
                {"id": index + 1, "phone": f"+1415555010{index}", "status": status, "at": at},
            )
        # Interleaved as they came in, each answered by a reply that carries its keyword too.
        longest = max(len(keywords) for _, keywords, _ in USERS_BEFORE_0004)
        for position in range(longest):
            for index, (_, keywords, _) in enumerate(USERS_BEFORE_0004):
                if position >= len(keywords):
                    continue
                for direction, status in (("in", "received"), ("out", "replied")):
                    connection.execute(
                        text(
                            "INSERT INTO messages (user_id, direction, keyword, body, status,"
                            " created_at, updated_at) VALUES (:user_id, :direction, :keyword,"
                            " 'text', :status, :at, :at)"
                        ),
                        {
                            "user_id": index + 1,
                            "direction": direction,
                            "keyword": keywords[position],
                            "status": status,
                            "at": at,
                        },
                    )
        connection.commit()
    migrate(engine)
    with engine.connect() as connection:
        reasons = connection.execute(text("SELECT paused_reason FROM users ORDER BY id")).all()
    engine.dispose()

    assert [r[0] for r in reasons] == [reason for _, _, reason in USERS_BEFORE_0004]
