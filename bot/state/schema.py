"""One SQLAlchemy schema for the shared state, on SQLite (the embedded default) or PostgreSQL.

``DATABASE_URL`` (or ``[state] url``) names the database; empty, every data folder keeps its own
SQLite files as before (``<data>/bot_state.sqlite`` for the channels, ``<data>/index.sqlite`` for the
ingest). With a URL such as ``postgresql+psycopg://bot@db/shanwei`` every worker, the web page, the
staff console and any machine that ingests share one truth.

* :data:`STATE` — the channels' tables (history, questions, feedback, events, wizards, installation,
  rate_hits, chat_turns). Alembic migrations (``bot/state/migrations/``) create and upgrade them at open; the first
  revision is today's SQLite layout, created only where missing, so an existing state file is adopted
  as it is.
* :data:`INGEST` — the ingest's manifest and vector cache: a cache that ``ingest.py --rebuild`` can
  recreate, so it is created when missing (like LangChain's record-manager table next to it).

:func:`engine` opens an engine with what each backend needs (WAL and a busy timeout on SQLite; a
pre-ping on PostgreSQL so a restarted server is reconnected to instead of failing every later call);
:func:`redacted` is the URL as logs may show it (no password).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    event,
    text,
)
from sqlalchemy.engine import Connection, Engine, make_url

logger = logging.getLogger(__name__)

STATE = MetaData()

history = Table(
    "history",
    STATE,
    Column("chat", Text, nullable=False),
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("question", Text, nullable=False),
    Column("at", Float, nullable=False),
    Index("history_chat", "chat", "seq"),
    sqlite_autoincrement=True,
)
questions = Table(
    "questions",
    STATE,
    Column("id", Text, primary_key=True),
    Column("at", Float, nullable=False),
    Column("user", Text, nullable=False),
    Column("chat_type", Text, nullable=False),
    Column("question", Text, nullable=False),
    Column("answered", Integer, nullable=False),
    Column("kind", Text, nullable=False),
    Column("source_path", Text, nullable=False, server_default=""),
    Column("source_heading", Text, nullable=False, server_default=""),
    Column("source_title", Text, nullable=False, server_default=""),
    Column("latency_ms", Float, nullable=False, server_default="0"),
    Index("questions_at", "at"),
)
feedback = Table(
    "feedback",
    STATE,
    Column("answer_id", Text, nullable=False),
    Column("user", Text, nullable=False),
    Column("vote", Integer, nullable=False),
    Column("at", Float, nullable=False),
    PrimaryKeyConstraint("answer_id", "user"),
)
events = Table(
    "events",
    STATE,
    Column("at", Float, nullable=False),
    Column("kind", Text, nullable=False),
    Column("user", Text, nullable=False),
)
wizards = Table(
    "wizards",
    STATE,
    Column("chat", Text, primary_key=True),
    Column("state", Text, nullable=False),
    Column("at", Float, nullable=False),
)
# Values every worker must agree on, such as the user-id salt (name "salt").
installation = Table(
    "installation",
    STATE,
    Column("name", Text, primary_key=True),
    Column("value", Text, nullable=False),
)
# One row per question counted by a shared rate limiter (key: a hashed user), pruned as the window moves.
rate_hits = Table(
    "rate_hits",
    STATE,
    Column("key", Text, nullable=False),
    Column("at", Float, nullable=False),
    Index("rate_hits_key", "key", "at"),
)

# A conversation's turn across workers: who holds it, until when (epoch seconds; a dead holder's lease runs out).
chat_turns = Table(
    "chat_turns",
    STATE,
    Column("chat", Text, primary_key=True),
    Column("holder", Text, nullable=False),
    Column("until", Float, nullable=False),
)

INGEST = MetaData()

manifest = Table(
    "manifest",
    INGEST,
    Column("collection", Text),
    Column("path", Text),
    Column("sha256", Text),
    Column("chunks", Integer),
    PrimaryKeyConstraint("collection", "path"),
)
embedding_cache = Table(
    "embedding_cache",
    INGEST,
    Column("key", Text, primary_key=True),
    Column("value", LargeBinary),
)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_MIGRATION_LOCK = 0x5357_0017  # pg advisory lock key: two workers starting together migrate one at a time
_migrated: set[str] = set()
_migrating = threading.Lock()


def is_postgres(url: str) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


def redacted(url: str) -> str:
    """The URL without its password, for logs and messages."""
    return make_url(url).render_as_string(hide_password=True)


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


@functools.cache
def engine(url: str, *, wal: bool = True) -> Engine:
    """One engine per URL and process (its pool is shared by every State and ingest step).

    ``wal``: SQLite in WAL mode (the channels' state file); the ingest's ``index.sqlite`` keeps its
    rollback journal, so copying that one file (a backup, a test) copies everything in it.
    """
    from sqlalchemy import create_engine

    options: dict[str, Any] = {}
    if is_postgres(url):
        options = {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 20, "pool_timeout": 10}
        options["connect_args"] = {"connect_timeout": 5}
    else:
        options["connect_args"] = {"check_same_thread": False, "timeout": 30}
    made = create_engine(url, **options)
    if not is_postgres(url) and wal:
        event.listen(made, "connect", _sqlite_pragmas)
    return made


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    # Two commits per message: in WAL mode NORMAL syncs at checkpoints, not at every commit
    # (a power cut may lose the last few rows of feedback or history; a crash loses nothing).
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()


def migrate(url: str, *, again: bool = False) -> None:
    """Bring the state tables of ``url`` to the newest revision (once per process and URL, unless
    ``again``: a SQLite file that was just created, perhaps after the old one was deleted)."""
    with _migrating:
        if url in _migrated and not again:
            return
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with engine(url).begin() as conn:
            if is_postgres(url):
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
        _migrated.add(url)
        logger.info("state database %s is at the newest schema", redacted(url))


def create_ingest_tables(conn: Connection) -> None:
    INGEST.create_all(conn, checkfirst=True)


def advisory_key(name: str) -> int:
    """A PostgreSQL advisory-lock key (a signed 64-bit integer) for ``name``."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
