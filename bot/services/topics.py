"""Topics and their common questions, from the served index: what a channel's topic menu shows.

Each topic (老年助餐与养老, 婚姻登记, 社会救助) collects the FAQ questions of its FAQ section or its
own documents, then the titles of its guides (the preferred ones first). :func:`section_text`
gives the whole text of one section of one document (the 查看原文 view). Both read the index's
chunks, so a re-ingest changes them without a restart; any channel can use them.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.records import Chunk, ServedChunks, body_of, heading_parts

COMMON_QUESTIONS = 8  # per topic


@dataclass(frozen=True)
class Topic:
    key: str
    faq_words: tuple[str, ...]  # an FAQ section whose name holds one of these belongs to the topic
    categories: tuple[str, ...]  # document categories of the topic
    preferred: tuple[str, ...] = ()  # guides whose titles hold these come first


TOPICS: dict[str, Topic] = {
    "elderly": Topic("elderly", ("助餐", "养老", "老年"), ("elderly",), ("助餐", "饭堂")),
    "marriage": Topic("marriage", ("婚姻", "结婚", "离婚"), ("marriage",), ("结婚", "婚姻登记")),
    "assistance": Topic("assistance", ("救助", "低保"), ("assistance",), ("低保", "救助")),
}


def topic_questions(chunks: Sequence[Chunk], topic: Topic, limit: int = COMMON_QUESTIONS) -> list[str]:
    """A topic's common questions: FAQ questions of its FAQ section or its documents, then its guides' titles."""
    faq: list[str] = []
    guides: dict[str, tuple[bool, str, str]] = {}
    for chunk in sorted(chunks, key=lambda c: (c.path, c.chunk)):
        question = chunk.question.strip()
        if chunk.kind == "faq" and question:
            section = heading_parts(chunk.heading)[-1]
            if chunk.category in topic.categories or (
                chunk.category == "faq" and any(w in section for w in topic.faq_words)
            ):
                faq.append(question)
        elif chunk.category in topic.categories:
            title = chunk.title.strip()
            if title:
                preferred = any(w in title for w in topic.preferred)
                guides.setdefault(chunk.path, (preferred, chunk.issued, title))
    questions = list(dict.fromkeys(faq))
    for _, _, title in sorted(guides.values(), reverse=True):
        if title not in questions:
            questions.append(title)
    return questions[:limit]


_questions: weakref.WeakKeyDictionary[Any, dict[str, list[str]]] = weakref.WeakKeyDictionary()


def common_questions(index: ServedChunks) -> dict[str, list[str]]:
    """Common questions of every topic, computed once per served index version."""
    try:
        return _questions[index]
    except KeyError:
        found = _questions[index] = {key: topic_questions(index.chunks, t) for key, t in TOPICS.items()}
        return found
    except TypeError:  # an index object that cannot be weakly referenced: compute it every time
        return {key: topic_questions(index.chunks, t) for key, t in TOPICS.items()}


def section_text(index: ServedChunks, path: str, heading: str) -> str | None:
    """The full text of one section of one document, from the served index (None when it is gone)."""
    rows = [i for i, c in enumerate(index.chunks) if c.path == path and c.heading == heading]
    if not rows:
        return None
    rows.sort(key=lambda i: index.chunks[i].chunk)
    bodies = [body_of(index.texts[i]) for i in rows]
    return "\n\n".join(b.strip() for b in bodies if b.strip()) or None
