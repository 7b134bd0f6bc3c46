"""The records that travel through the bot, and the format of a chunk's text, in one place.

A knowledge file is loaded as Markdown plus a :class:`FileMeta` (what the file says about itself);
chunking cuts it into chunks whose text is one heading-path line and then the body
(:func:`chunk_text`) and whose Chroma metadata is a :class:`Chunk`; retrieval ranks chunks as
:class:`Passage` s, grouped by document into :class:`DocHit` s (one :class:`Retrieval`); the
assistant replies with an :class:`Answer` that cites :class:`Source` s.

Metadata dicts (LangChain's ``Document.metadata``, Chroma's metadatas) are read only by the
``from_meta`` constructors below and written only by ``as_meta``, so the index format lives here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot import messages

# --- the text of a chunk ---------------------------------------------------------------------------

HEADING_SEP = " › "  # between the parts of a heading path: document title › section › subsection
TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")  # one row of a Markdown pipe table
TABLE_SEPARATOR = re.compile(r"^\s*\|(?:\s*:?-{2,}:?\s*\|)+\s*$")  # its | --- | line


def join_heading(parts: Sequence[str]) -> str:
    """A heading path from its parts (title first)."""
    return HEADING_SEP.join(parts)


def heading_parts(heading: str) -> list[str]:
    """The parts of a heading path (title first)."""
    return heading.split(HEADING_SEP)


def chunk_text(heading: str, body: str) -> str:
    """A chunk's text as it is indexed: the heading path on the first line, then the body."""
    return f"{heading}\n{body}"


def body_of(text: str) -> str:
    """A chunk's text without its heading-path line."""
    return text.split("\n", 1)[1] if "\n" in text else text


def table_records(text: str) -> list[list[tuple[str, str]]]:
    """The data rows of the pipe tables in ``text``, each as (column name, cell) pairs in order."""
    rows: list[list[tuple[str, str]]] = []
    header: list[str] | None = None
    for line in text.splitlines():
        if not TABLE_ROW.match(line):
            header = None
            continue
        if TABLE_SEPARATOR.match(line):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if header is None:
            header = cells
            continue
        rows.append(list(zip(header, cells, strict=False)))
    return rows


def table_rows(text: str) -> list[str]:
    """Render each data row of the pipe tables in ``text`` as '列名：值，列名：值'."""
    return [
        "，".join(f"{h}：{c}" if h and h != c else c for h, c in record if c)
        for record in table_records(text)
    ]


# --- metadata ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileMeta:
    """What a loaded knowledge file says about itself (the metadata of the loader's Document)."""

    path: str  # relative to the knowledge folder
    title: str = ""
    category: str = ""
    issued: str = ""  # ISO date, or ""
    source: str = ""
    sample: bool = False  # ``sample: true``: local figures are examples
    format: str = ""  # "md" | "txt" | "html" | "docx" | "pdf" | "xlsx" | "csv"
    standards: Any = None  # the front matter's ``standards`` block, unvalidated (see services.standards)
    superseded_by: str = ""  # front matter: the file or title of the text in force instead of this one
    valid_until: str = ""  # front matter: the last day this text applies (ISO date)
    ocr: bool = False  # the text was recognised from a scan

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any]) -> FileMeta:
        return cls(
            path=str(meta.get("path", "")),
            title=str(meta.get("title", "") or ""),
            category=str(meta.get("category", "") or ""),
            issued=str(meta.get("issued", "") or ""),
            source=str(meta.get("source", "") or ""),
            sample=bool(meta.get("sample", False)),
            format=str(meta.get("format", "") or ""),
            standards=meta.get("standards"),
            superseded_by=str(meta.get("superseded_by", "") or ""),
            valid_until=str(meta.get("valid_until", "") or ""),
            ocr=bool(meta.get("ocr", False)),
        )

    def as_meta(self) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "path": self.path,
            "title": self.title,
            "category": self.category,
            "issued": self.issued,
            "source": self.source,
            "sample": self.sample,
            "format": self.format,
        }
        if self.standards is not None:
            meta["standards"] = self.standards
        if self.superseded_by:
            meta["superseded_by"] = self.superseded_by
        if self.valid_until:
            meta["valid_until"] = self.valid_until
        if self.ocr:
            meta["ocr"] = True
        return meta


EXPIRED = "-"  # Chunk.superseded_by of a text past its valid_until with no successor in the folder


