"""Read one knowledge file (Markdown, text, HTML, Word, PDF, Excel, CSV) into a Markdown-normalised Document.

Every loader produces the same shape of Markdown so the chunker needs to know only one format:
``#`` headings, ``- `` / ``1. `` list items, pipe tables (header row, ``| --- |`` separator, one row
per line) and paragraphs separated by a blank line. A file that cannot be read raises
:class:`SkipFile` with a reason a staff member can act on.
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
import os
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import docx
import openpyxl
import yaml
from bs4 import BeautifulSoup
from bs4.element import NavigableString, PreformattedString, Tag
from docx.table import Table as DocxTable
from docx.text.paragraph import Paragraph as DocxParagraph
from langchain_core.documents import Document
from pypdf import PdfReader

from bot import messages
from bot.records import FileMeta

logger = logging.getLogger(__name__)

# pypdf reports every robustness fix on a non-compliant PDF as a logging warning; staff cannot act on them.
logging.getLogger("pypdf").setLevel(logging.ERROR)

_FORMATS: dict[str, str] = {
    ".md": "md",
    ".markdown": "md",
    ".txt": "txt",
    ".html": "html",
    ".htm": "html",
    ".docx": "docx",
    ".pdf": "pdf",
    ".xlsx": "xlsx",
    ".csv": "csv",
}
SUPPORTED_SUFFIXES: frozenset[str] = frozenset(_FORMATS)


class SkipFile(Exception):
    """This file cannot be ingested. `reason` is a staff-readable Chinese sentence (from bot.messages)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class _Parsed:
    """What a format reader found: the Markdown body and whatever metadata the file itself carries."""

    text: str
    title: str = ""
    category: str = ""
    issued: str = ""
    source: str = ""
    sample: bool = False
    standards: Any = None  # the front matter's ``standards`` block, validated by bot.services.standards at ingest


# --- the folder ------------------------------------------------------------------------------


def knowledge_files(root: Path) -> list[Path]:
    """Every regular file under root, recursively, sorted; skips hidden files/folders (name starts with '.')
    and files whose name starts with '_' (reserved for the bot's own dictionaries such as _synonyms.txt)."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [name for name in dirnames if not name.startswith(".")]
        for name in filenames:
            path = Path(dirpath) / name
            if not name.startswith((".", "_")) and path.is_file():
                found.append(path)
    return sorted(found)


def load_file(path: Path, root: Path) -> Document:
    """Load one file as one Document: Markdown-normalised body plus path/title/category/issued/source/sample/format."""
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise SkipFile(
            messages.SKIP_UNSUPPORTED.format(suffix=path.suffix or "（无扩展名）", supported=supported)
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SkipFile(messages.SKIP_UNREADABLE.format(detail=_os_error_detail(exc))) from exc
    if not data.strip():
        raise SkipFile(messages.SKIP_EMPTY)
    parsed = _READERS[fmt](data)
    text = _tidy(parsed.text)
    if not text:
        raise SkipFile(messages.SKIP_EMPTY)
    try:
        rel = path.relative_to(root).as_posix()
    except ValueError:
        rel = path.as_posix()
    metadata = FileMeta(
        path=rel,
        title=parsed.title or path.stem,
        category=parsed.category,
        issued=parsed.issued,
        source=parsed.source,
        sample=parsed.sample,
        format=fmt,
        standards=parsed.standards,
    ).as_meta()
    return Document(page_content=text, metadata=metadata)


def _os_error_detail(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return "没有读取权限"
    if isinstance(exc, FileNotFoundError):
        return "文件不存在（可能已被移动或删除）"
    return exc.strerror or str(exc)


# --- decoding text ---------------------------------------------------------------------------

_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
_JUNK_CATEGORIES = frozenset({"Cc", "Cs", "Co", "Cn"})  # control, surrogate, private use, unassigned
_JUNK_RATIO = 0.05


def decode_text(data: bytes) -> str:
    """Decode text bytes: BOM (UTF-8/UTF-16), BOM-less UTF-16, UTF-8, then GB18030; reject binary-looking text."""
    for encoding, payload in _candidate_encodings(data):
        text = _strict(payload, encoding)
        if text is not None and not _looks_binary(text):
            return text
    raise SkipFile(messages.SKIP_UNDECODABLE)


def _candidate_encodings(data: bytes) -> list[tuple[str, bytes]]:
    """(encoding, bytes to decode) in the order to try; a BOM is taken at its word."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return [(encoding, data[len(bom) :])]
    utf16 = _bomless_utf16(data)
    return [*([(utf16, data)] if utf16 else []), ("utf-8", data), ("gb18030", data)]


