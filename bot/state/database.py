"""What a chat channel remembers between messages and restarts: in ``<data>/bot_state.sqlite``, or in
the shared database that ``DATABASE_URL`` names (:mod:`bot.state.schema`), where every worker sees it.

* per-chat history of recent (answered) questions, bounded, for follow-ups;
* one row per question asked: when, a salted hash of who, what (phone-like numbers redacted),
  whether it was answered and from which source section — for ``/stats``, ``/unanswered``
  and the 查看原文 button (looked up by an opaque short answer id);
* feedback votes keyed by (answer id, hashed user): one vote per answer and person;
* events such as "asked for a human";
* the open self-check wizard of a conversation (its step and answers so far, keyed by the hashed
  conversation key), so a wizard survives a restart;
* on PostgreSQL, a conversation's turn (:meth:`State.chat_turn`, a leased row), so two workers
  answer one chat's messages one after the other.

Privacy (:mod:`bot.state.privacy`): no Telegram user id, chat id, name or phone number is ever
stored. Ids are replaced by a salted SHA-256; the salt is random, created once (``<data>/salt``, or
the ``installation`` table of the shared database, so every worker hashes alike).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import case, delete, func, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from bot.state import schema
from bot.state.privacy import load_salt, redact
from bot.state.rate_limit import Limiter, RateLimiter, SharedRateLimiter
from bot.state.schema import chat_turns, events, feedback, history, installation, questions, wizards

if TYPE_CHECKING:
    from bot.records import Answer

STATE_FILE = "bot_state.sqlite"
UNLOGGED_KINDS = frozenset({"empty", "no_text"})  # blank or emoji-only messages are not analytics
ANSWER_ID_BYTES = 6  # 8 URL-safe characters: short enough for callback data


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
    by_channel: dict[str, int] | None = None  # questions per chat type (private, group, web, wechat…)

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


def state_url(data_dir: Path, url: str = "") -> str:
    """The database the state of ``data_dir`` lives in: ``url`` if given, else the folder's SQLite file."""
    return url or schema.sqlite_url(data_dir / STATE_FILE)


