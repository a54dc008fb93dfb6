"""The migrations build the schema the models describe, on SQLite and PostgreSQL: a column,
index or constraint added to one and not the other fails here."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

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