def _strict(data: bytes, encoding: str) -> str | None:
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


def _looks_binary(text: str) -> bool:
    """True when many characters are control/unassigned/private-use: a binary file that happened to decode."""
    sample = text[:65536]
    junk = sum(1 for ch in sample if ch not in "\t\n\r\f\v" and unicodedata.category(ch) in _JUNK_CATEGORIES)
    return junk > len(sample) * _JUNK_RATIO


# --- shared Markdown helpers -----------------------------------------------------------------

_SPACES = re.compile(r"[ \t\r\n\f\v\xa0\u3000]+")
_LINE_BREAK = "\u2028"  # stands for <br> / a soft line break until a block is written out
_MARKDOWN_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$", re.M)
_META_TITLE_NOISE = re.compile(r"^Microsoft (?:Word|Excel|PowerPoint) - |\.(?:docx?|wps|xlsx?|pptx?)$", re.I)
_PLACEHOLDER_TITLES = frozenset({"untitled", "无标题", "未命名"})


def _squash(text: str) -> str:
    """One line: runs of whitespace (including <br> markers) become one space."""
    return _SPACES.sub(" ", text.replace(_LINE_BREAK, " ")).strip()


def _paragraph(text: str) -> str:
    """Collapse whitespace like a browser, but keep explicit line breaks."""
    lines = (_SPACES.sub(" ", line).strip() for line in text.split(_LINE_BREAK))
    return "\n".join(line for line in lines if line)


def _tidy(text: str) -> str:
    """Unix newlines, no trailing spaces, at most one blank line between blocks."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace(_LINE_BREAK, "\n")
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _clean_rows(rows: Iterable[list[str]]) -> list[list[str]]:
    """Squash cells, pad rows to one width, drop fully empty rows and columns."""
    cleaned = [[_squash(cell) for cell in row] for row in rows]
    cleaned = [row for row in cleaned if any(row)]
    width = max((len(row) for row in cleaned), default=0)
    cleaned = [row + [""] * (width - len(row)) for row in cleaned]
    keep = [i for i in range(width) if any(row[i] for row in cleaned)]
    return [[row[i] for i in keep] for row in cleaned]


def _pipe_table(rows: list[list[str]]) -> str:
    """A Markdown pipe table; the first row is the header. Rows must come from _clean_rows."""
    if not rows:
        return ""

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

    header, *body = rows
    return "\n".join([line(header), line(["---"] * len(header)), *(line(row) for row in body)])


def _meta_title(raw: object) -> str:
    """A title from file properties, without 'Microsoft Word - …' noise or placeholders like 'untitled'."""
    title = _META_TITLE_NOISE.sub("", _squash(str(raw))) if raw else ""
    return "" if title.lower() in _PLACEHOLDER_TITLES else title


# --- Markdown and plain text (with YAML front matter) ---------------------------------------

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)^(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S | re.M)
_TRUE_WORDS = frozenset({"true", "yes", "y", "on", "1", "是"})
_LOOSE_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")


def _read_markdown(data: bytes) -> _Parsed:
    return _read_text(data, plain=False)


def _read_plain(data: bytes) -> _Parsed:
    return _read_text(data, plain=True)


def _read_text(data: bytes, *, plain: bool) -> _Parsed:
    text = decode_text(data).lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    front, body = _split_front_matter(text)
    if plain:  # drop the full-width indentation of Chinese notices; keep the line structure
        body = "\n".join(line.strip(" \t\u3000") for line in body.split("\n"))
    heading = _MARKDOWN_HEADING.search(body)
    return _Parsed(
        text=body,
        title=_as_text(front.get("title")) or (heading.group(1).strip() if heading else ""),
        category=_as_text(front.get("category")),
        issued=_as_date(front.get("issued")),
        source=_as_text(front.get("source")),
        sample=_as_bool(front.get("sample")),
        standards=front.get("standards"),
    )


def _split_front_matter(text: str) -> tuple[dict[Any, Any], str]:
    """YAML between a leading '---' line and the next '---' line; ({}, text) when there is none."""
    if not re.match(r"---[ \t]*\n", text):
        return {}, text
    match = _FRONT_MATTER.match(text)
    if match is None:
        raise SkipFile(messages.SKIP_BAD_FRONT_MATTER.format(detail="缺少结束的 --- 行"))
    try:
        meta = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        raise SkipFile(messages.SKIP_BAD_FRONT_MATTER.format(detail=_yaml_detail(exc))) from exc
    except ValueError as exc:  # e.g. issued: 2025-13-01 is a YAML date that does not exist
        raise SkipFile(messages.SKIP_BAD_FRONT_MATTER.format(detail=f"日期无效（{exc}）")) from exc
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise SkipFile(messages.SKIP_BAD_FRONT_MATTER.format(detail="应为“键: 值”形式的若干行"))
    return meta, text[match.end() :]


def _yaml_detail(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    return f"第 {mark.line + 2} 行，{problem}" if mark is not None else str(problem)


def _as_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return "; ".join(_as_text(item) for item in value if item is not None)
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


def _as_date(value: object) -> str:
    """ISO date from a YAML date or a 'YYYY-MM-DD' / 'YYYY/M/D' / 'YYYY年M月D日' string; '' otherwise."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if value is None or not str(value).strip():
        return ""
    match = _LOOSE_DATE.fullmatch(str(value).strip())
    if match:
        try:
            return date(*(int(part) for part in match.groups())).isoformat()
        except ValueError:
            pass
    logger.warning("ignoring unrecognised issued date %r", value)
    return ""