class State:
    """The memory of a channel, on SQLite or PostgreSQL; safe to use from several threads."""

    def __init__(
        self,
        data_dir: Path,
        *,
        history_size: int = 5,
        clock: Callable[[], float] = time.time,
        url: str = "",
    ) -> None:
        self.url = state_url(data_dir, url)
        self.shared = bool(url)
        self.postgres = schema.is_postgres(self.url)
        self.path = data_dir / STATE_FILE
        self.history_size = max(0, history_size)
        self._clock = clock
        # SQLite takes one writer at a time anyway; one lock keeps its "database is locked" away.
        self._lock: threading.Lock | _NoLock = _NoLock() if self.postgres else threading.Lock()
        fresh = False
        if not self.shared:
            self._salt = load_salt(data_dir)
            fresh = not self.path.exists()
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.touch(mode=0o600, exist_ok=True)
            if fresh:
                self.path.chmod(0o600)
        self._engine = schema.engine(self.url)
        schema.migrate(self.url, again=fresh)
        if self.shared:
            self._salt = self._shared_salt()

    def close(self) -> None:
        """Nothing to release: the engine's pool belongs to the process (every State of a URL shares it)."""

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        with self._lock, self._engine.begin() as conn:
            yield conn

    def _insert(self, table: Any) -> Any:
        return (postgresql.insert if self.postgres else sqlite.insert)(table)

    def _shared_salt(self) -> bytes:
        with self._tx() as conn:
            conn.execute(
                self._insert(installation)
                .values(name="salt", value=secrets.token_hex(32))
                .on_conflict_do_nothing(index_elements=["name"])
            )
            value = conn.execute(
                select(installation.c.value).where(installation.c.name == "salt")
            ).scalar_one()
        return str(value).encode()

    # --- identities ------------------------------------------------------------------------------

    def user_hash(self, user_id: int | str) -> str:
        """Salted SHA-256 of a user id: stable for this installation, useless elsewhere."""
        return hashlib.sha256(self._salt + b":user:" + str(user_id).encode()).hexdigest()

    def chat_key(self, chat_id: int | str, user_id: int | str | None = None) -> str:
        """Hashed key of a conversation: the chat, or one person within a group chat."""
        raw = f"{chat_id}" if user_id is None else f"{chat_id}/{user_id}"
        return hashlib.sha256(self._salt + b":chat:" + raw.encode()).hexdigest()

    def rate_limiter(self, scope: str, limit: int, window: float = 60.0) -> Limiter:
        """A per-user window for one kind of request: in memory, or shared by every worker of the database."""
        if not self.shared:
            return RateLimiter(limit, window)
        return SharedRateLimiter(self.url, self._salt, scope, limit, window, clock=self._clock)

    # --- a conversation's turn across workers ----------------------------------------------------

    def chat_turn(self, chat: str, lease: float = 30.0) -> ChatTurn | None:
        """A handle on ``chat``'s turn in the shared database (None on SQLite: one worker, its own lock)."""
        return ChatTurn(self, chat, lease) if self.postgres else None

    # --- follow-up history -----------------------------------------------------------------------

    def history(self, chat: str, max_age: float | None = None) -> list[str]:
        """Recent questions of a conversation (asked within ``max_age`` seconds), oldest first."""
        query = select(history.c.question).where(history.c.chat == chat)
        if max_age is not None:
            query = query.where(history.c.at >= self._clock() - max_age)
        with self._tx() as conn:
            rows = conn.execute(query.order_by(history.c.seq.desc()).limit(self.history_size)).all()
        return [r[0] for r in reversed(rows)]

    def remember(self, chat: str, question: str) -> None:
        """Add a question to a conversation's history, keeping only the last ``history_size``."""
        question = redact(question.strip())
        if not question or self.history_size == 0:
            return
        keep = (
            select(history.c.seq)
            .where(history.c.chat == chat)
            .order_by(history.c.seq.desc())
            .limit(self.history_size)
            .scalar_subquery()
        )
        with self._tx() as conn:
            conn.execute(history.insert().values(chat=chat, question=question, at=self._clock()))
            conn.execute(delete(history).where(history.c.chat == chat, history.c.seq.not_in(keep)))

    def forget(self, chat: str) -> None:
        with self._tx() as conn:
            conn.execute(delete(history).where(history.c.chat == chat))

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
        row = {
            "id": answer_id,
            "at": self._clock(),
            "user": user,
            "chat_type": chat_type,
            "question": redact(question.strip())[:1000],
            "answered": int(answered),
            "kind": kind,
            "source_path": source_path,
            "source_heading": source_heading,
            "source_title": source_title,
            "latency_ms": float(latency_ms),
        }
        with self._tx() as conn:
            conn.execute(questions.insert().values(**row))
        return answer_id

    def answer(self, answer_id: str) -> AnswerRecord | None:
        c = questions.c
        query = select(
            c.id, c.question, c.answered, c.kind, c.source_path, c.source_heading, c.source_title
        ).where(c.id == answer_id)
        with self._tx() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        return AnswerRecord(row[0], row[1], bool(row[2]), row[3], row[4], row[5], row[6])

    def vote(self, answer_id: str, user: str, value: int) -> str:
        """Record 👍 (+1) or 👎 (-1): "recorded", "duplicate" (already voted) or "unknown" answer."""
        if value not in (1, -1):
            raise ValueError("vote must be +1 or -1")
        with self._tx() as conn:
            if conn.execute(select(literal(1)).where(questions.c.id == answer_id)).first() is None:
                return "unknown"
            added = conn.execute(
                self._insert(feedback)
                .values(answer_id=answer_id, user=user, vote=value, at=self._clock())
                .on_conflict_do_nothing(index_elements=["answer_id", "user"])
                .returning(feedback.c.vote)
            ).first()
            return "recorded" if added is not None else "duplicate"

    def log_event(self, kind: str, user: str) -> None:
        with self._tx() as conn:
            conn.execute(events.insert().values(at=self._clock(), kind=kind, user=user))

    # --- open self-check wizards (bot/wizard.py), keyed by a hashed conversation key ------------------

    def wizard(self, chat: str, max_age: float | None = None) -> str | None:
        """The saved state (JSON) of a conversation's open wizard, if it was saved within ``max_age``."""
        query = select(wizards.c.state).where(wizards.c.chat == chat)
        if max_age is not None:
            query = query.where(wizards.c.at >= self._clock() - max_age)
        with self._tx() as conn:
            row = conn.execute(query).first()
        return str(row[0]) if row else None

    def save_wizard(self, chat: str, state: str) -> None:
        at = self._clock()
        upsert = self._insert(wizards).values(chat=chat, state=state, at=at)
        upsert = upsert.on_conflict_do_update(index_elements=["chat"], set_={"state": state, "at": at})
        with self._tx() as conn:
            conn.execute(upsert)

    def drop_wizard(self, chat: str) -> None:
        with self._tx() as conn:
            conn.execute(delete(wizards).where(wizards.c.chat == chat))

    def open_wizards(self, max_age: float | None = None) -> list[str]:
        """Conversations with an open wizard saved within ``max_age`` (older ones are deleted)."""
        with self._tx() as conn:
            if max_age is not None:
                conn.execute(delete(wizards).where(wizards.c.at < self._clock() - max_age))
            return [str(r[0]) for r in conn.execute(select(wizards.c.chat))]

    # --- staff reports ---------------------------------------------------------------------------

    def stats(self, since: float | None = None) -> Stats:
        """What ``/stats`` shows; with ``since`` (epoch seconds) only questions asked since then and their votes."""
        week_ago = self._clock() - 7 * 86400
        q, f = questions.c, feedback.c
        counted = select(
            func.count(),
            func.coalesce(func.sum(q.answered), 0),
            func.coalesce(func.sum(case((q.at >= week_ago, 1), else_=0)), 0),
        )
        by_channel = select(q.chat_type, func.count()).group_by(q.chat_type)
        votes = select(
            func.coalesce(func.sum(case((f.vote > 0, 1), else_=0)), 0),
            func.coalesce(func.sum(case((f.vote < 0, 1), else_=0)), 0),
        )
        handoffs = select(func.count()).where(events.c.kind == "handoff")
        if since is not None:
            counted = counted.where(q.at >= since)
            by_channel = by_channel.where(q.at >= since)
            votes = votes.join_from(feedback, questions, q.id == f.answer_id).where(q.at >= since)
            handoffs = handoffs.where(events.c.at >= since)
        with self._tx() as conn:
            total, answered, week = conn.execute(counted).one()
            up, down = conn.execute(votes).one()
            (n_handoffs,) = conn.execute(handoffs).one()
            channels = {str(k): int(n) for k, n in conn.execute(by_channel)}
        return Stats(int(total), int(week), int(answered), int(up), int(down), int(n_handoffs), channels)

    def unanswered(self, days: int = 30, limit: int = 20) -> list[Unanswered]:
        """Questions the knowledge could not answer lately, most frequent first."""
        q = questions.c
        n, last = func.count().label("n"), func.max(q.at).label("last")
        query = (
            select(q.question, n, last)
            .where(q.answered == 0, q.kind == "dont_know", q.at >= self._clock() - days * 86400)
            .group_by(q.question)
            .order_by(n.desc(), last.desc())
            .limit(limit)
        )
        with self._tx() as conn:
            rows = conn.execute(query).all()
        return [Unanswered(r[0], int(r[1]), float(r[2])) for r in rows]

    def downvoted(self, since: float, limit: int = 200) -> list[Downvoted]:
        """Answers residents marked 👎 since ``since`` (epoch seconds), by question and source, most votes first."""
        q = questions.c
        n, last = func.count().label("n"), func.max(q.at).label("last")
        group = (q.question, q.kind, q.source_path, q.source_heading, q.source_title)
        query = (
            select(q.question, n, last, *group[1:])
            .select_from(feedback.join(questions, q.id == feedback.c.answer_id))
            .where(feedback.c.vote < 0, q.at >= since)
            .group_by(*group)
            .order_by(n.desc(), last.desc())
            .limit(limit)
        )
        with self._tx() as conn:
            rows = conn.execute(query).all()
        return [Downvoted(r[0], int(r[1]), float(r[2]), r[3], r[4], r[5], r[6]) for r in rows]

    def prune(self, keep_days: int = 365) -> None:
        """Drop question, feedback and event rows older than ``keep_days``."""
        cutoff = self._clock() - keep_days * 86400
        old = select(questions.c.id).where(questions.c.at < cutoff)
        with self._tx() as conn:
            conn.execute(delete(feedback).where(feedback.c.answer_id.in_(old)))
            conn.execute(delete(questions).where(questions.c.at < cutoff))
            conn.execute(delete(events).where(events.c.at < cutoff))


