"""Understanding a question before retrieval: normalised the way the documents are written, and
whether it follows up an earlier one.

Normalisation: traditional → simplified, Cantonese and English words → Mandarin, the synonym
dictionary, homophone typos mended with the folder's own words (:meth:`KnowledgeIndex.correct`).
A follow-up ("那要带什么材料？") is searched together with the previous question.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from bot import intents
from bot.answering import guard
from bot.answering.index import KnowledgeIndex
from bot.chinese import places, segment
from bot.chinese.normalize import BUILTIN_SYNONYMS, CANTONESE, ENGLISH, Lexicon, normalize, read_lexicon
from bot.config import Settings, TuningSettings
from bot.records import Retrieval


@dataclass(frozen=True)
class Lexicons:
    """The word lists a question is normalised with."""

    synonyms: Lexicon  # built-in synonyms plus the bureau's knowledge/_synonyms.txt
    dialect: Lexicon  # Cantonese and English words → Mandarin

    @classmethod
    def read(cls, settings: Settings) -> Lexicons:
        paths = [BUILTIN_SYNONYMS, settings.knowledge_dir / settings.knowledge.synonyms_file]
        return cls(read_lexicon(paths), read_lexicon([CANTONESE, ENGLISH]))

    def prepare(self, raw: str, index: KnowledgeIndex) -> str:
        """Normalise a question the way the documents are written."""
        normal = normalize(raw, self.dialect)
        synonyms = index.synonyms  # aimed at the words this folder uses
        return synonyms.apply(index.correct(synonyms.apply(normal)))


@dataclass(frozen=True)
class Asked:
    """A question as retrieval sees it."""

    query: str  # the normalised, corrected question
    search: str  # the text searched with: for a follow-up, the previous question and this one
    context: tuple[str, ...] = ()  # the earlier questions, normalised, oldest first
    new_topic: bool = False  # it names a topic of its own, other than the previous question's

    @property
    def follows_up(self) -> bool:
        return self.search != self.query

    @property
    def earlier(self) -> tuple[str, ...]:
        """The earlier questions this one is read with (none when it stands alone)."""
        return self.context if self.follows_up else ()

    @property
    def asking(self) -> str:
        """What the question asks for is read from: itself, or with the previous question when it
        is a follow-up that names only a new subject ("那离婚呢？" after "结婚登记要带什么材料")."""
        if not self.earlier or intents.has_ask(self.query):
            return self.query
        return f"{self.earlier[-1]} {self.query}"

    def with_previous(self) -> Asked:
        """The same question, searched together with the previous one."""
        return dataclasses.replace(self, search=f"{self.context[-1]} {self.query}")


def understand(
    question: str, history: Sequence[str], index: KnowledgeIndex, lexicons: Lexicons, settings: Settings
) -> Asked:
    """Normalise the question and the last earlier ones; a follow-up is searched with the previous one."""
    query = lexicons.prepare(question, index)
    context = tuple(
        lexicons.prepare(h, index) for h in history[-settings.retrieval.max_history :] if h.strip()
    )
    asked = Asked(query, query, context)
    if not context:
        return asked
    if intents.FOLLOW_UP_START.match(query) or intents.ANAPHORA.search(query):
        return asked.with_previous()
    if changes_topic(query, context[-1], index, settings.tuning):
        return dataclasses.replace(asked, new_topic=True)
    if is_follow_up(query, index, settings.tuning):
        return asked.with_previous()
    return asked


def changes_topic(query: str, previous: str, index: KnowledgeIndex, tuning: TuningSettings) -> bool:
    """The question names a subject of its own ("结婚登记去哪里办" after "低保怎么申请"): a word that
    document titles name their subject with and the previous question lacks, and the document it
    points to by keywords is not the previous question's."""
    own = [w for w in segment.words(query) if w in index.topic_words and w not in previous]
    return bool(own) and index.best_document(query) != index.best_document(previous)


def is_follow_up(query: str, index: KnowledgeIndex, tuning: TuningSettings) -> bool:
    """Questions opening with 那/如果… or pointing back (这个, 还能…), or without a subject of their own.

    A topic is a rare word of the knowledge folder, or a noun it does not have at all ("火星移民补贴"
    asks about something new, not about the previous question); a verb the folder lacks is no topic
    ("要多久才批下来？" after "临时救助怎么申请" is about 临时救助).
    """
    if intents.FOLLOW_UP_START.match(query) or intents.ANAPHORA.search(query):
        return True
    words = segment.words(query)
    if len(query) <= tuning.follow_up_short_chars and all(w in index.bm25.vocab for w in words):
        return True  # short and in the folder's own words, but no subject ("需要带哪些材料？")
    unknown = [w for w in words if w not in index.bm25.vocab]
    unknown_nouns = [n for n in segment.nouns(query) if n not in index.bm25.vocab] if unknown else []

    def topic(w: str) -> bool:
        if intents.has_ask(w):
            return False  # 多久, 多少, 哪里 ask; they name nothing
        if w in index.bm25.vocab:
            return index.bm25.idf_of(w) >= tuning.follow_up_idf
        return any(w in n or n in w for n in unknown_nouns)

    return not any(topic(w) for w in words)


def continues(previous: str, retrieval: Retrieval, index: KnowledgeIndex) -> bool:
    """The previous question's best document (by keywords) is among the three best found now.

    Then a question that reads as new ("登记完要等几天？" after one on 长者饭堂补贴) is a follow-up
    after all.
    """
    topic = index.best_document(previous)
    return bool(topic) and topic in [d.path for d in retrieval.docs[:3]]


def embedded_text(asked: Asked, settings: Settings) -> str:
    """What is embedded for dense search: keywords see the whole search text, but a long story is
    embedded by the sentences that ask, and where the resident lives is not the topic."""
    embedded = asked.search
    limit = settings.question.embed_chars
    if len(asked.query) > limit:
        embedded = asked.search.replace(asked.query, guard.gist(asked.query, limit))
    if not intents.asks_where(asked.query):
        embedded = places.without_places(embedded)
    return embedded
