"""What a chat channel remembers between messages and restarts, in ``<data>/bot_state.sqlite``.

* per-chat history of recent (answered) questions, bounded, for follow-ups;
* one row per question asked: when, a salted hash of who, what (phone-like numbers redacted),
  whether it was answered and from which source section — for ``/stats``, ``/unanswered``
  and the 查看原文 button (looked up by an opaque short answer id);
* feedback votes keyed by (answer id, hashed user): one vote per answer and person;
* events such as "asked for a human";
* the open self-check wizard of a conversation (its step and answers so far, keyed by the hashed
  conversation key), so a wizard survives a restart.

Privacy (:mod:`bot.state.privacy`): no Telegram user id, chat id, name or phone number is ever
stored. Ids are replaced by a salted SHA-256; the salt is random, created once in ``<data>/salt``.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bot.state.privacy import load_salt, redact

if TYPE_CHECKING:
    from bot.records import Answer

STATE_FILE = "bot_state.sqlite"
UNLOGGED_KINDS = frozenset({"empty", "no_text"})  # blank or emoji-only messages are not analytics
ANSWER_ID_BYTES = 6  # 8 URL-safe characters: short enough for callback data

_SCHEMA = """
CREATE TABLE IF NOT EXISTS history (
    chat TEXT NOT NULL,
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    question TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS history_chat ON history (chat, seq);
CREATE TABLE IF NOT EXISTS questions (
    id TEXT PRIMARY KEY,
    at REAL NOT NULL,
    user TEXT NOT NULL,
    chat_type TEXT NOT NULL,
    question TEXT NOT NULL,
    answered INTEGER NOT NULL,
    kind TEXT NOT NULL,
    source_path TEXT NOT NULL DEFAULT '',
    source_heading TEXT NOT NULL DEFAULT '',
    source_title TEXT NOT NULL DEFAULT '',
    latency_ms REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS questions_at ON questions (at);
CREATE TABLE IF NOT EXISTS feedback (
    answer_id TEXT NOT NULL,
    user TEXT NOT NULL,
    vote INTEGER NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (answer_id, user)
);
CREATE TABLE IF NOT EXISTS events (
    at REAL NOT NULL,
    kind TEXT NOT NULL,
    user TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS wizards (
    chat TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    at REAL NOT NULL
);
"""


@dataclass(frozen=True)
class AnswerRecord:
    """What the 查看原文 button needs about an earlier answer."""

    id: str
    question: str
    answered: bool
    kind: str
    source_path: str
    source_heading: str
    source_title: str


@dataclass(frozen=True)
class Stats:
    total: int
    week: int
    answered: int
    up: int
    down: int
    handoffs: int

    @property
    def answered_share(self) -> float:
        return self.answered / self.total if self.total else 0.0


@dataclass(frozen=True)
class Unanswered:
    question: str
    count: int
    last: float  # epoch seconds


@dataclass(frozen=True)
class Downvoted:
    """A question whose answer got 👎, with the section the answer was taken from."""

    question: str
    votes: int  # 👎 votes on its answers
    last: float  # epoch seconds of the last of those answers
    kind: str
    source_path: str
    source_heading: str
    source_title: str


class State:
    """SQLite-backed memory of a channel; safe to use from several threads."""

    def __init__(
        self, data_dir: Path, *, history_size: int = 5, clock: Callable[[], float] = time.time
    ) -> None:
        self.path = data_dir / STATE_FILE
        self.history_size = max(0, history_size)
        self._clock = clock
        self._salt = load_salt(data_dir)
        self._lock = threading.Lock()
        fresh = not self.path.exists()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        if fresh:
            self.path.chmod(0o600)
        self._db.execute("PRAGMA journal_mode=WAL")
        # Two commits per message: in WAL mode NORMAL syncs at checkpoints, not at every commit
        # (a power cut may lose the last few rows of feedback or history; a crash loses nothing).
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- identities ------------------------------------------------------------------------------

    def user_hash(self, user_id: int | str) -> str:
        """Salted SHA-256 of a user id: stable for this installation, useless elsewhere."""
        return hashlib.sha256(self._salt + b":user:" + str(user_id).encode()).hexdigest()

    def chat_key(self, chat_id: int | str, user_id: int | str | None = None) -> str:
        """Hashed key of a conversation: the chat, or one person within a group chat."""
        raw = f"{chat_id}" if user_id is None else f"{chat_id}/{user_id}"
        return hashlib.sha256(self._salt + b":chat:" + raw.encode()).hexdigest()

    # --- follow-up history -----------------------------------------------------------------------

    def history(self, chat: str, max_age: float | None = None) -> list[str]:
        """Recent questions of a conversation (asked within ``max_age`` seconds), oldest first."""
        since = self._clock() - max_age if max_age is not None else float("-inf")
        with self._lock:
            rows = self._db.execute(
                "SELECT question FROM history WHERE chat = ? AND at >= ? ORDER BY seq DESC LIMIT ?",
                (chat, since, self.history_size),
            ).fetchall()
        return [r[0] for r in reversed(rows)]

    def remember(self, chat: str, question: str) -> None:
        """Add a question to a conversation's history, keeping only the last ``history_size``."""
        question = redact(question.strip())
        if not question or self.history_size == 0:
            return
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "INSERT INTO history (chat, question, at) VALUES (?, ?, ?)", (chat, question, self._clock())
            )
            self._db.execute(
                "DELETE FROM history WHERE chat = ? AND seq NOT IN "
                "(SELECT seq FROM history WHERE chat = ? ORDER BY seq DESC LIMIT ?)",
                (chat, chat, self.history_size),
            )

    def forget(self, chat: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM history WHERE chat = ?", (chat,))

    # --- questions and answers -------------------------------------------------------------------

    def log_answer(self, answer: Answer, *, user: str, chat_type: str, question: str) -> str:
        """Log a channel's answer (not blank or emoji-only messages); returns its answer id or ""."""
        if answer.kind in UNLOGGED_KINDS:
            return ""
        section = answer.section_source
        return self.record_answer(
            user=user,
            chat_type=chat_type,
            question=question,
            answered=answer.answered,
            kind=answer.kind,
            source_path=section.path if section else "",
            source_heading=section.heading if section else "",
            source_title=section.title if section else "",
            latency_ms=answer.latency_ms,
        )

    def record_answer(
        self,
        *,
        user: str,
        chat_type: str,
        question: str,
        answered: bool,
        kind: str,
        source_path: str = "",
        source_heading: str = "",
        source_title: str = "",
        latency_ms: float = 0.0,
    ) -> str:
        """Log one answered (or refused) question; returns its short opaque answer id."""
        answer_id = secrets.token_urlsafe(ANSWER_ID_BYTES)
        with self._lock:
            self._db.execute(
                "INSERT INTO questions (id, at, user, chat_type, question, answered, kind, source_path,"
                " source_heading, source_title, latency_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    answer_id,
                    self._clock(),
                    user,
                    chat_type,
                    redact(question.strip())[:1000],
                    int(answered),
                    kind,
                    source_path,
                    source_heading,
                    source_title,
                    float(latency_ms),
                ),
            )
        return answer_id

    def answer(self, answer_id: str) -> AnswerRecord | None:
        with self._lock:
            row = self._db.execute(
                "SELECT id, question, answered, kind, source_path, source_heading, source_title"
                " FROM questions WHERE id = ?",
                (answer_id,),
            ).fetchone()
        if row is None:
            return None
        return AnswerRecord(row[0], row[1], bool(row[2]), row[3], row[4], row[5], row[6])

    def vote(self, answer_id: str, user: str, value: int) -> str:
        """Record 👍 (+1) or 👎 (-1): "recorded", "duplicate" (already voted) or "unknown" answer."""
        if value not in (1, -1):
            raise ValueError("vote must be +1 or -1")
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            if self._db.execute("SELECT 1 FROM questions WHERE id = ?", (answer_id,)).fetchone() is None:
                return "unknown"
            cur = self._db.execute(
                "INSERT OR IGNORE INTO feedback (answer_id, user, vote, at) VALUES (?, ?, ?, ?)",
                (answer_id, user, value, self._clock()),
            )
            return "recorded" if cur.rowcount == 1 else "duplicate"

    def log_event(self, kind: str, user: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO events (at, kind, user) VALUES (?, ?, ?)", (self._clock(), kind, user)
            )

    # --- open self-check wizards (bot/wizard.py), keyed by a hashed conversation key ------------------

    def wizard(self, chat: str, max_age: float | None = None) -> str | None:
        """The saved state (JSON) of a conversation's open wizard, if it was saved within ``max_age``."""
        since = self._clock() - max_age if max_age is not None else float("-inf")
        with self._lock:
            row = self._db.execute(
                "SELECT state FROM wizards WHERE chat = ? AND at >= ?", (chat, since)
            ).fetchone()
        return str(row[0]) if row else None

    def save_wizard(self, chat: str, state: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO wizards (chat, state, at) VALUES (?, ?, ?)",
                (chat, state, self._clock()),
            )

    def drop_wizard(self, chat: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM wizards WHERE chat = ?", (chat,))

    def open_wizards(self, max_age: float | None = None) -> list[str]:
        """Conversations with an open wizard saved within ``max_age`` (older ones are deleted)."""
        with self._lock:
            if max_age is not None:
                self._db.execute("DELETE FROM wizards WHERE at < ?", (self._clock() - max_age,))
            return [str(r[0]) for r in self._db.execute("SELECT chat FROM wizards")]

    # --- staff reports ---------------------------------------------------------------------------

    def stats(self) -> Stats:
        week_ago = self._clock() - 7 * 86400
        with self._lock:
            total, answered, week = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(answered), 0), COALESCE(SUM(at >= ?), 0) FROM questions",
                (week_ago,),
            ).fetchone()
            up, down = self._db.execute(
                "SELECT COALESCE(SUM(vote > 0), 0), COALESCE(SUM(vote < 0), 0) FROM feedback"
            ).fetchone()
            (handoffs,) = self._db.execute("SELECT COUNT(*) FROM events WHERE kind = 'handoff'").fetchone()
        return Stats(int(total), int(week), int(answered), int(up), int(down), int(handoffs))

    def unanswered(self, days: int = 30, limit: int = 20) -> list[Unanswered]:
        """Questions the knowledge could not answer lately, most frequent first."""
        since = self._clock() - days * 86400
        with self._lock:
            rows = self._db.execute(
                "SELECT question, COUNT(*) AS n, MAX(at) AS last FROM questions"
                " WHERE answered = 0 AND kind = 'dont_know' AND at >= ?"
                " GROUP BY question ORDER BY n DESC, last DESC LIMIT ?",
                (since, limit),
            ).fetchall()
        return [Unanswered(r[0], int(r[1]), float(r[2])) for r in rows]

    def downvoted(self, since: float, limit: int = 200) -> list[Downvoted]:
        """Answers residents marked 👎 since ``since`` (epoch seconds), by question and source, most votes first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT q.question, COUNT(*) AS n, MAX(q.at) AS last, q.kind, q.source_path, q.source_heading,"
                " q.source_title FROM feedback f JOIN questions q ON q.id = f.answer_id"
                " WHERE f.vote < 0 AND q.at >= ?"
                " GROUP BY q.question, q.kind, q.source_path, q.source_heading, q.source_title"
                " ORDER BY n DESC, last DESC LIMIT ?",
                (since, limit),
            ).fetchall()
        return [Downvoted(r[0], int(r[1]), float(r[2]), r[3], r[4], r[5], r[6]) for r in rows]

    def prune(self, keep_days: int = 365) -> None:
        """Drop question, feedback and event rows older than ``keep_days``."""
        cutoff = self._clock() - keep_days * 86400
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "DELETE FROM feedback WHERE answer_id IN (SELECT id FROM questions WHERE at < ?)", (cutoff,)
            )
            self._db.execute("DELETE FROM questions WHERE at < ?", (cutoff,))
            self._db.execute("DELETE FROM events WHERE at < ?", (cutoff,))
