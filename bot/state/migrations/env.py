"""Alembic's environment for the state tables: always run from :func:`bot.state.schema.migrate`.

That function opens the connection (holding a PostgreSQL advisory lock, so two workers starting at
once migrate one after the other) and hands it over in ``config.attributes``; nothing here reads
alembic.ini or a URL of its own.
"""

from __future__ import annotations

from alembic import context

from bot.state.schema import STATE

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=STATE, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
