"""What several workers must share beyond the channels' rows: the salt, and the rate-limit counters.

``installation`` holds the user-id salt when the state is in a shared database (on SQLite it stays
in ``<data>/salt``); ``rate_hits`` counts questions per hashed user across workers.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "installation",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "rate_hits",
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("at", sa.Float, nullable=False),
    )
    op.create_index("rate_hits_key", "rate_hits", ["key", "at"])


def downgrade() -> None:
    op.drop_table("rate_hits")
    op.drop_table("installation")
