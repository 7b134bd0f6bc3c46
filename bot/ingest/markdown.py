"""The one shape of Markdown every reader writes, and the text decoding they share.

Every reader produces ``#`` headings, ``- `` / ``1. `` list items, pipe tables (header row,
``| --- |`` separator, one row per line) and paragraphs separated by a blank line, so the chunker
needs to know only one format. A :class:`Parsed` is what a reader found.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bot import staff_messages
from bot.errors import SkipFile


@dataclass
class Parsed:
    """What a format reader found: the Markdown body and whatever metadata the file itself carries."""

    text: str
    title: str = ""
    category: str = ""
    issued: str = ""
    source: str = ""
    sample: bool = False
    standards: Any = (
        None  # the front matter's ``standards`` block, validated by bot.services.standards at ingest
    )
    ocr: bool = False  # the text was recognised from a scan (bot.ingest.scans)
    superseded_by: str = ""  # front matter: the file or title of the text in force instead
    valid_until: str = ""  # front matter: the last day this text applies (ISO)


# --- decoding text ---------------------------------------------------------------------------

_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
_JUNK_CATEGORIES = frozenset({"Cc", "Cs", "Co", "Cn"})  # control, surrogate, private use, unassigned
_JUNK_RATIO = 0.05


def decode_text(data: bytes) -> str:
    """Decode text bytes: BOM (UTF-8/UTF-16), BOM-less UTF-16, UTF-8, then GB18030; reject binary-looking text."""
    for encoding, payload in _candidate_encodings(data):
        text = decode_strict(payload, encoding)
        if text is not None and not looks_binary(text):
            return text
    raise SkipFile(staff_messages.SKIP_UNDECODABLE)


def _candidate_encodings(data: bytes) -> list[tuple[str, bytes]]:
    """(encoding, bytes to decode) in the order to try; a BOM is taken at its word."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return [(encoding, data[len(bom) :])]
    utf16 = _bomless_utf16(data)
    return [*([(utf16, data)] if utf16 else []), ("utf-8", data), ("gb18030", data)]


def decode_strict(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None


def _bomless_utf16(data: bytes) -> str | None:
    """ASCII characters in UTF-16 leave a NUL byte on one side of each pair; text encodings never contain NULs."""
    if len(data) % 2:
        return None
    even, odd = data[0::2].count(0), data[1::2].count(0)
    most, least = max(even, odd), min(even, odd)
    if most * 100 < len(data) // 2 or least * 4 > most:  # too few NULs, or no clear side: not UTF-16
        return None
    return "utf-16-le" if odd > even else "utf-16-be"


def looks_binary(text: str) -> bool:
    """True when many characters are control/unassigned/private-use: a binary file that happened to decode."""
    sample = text[:65536]
    junk = sum(1 for ch in sample if ch not in "\t\n\r\f\v" and unicodedata.category(ch) in _JUNK_CATEGORIES)
    return junk > len(sample) * _JUNK_RATIO


# --- writing Markdown ------------------------------------------------------------------------------

_SPACES = re.compile(r"[ \t\r\n\f\v\xa0\u3000]+")
LINE_BREAK = "\u2028"  # stands for <br> / a soft line break until a block is written out
_META_TITLE_NOISE = re.compile(r"^Microsoft (?:Word|Excel|PowerPoint) - |\.(?:docx?|wps|xlsx?|pptx?)$", re.I)
_PLACEHOLDER_TITLES = frozenset({"untitled", "无标题", "未命名"})


def squash(text: str) -> str:
    """One line: runs of whitespace (including <br> markers) become one space."""
    return _SPACES.sub(" ", text.replace(LINE_BREAK, " ")).strip()


def paragraph(text: str) -> str:
    """Collapse whitespace like a browser, but keep explicit line breaks."""
    lines = (_SPACES.sub(" ", line).strip() for line in text.split(LINE_BREAK))
    return "\n".join(line for line in lines if line)


def tidy(text: str) -> str:
    """Unix newlines, no trailing spaces, at most one blank line between blocks."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace(LINE_BREAK, "\n")
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def clean_rows(rows: Iterable[list[str]]) -> list[list[str]]:
    """Squash cells, pad rows to one width, drop fully empty rows and columns."""
    cleaned = [[squash(cell) for cell in row] for row in rows]
    cleaned = [row for row in cleaned if any(row)]
    width = max((len(row) for row in cleaned), default=0)
    cleaned = [row + [""] * (width - len(row)) for row in cleaned]
    keep = [i for i in range(width) if any(row[i] for row in cleaned)]
    return [[row[i] for i in keep] for row in cleaned]


def pipe_table(rows: list[list[str]]) -> str:
    """A Markdown pipe table; the first row is the header. Rows must come from clean_rows."""
    if not rows:
        return ""

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

    header, *body = rows
    return "\n".join([line(header), line(["---"] * len(header)), *(line(row) for row in body)])


def human_size(size: int) -> str:
    """A byte count as staff read it: '23.4 MB', '512 KB', '800 字节'."""
    if size >= 1_000_000:
        return f"{size / 1_000_000:.1f} MB"
    if size >= 1_000:
        return f"{size / 1_000:.0f} KB"
    return f"{size} 字节"


def meta_title(raw: object) -> str:
    """A title from file properties, without 'Microsoft Word - …' noise or placeholders like 'untitled'."""
    title = _META_TITLE_NOISE.sub("", squash(str(raw))) if raw else ""
    return "" if title.lower() in _PLACEHOLDER_TITLES else title
