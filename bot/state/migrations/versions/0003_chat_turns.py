"""A conversation's turn across workers as a leased row (``chat_turns``), instead of a session lock.

A session advisory lock holds a database connection for as long as the answer takes, so fifty chats
answered at once needed fifty pooled connections per worker; a row with a holder and an expiry holds
none, and a worker that dies leaves a lease that simply runs out.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chat_turns",
        sa.Column("chat", sa.Text, primary_key=True),
        sa.Column("holder", sa.Text, nullable=False),
        sa.Column("until", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("chat_turns")
