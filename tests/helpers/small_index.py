"""Small hand-made indexes for unit tests of retrieval, extraction and follow-up detection.

A real :class:`~bot.answering.index.KnowledgeIndex` (BM25, vocabulary, typo correction) over a
few chunks written in the test, whose "Chroma collection" answers dense queries from hand-made
vectors by cosine distance, as Chroma's ``query`` does. No model, no Chroma: milliseconds.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.answering.index import KnowledgeIndex
from bot.chinese.normalize import Lexicon
from bot.config import Settings, TuningSettings
from bot.index_store import Pointer
from bot.records import Chunk, chunk_text


@dataclass
class Doc:
    """One chunk of a hand-made index: where it stands, its body, and the vector dense search sees."""

    path: str
    heading: str  # heading path, e.g. "低保指南 › 一、申请条件"
    body: str
    vector: Sequence[float] = (0.0, 0.0, 1.0)
    category: str = "assistance"
    kind: str = "text"
    question: str = ""
    chunk: Chunk = field(init=False)

    def __post_init__(self) -> None:
        title = self.heading.split(" › ")[0]
        self.chunk = Chunk(
            self.path, title=title, category=self.category, heading=self.heading, kind=self.kind,
            question=self.question,
        )  # fmt: skip


class VectorCollection:
    """The part of a Chroma collection retrieval uses: ``query`` by cosine distance, nearest first."""

    def __init__(self, ids: Sequence[str], vectors: Sequence[Sequence[float]]) -> None:
        self.rows = list(zip(ids, vectors, strict=True))
        self.queries = 0

    def query(self, query_embeddings: list[list[float]], n_results: int, include: Any) -> dict[str, Any]:
        self.queries += 1
        (q,) = query_embeddings
        ranked = sorted(((1.0 - _cosine(q, v), cid) for cid, v in self.rows), key=lambda t: t[0])[:n_results]
        return {"ids": [[cid for _, cid in ranked]], "distances": [[d for d, _ in ranked]]}


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


def filler(n: int) -> list[Doc]:
    """``n`` chunks about matters no test asks about, so the test's own words are rare (high idf)."""
    topics = [
        "殡葬管理",
        "地名命名",
        "社会组织登记",
        "慈善募捐",
        "福利彩票",
        "行政区划",
        "志愿服务",
        "救灾物资",
    ]
    return [
        Doc(
            f"other-{i}.md",
            f"{topics[i % len(topics)]}须知 › 第{i}节",
            f"{topics[i % len(topics)]}的第{i}项规定按照有关文件执行。",
            vector=(0.0, 1.0, float(i % 3)),
            category="other",
        )
        for i in range(n)
    ]


def small_index(
    docs: Sequence[Doc], tuning: TuningSettings | None = None, synonyms: Lexicon | None = None
) -> KnowledgeIndex:
    """A KnowledgeIndex over ``docs`` (ids ``c0``, ``c1``, … in order), with their answer units cut as
    ingest cuts them; every unit's vector is its chunk's. No synonyms unless given."""
    import numpy as np
    from langchain_core.documents import Document

    from bot.index_store import LAYOUT
    from bot.ingest.units import units_of

    ids = [f"c{i}" for i in range(len(docs))]
    pointer = Pointer(
        "test__blue",
        1,
        "2025-01-01T00:00:00+0800",
        "test",
        len({d.path for d in docs}),
        len(docs),
        layout=LAYOUT,
    )
    collection = VectorCollection(ids, [d.vector for d in docs])
    texts = [chunk_text(d.heading, d.body) for d in docs]
    chunks = [dataclasses.replace(d.chunk, chunk=n) for n, d in enumerate(docs)]
    units, vectors = [], []
    for text, chunk, doc in zip(texts, chunks, docs, strict=True):
        for unit in units_of(Document(page_content=text, metadata=chunk.as_meta())):
            units.append(unit)
            vectors.append(doc.vector)
    return KnowledgeIndex(
        pointer,
        collection,
        ids,
        texts,
        chunks,
        synonyms or Lexicon(),
        tuning or TuningSettings(),  # type: ignore[arg-type]
        (units, np.asarray(vectors, dtype=np.float32)),
        np.asarray([d.vector for d in docs], dtype=np.float32),
    )


def settings_with(**retrieval: Any) -> Settings:
    """The shipped settings (the dataclass defaults equal config.toml), with some retrieval keys changed."""
    import dataclasses

    settings = Settings()
    return dataclasses.replace(settings, retrieval=dataclasses.replace(settings.retrieval, **retrieval))