class ChatTurn:
    """One conversation's turn on PostgreSQL: a leased row in ``chat_turns`` (no connection is held).

    :meth:`try_take` never waits (the Telegram handler polls it from the event loop, so no thread
    blocks on another worker); a lease runs out after ``lease`` seconds, so a worker that died while
    answering holds up the chat no longer than that.
    """

    def __init__(self, state: State, chat: str, lease: float) -> None:
        self._state = state
        self._chat = chat
        self._lease = lease
        self._holder = secrets.token_hex(8)

    def try_take(self) -> bool:
        now = self._state._clock()
        turns = chat_turns
        take = self._state._insert(turns).values(
            chat=self._chat, holder=self._holder, until=now + self._lease
        )
        take = take.on_conflict_do_update(
            index_elements=["chat"],
            set_={"holder": take.excluded.holder, "until": take.excluded.until},
            where=turns.c.until < now,
        ).returning(turns.c.holder)
        with self._state._tx() as conn:
            return conn.execute(take).first() is not None

    def release(self) -> None:
        with self._state._tx() as conn:
            conn.execute(
                delete(chat_turns).where(chat_turns.c.chat == self._chat, chat_turns.c.holder == self._holder)
            )


class _NoLock:
    """PostgreSQL serialises writers itself; State then takes no process-wide lock."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
