"""Dispatcher liveness: a beat per process, and who claimed each reminder when.

A claim records the dispatcher that made it (`claimed_by`) and when (`claimed_at`); each
dispatcher beats its row in `dispatchers`. When a dispatcher's beat stops, another one asks
the SMS provider what became of that dispatcher's claims and releases them, instead of
waiting for their lease to run out. Additive: an older replica ignores the new columns.

Time zones are now only the tz database's own names: a user stored with a `right/` or
`posix/` variant gets the plain name, which keeps the same civil time.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dispatchers",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("beats", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("beat_at", sa.DateTime(), nullable=False),
    )
    op.add_column("reminders", sa.Column("claimed_by", sa.String(32), nullable=True))
    op.add_column("reminders", sa.Column("claimed_at", sa.DateTime(), nullable=True))
    op.execute(
        "UPDATE users SET timezone = substr(timezone, 7) "
        "WHERE timezone LIKE 'right/%' OR timezone LIKE 'posix/%'"
    )


def downgrade() -> None:
    op.drop_column("reminders", "claimed_at")
    op.drop_column("reminders", "claimed_by")
    op.drop_table("dispatchers")
