"""The assistant every channel talks to: ``Assistant.ask(question, history) -> Answer``.

A question goes: screen (:mod:`~bot.answering.guard`: blank, injection, private data) → normalise
and detect a follow-up (:mod:`~bot.answering.question`) → a service answers directly (a calculator,
the meal-site directory) or → retrieve (:mod:`~bot.answering.retrieval`: dense + BM25) → extract and
decide (:mod:`~bot.answering.decide`): the answer with its sources, a refusal, or a referral.

The assistant also holds the served index (:class:`~bot.answering.index.KnowledgeIndex`) and
follows re-ingests: it checks the pointer every ``[store] reload_check_seconds``.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from bot import index_store, messages, staff_messages
from bot.answering import decide, guard, question
from bot.answering.index import KnowledgeIndex
from bot.answering.question import Asked, Lexicons
from bot.answering.retrieval import search
from bot.config import Settings
from bot.errors import IndexMissingError, StoreUnavailableError
from bot.records import Answer, KnowledgeInfo, Retrieval
from bot.services import calculators, departments, meal_sites

logger = logging.getLogger(__name__)

FIXED_REPLIES = {  # what the guard answers itself, by the kind of message
    "empty": messages.EMPTY_QUESTION,
    "no_text": messages.NOT_A_QUESTION,
    "injection": messages.INJECTION,
    "privacy": messages.PRIVACY,
    "illegal": messages.ILLEGAL,
    "abuse": messages.ABUSE,
}


class Assistant:
    """Answers questions from the served index; follows re-ingests without a restart."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.RLock()
        self._client: Any = None
        self._index: KnowledgeIndex | None = None
        self._checked = 0.0
        self._embedder: Any = None
        self.lexicons = Lexicons.read(settings)
        knowledge = settings.knowledge_dir
        self.departments = departments.Departments.read(
            [departments.BUILTIN, knowledge / settings.knowledge.departments_file],
            [departments.OURS, knowledge / settings.knowledge.matters_file],
        )

    # --- lifecycle ------------------------------------------------------------------------------

    @property
    def embedder(self) -> Any:
        if self._embedder is None:
            from bot.embeddings import load_embedder

            self._embedder = load_embedder(self.settings.embedding, self.settings.data_dir)
        return self._embedder

    def index(self) -> KnowledgeIndex:
        """The served index, reloaded when an ingest has flipped the pointer since the last look."""
        with self._lock:
            now = time.monotonic()
            if self._index is not None and now - self._checked < self.settings.store.reload_check_seconds:
                return self._index
            self._checked = now
            self.reload()
            assert self._index is not None
            return self._index

    def reload(self) -> bool:
        """Load the served index if it changed; True when a new version was loaded."""
        with self._lock:
            reconnected = self._client is None
            try:
                if self._client is None:
                    self._client = index_store.open_client(self.settings)
                pointer = index_store.read_pointer(self._client, self.settings)
            except StoreUnavailableError:
                self._client = None
                raise
            except Exception as exc:  # a server that went away mid-run
                self._client = None
                if self._index is not None and not self.settings.store.url:
                    raise
                raise StoreUnavailableError(str(exc)) from exc
            if pointer is None:
                raise IndexMissingError(
                    staff_messages.NO_INDEX.format(
                        knowledge=self.settings.knowledge_dir, data=self.settings.data_dir
                    )
                )
            if self._index is not None and self._index.pointer == pointer:
                if reconnected:
                    # Reconnected after the store was lost: same version, so only rebind the collection.
                    self._index.collection = index_store.get_collection(self._client, pointer.active)
                return False
            self._index = KnowledgeIndex.load(self.settings, self._client, pointer, self.lexicons.synonyms)
            return True

    def warm_up(self) -> None:
        """Load the index and the model now rather than on the first question."""
        self.index()
        self.embedder.embed_query("预热")

    # --- questions ------------------------------------------------------------------------------

    def ask(self, question: str, history: Sequence[str] = ()) -> Answer:
        started = time.perf_counter()
        answer = self._ask(question, history)
        return _with_latency(answer, started)

    def _ask(self, question_: str, history: Sequence[str]) -> Answer:
        screened = guard.screen(question_, self.settings.question)
        contact = decide.contact(self.settings)
        if screened.kind in FIXED_REPLIES:
            return Answer(question_, FIXED_REPLIES[screened.kind].format(**contact), False, screened.kind)
        try:
            index = self.index()
            asked, retrieval = self._retrieve(index, screened.text, history)
            calculated = calculators.answer_free_text(asked.query, index.standards)
            if calculated is not None and index.standards is not None:
                path = index.standards.path
                return decide.from_document(
                    self.settings, index, question_, calculated.text, path, "calculator", retrieval
                )
            earlier = asked.context[-1] if asked.context else ""
            sites = meal_sites.answer_text(asked.query, index, earlier)
            if sites is not None:
                path = meal_sites.directory_path(index)
                return decide.from_document(
                    self.settings, index, question_, sites, path, "meal_sites", retrieval
                )
        except StoreUnavailableError as exc:
            logger.error("knowledge store unavailable: %s", exc)
            return Answer(question_, messages.STORE_DOWN.format(**contact), False, "store_down")
        except Exception as exc:
            if not self._store_lost(exc):
                raise
            return Answer(question_, messages.STORE_DOWN.format(**contact), False, "store_down")
        answer = decide.compose(self.settings, index, question_, asked, retrieval, self.departments)
        if screened.truncated and answer.answered:
            answer = dataclasses.replace(answer, text=messages.TOO_LONG + "\n" + answer.text)
        return answer

    def _store_lost(self, exc: Exception) -> bool:
        """True when ``exc`` means the Chroma server went away (a query on the cached index failed).

        The client is dropped and the next question checks the store again at once, so the bot
        answers normally as soon as the server is back.
        """
        import httpx

        if not isinstance(exc, httpx.TransportError | ConnectionError):
            return False
        logger.error("knowledge store unavailable: %s: %s", type(exc).__name__, exc)
        with self._lock:
            self._client = None
            self._checked = 0.0
        return True

    def retrieve(self, question_: str, history: Sequence[str] = ()) -> Retrieval | None:
        """Retrieval alone, as ``ask`` does it (None for messages the guard answers itself)."""
        searched = self.search(question_, history)
        return searched[1] if searched is not None else None

    def search(self, question_: str, history: Sequence[str] = ()) -> tuple[Asked, Retrieval] | None:
        """The question as understood and what retrieval found, as ``ask`` has them before it
        composes the reply (None for messages the guard answers itself)."""
        screened = guard.screen(question_, self.settings.question)
        if screened.kind != "ok":
            return None
        return self._retrieve(self.index(), screened.text, history)

    def _retrieve(self, index: KnowledgeIndex, text: str, history: Sequence[str]) -> tuple[Asked, Retrieval]:
        """The question as understood, and what was found for it.

        A question that reads as new is searched alone; when what it finds includes the guide the
        previous question was about, it is a follow-up after all and is searched again with it.
        """
        asked = question.understand(text, history, index, self.lexicons, self.settings)
        retrieval = self._search(index, asked)
        if (
            asked.context
            and not asked.follows_up
            and not asked.new_topic
            and question.continues(asked.context[-1], retrieval, index)
        ):
            asked = asked.with_previous()
            retrieval = self._search(index, asked)
        return asked, retrieval

    def _search(self, index: KnowledgeIndex, asked: Asked) -> Retrieval:
        vector = list(self.embedder.embed_query(question.embedded_text(asked, self.settings)))
        return search(index, asked.search, vector, self.settings)

    def referral(self, retrieval: Retrieval) -> departments.Referral | None:
        """Another department's business, when the question names it and the found passages do not."""
        return decide.referral(self.departments, retrieval, self.settings.retrieval.min_keyword_coverage)

    def prepare(self, raw: str, index: KnowledgeIndex) -> str:
        """Normalise a question the way the documents are written."""
        return self.lexicons.prepare(raw, index)

    # --- what the bot knows ------------------------------------------------------------------------

    def info(self) -> KnowledgeInfo:
        index = self.index()
        titles: dict[str, str] = {}
        categories: dict[str, int] = {}
        for chunk in index.chunks:
            path = chunk.path
            if path not in titles:
                titles[path] = chunk.title
                cat = chunk.category or "other"
                categories[cat] = categories.get(cat, 0) + 1
        p = index.pointer
        return KnowledgeInfo(len(titles), len(index.ids), p.version, p.ingested_at, categories, titles)


def _with_latency(answer: Answer, started: float) -> Answer:
    return dataclasses.replace(answer, latency_ms=(time.perf_counter() - started) * 1000)