@dataclass(frozen=True)
class Chunk:
    """The metadata of one chunk in the index, as chunking writes it and serving reads it."""

    path: str  # the document, relative to the knowledge folder
    title: str = ""  # the document's title (ingest always writes one: the path when the file has none)
    category: str = ""
    issued: str = ""
    sample: bool = False
    heading: str = ""  # heading path: title › section › subsection
    kind: str = ""  # "paragraph" | "list" | "table" | "faq" | "text" (several kinds)
    chunk: int = 0  # position within its document
    question: str = ""  # an FAQ chunk's question
    standards: str = ""  # the validated standards block as JSON, on the first chunk of its document
    article: str = ""  # a regulation's article this chunk is (part of): "第八条"
    words: str = ""  # its content words for keyword search, space-separated, segmented once at ingest
    superseded_by: str = ""  # the document in force instead of this one (its path; EXPIRED: none)
    in_force_since: str = ""  # when that document took effect (ISO date), if known
    ocr: bool = False  # its document's text was recognised from a scan (only written when true)

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any]) -> Chunk:
        path = str(meta.get("path", ""))
        standards = meta.get("standards")
        return cls(
            path=path,
            title=str(meta.get("title", path)),
            category=str(meta.get("category", "")),
            issued=str(meta.get("issued", "")),
            sample=bool(meta.get("sample", False)),
            heading=str(meta.get("heading", "")),
            kind=str(meta.get("kind", "")),
            chunk=int(meta.get("chunk", 0) or 0),
            question=str(meta.get("question", "") or ""),
            standards=standards if isinstance(standards, str) else "",
            article=str(meta.get("article", "") or ""),
            words=str(meta.get("words", "") or ""),
            superseded_by=str(meta.get("superseded_by", "") or ""),
            in_force_since=str(meta.get("in_force_since", "") or ""),
            ocr=bool(meta.get("ocr", False)),
        )

    def as_meta(self) -> dict[str, Any]:
        """Chroma metadata: these keys, ``question`` only for FAQ chunks, ``standards`` only when set."""
        meta: dict[str, Any] = {
            "path": self.path,
            "title": self.title,
            "category": self.category,
            "issued": self.issued,
            "sample": self.sample,
            "heading": self.heading,
            "kind": self.kind,
            "chunk": self.chunk,
        }
        optional = {
            "question": self.question,
            "standards": self.standards,
            "article": self.article,
            "words": self.words,
            "superseded_by": self.superseded_by,
            "in_force_since": self.in_force_since,
            "ocr": self.ocr,
        }
        meta.update({k: v for k, v in optional.items() if v})
        return meta

    @property
    def section(self) -> str:
        """The innermost heading the chunk stands under ("" for a document's introduction)."""
        parts = heading_parts(self.heading)
        return parts[-1] if len(parts) > 1 else ""


@dataclass(frozen=True)
class Unit:
    """One piece an answer is made of: a sentence, a list item, a table row or an FAQ answer.

    Units are cut from chunks at ingest and embedded one by one (their own Chroma collection beside
    the chunks'), so extraction can score them against the question's vector. ``path`` and ``chunk``
    name the chunk the unit belongs to.
    """

    path: str
    chunk: int
    kind: str  # "sentence" | "item" | "row" | "faq"
    text: str  # what an answer quotes
    context: str = ""  # what it cannot be read without: an item's lead-in, an FAQ answer's question
    article: str = ""  # "第八条" when the unit is part of a regulation's article
    group: int = 0  # units of one list, table or paragraph share it (within the chunk)
    order: int = 0  # position within the chunk
    stale: str = ""  # why no answer may quote it (it states a figure the standards block changed)

    @property
    def is_lead_in(self) -> bool:
        """It ends in "：" ("…应当出具下列证件和书面材料："): it says nothing without the list after it."""
        return self.text.endswith(("：", ":"))

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any]) -> Unit:
        return cls(
            path=str(meta.get("path", "")),
            chunk=int(meta.get("chunk", 0) or 0),
            kind=str(meta.get("kind", "sentence")),
            text=str(meta.get("text", "")),
            context=str(meta.get("context", "") or ""),
            article=str(meta.get("article", "") or ""),
            group=int(meta.get("group", 0) or 0),
            order=int(meta.get("order", 0) or 0),
            stale=str(meta.get("stale", "") or ""),
        )

    def as_meta(self) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "path": self.path,
            "chunk": self.chunk,
            "kind": self.kind,
            "text": self.text,
            "group": self.group,
            "order": self.order,
        }
        optional = {"context": self.context, "article": self.article, "stale": self.stale}
        meta.update({k: v for k, v in optional.items() if v})
        return meta

    @property
    def quoted(self) -> str:
        """The unit as an answer shows it on its own: an FAQ answer after its question."""
        if self.kind == "faq" and self.context:
            return f"{self.context.rstrip()} {self.text}"
        return self.text


