"""The state tables as ``bot_state.sqlite`` had them before migrations: created only where missing.

An existing state file has these tables but no ``alembic_version``; this revision then creates
nothing and marks the file as at revision 0001, so every row stays where it was.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "history",
        sa.Column("chat", sa.Text, nullable=False),
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sqlite_autoincrement=True,
        if_not_exists=True,
    )
    op.create_index("history_chat", "history", ["chat", "seq"], if_not_exists=True)
    op.create_table(
        "questions",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("user", sa.Text, nullable=False),
        sa.Column("chat_type", sa.Text, nullable=False),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("answered", sa.Integer, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("source_path", sa.Text, nullable=False, server_default=""),
        sa.Column("source_heading", sa.Text, nullable=False, server_default=""),
        sa.Column("source_title", sa.Text, nullable=False, server_default=""),
        sa.Column("latency_ms", sa.Float, nullable=False, server_default="0"),
        if_not_exists=True,
    )
    op.create_index("questions_at", "questions", ["at"], if_not_exists=True)
    op.create_table(
        "feedback",
        sa.Column("answer_id", sa.Text, nullable=False),
        sa.Column("user", sa.Text, nullable=False),
        sa.Column("vote", sa.Integer, nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("answer_id", "user"),
        if_not_exists=True,
    )
    op.create_table(
        "events",
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("user", sa.Text, nullable=False),
        if_not_exists=True,
    )
    op.create_table(
        "wizards",
        sa.Column("chat", sa.Text, primary_key=True),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        if_not_exists=True,
    )


def downgrade() -> None:
    for table in ("wizards", "events", "feedback", "questions", "history"):
        op.drop_table(table)
