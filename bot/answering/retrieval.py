"""Hybrid retrieval: dense vectors (Chroma) and BM25 over Chinese tokens, fused by reciprocal rank.

:class:`KnowledgeIndex` is an in-memory view of one served index version: the
chunks (fetched from Chroma, so every worker sees the same), a BM25 matrix, the
corpus vocabulary used to correct homophone typos, and the FAQ questions.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from bot import index_store, intents
from bot.chinese import places, segment
from bot.chinese.normalize import Lexicon
from bot.config import Settings
from bot.records import Chunk, DocHit, Passage, Retrieval
from bot.services.standards import Standards

if TYPE_CHECKING:
    from chromadb.api.models.Collection import Collection
    from scipy.sparse import csc_matrix

logger = logging.getLogger(__name__)

K1 = 1.2
SPARSE_LEAD = 1.0  # votes for the best keyword chunk when it leads the next by a wide margin
PLACE_WEIGHT = 0.3  # weight of a place name in a question that does not ask where
RARE_WORD = 10  # segmenter dictionary frequency under which a word the folder lacks may be a typo
B = 0.75


class BM25:
    """Okapi BM25 as a sparse document × term matrix: one query is one column sum."""

    def __init__(self, docs: Sequence[list[str]]) -> None:
        from scipy.sparse import csr_matrix

        self.vocab: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        tfs: list[float] = []
        lengths = np.array([max(len(d), 1) for d in docs], dtype=np.float32)
        avg = float(lengths.mean()) if len(docs) else 1.0
        df: Counter[int] = Counter()
        for i, doc in enumerate(docs):
            counts = Counter(self.vocab.setdefault(t, len(self.vocab)) for t in doc)
            df.update(counts.keys())
            for term, tf in counts.items():
                rows.append(i)
                cols.append(term)
                tfs.append(tf)
        n = len(docs)
        self.idf = np.zeros(len(self.vocab), dtype=np.float32)
        for term, d in df.items():
            self.idf[term] = math.log(1 + (n - d + 0.5) / (d + 0.5))
        tf_arr = np.array(tfs, dtype=np.float32)
        norm = K1 * (1 - B + B * lengths[np.array(rows, dtype=np.int64)] / avg) if rows else tf_arr
        weights = self.idf[np.array(cols, dtype=np.int64)] * tf_arr * (K1 + 1) / (tf_arr + norm)
        matrix: csc_matrix = csr_matrix((weights, (rows, cols)), shape=(n, len(self.vocab))).tocsc()
        self.matrix = matrix
        self.max_idf = float(self.idf.max()) if len(self.idf) else 1.0

    def scores(self, terms: Sequence[str], weights: Sequence[float] | None = None) -> np.ndarray:
        """BM25 of every chunk for the query ``terms`` (each counted with its weight, default 1)."""
        known = [
            (self.vocab[t], w)
            for t, w in zip(terms, weights or [1.0] * len(terms), strict=True)
            if t in self.vocab
        ]
        if not known:
            return np.zeros(self.matrix.shape[0], dtype=np.float32)
        ids = [i for i, _ in known]
        return np.asarray(self.matrix[:, ids] @ np.array([w for _, w in known], dtype=np.float32)).ravel()

    def idf_of(self, term: str) -> float:
        i = self.vocab.get(term)
        return float(self.idf[i]) if i is not None else self.max_idf


class KnowledgeIndex:
    """Everything retrieval needs about one index version, held in memory."""

    def __init__(
        self,
        pointer: index_store.Pointer,
        collection: Collection,
        ids: list[str],
        texts: list[str],
        chunks: list[Chunk],
        synonyms: Lexicon,
    ) -> None:
        self.pointer = pointer
        self.collection = collection
        self.ids = ids
        self.texts = texts
        self.chunks = chunks
        self.synonyms = synonyms
        self.row_of = {cid: i for i, cid in enumerate(ids)}
        segment.add_words(w for w in synonyms.canonical)
        segmented = [segment.words(t) for t in texts]  # jieba once per chunk, for BM25 and the vocabulary
        self.bm25 = BM25([segment.tokens(t, ws) for t, ws in zip(texts, segmented, strict=True)])
        self.word_freq: Counter[str] = Counter()
        self.corpus_words: Counter[str] = Counter()
        for t, ws in zip(texts, segmented, strict=True):
            self.word_freq.update(segment.cjk_bigrams(t))
            self.corpus_words.update(w for w in ws if len(w) >= 2)
        self.word_freq.update(self.corpus_words)
        self.trigrams = {
            run[i : i + 3] for t in texts for run in segment.CJK_RUN.findall(t) for i in range(len(run) - 2)
        }
        self._homophones = self._build_homophones()
        self.standards = self._find_standards()

    def _find_standards(self) -> Standards | None:
        """The published standards block, if a document of this version carries one."""
        for chunk in self.chunks:
            if chunk.standards:
                try:
                    return Standards.from_json(chunk.standards, chunk.path, chunk.title, chunk.issued)
                except ValueError:
                    logger.exception("standards in %s are unreadable", chunk.path)
        return None

    @classmethod
    def load(
        cls, settings: Settings, client: Any, pointer: index_store.Pointer, synonyms: Lexicon
    ) -> KnowledgeIndex:
        collection = index_store.get_collection(client, pointer.active)
        ids, texts, metas = index_store.fetch_all(collection)
        logger.info("loaded index v%d: %d chunks from %s", pointer.version, len(ids), pointer.active)
        return cls(pointer, collection, ids, texts, [Chunk.from_meta(m) for m in metas], synonyms)

    # --- typo correction ------------------------------------------------------------------------

    def _build_homophones(self) -> dict[str, str]:
        """pinyin of a frequent two-character corpus *word* (not any bigram) → that word."""
        best: dict[str, tuple[int, str]] = {}
        for word, freq in self.corpus_words.items():
            if len(word) != 2 or freq < 3 or not segment.is_cjk(word):
                continue
            key = segment.pinyin_key(word)
            if key not in best or freq > best[key][0]:
                best[key] = (freq, word)
        return {k: w for k, (_, w) in best.items()}

    def correct(self, query: str) -> str:
        """Replace two-character typos that sound like a corpus word and share a character with it.

        Candidates are two adjacent characters that the word segmenter (without guessing new
        words) leaves as single characters, or that it joins into a rare word the folder never has
        ("特困/共养", "低/报审"), that the folder never has in the same context, neither a function
        character: "底保" becomes "低保", "共养" "供养", "低报审" "低保审",
        while "时候", "孩子" or the "波打" across "宁波打工" are never touched.
        """

        def fix(run: re.Match[str]) -> str:
            pieces = segment.plain_segments(run.group(0))
            out: list[str] = []
            i = 0
            while i < len(pieces):
                a = pieces[i]
                b = pieces[i + 1] if i + 1 < len(pieces) else ""
                if len(a) == 2 and self._odd(a):
                    # A rare dictionary word the folder never uses may be the typo itself ("特困/共养").
                    pieces[i : i + 1] = [a[0], a[1]]
                    a, b = a[0], a[1]
                elif len(a) == 1 and len(b) == 2 and self._odd(b):
                    # Or it glued the typo's second character to the next one ("低/报审/和").
                    pieces[i + 1 : i + 2] = [b[0], b[1]]
                    b = b[0]
                pair = a + b
                prev = out[-1][-1:] if out else ""
                nxt = pieces[i + 2][:1] if i + 2 < len(pieces) else ""
                # Not a typo when the folder has these characters in this very context ("全失能").
                seen = (prev + pair) in self.trigrams or (pair + nxt) in self.trigrams
                typo = len(a) == 1 and len(b) == 1 and not seen
                if typo and not (set(pair) & segment.FUNCTION_CHARS):
                    cand = self._homophones.get(segment.pinyin_key(pair))
                    if cand and cand != pair and (cand[0] == a or cand[1] == b):
                        out.append(cand)
                        i += 2
                        continue
                out.append(a)
                i += 1
            return "".join(out)

        return segment.CJK_RUN.sub(fix, query)

    def _odd(self, piece: str) -> bool:
        """A two-character piece the folder never has and the general dictionary barely knows."""
        return piece not in self.word_freq and segment.dictionary_freq(piece) < RARE_WORD

    # --- search ----------------------------------------------------------------------------------

    def dense(self, vector: list[float], k: int) -> dict[int, float]:
        k = min(k, len(self.ids))
        if k == 0:
            return {}
        got = self.collection.query(query_embeddings=[vector], n_results=k, include=["distances"])  # type: ignore[list-item, arg-type]
        out: dict[int, float] = {}
        for cid, dist in zip(got["ids"][0], (got["distances"] or [[]])[0], strict=False):
            row = self.row_of.get(cid)
            if row is not None:
                out[row] = 1.0 - float(dist)
        return out


def rrf(rankings: Sequence[tuple[Sequence[int], float]], k: int) -> dict[int, float]:
    """Reciprocal rank fusion of several rankings, each with a weight."""
    fused: dict[int, float] = defaultdict(float)
    for ranking, weight in rankings:
        for rank, row in enumerate(ranking):
            fused[row] += weight / (k + rank + 1)
    return fused


def search(
    index: KnowledgeIndex, query: str, vector: list[float], settings: Settings, limit: int = 12
) -> Retrieval:
    """Rank chunks for an already normalised and corrected question."""
    cfg = settings.retrieval
    query_terms = segment.tokens(query)
    sparse_all = index.bm25.scores(query_terms, place_weights(query, query_terms))
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
            fused[best] += SPARSE_LEAD * lead * cfg.sparse_weight / (cfg.rrf_k + 1)
    order = sorted(fused, key=lambda r: -fused[r])[:limit]
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
        group_by_document(passages),
        coverage(index, words, passages[:3]),
        dense_top=sims[0] if sims else 0.0,
        dense_margin=(sims[0] - sum(tail) / len(tail)) if sims else 0.0,
        sparse_top=float(sparse_all.max()) if len(sparse_all) else 0.0,
    )


def place_weights(query: str, terms: Sequence[str]) -> list[float]:
    """Place names count for less unless the question asks where: "我家在红海湾，低保标准一样吗"
    asks about the standard, not about 红海湾."""
    if intents.asks_where(query):
        return [1.0] * len(terms)
    return [PLACE_WEIGHT if places.is_place(t) else 1.0 for t in terms]


def coverage(index: KnowledgeIndex, words: Sequence[str], passages: Sequence[Passage]) -> float:
    """idf-weighted share of the question's content words that occur in the given passages."""
    if not words or not passages:
        return 0.0
    joined = "\n".join(p.text for p in passages)
    total = sum(index.bm25.idf_of(w) for w in words)
    found = sum(index.bm25.idf_of(w) for w in words if w in joined)
    return found / total if total else 0.0


def group_by_document(passages: Sequence[Passage]) -> list[DocHit]:
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
        hit.passages.append(p)
    return sorted(docs.values(), key=lambda d: -d.score)