class ServedChunks(Protocol):
    """What services read of the served index: every chunk's text and metadata, row by row."""

    texts: list[str]
    chunks: list[Chunk]


# --- retrieval --------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Passage:
    """One retrieved chunk with its scores."""

    id: str
    text: str  # heading path line, then the chunk body
    chunk: Chunk
    dense: float  # cosine similarity to the question (0 when not among the dense hits)
    sparse: float  # BM25 score
    score: float  # fused score

    @property
    def path(self) -> str:
        return self.chunk.path

    @property
    def body(self) -> str:
        return body_of(self.text)


@dataclass
class DocHit:
    """One document among the retrieved passages, scored by its best passage."""

    path: str
    title: str
    issued: str
    sample: bool
    category: str
    score: float
    passages: list[Passage] = field(default_factory=list)


@dataclass
class Retrieval:
    query: str  # the normalised, corrected question used for search
    words: list[str]  # its content words
    passages: list[Passage]
    docs: list[DocHit]
    coverage: float  # idf-weighted share of the question's words found in the best passages
    dense_top: float = 0.0  # cosine similarity of the nearest chunk
    dense_margin: float = 0.0  # how far the nearest chunk stands above the 11th-30th nearest
    sparse_top: float = 0.0  # best BM25 score
    vector: tuple[float, ...] = ()  # the question's embedding, as dense search used it

    def features(self) -> tuple[float, float, float]:
        """What the answer/refuse decision looks at (see RetrievalSettings.confidence_*)."""
        return (100.0 * self.dense_margin, math.log1p(self.sparse_top), 100.0 * self.dense_top)

    def confidence(self, weights: Sequence[float], bias: float) -> float:
        """Calibrated probability that the knowledge folder answers the question (logistic model)."""
        z = bias + sum(w * f for w, f in zip(weights, self.features(), strict=True))
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))


# --- answers ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    path: str  # relative to the knowledge folder
    title: str
    issued: str
    score: float
    sample: bool
    heading: str = ""  # heading path of the passage the answer came from
    cited: bool = True  # the answer text was taken from this document
    articles: tuple[str, ...] = ()  # the articles quoted, when the document is a regulation
    ocr: bool = False  # the document's text was recognised from a scan

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "title": self.title, "issued": self.issued}
        out["score"] = round(self.score, 4)
        if self.articles:
            out["articles"] = list(self.articles)
        return out

    def line(self) -> str:
        """How an answer names it: 《婚姻登记条例》第八条、第九条（2025-04-06）, marked when the text
        was recognised from a scan."""
        line = messages.SOURCE_LINE.format(
            title=self.title, articles="、".join(self.articles), issued=self.issued or messages.DATE_UNKNOWN
        )
        return line + (messages.SOURCE_OCR if self.ocr else "")


@dataclass(frozen=True)
class Answer:
    question: str
    text: str  # the answer itself, plain text, without the sources
    answered: bool
    kind: str  # "answer" | "dont_know" | "other_department" | "empty" | "no_text" | "injection" | ...
    sources: tuple[Source, ...] = ()
    latency_ms: float = 0.0
    notes: tuple[str, ...] = field(default=())  # e.g. the sample-data notice

    @property
    def cited(self) -> tuple[Source, ...]:
        return tuple(s for s in self.sources if s.cited)

    @property
    def section_source(self) -> Source | None:
        """The source whose section the answer was taken from (what 查看原文 shows), if any."""
        return next((s for s in (*self.cited, *self.sources) if s.heading), None)

    def render(self) -> str:
        """Plain text with sources, as the console and ``ask`` print it."""
        parts = [self.text]
        named = [s for s in self.cited if f"《{s.title}》" not in self.text]  # not already named in the text
        if named:
            lines = [s.line() for s in named]
            parts.append(f"{messages.SOURCES_HEADING}：" + "；".join(lines))
        parts += list(self.notes)
        return "\n".join(p for p in parts if p)

    def as_json(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.render(),
            "answered": self.answered,
            "sources": [s.as_json() for s in self.sources],
            "latency_ms": round(self.latency_ms, 1),
        }


@dataclass(frozen=True)
class KnowledgeInfo:
    """What the served index holds (for /about, /stats and the web's health check)."""

    documents: int
    chunks: int
    version: int
    ingested_at: str
    categories: dict[str, int]
    titles: dict[str, str]  # path -> title
