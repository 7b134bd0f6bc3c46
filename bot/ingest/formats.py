"""Readers of structured documents into Markdown: HTML, Word (.docx), PDF and Excel (.xlsx).

Each takes the file's bytes and returns a :class:`~bot.ingest.markdown.Parsed`, or raises
:class:`~bot.errors.SkipFile` with a reason a staff member can act on.
"""

from __future__ import annotations

import codecs
import io
import logging
import re
from collections.abc import Iterable
from datetime import date, datetime, time

import docx
import openpyxl
from bs4 import BeautifulSoup
from bs4.element import NavigableString, PreformattedString, Tag
from docx.table import Table as DocxTable
from docx.text.paragraph import Paragraph as DocxParagraph
from pypdf import PdfReader

from bot import messages
from bot.errors import SkipFile
from bot.ingest.markdown import (
    LINE_BREAK,
    Parsed,
    clean_rows,
    decode_strict,
    decode_text,
    looks_binary,
    meta_title,
    paragraph,
    pipe_table,
    squash,
)

logger = logging.getLogger(__name__)

# pypdf reports every robustness fix on a non-compliant PDF as a logging warning; staff cannot act on them.
logging.getLogger("pypdf").setLevel(logging.ERROR)


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


def read_html(data: bytes) -> Parsed:
    soup = BeautifulSoup(_decode_html(data), "lxml")
    title = squash(soup.title.get_text()) if soup.title else ""
    if not title and (h1 := soup.find("h1")) is not None:
        title = squash(h1.get_text())
    for tag in soup.find_all(_HTML_DROP):
        if isinstance(tag, Tag) and not tag.decomposed:
            tag.decompose()
    for br in soup.find_all("br"):
        br.replace_with(LINE_BREAK)
    blocks: list[str] = []
    inline: list[str] = []
    _html_walk(soup.body or soup, blocks, inline)
    _html_flush(inline, blocks)
    return Parsed(text="\n\n".join(blocks), title=title)


def _decode_html(data: bytes) -> str:
    """Honour <meta charset> when it decodes cleanly; otherwise fall back to decode_text."""
    match = _HTML_CHARSET.search(data[:4096])
    if match and not data.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        declared = match.group(1).decode("ascii").lower()
        text = decode_strict(data, "gb18030" if declared in _GB_ALIASES else declared)
        if text is not None and not looks_binary(text):
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
            if text := squash(child.get_text()):
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
            blocks.append(child.get_text().replace(LINE_BREAK, "\n").strip("\n"))
        elif name in _HTML_BLOCKS:
            _html_flush(inline, blocks)
            _html_walk(child, blocks, inline)
            _html_flush(inline, blocks)
        else:  # inline element (a, span, strong, font, …): its text joins the current paragraph
            _html_walk(child, blocks, inline)


def _html_flush(inline: list[str], blocks: list[str]) -> None:
    if text := paragraph("".join(inline)):
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
        if text := squash(own):
            lines.append("  " * depth + marker + text)
        for sub in nested:
            if sub.find_parent("li") is item:
                lines.extend(_html_list(sub, depth + 1))
    return lines


def _html_table(table: Tag, blocks: list[str]) -> None:
    """A data table becomes a pipe table; a layout table (nested tables, one column) is read as blocks."""
    rows = clean_rows(_html_grid(table))
    if table.find("table") is not None or (rows and len(rows[0]) <= 1):
        inline: list[str] = []
        _html_walk(table, blocks, inline)
        _html_flush(inline, blocks)
    elif rows:
        blocks.append(pipe_table(rows))


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
            text = squash(cell.get_text())
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


def read_docx(data: bytes) -> Parsed:
    try:
        document = docx.Document(io.BytesIO(data))
        blocks, first_heading = _docx_blocks(document.iter_inner_content())
        title = meta_title(document.core_properties.title)
    except Exception as exc:  # python-docx/lxml/zipfile raise many types for a damaged file
        logger.info("cannot parse docx: %r", exc)
        raise SkipFile(messages.SKIP_CORRUPT_DOCX) from exc
    return Parsed(text="\n\n".join(blocks), title=title or first_heading)


def _docx_blocks(items: Iterable[DocxParagraph | DocxTable]) -> tuple[list[str], str]:
    """Markdown blocks in document order, and the text of the first Title / Heading 1 paragraph."""
    blocks: list[str] = []
    first_heading = ""
    for item in items:
        if isinstance(item, DocxTable):
            if table := pipe_table(clean_rows(_docx_rows(item))):
                blocks.append(table)
            continue
        style = item.style.name if item.style is not None and item.style.name else ""
        level = 1 if style in ("Title", "标题") else _docx_heading_level(style)
        if level:
            text = squash(item.text)
            if text:
                blocks.append("#" * level + " " + text)
                first_heading = first_heading or (text if level == 1 else "")
        elif "List" in style or _has_numbering(item):
            if text := squash(item.text):
                blocks.append("- " + text)
        elif text := paragraph(item.text.replace("\n", LINE_BREAK)):
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


def read_pdf(data: bytes) -> Parsed:
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:  # many notices are locked only against editing, with an empty open password
            reader.decrypt("")
        pages = list(reader.pages)  # raises FileNotDecryptedError when a real password is needed
        title = meta_title(reader.metadata.title if reader.metadata else "")
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
    return Parsed(text=body, title=title)


# --- Excel (.xlsx) and CSV ---------------------------------------------------------------------


def read_xlsx(data: bytes) -> Parsed:
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            blocks: list[str] = []
            for sheet in workbook.worksheets:
                sheet.reset_dimensions()  # some writers store a wrong used range
                rows = clean_rows(
                    [_cell_text(value) for value in row] for row in sheet.iter_rows(values_only=True)
                )
                if rows:
                    blocks += [f"## {sheet.title}", pipe_table(rows)]
        finally:
            workbook.close()
    except Exception as exc:  # zipfile/openpyxl/lxml errors for a damaged or mislabelled file
        logger.info("cannot parse xlsx: %r", exc)
        raise SkipFile(messages.SKIP_CORRUPT_XLSX) from exc
    return Parsed(text="\n\n".join(blocks))


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
