"""Skin safety and the conversation: why a user is paused, the safety notice, the check-in
after a session, a DONE that asks to be confirmed, and the reply limiter's memory.

Additive: an older replica ignores the new columns, but cannot send the two new steps
(docs/operations.md, Upgrades and migrations). A user paused before this revision gets
the reason their last message gives: SORE for a skin reaction, PAUSE for their own pause;
any other paused user was paused by an operator.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("paused_reason", sa.String(16), nullable=True))
    op.add_column("users", sa.Column("safety_notice_at", sa.DateTime(), nullable=True))
    op.add_column(
        "users",
        sa.Column("checkin_due", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("users", sa.Column("done_asked_at", sa.DateTime(), nullable=True))
    op.add_column("sessions", sa.Column("checkin", sa.String(8), nullable=True))
    op.add_column("reply_log", sa.Column("text_key", sa.String(16), nullable=True))
    op.add_column(
        "reply_log",
        sa.Column("text_repeats", sa.Integer(), nullable=False, server_default="0"),
    )
    op.add_column("reply_log", sa.Column("muted_until", sa.DateTime(), nullable=True))
    op.execute(
        """
        UPDATE users SET paused_reason = CASE (
            SELECT m.keyword FROM messages m
            WHERE m.user_id = users.id AND m.direction = 'in'
              AND m.keyword IN ('PAUSE', 'SORE', 'RESUME', 'START', 'YES', 'JOIN')
            ORDER BY m.id DESC LIMIT 1
        )
            WHEN 'SORE' THEN 'skin_reaction'
            WHEN 'PAUSE' THEN 'user'
            ELSE 'operator'
        END
        WHERE status = 'paused'
        """
    )


def downgrade() -> None:
    op.drop_column("reply_log", "muted_until")
    op.drop_column("reply_log", "text_repeats")
    op.drop_column("reply_log", "text_key")
    op.drop_column("sessions", "checkin")
    op.drop_column("users", "done_asked_at")
    op.drop_column("users", "checkin_due")
    op.drop_column("users", "safety_notice_at")
    op.drop_column("users", "paused_reason")
