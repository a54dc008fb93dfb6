"""Apply Alembic migrations at start. On PostgreSQL an advisory lock serialises replicas
that start together."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text

logger = logging.getLogger(__name__)

MIGRATION_LOCK_ID = 4_242_017  # any constant shared by every replica


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision; safe to call from several replicas at once."""
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent.parent / "migrations"))
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID})
            connection.commit()
        try:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            connection.commit()
        finally:
            if connection.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK_ID}
                )
                connection.commit()
    logger.info("database schema is up to date")
