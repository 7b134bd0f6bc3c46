"""What an operator runs against the state store: ``python -m bot stats`` and ``python -m bot state migrate``.

* :func:`print_stats` — what ``/stats`` shows, from whatever store is configured (with
  ``DATABASE_URL``: every worker's questions and votes at once); ``--json`` for scripts.
* :func:`migrate_to` — copies a data folder's SQLite state (``bot_state.sqlite`` and its salt) into a
  shared database, every row, in one transaction. The salt goes along, so the hashed ids of people
  already in the file stay theirs (a vote is still one per person); a target that already holds rows
  or another salt is refused rather than mixed.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, time
from pathlib import Path

from sqlalchemy import func, insert, select

from bot import staff_messages
from bot.config import Settings
from bot.errors import UserError
from bot.state import schema
from bot.state.database import STATE_FILE, State
from bot.state.privacy import load_salt

COPIED = (schema.questions, schema.feedback, schema.events, schema.history, schema.wizards)


def parse_since(since: str | None) -> float | None:
    """``YYYY-MM-DD`` as the epoch seconds of that day's local midnight; None when not given."""
    if not since:
        return None
    try:
        day = datetime.strptime(since.strip(), "%Y-%m-%d").date()
    except ValueError:
        raise UserError(staff_messages.STATS_BAD_SINCE.format(since=since)) from None
    return datetime.combine(day, time()).timestamp()


def print_stats(settings: Settings, *, since: str | None = None, as_json: bool = False) -> int:
    start = parse_since(since)
    state = State(settings.data_dir, history_size=0, url=settings.database_url)
    stats = state.stats(since=start)
    by_channel = dict(sorted((stats.by_channel or {}).items()))
    if as_json:
        out = {
            "questions": stats.total,
            "answered": stats.answered,
            "up": stats.up,
            "down": stats.down,
            "by_channel": by_channel,
        }
        print(json.dumps(out, ensure_ascii=False))
        return 0
    where = schema.redacted(state.url)
    print(
        staff_messages.STATS_TEXT.format(
            store=where,
            since=since or staff_messages.STATS_ALL_TIME,
            total=stats.total,
            answered=stats.answered,
            share=f"{stats.answered_share:.0%}",
            up=stats.up,
            down=stats.down,
            handoffs=stats.handoffs,
            channels="，".join(f"{k} {n}" for k, n in by_channel.items()) or "-",
        )
    )
    return 0


def migrate_to(data_dir: Path, url: str) -> dict[str, int]:
    """Copy ``data_dir``'s SQLite state into ``url``; returns the rows copied per table."""
    source_file = data_dir / STATE_FILE
    if not source_file.is_file():
        raise UserError(staff_messages.MIGRATE_NO_SOURCE.format(path=source_file))
    if not url or url == schema.sqlite_url(source_file):
        raise UserError(staff_messages.MIGRATE_SAME)
    source = State(data_dir, history_size=0)  # migrates the file itself to the newest revision first
    salt = load_salt(data_dir).decode()
    schema.migrate(url)
    counts: dict[str, int] = {}
    with schema.engine(source.url).connect() as src, schema.engine(url).begin() as dst:
        for table in COPIED:
            if dst.execute(select(func.count()).select_from(table)).scalar_one():
                raise UserError(
                    staff_messages.MIGRATE_NOT_EMPTY.format(url=schema.redacted(url), table=table.name)
                )
        salt_row = schema.installation.c
        theirs = dst.execute(select(salt_row.value).where(salt_row.name == "salt")).scalar()
        if theirs is not None and theirs != salt:
            raise UserError(staff_messages.MIGRATE_OTHER_SALT.format(url=schema.redacted(url)))
        if theirs is None:
            dst.execute(insert(schema.installation).values(name="salt", value=salt))
        for table in COPIED:
            rows = [dict(r._mapping) for r in src.execute(select(table))]
            for start in range(0, len(rows), 1000):
                dst.execute(insert(table), rows[start : start + 1000])
            counts[table.name] = len(rows)
        if schema.is_postgres(url) and counts["history"]:  # the copied seq values: go on after them
            dst.exec_driver_sql(
                "SELECT setval(pg_get_serial_sequence('history', 'seq'), (SELECT MAX(seq) FROM history))"
            )
    return counts


def print_migrate(settings: Settings, url: str) -> int:
    counts = migrate_to(settings.data_dir, url)
    print(
        staff_messages.MIGRATE_DONE.format(
            url=schema.redacted(url), rows="，".join(f"{k} {n}" for k, n in counts.items())
        ),
        file=sys.stderr,
    )
    return 0
