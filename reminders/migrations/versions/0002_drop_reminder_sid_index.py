"""Drop the index on reminders.provider_sid.

Status callbacks find their reminder through the message (messages.provider_sid is unique)
and its reminder id, so the index only cost every send an index entry.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_reminders_provider_sid", table_name="reminders")


def downgrade() -> None:
    op.create_index("ix_reminders_provider_sid", "reminders", ["provider_sid"], unique=False)
