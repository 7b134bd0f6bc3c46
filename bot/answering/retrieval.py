"""Hybrid retrieval: dense vectors (Chroma) and BM25 over Chinese tokens, fused by reciprocal rank.

:func:`search` ranks the chunks of a :class:`~bot.answering.index.KnowledgeIndex` for an already
normalised question and returns a :class:`~bot.records.Retrieval`: the best passages, the same
grouped by document, and what the answer/refuse decision looks at.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from bot import intents
from bot.answering.index import KnowledgeIndex
from bot.chinese import places, segment
from bot.config import Settings
from bot.records import DocHit, Passage, Retrieval


def rrf(rankings: Sequence[tuple[Sequence[int], float]], k: int) -> dict[int, float]:
    """Reciprocal rank fusion of several rankings, each with a weight."""
    fused: dict[int, float] = defaultdict(float)
    for ranking, weight in rankings:
        for rank, row in enumerate(ranking):
            fused[row] += weight / (k + rank + 1)
    return fused


def search(index: KnowledgeIndex, query: str, vector: list[float], settings: Settings) -> Retrieval:
    """Rank chunks for an already normalised and corrected question."""
    cfg, tuning = settings.retrieval, settings.tuning
    query_terms = segment.tokens(segment.keyword_text(query))
    sparse_all = index.bm25.scores(query_terms, place_weights(query, query_terms, tuning.place_weight))
    sparse_k = min(cfg.sparse_k, len(index.ids))
    sparse_rank = [int(i) for i in np.argsort(-sparse_all)[:sparse_k] if sparse_all[i] > 0]
    dense_hits = index.dense(vector, cfg.dense_k)
    dense_rank = sorted(dense_hits, key=lambda r: -dense_hits[r])
    fused = rrf([(dense_rank, cfg.dense_weight), (sparse_rank, cfg.sparse_weight)], cfg.rrf_k)
    # Ranks alone hide how far ahead keywords put one chunk: scoring 54 where the next scores 12
    # ("同乡会 … 名字能不能叫中华" in the rules for naming associations) earns up to one more vote.
    if sparse_rank:
        best = sparse_rank[0]
        path = index.chunks[best].path
        runner_up = next((r for r in sparse_rank if index.chunks[r].path != path), None)
        if runner_up is not None:  # the best chunk of any other document
            lead = 1.0 - float(sparse_all[runner_up]) / float(sparse_all[best])
            fused[best] += tuning.sparse_lead * lead * cfg.sparse_weight / (cfg.rrf_k + 1)
    order = sorted(fused, key=lambda r: -fused[r])[: tuning.passages]
    passages = [
        Passage(
            id=index.ids[r],
            text=index.texts[r],
            chunk=index.chunks[r],
            dense=dense_hits.get(r, 0.0),
            sparse=float(sparse_all[r]),
            score=fused[r],
        )
        for r in order
    ]
    words = [w for w in dict.fromkeys(segment.words(query)) if w]
    sims = sorted(dense_hits.values(), reverse=True)
    tail = sims[10:] or sims[1:] or [0.0]
    return Retrieval(
        query,
        words,
        passages,
        group_by_document(passages, tuning.document_decay),
        coverage(index, words, passages[:3]),
        dense_top=sims[0] if sims else 0.0,
        dense_margin=(sims[0] - sum(tail) / len(tail)) if sims else 0.0,
        sparse_top=float(sparse_all.max()) if len(sparse_all) else 0.0,
        vector=tuple(vector),
    )


def place_weights(query: str, terms: Sequence[str], weight: float) -> list[float]:
    """Place names count for less unless the question asks where: "我家在红海湾，低保标准一样吗"
    asks about the standard, not about 红海湾."""
    if intents.asks_where(query):
        return [1.0] * len(terms)
    return [weight if places.is_place(t) else 1.0 for t in terms]


def coverage(index: KnowledgeIndex, words: Sequence[str], passages: Sequence[Passage]) -> float:
    """idf-weighted share of the question's content words that occur in the given passages."""
    if not words or not passages:
        return 0.0
    joined = "\n".join(p.text for p in passages)
    total = sum(index.bm25.idf_of(w) for w in words)
    found = sum(index.bm25.idf_of(w) for w in words if w in joined)
    return found / total if total else 0.0


def group_by_document(passages: Sequence[Passage], decay: float = 0.0) -> list[DocHit]:
    """The passages by document, best document first.

    A document scores its best passage, plus each further one at ``decay`` to the power of how many
    came before it: a rule that several found articles agree on outranks one lucky passage elsewhere.
    """
    docs: dict[str, DocHit] = {}
    for p in passages:
        hit = docs.get(p.path)
        if hit is None:
            chunk = p.chunk
            hit = docs[p.path] = DocHit(
                path=p.path,
                title=chunk.title,
                issued=chunk.issued,
                sample=chunk.sample,
                category=chunk.category,
                score=p.score,
            )
        else:
            hit.score += decay ** len(hit.passages) * p.score
        hit.passages.append(p)
    return sorted(docs.values(), key=lambda d: -d.score)
