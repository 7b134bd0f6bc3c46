"""What a chat channel remembers between messages and restarts, in ``<data>/bot_state.sqlite``.

* per-chat history of recent (answered) questions, bounded, for follow-ups;
* one row per question asked: when, a salted hash of who, what (phone-like numbers redacted),
  whether it was answered and from which source section — for ``/stats``, ``/unanswered``
  and the 查看原文 button (looked up by an opaque short answer id);
* feedback votes keyed by (answer id, hashed user): one vote per answer and person;
* events such as "asked for a human";
* the open self-check wizard of a conversation (its step and answers so far, keyed by the hashed
  conversation key), so a wizard survives a restart.

Privacy: no Telegram user id, chat id, name or phone number is ever stored. Ids are replaced by
a salted SHA-256; the salt is random, created once in ``<data>/salt`` (mode 0600).

Also here: :class:`RateLimiter`, the per-user sliding window on incoming questions.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.records import Answer

STATE_FILE = "bot_state.sqlite"
UNLOGGED_KINDS = frozenset({"empty", "no_text"})  # blank or emoji-only messages are not analytics
SALT_FILE = "salt"
ANSWER_ID_BYTES = 6  # 8 URL-safe characters: short enough for callback data

# Runs of 7+ digits (optionally split by spaces or dashes) look like phone, id or account numbers.
_NUMBER = re.compile(r"(?<![\dA-Za-z])\+?\d[\d\- ]{5,}\d[xX]?(?!\d)")
_DATE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}")
REDACTED = "［号码已隐去］"

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


def redact(text: str) -> str:
    """``text`` with phone-, id- and account-like digit runs replaced (12345 and dates stay)."""

    def sub(m: re.Match[str]) -> str:
        found = m.group(0)
        if sum(ch.isdigit() for ch in found) < 7 or _DATE.fullmatch(found):
            return found
        return REDACTED

    return _NUMBER.sub(sub, text)


def load_salt(data_dir: Path) -> bytes:
    """The installation's random salt, created on first use with owner-only permissions."""
    path = data_dir / SALT_FILE
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)
    salt = path.read_text().strip()
    if len(salt) < 32:  # an empty or truncated file (a crash mid-write): never hash with a weak salt
        raise RuntimeError(
            f"{path} is damaged; delete it to create a new salt (older hashes will no longer match)"
        )
    return salt.encode()


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


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    warn: bool = False  # the first refusal of a burst: tell the person once, then stay quiet
    retry_after: float = 0.0


class RateLimiter:
    """Per-key sliding window: at most ``limit`` events in any ``window`` seconds (limit <= 0: off)."""

    def __init__(self, limit: int, window: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._events: dict[str, deque[float]] = {}
        self._warned: set[str] = set()
        self._lock = threading.Lock()

    def check(self, key: str) -> Verdict:
        """Count one event for ``key`` if it is within the limit."""
        if self.limit <= 0:
            return Verdict(True)
        now = self._clock()
        with self._lock:
            events = self._events.setdefault(key, deque())
            while events and now - events[0] >= self.window:
                events.popleft()
            if len(events) < self.limit:
                events.append(now)
                self._warned.discard(key)
                if len(self._events) > 10_000:
                    self._sweep(now)
                return Verdict(True)
            warn = key not in self._warned
            self._warned.add(key)
            return Verdict(False, warn, self.window - (now - events[0]))

    def _sweep(self, now: float) -> None:
        for key in [k for k, ev in self._events.items() if not ev or now - ev[-1] >= self.window]:
            del self._events[key]
            self._warned.discard(key)
