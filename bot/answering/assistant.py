"""The assistant every channel talks to: ``Assistant.ask(question, history) -> Answer``.

A question goes: screen (blank, injection, private data) → normalise (traditional →
simplified, Cantonese, synonyms, homophone typos) → add the topic of earlier
questions when it is a follow-up → retrieve (dense + BM25) → decide whether the
knowledge answers it → extract the sentences that do, with their sources.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import threading
import time
from collections.abc import Sequence
from typing import Any

from bot import index_store, intents, messages
from bot.answering import guard
from bot.answering.extract import extract
from bot.answering.retrieval import KnowledgeIndex, search
from bot.chinese import places, segment
from bot.chinese.normalize import BUILTIN_SYNONYMS, CANTONESE, ENGLISH, normalize, read_lexicon
from bot.config import Settings
from bot.errors import IndexMissingError, StoreUnavailableError
from bot.records import Answer, Chunk, DocHit, KnowledgeInfo, Retrieval, Source
from bot.services import calculators, departments, meal_sites

logger = logging.getLogger(__name__)

RELOAD_CHECK_SECONDS = 2.0
LONG_QUESTION = 60  # characters; longer questions are embedded by their asking sentences
FAQ_CATEGORY = "faq"
_REDIRECT_SECTION = re.compile(r"不属于|非民政|其他部门")


class Assistant:
    """Answers questions from the served index; follows re-ingests without a restart."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.RLock()
        self._client: Any = None
        self._index: KnowledgeIndex | None = None
        self._checked = 0.0
        self._embedder: Any = None
        paths = [BUILTIN_SYNONYMS, settings.knowledge_dir / settings.knowledge.synonyms_file]
        self.synonyms = read_lexicon(paths)
        self.dialect = read_lexicon([CANTONESE, ENGLISH])
        self.departments = departments.Departments.read(
            [departments.BUILTIN, settings.knowledge_dir / settings.knowledge.departments_file]
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
            if self._index is not None and now - self._checked < RELOAD_CHECK_SECONDS:
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
                    messages.NO_INDEX.format(
                        knowledge=self.settings.knowledge_dir, data=self.settings.data_dir
                    )
                )
            if self._index is not None and self._index.pointer == pointer:
                if reconnected:
                    # Reconnected after the store was lost: same version, so only rebind the collection.
                    self._index.collection = index_store.get_collection(self._client, pointer.active)
                return False
            self._index = KnowledgeIndex.load(self.settings, self._client, pointer, self.synonyms)
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

    def _ask(self, question: str, history: Sequence[str]) -> Answer:
        screened = guard.screen(question)
        contact = self._contact()
        fixed = {
            "empty": messages.EMPTY_QUESTION,
            "no_text": messages.NOT_A_QUESTION,
            "injection": messages.INJECTION,
            "privacy": messages.PRIVACY,
            "illegal": messages.ILLEGAL,
            "abuse": messages.ABUSE,
        }
        if screened.kind in fixed:
            return Answer(question, fixed[screened.kind].format(**contact), False, screened.kind)
        try:
            index = self.index()
            query, search_query, context, retrieval = self._retrieve(index, screened.text, history)
            calculated = calculators.answer_free_text(query, index.standards)
            if calculated is not None and index.standards is not None:
                return self._from_document(
                    question, calculated.text, index.standards.path, "calculator", retrieval
                )
            sites = meal_sites.answer_text(query, index)
            if sites is not None:
                return self._from_document(question, sites, meal_sites.SITES_PATH, "meal_sites", retrieval)
        except StoreUnavailableError as exc:
            logger.error("knowledge store unavailable: %s", exc)
            return Answer(question, messages.STORE_DOWN.format(**contact), False, "store_down")
        except Exception as exc:
            if not self._store_lost(exc):
                raise
            return Answer(question, messages.STORE_DOWN.format(**contact), False, "store_down")
        answer = self._compose(question, query, search_query, retrieval, index, context)
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

    def retrieve(self, question: str, history: Sequence[str] = ()) -> Retrieval | None:
        """Retrieval alone, as ``ask`` does it (None for messages the guard answers itself)."""
        screened = guard.screen(question)
        if screened.kind != "ok":
            return None
        index = self.index()
        return self._retrieve(index, screened.text, history)[3]

    def _retrieve(
        self, index: KnowledgeIndex, question: str, history: Sequence[str]
    ) -> tuple[str, str, list[str], Retrieval]:
        """(normalised question, the text searched with, earlier questions, what was found).

        A question that reads as new is searched alone; when what it finds includes the guide the
        previous question was about ("登记完要等几天？" after one on 长者饭堂补贴), it is a
        follow-up after all and is searched again with that question.
        """
        query, search_query, context = self._queries(question, history, index)
        retrieval = self._search(index, query, search_query)
        if context and search_query == query and self._continues(context[-1], retrieval, index):
            search_query = f"{context[-1]} {query}"
            retrieval = self._search(index, query, search_query)
        return query, search_query, context, retrieval

    @staticmethod
    def _continues(previous: str, retrieval: Retrieval, index: KnowledgeIndex) -> bool:
        """The previous question's best document (by keywords) is among the best found now."""
        scores = index.bm25.scores(segment.tokens(previous))
        if not len(scores) or scores.max() <= 0:
            return False
        topic = index.chunks[int(scores.argmax())].path
        found = [d.path for d in retrieval.docs[:3]]
        return topic in found

    def referral(self, retrieval: Retrieval) -> departments.Referral | None:
        """Another department's business, when the question names it and the found passages do not."""
        return self.departments.refer(retrieval.query, [p.text for p in retrieval.passages[:3]])

    def _queries(
        self, question: str, history: Sequence[str], index: KnowledgeIndex
    ) -> tuple[str, str, list[str]]:
        """(normalised question, the text to search with, normalised earlier questions)."""
        query = self.prepare(question, index)
        context = [
            self.prepare(h, index) for h in history[-self.settings.retrieval.max_history :] if h.strip()
        ]
        search_query = query
        if context and self._is_follow_up(query, index):
            search_query = f"{context[-1]} {query}"
        return query, search_query, context

    def _search(self, index: KnowledgeIndex, query: str, search_query: str) -> Retrieval:
        """Keywords see the whole search text; a long story is embedded by the sentences that ask."""
        embedded = search_query
        if len(query) > LONG_QUESTION:
            embedded = search_query.replace(query, guard.gist(query, LONG_QUESTION))
        if not intents.asks_where(query):
            embedded = places.without_places(embedded)  # where the resident lives is not the topic
        return search(index, search_query, list(self.embedder.embed_query(embedded)), self.settings)

    def prepare(self, raw: str, index: KnowledgeIndex) -> str:
        """Normalise a question the way the documents are written."""
        normal = normalize(raw, self.dialect)
        return self.synonyms.apply(index.correct(self.synonyms.apply(normal)))

    def _is_follow_up(self, query: str, index: KnowledgeIndex) -> bool:
        """Questions opening with 那/如果… or pointing back (这个, 还能…), or without a subject of their own.

        A topic is a rare word of the knowledge folder, or a word it does not have at all
        ("火星移民补贴" asks about something new, not about the previous question).
        """
        if intents.FOLLOW_UP_START.match(query) or intents.ANAPHORA.search(query):
            return True
        words = segment.words(query)
        if len(query) <= 12 and all(w in index.bm25.vocab for w in words):
            return True  # short and in the folder's own words, but no subject ("需要带哪些材料？")
        return not any(index.bm25.idf_of(w) >= 3.0 for w in words)

    def _compose(
        self,
        question: str,
        query: str,
        search_query: str,
        retrieval: Retrieval,
        index: KnowledgeIndex,
        context: Sequence[str],
    ) -> Answer:
        contact = self._contact()
        cfg = self.settings.retrieval
        if not retrieval.passages:
            return Answer(question, messages.DONT_KNOW.format(**contact), False, "dont_know")
        top = retrieval.passages[0]
        # What was found is still listed (not cited): the ranking is useful to staff and to evaluation.
        related = self._sources(retrieval.docs[:5], top, cited=set())
        context_words = [w for c in context for w in segment.words(c)] if search_query != query else []
        found = extract(index, retrieval, query, self.settings.answer.max_chars, context_words)
        if found.passages and self._redirects(found, retrieval):
            hint = found.text.split("\n")[0].lstrip("· ")
            reply = messages.OTHER_DEPARTMENT.format(hint=f"{hint}。" if hint else "", **contact)
            return Answer(question, reply, False, "other_department", related)
        referral = self.referral(retrieval)
        if referral is not None:
            logger.info("referred to another department for %r", referral.word)
            hint = messages.REFERRAL_HINT.format(department=referral.department)
            return Answer(
                question,
                messages.OTHER_DEPARTMENT.format(hint=hint, **contact),
                False,
                "other_department",
                related,
            )
        confidence = retrieval.confidence(cfg.confidence_weights, cfg.confidence_bias)
        if confidence < cfg.min_confidence or not found.text:
            logger.info("refused: confidence %.2f < %.2f", confidence, cfg.min_confidence)
            return Answer(question, messages.DONT_KNOW.format(**contact), False, "dont_know", related)
        docs = {d.path: d for d in retrieval.docs}
        # The guide a sentence comes from is cited before the FAQ that sums it up.
        cited_paths = sorted(
            dict.fromkeys(p.path for p in found.passages),
            key=lambda path: path in docs and docs[path].category == FAQ_CATEGORY,
        )
        ordered = [docs[p] for p in cited_paths if p in docs]
        ordered += [d for d in retrieval.docs if d.path not in cited_paths]
        sources = self._sources(
            ordered[:5], found.passages[0], cited=set(cited_paths[: self.settings.answer.max_sources])
        )
        notes = (messages.SAMPLE_NOTICE,) if any(s.sample for s in sources if s.cited) else ()
        answer = Answer(question, found.text, True, "answer", sources, notes=notes)
        if not self.settings.llm.enabled:
            return answer
        earlier = context if search_query != query else ()
        return self._generated(answer, retrieval, found.passages, query, earlier)

    def _generated(
        self, answer: Answer, retrieval: Retrieval, used: Sequence[Any], query: str, earlier: Sequence[str]
    ) -> Answer:
        """[llm] enabled: the model's wording, grounded on the passages; on any failure ``answer`` itself."""
        from bot.answering import llm

        try:
            return llm.generate(self.settings, answer, retrieval, used, query, earlier)
        except Exception as exc:  # endpoint down, timeout, HTTP error, bad JSON, a reply failing the checks
            logger.warning(
                "LLM answer not used, sending the extractive one: %s", llm.describe(exc, self.settings.llm)
            )
            return answer

    def _from_document(self, question: str, text_: str, path: str, kind: str, retrieval: Retrieval) -> Answer:
        """An answer computed from one document (a calculator, the meal-site directory), citing it first;
        the guides retrieval found follow, uncited."""
        chunk = next((c for c in self.index().chunks if c.path == path), Chunk(path, title=path))
        source = Source(path=path, title=chunk.title, issued=chunk.issued, score=1.0, sample=chunk.sample)
        related = [d for d in retrieval.docs if d.path != path][:4]
        best = retrieval.passages[0] if retrieval.passages else None
        sources = (source, *self._sources(related, best, cited=set()))
        notes = (messages.SAMPLE_NOTICE,) if source.sample and messages.SAMPLE_NOTICE not in text_ else ()
        return Answer(question, text_, True, kind, sources, notes=notes)

    def _redirects(self, found: Any, retrieval: Retrieval) -> bool:
        """The knowledge itself says this is another department's business."""
        best = found.passages[0]
        in_redirect_section = bool(_REDIRECT_SECTION.search(best.chunk.heading))
        says_so = "不属于民政" in found.text
        return (
            in_redirect_section or says_so
        ) and retrieval.coverage >= self.settings.retrieval.min_keyword_coverage

    @staticmethod
    def _sources(docs: Sequence[DocHit], best: Any, cited: set[str] | None = None) -> tuple[Source, ...]:
        return tuple(
            Source(
                path=d.path,
                title=d.title,
                issued=d.issued,
                score=d.score,
                sample=d.sample,
                heading=best.chunk.heading if best is not None and d.path == best.path else "",
                cited=cited is None or d.path in cited,
            )
            for d in docs
        )

    def _contact(self) -> dict[str, str]:
        c = self.settings.contact
        return {"hotline": c.hotline, "bureau_phone": c.bureau_phone, "office_hours": c.office_hours}

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