def _as_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str):
        return value.strip().lower() in _TRUE_WORDS
    return False


# --- HTML --------------------------------------------------------------------------------------

_HTML_DROP = ("script", "style", "nav", "footer", "noscript", "template", "iframe", "svg", "head")
_HTML_BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "caption", "center", "dd", "details", "div",
        "dl", "dt", "fieldset", "figcaption", "figure", "form", "header", "hr", "html", "li", "main", "p",
        "section", "summary", "tbody", "td", "tfoot", "th", "thead", "tr",
    }
)  # fmt: skip
_HTML_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w-]+)""", re.I)
_GB_ALIASES = frozenset({"gb2312", "gbk", "x-gbk", "gb_2312-80", "cp936"})


def _read_html(data: bytes) -> _Parsed:
    soup = BeautifulSoup(_decode_html(data), "lxml")
    title = _squash(soup.title.get_text()) if soup.title else ""
    if not title and (h1 := soup.find("h1")) is not None:
        title = _squash(h1.get_text())
    for tag in soup.find_all(_HTML_DROP):
        if isinstance(tag, Tag) and not tag.decomposed:
            tag.decompose()
    for br in soup.find_all("br"):
        br.replace_with(_LINE_BREAK)
    blocks: list[str] = []
    inline: list[str] = []
    _html_walk(soup.body or soup, blocks, inline)
    _html_flush(inline, blocks)
    return _Parsed(text="\n\n".join(blocks), title=title)


def _decode_html(data: bytes) -> str:
    """Honour <meta charset> when it decodes cleanly; otherwise fall back to decode_text."""
    match = _HTML_CHARSET.search(data[:4096])
    if match and not data.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        declared = match.group(1).decode("ascii").lower()
        text = _strict(data, "gb18030" if declared in _GB_ALIASES else declared)
        if text is not None and not _looks_binary(text):
            return text
    return decode_text(data)


def _html_walk(node: Tag, blocks: list[str], inline: list[str]) -> None:
    """Append Markdown blocks for node's children; inline text collects in `inline` until a block starts."""
    for child in node.children:
        if isinstance(child, NavigableString):
            if not isinstance(child, PreformattedString):  # comments, doctype, CDATA
                inline.append(str(child))
            continue
        if not isinstance(child, Tag):
            continue
        name = child.name
        if re.fullmatch(r"h[1-6]", name):
            _html_flush(inline, blocks)
            if text := _squash(child.get_text()):
                blocks.append("#" * int(name[1]) + " " + text)
        elif name in ("ul", "ol"):
            _html_flush(inline, blocks)
            if lines := _html_list(child, 0):
                blocks.append("\n".join(lines))
        elif name == "table":
            _html_flush(inline, blocks)
            _html_table(child, blocks)
        elif name == "pre":
            _html_flush(inline, blocks)
            blocks.append(child.get_text().replace(_LINE_BREAK, "\n").strip("\n"))
        elif name in _HTML_BLOCKS:
            _html_flush(inline, blocks)
            _html_walk(child, blocks, inline)
            _html_flush(inline, blocks)
        else:  # inline element (a, span, strong, font, …): its text joins the current paragraph
            _html_walk(child, blocks, inline)


