"""Answer units: every chunk cut into the pieces an answer is made of, each embedded on its own.

A unit is a sentence, a list item, a table row (written with its column names) or an FAQ answer.
Units that cannot be read alone carry their *context*: an item the lead-in that introduces its list
("申请结婚登记的内地居民应当出具下列证件和书面材料："), an FAQ answer its question. Units of an
article know its number. Each unit is embedded with what it stands under (the document title, the
section, the article, its context), so a question can be matched to the one sentence that answers it,
not only to the chunk around it. Units are derived from chunks only, so their vectors are cached by
content hash like the chunks' and an unchanged file costs no model call.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Iterable

from langchain_core.documents import Document

from bot.ingest.chunking import ARTICLE, DEFINITION_ENTRY, ITEM, LIST_MARK, is_list_line
from bot.records import Chunk, Unit, body_of, heading_parts, table_rows
from bot.services.standards import Standards, stale_figures

logger = logging.getLogger(__name__)

_SENTENCE_END = re.compile(r"(?<=[。！？；!?;])")
_TABLE_LINE = re.compile(r"^\s*\|")
_MARKUP = re.compile(r"\*\*|__|`")
_FAQ_Q = re.compile(r"^\s*(?:问|Q)\s*[:：]")
_FAQ_A = re.compile(r"^\s*(?:答|A)\s*[:：]\s*")
MIN_CHARS = 2  # shorter pieces ("。", a lone number) are no unit
CLAUSE_CHARS = 160  # a regulation's paragraph (款) up to this long is one unit, not cut into sentences


def units_of(chunk_doc: Document) -> list[Unit]:
    """Cut one chunk (as chunking wrote it) into units, in reading order."""
    chunk = Chunk.from_meta(chunk_doc.metadata)
    body = body_of(chunk_doc.page_content)
    if chunk.kind == "faq":
        answer = "\n".join(line for line in body.splitlines() if not _FAQ_Q.match(_MARKUP.sub("", line)))
        answer = _FAQ_A.sub("", _MARKUP.sub("", answer).strip())
        return (
            [Unit(chunk.path, chunk.chunk, "faq", answer, chunk.question)] if len(answer) >= MIN_CHARS else []
        )
    out: list[Unit] = []
    group = 0
    lead = ""  # the last sentence ending in "：": it introduces the items or rows after it
    list_lead = ""  # the lead of the list being read, while an item of it introduces sub-items
    parent_mark = ""  # how that item is marked ("" while no item introduces sub-items)
    prev_mark = ""  # how the item before was marked
    lines = body.splitlines()
    i = 0

    def add(kind: str, text: str, context: str = "") -> None:
        text = text.strip()
        if len(text) >= MIN_CHARS:
            out.append(Unit(chunk.path, chunk.chunk, kind, text, context, chunk.article, group, len(out)))

    while i < len(lines):
        line = lines[i]
        if _TABLE_LINE.match(line):
            j = i
            while j < len(lines) and _TABLE_LINE.match(lines[j]):
                j += 1
            group += 1
            for row in table_rows("\n".join(lines[i:j])):
                add("row", row, lead)
            i = j
            continue
        clean = _MARKUP.sub("", line).strip()
        if ITEM.match(clean) and lead:
            add("item", clean, lead)  # a regulation's （一）…, under its lead-in
        elif is_list_line(line):
            mark = _mark_kind(line)
            if not out or out[-1].kind != "item":
                group += 1
                list_lead, parent_mark = lead, ""
            elif mark == "entry" != prev_mark:
                group += 1  # a term defined in bold stands alone, under no earlier lead-in
                lead = list_lead = parent_mark = ""
            elif mark == parent_mark:
                group += 1  # the next item of the outer list, after the sub-items of the one before
                lead, parent_mark = list_lead, ""
            prev_mark = mark
            text = LIST_MARK.sub("", clean)
            add("item", text, lead)
            if text.endswith(("：", ":")):
                # An item that introduces items ("…规定下列两种情况属于事实无人抚养儿童：" then "1. …"):
                # the items after it, marked otherwise than it, are its own.
                lead, parent_mark = text, mark
                group += 1
        else:
            group += 1
            lead = ""
            clean = ARTICLE.sub("", clean, count=1)
            # A regulation's 款 reads as one rule ("…三十日内…撤回。前款规定期限届满后…亲自到…"), so
            # a short one stays whole; a lead-in ("…下列证件：") is its own unit, for its items.
            whole = chunk.kind == "article" and len(clean) <= CLAUSE_CHARS and not clean.endswith(("：", ":"))
            for sentence in [clean] if whole else _SENTENCE_END.split(clean):
                add("sentence", sentence)
                if sentence.strip().endswith(("：", ":")):
                    lead = sentence.strip()
        i += 1
    return out


def _mark_kind(line: str) -> str:
    """How a list item is marked: a term in bold, a number, a number in brackets, or a bullet."""
    if DEFINITION_ENTRY.match(line):
        return "entry"
    stripped = line.lstrip()
    return "number" if stripped[:1].isdigit() else "bracket" if stripped[:1] in "（(" else "bullet"


def embedding_text(unit: Unit, chunk: Chunk) -> str:
    """What a unit is embedded as: where it stands (title, sections, article), its context, itself."""
    where = " ".join(heading_parts(chunk.heading))
    return " ".join(p for p in (where, unit.article, unit.context + unit.text) if p)


def standards_of(chunks: Iterable[Document]) -> Standards | None:
    """The validated standards block some chunk carries (the first chunk of its document), if any."""
    for doc in chunks:
        chunk = Chunk.from_meta(doc.metadata)
        if chunk.standards:
            try:
                return Standards.from_json(chunk.standards, chunk.path, chunk.title, chunk.issued)
            except ValueError:
                logger.exception("standards carried by %s are unreadable", chunk.path)
    return None


def stale_units(chunks: Iterable[Document], standards: Standards | None) -> list[Unit]:
    """The units of ``chunks`` that state a figure the standards block no longer has, marked stale.

    The standards document itself is left out: its tables are checked against the block when it is
    read (``services.standards.cross_check``).
    """
    if standards is None:
        return []
    out = []
    for doc in chunks:
        chunk = Chunk.from_meta(doc.metadata)
        if chunk.path == standards.path:
            continue
        for unit in units_of(doc):
            problems = stale_figures(standards, unit.text, f"{chunk.heading} {unit.context}")
            if problems:
                out.append(dataclasses.replace(unit, stale="；".join(problems)))
    return out


def unit_documents(chunk_docs: Iterable[Document], standards: Standards | None) -> list[Document]:
    """Every unit of ``chunk_docs`` as a LangChain document for the unit collection, stale ones marked."""
    chunk_docs = list(chunk_docs)
    stale = {(u.path, u.chunk, u.order): u.stale for u in stale_units(chunk_docs, standards)}
    out = []
    for doc in chunk_docs:
        chunk = Chunk.from_meta(doc.metadata)
        for unit in units_of(doc):
            unit = dataclasses.replace(unit, stale=stale.get((unit.path, unit.chunk, unit.order), ""))
            out.append(Document(page_content=embedding_text(unit, chunk), metadata=unit.as_meta()))
    return out
