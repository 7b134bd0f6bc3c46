"""Alembic migrations of the state tables (run by :func:`bot.state.schema.migrate`)."""