def _html_flush(inline: list[str], blocks: list[str]) -> None:
    if text := _paragraph("".join(inline)):
        blocks.append(text)
    inline.clear()


def _html_list(node: Tag, depth: int) -> list[str]:
    """'- ' / '1. ' lines for a ul/ol; nested lists are indented two spaces per level."""
    lines: list[str] = []
    items = [li for li in node.find_all("li", recursive=False) if isinstance(li, Tag)]
    for number, item in enumerate(items, start=1):
        nested = [sub for sub in item.find_all(("ul", "ol")) if isinstance(sub, Tag)]
        own = "".join(
            child.get_text() if isinstance(child, Tag) else str(child)
            for child in item.children
            if not (isinstance(child, Tag) and child.name in ("ul", "ol"))
            and not isinstance(child, PreformattedString)
        )
        marker = f"{number}. " if node.name == "ol" else "- "
        if text := _squash(own):
            lines.append("  " * depth + marker + text)
        for sub in nested:
            if sub.find_parent("li") is item:
                lines.extend(_html_list(sub, depth + 1))
    return lines


def _html_table(table: Tag, blocks: list[str]) -> None:
    """A data table becomes a pipe table; a layout table (nested tables, one column) is read as blocks."""
    rows = _clean_rows(_html_grid(table))
    if table.find("table") is not None or (rows and len(rows[0]) <= 1):
        inline: list[str] = []
        _html_walk(table, blocks, inline)
        _html_flush(inline, blocks)
    elif rows:
        blocks.append(_pipe_table(rows))


def _html_grid(table: Tag) -> list[list[str]]:
    """Cell texts row by row; a rowspan repeats its text in the rows below, a colspan pads with empty cells."""
    grid: list[list[str]] = []
    carry: dict[int, tuple[int, str]] = {}  # column -> (rows still covered, text)

    def take_carried(row: list[str]) -> None:
        while len(row) in carry:
            left, text = carry.pop(len(row))
            if left > 1:
                carry[len(row)] = (left - 1, text)
            row.append(text)

    for tr in table.find_all("tr"):
        if not isinstance(tr, Tag) or tr.find_parent("table") is not table:
            continue
        row: list[str] = []
        for cell in tr.find_all(("td", "th"), recursive=False):
            if not isinstance(cell, Tag):
                continue
            take_carried(row)
            text = _squash(cell.get_text())
            down = _span(cell, "rowspan")
            for i in range(_span(cell, "colspan")):
                if down > 1:
                    carry[len(row)] = (down - 1, text if i == 0 else "")
                row.append(text if i == 0 else "")
        take_carried(row)
        grid.append(row)
    return grid


def _span(cell: Tag, attr: str) -> int:
    try:
        return max(1, min(int(str(cell.get(attr, "1")).strip()), 50))
    except ValueError:
        return 1


# --- Word (.docx) ------------------------------------------------------------------------------

_DOCX_HEADING = re.compile(r"(?:heading|标题)\s*([1-6])", re.I)


def _read_docx(data: bytes) -> _Parsed:
    try:
        document = docx.Document(io.BytesIO(data))
        blocks, first_heading = _docx_blocks(document.iter_inner_content())
        title = _meta_title(document.core_properties.title)
    except Exception as exc:  # python-docx/lxml/zipfile raise many types for a damaged file
        logger.info("cannot parse docx: %r", exc)
        raise SkipFile(messages.SKIP_CORRUPT_DOCX) from exc
    return _Parsed(text="\n\n".join(blocks), title=title or first_heading)


