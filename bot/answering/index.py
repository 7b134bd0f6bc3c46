"""One served index version in memory: the chunks, a BM25 matrix, the answer units with their
vectors, and the vocabulary for typo correction.

:class:`KnowledgeIndex` is built from the chunks and units fetched from Chroma (so every worker sees
the same), once per version. Dense search is a query on its Chroma collection; keyword search is
:class:`BM25` over Chinese tokens (the words were segmented at ingest); :class:`Units` holds every
answer unit and its vector for extraction; :meth:`KnowledgeIndex.correct` mends homophone typos with
the folder's own words.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from bot import index_store, staff_messages
from bot.chinese import segment
from bot.chinese.normalize import Lexicon
from bot.config import Settings, TuningSettings
from bot.errors import IndexMissingError
from bot.records import Chunk, Unit
from bot.services.standards import Standards

if TYPE_CHECKING:
    from chromadb.api.models.Collection import Collection
    from scipy.sparse import csc_matrix

logger = logging.getLogger(__name__)


class BM25:
    """Okapi BM25 as a sparse document × term matrix: one query is one column sum."""

    def __init__(self, docs: Sequence[list[str]], *, k1: float, b: float) -> None:
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
        norm = k1 * (1 - b + b * lengths[np.array(rows, dtype=np.int64)] / avg) if rows else tf_arr
        weights = self.idf[np.array(cols, dtype=np.int64)] * tf_arr * (k1 + 1) / (tf_arr + norm)
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


def _normalised(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1, as float32 (cosine is then a dot product)."""
    if not vectors.size:
        return vectors.astype(np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    scaled: np.ndarray = (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
    return scaled


FAQ_CATEGORY = "faq"


class Units:
    """Every answer unit of an index version, with its vector and what keyword matching reads."""

    def __init__(
        self, units: list[Unit], vectors: np.ndarray, chunk_rows: dict[tuple[str, int], int]
    ) -> None:
        self.units = units
        self.vectors = _normalised(vectors)
        # What keyword matching reads: the unit with its context, quantities written one way.
        self.haystacks = [segment.keyword_text(u.context + u.text) for u in units]
        self.row = [chunk_rows.get((u.path, u.chunk), -1) for u in units]  # the chunk each belongs to
        self.by_path: dict[str, list[int]] = {}
        for i, u in enumerate(units):
            self.by_path.setdefault(u.path, []).append(i)


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
        tuning: TuningSettings,
        units: tuple[list[Unit], np.ndarray] = ([], np.zeros((0, 0), dtype=np.float32)),
        chunk_vectors: np.ndarray | None = None,
    ) -> None:
        self.pointer = pointer
        self.collection = collection
        self.ids = ids
        self.texts = texts
        self.chunks = chunks
        self.tuning = tuning
        self.row_of = {cid: i for i, cid in enumerate(ids)}
        # The dictionary's own terms, as ingest segmented the chunks with them (a folder's word the
        # dictionary lists as a variant is segmented as ingest did, word by word).
        segment.add_words(w for w in synonyms.canonical)
        keyword_texts = [segment.keyword_text(t) for t in texts]
        self.keyword_texts = keyword_texts  # the chunks as keyword matching reads them
        # Words segmented at ingest; jieba only for chunks of an index written without them.
        segmented = [
            c.words.split() if c.words else segment.words(k)
            for c, k in zip(chunks, keyword_texts, strict=True)
        ]
        self.bm25 = BM25(
            [segment.tokens(k, ws) for k, ws in zip(keyword_texts, segmented, strict=True)],
            k1=tuning.bm25_k1,
            b=tuning.bm25_b,
        )
        self.row_of_chunk = {(c.path, c.chunk): i for i, c in enumerate(chunks)}
        # The words document titles name their subject with ("结婚登记", "低保", "特困人员"); words
        # most titles share ("汕尾市", "指南") name no subject.
        titles = {c.path: c.title for c in chunks}
        in_titles: Counter[str] = Counter(
            w for t in titles.values() for w in set(segment.words(t)) if len(w) >= 2
        )
        common = max(2.0, tuning.topic_word_share * len(titles))
        self.topic_words = frozenset(w for w, n in in_titles.items() if n <= common)
        self.units = Units(units[0], units[1], self.row_of_chunk)
        self.chunk_vectors = _normalised(chunk_vectors if chunk_vectors is not None else np.zeros((0, 0)))
        self.word_freq: Counter[str] = Counter()
        self.corpus_words: Counter[str] = Counter()
        for t, ws in zip(texts, segmented, strict=True):
            self.word_freq.update(segment.cjk_bigrams(t))
            self.corpus_words.update(w for w in ws if len(w) >= 2)
        self.word_freq.update(self.corpus_words)
        self.synonyms = synonyms.toward(self._in_folder(texts))  # residents' words → this folder's
        self.trigrams = {
            run[i : i + 3] for t in texts for run in segment.CJK_RUN.findall(t) for i in range(len(run) - 2)
        }
        self._homophones = self._build_homophones()
        self.standards = self._find_standards()

    def _in_folder(self, texts: list[str]) -> Callable[[str], bool]:
        """Whether a word stands in the folder's text: its bigrams first (a set lookup), then the text."""
        folder = "\n".join(texts)
        return lambda word: all(b in self.word_freq for b in segment.cjk_bigrams(word)) and word in folder

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
        if pointer.layout != index_store.LAYOUT:
            raise IndexMissingError(
                staff_messages.OLD_INDEX.format(knowledge=settings.knowledge_dir, data=settings.data_dir)
            )
        collection = index_store.get_collection(client, pointer.active)
        ids, texts, metas, chunk_vectors = index_store.fetch_all(collection)
        units_collection = index_store.get_collection(client, index_store.units_name(pointer.active))
        _, _, unit_metas, vectors = index_store.fetch_all(units_collection)
        logger.info(
            "loaded index v%d: %d chunks, %d units from %s",
            pointer.version,
            len(ids),
            len(unit_metas),
            pointer.active,
        )
        chunks = [Chunk.from_meta(m) for m in metas]
        units = [Unit.from_meta(m) for m in unit_metas]
        return cls(
            pointer,
            collection,
            ids,
            texts,
            chunks,
            synonyms,
            settings.tuning,
            (units, vectors),
            chunk_vectors,
        )

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
        return piece not in self.word_freq and segment.dictionary_freq(piece) < self.tuning.rare_word_freq

    # --- search ----------------------------------------------------------------------------------

    def best_document(self, text: str) -> str:
        """The document whose chunk matches ``text`` best by keywords ("" when none does). An FAQ
        answers every topic a little, so it names none: the best document of another kind counts."""
        scores = self.bm25.scores(segment.tokens(segment.keyword_text(text)))
        for row in np.argsort(-scores)[:50] if len(scores) else []:
            if scores[row] <= 0:
                break
            if self.chunks[int(row)].category != FAQ_CATEGORY:
                return self.chunks[int(row)].path
        return ""

    def chunk_similarity(self, vector: np.ndarray, rows: Sequence[int]) -> np.ndarray:
        """Cosine of each chunk ``rows`` (-1: none) to the unit-length ``vector``, 0 where unknown."""
        if not self.chunk_vectors.size:
            return np.zeros(len(rows))
        known = np.asarray([r if r >= 0 else 0 for r in rows])
        sims = self.chunk_vectors[known] @ vector
        return np.where(np.asarray(rows) >= 0, sims, 0.0)

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