def _docx_blocks(items: Iterable[DocxParagraph | DocxTable]) -> tuple[list[str], str]:
    """Markdown blocks in document order, and the text of the first Title / Heading 1 paragraph."""
    blocks: list[str] = []
    first_heading = ""
    for item in items:
        if isinstance(item, DocxTable):
            if table := _pipe_table(_clean_rows(_docx_rows(item))):
                blocks.append(table)
            continue
        style = item.style.name if item.style is not None and item.style.name else ""
        level = 1 if style in ("Title", "标题") else _docx_heading_level(style)
        if level:
            text = _squash(item.text)
            if text:
                blocks.append("#" * level + " " + text)
                first_heading = first_heading or (text if level == 1 else "")
        elif "List" in style or _has_numbering(item):
            if text := _squash(item.text):
                blocks.append("- " + text)
        elif text := _paragraph(item.text.replace("\n", _LINE_BREAK)):
            blocks.append(text)
    return _join_list_items(blocks), first_heading


def _docx_heading_level(style: str) -> int:
    match = _DOCX_HEADING.fullmatch(style)
    return int(match.group(1)) if match else 0


def _has_numbering(paragraph: DocxParagraph) -> bool:
    ppr = paragraph._p.pPr
    return ppr is not None and ppr.numPr is not None


def _join_list_items(blocks: list[str]) -> list[str]:
    """Consecutive list items form one block (no blank line between them)."""
    joined: list[str] = []
    for block in blocks:
        if block.startswith("- ") and joined and joined[-1].startswith("- "):
            joined[-1] += "\n" + block
        else:
            joined.append(block)
    return joined


def _docx_rows(table: DocxTable) -> list[list[str]]:
    """Cell texts; a horizontally merged cell appears once (then empty), a vertical merge repeats its text."""
    rows: list[list[str]] = []
    for row in table.rows:
        cells: list[str] = []
        previous = None
        for cell in row.cells:
            cells.append("" if cell._tc is previous else cell.text)
            previous = cell._tc
        rows.append(cells)
    return rows


# --- PDF ---------------------------------------------------------------------------------------


def _read_pdf(data: bytes) -> _Parsed:
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:  # many notices are locked only against editing, with an empty open password
            reader.decrypt("")
        pages = list(reader.pages)  # raises FileNotDecryptedError when a real password is needed
        title = _meta_title(reader.metadata.title if reader.metadata else "")
    except Exception as exc:  # pypdf raises PdfReadError and friends, but also plain ValueError/KeyError
        logger.info("cannot parse pdf: %r", exc)
        raise SkipFile(messages.SKIP_CORRUPT_PDF) from exc
    texts: list[str] = []
    for number, page in enumerate(pages, start=1):
        try:
            texts.append((page.extract_text() or "").strip())
        except Exception as exc:  # one bad page should not lose the rest of the document
            logger.warning("cannot extract text from pdf page %d: %r", number, exc)
    body = "\n\n".join(text for text in texts if text)
    if not body.strip():
        raise SkipFile(messages.SKIP_NO_TEXT_PDF)
    return _Parsed(text=body, title=title)


# --- Excel (.xlsx) and CSV ---------------------------------------------------------------------


def _read_xlsx(data: bytes) -> _Parsed:
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            blocks: list[str] = []
            for sheet in workbook.worksheets:
                sheet.reset_dimensions()  # some writers store a wrong used range
                rows = _clean_rows(
                    [_cell_text(value) for value in row] for row in sheet.iter_rows(values_only=True)
                )
                if rows:
                    blocks += [f"## {sheet.title}", _pipe_table(rows)]
        finally:
            workbook.close()
    except Exception as exc:  # zipfile/openpyxl/lxml errors for a damaged or mislabelled file
        logger.info("cannot parse xlsx: %r", exc)
        raise SkipFile(messages.SKIP_CORRUPT_XLSX) from exc
    return _Parsed(text="\n\n".join(blocks))


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return (
            value.date().isoformat()
            if value.time() == time()
            else value.isoformat(sep=" ", timespec="minutes")
        )
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _read_csv(data: bytes) -> _Parsed:
    text = decode_text(data).lstrip("\ufeff")
    try:
        delimiter = csv.Sniffer().sniff(text[:4096], delimiters=",;\t").delimiter
    except csv.Error:
        delimiter = ","
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise SkipFile(messages.SKIP_UNREADABLE.format(detail=f"CSV 格式错误（{exc}）")) from exc
    return _Parsed(text=_pipe_table(_clean_rows(rows)))


_READERS: dict[str, Callable[[bytes], _Parsed]] = {
    "md": _read_markdown,
    "txt": _read_plain,
    "html": _read_html,
    "docx": _read_docx,
    "pdf": _read_pdf,
    "xlsx": _read_xlsx,
    "csv": _read_csv,
}
