"""Readers of structured documents into Markdown: HTML, Word (.docx), PDF and Excel (.xlsx).

Each takes the file's bytes and returns a :class:`~bot.ingest.markdown.Parsed`, or raises
:class:`~bot.errors.SkipFile` with a reason a staff member can act on.

Each also takes the ``[ingest_limits]`` and a budget of text characters, and checks them before the
work they bound: a DOCX/XLSX's unpacked size from its zip directory before anything is unpacked, a
PDF's pages by walking its page tree (at most one page past the limit) before any text is
extracted, and the text of a PDF or workbook as it is read (reading stops at the budget).
"""

from __future__ import annotations

import codecs
import io
import logging
import re
import zipfile
from collections.abc import Iterable
from datetime import date, datetime, time

import docx
import openpyxl
from bs4 import BeautifulSoup
from bs4.element import NavigableString, PreformattedString, Tag
from docx.table import Table as DocxTable
from docx.text.paragraph import Paragraph as DocxParagraph
from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

from bot import staff_messages
from bot.config import IngestLimitsSettings
from bot.errors import SkipFile
from bot.ingest.markdown import (
    LINE_BREAK,
    Parsed,
    clean_rows,
    decode_strict,
    decode_text,
    human_size,
    looks_binary,
    meta_title,
    paragraph,
    pipe_table,
    squash,
)

DEFAULT_LIMITS = IngestLimitsSettings()
NO_BUDGET = 1 << 62

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


def read_html(data: bytes, limits: IngestLimitsSettings = DEFAULT_LIMITS, budget: int = NO_BUDGET) -> Parsed:
    tags = data.count(b"<")  # at least one per element, whatever the encoding (UTF-16 too)
    if tags > limits.max_html_tags:
        raise SkipFile(staff_messages.SKIP_TOO_MANY_TAGS.format(tags=tags, limit=limits.max_html_tags))
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


def read_docx(data: bytes, limits: IngestLimitsSettings = DEFAULT_LIMITS, budget: int = NO_BUDGET) -> Parsed:
    check_unzipped(data, limits, staff_messages.SKIP_CORRUPT_DOCX)
    try:
        document = docx.Document(io.BytesIO(data))
        blocks, first_heading = _docx_blocks(document.iter_inner_content(), budget)
        title = meta_title(document.core_properties.title)
    except SkipFile:
        raise
    except Exception as exc:  # python-docx/lxml/zipfile raise many types for a damaged file
        logger.info("cannot parse docx: %r", exc)
        raise SkipFile(staff_messages.SKIP_CORRUPT_DOCX) from exc
    return Parsed(text="\n\n".join(blocks), title=title or first_heading)


# Every paragraph or table costs at least this much of the text budget, so a file of millions of
# empty paragraphs stops as soon as one of long ones does.
_ITEM_COST = 8


def _docx_blocks(
    items: Iterable[DocxParagraph | DocxTable], budget: int = NO_BUDGET
) -> tuple[list[str], str]:
    """Markdown blocks in document order, and the text of the first Title / Heading 1 paragraph.

    SkipFile once the text passes ``budget`` characters.
    """
    blocks: list[str] = []
    first_heading = ""
    styles: dict[str | None, str] = {}  # python-docx finds a style by scanning them all, per paragraph
    spent = 0
    for item in items:
        spent += _ITEM_COST
        if spent > budget:
            raise SkipFile(over_budget(budget))
        if isinstance(item, DocxTable):
            block = pipe_table(clean_rows(_docx_rows(item, budget - spent)))
        else:
            block, heading = _docx_paragraph(item, styles)
            first_heading = first_heading or heading
        if block:
            blocks.append(block)
            spent += len(block)
    return _join_list_items(blocks), first_heading


def _docx_paragraph(item: DocxParagraph, styles: dict[str | None, str]) -> tuple[str, str]:
    """A paragraph's Markdown block ("" when it is empty), and its text when it is a Title / Heading 1."""
    style_id = item._p.style
    if style_id not in styles:
        styles[style_id] = item.style.name if item.style is not None and item.style.name else ""
    style = styles[style_id]
    level = 1 if style in ("Title", "标题") else _docx_heading_level(style)
    if level:
        text = squash(item.text)
        return ("#" * level + " " + text, text if level == 1 else "") if text else ("", "")
    if "List" in style or _has_numbering(item):
        text = squash(item.text)
        return ("- " + text if text else ""), ""
    return paragraph(item.text.replace("\n", LINE_BREAK)), ""


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


def _docx_rows(table: DocxTable, budget: int = NO_BUDGET) -> list[list[str]]:
    """Cell texts; a horizontally merged cell appears once (then empty), a vertical merge repeats its text."""
    rows: list[list[str]] = []
    size = 0
    for row in table.rows:
        cells: list[str] = []
        previous = None
        for cell in row.cells:
            cells.append("" if cell._tc is previous else cell.text)
            previous = cell._tc
            size += _ITEM_COST + len(cells[-1])
        if size > budget:
            raise SkipFile(over_budget(budget))
        rows.append(cells)
    return rows


# --- PDF ---------------------------------------------------------------------------------------


def read_pdf(data: bytes, limits: IngestLimitsSettings = DEFAULT_LIMITS, budget: int = NO_BUDGET) -> Parsed:
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:  # many notices are locked only against editing, with an empty open password
            reader.decrypt("")
        counted = count_pages(reader, limits.max_pdf_pages)
    except SkipFile:
        raise
    except Exception as exc:  # pypdf raises PdfReadError and friends, but also plain ValueError/KeyError
        logger.info("cannot parse pdf: %r", exc)
        raise SkipFile(staff_messages.SKIP_CORRUPT_PDF) from exc
    if counted > limits.max_pdf_pages:
        raise SkipFile(
            staff_messages.SKIP_TOO_MANY_PAGES.format(pages=limits.max_pdf_pages, limit=limits.max_pdf_pages)
        )
    try:
        pages = list(reader.pages)  # raises FileNotDecryptedError when a real password is needed
        title = meta_title(reader.metadata.title if reader.metadata else "")
    except Exception as exc:
        logger.info("cannot parse pdf: %r", exc)
        raise SkipFile(staff_messages.SKIP_CORRUPT_PDF) from exc
    if len(pages) > limits.max_pdf_pages:  # the page tree walked differently by pypdf
        raise SkipFile(
            staff_messages.SKIP_TOO_MANY_PAGES.format(pages=len(pages), limit=limits.max_pdf_pages)
        )
    texts: list[str] = []
    size = 0
    for number, page in enumerate(pages, start=1):
        try:
            texts.append((page.extract_text() or "").strip())
        except Exception as exc:  # one bad page should not lose the rest of the document
            logger.warning("cannot extract text from pdf page %d: %r", number, exc)
            continue
        size += len(texts[-1])
        if size > budget:
            raise SkipFile(over_budget(budget))
    body = "\n\n".join(text for text in texts if text)
    if not body.strip():
        raise SkipFile(staff_messages.SKIP_NO_TEXT_PDF)
    return Parsed(text=body, title=title)


# --- Excel (.xlsx) and CSV ---------------------------------------------------------------------


def read_xlsx(data: bytes, limits: IngestLimitsSettings = DEFAULT_LIMITS, budget: int = NO_BUDGET) -> Parsed:
    check_unzipped(data, limits, staff_messages.SKIP_CORRUPT_XLSX)
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            blocks: list[str] = []
            size = 0
            for sheet in workbook.worksheets:
                sheet.reset_dimensions()  # some writers store a wrong used range
                cells: list[list[str]] = []
                for row in sheet.iter_rows(values_only=True):
                    cells.append([_cell_text(value) for value in row])
                    size += sum(len(cell) + 3 for cell in cells[-1])
                    if size > budget:
                        raise SkipFile(over_budget(budget))
                if rows := clean_rows(cells):
                    blocks += [f"## {sheet.title}", pipe_table(rows)]
        finally:
            workbook.close()
    except SkipFile:
        raise
    except Exception as exc:  # zipfile/openpyxl/lxml errors for a damaged or mislabelled file
        logger.info("cannot parse xlsx: %r", exc)
        raise SkipFile(staff_messages.SKIP_CORRUPT_XLSX) from exc
    return Parsed(text="\n\n".join(blocks))


# --- limits -----------------------------------------------------------------------------------------


# Members that are kept as bytes (pictures, embedded files), not parsed: every other member counts as XML.
_BINARY_PARTS = ("word/media/", "xl/media/", "word/embeddings/", "xl/embeddings/", "docprops/thumbnail")


def check_unzipped(data: bytes, limits: IngestLimitsSettings, corrupt: str) -> None:
    """SkipFile when the members of a DOCX/XLSX (a zip) declare more than ``max_unzipped_bytes`` in all,
    or its XML parts (parsed into memory, about ten times their size) more than ``max_unzipped_xml_bytes``.

    The sizes come from the zip's central directory, before anything is unpacked; :mod:`zipfile`
    stops a member at its declared size (a member that inflates further fails its CRC check), so a
    2.9 MB file cannot unpack to a gigabyte behind the check's back.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
        logger.info("not a readable zip: %r", exc)
        raise SkipFile(corrupt) from exc
    total = sum(info.file_size for info in members)
    if total > limits.max_unzipped_bytes:
        limit = human_size(limits.max_unzipped_bytes)
        raise SkipFile(staff_messages.SKIP_UNZIPPED_TOO_BIG.format(size=human_size(total), limit=limit))
    xml = sum(info.file_size for info in members if not info.filename.lower().startswith(_BINARY_PARTS))
    if xml > limits.max_unzipped_xml_bytes:
        limit = human_size(limits.max_unzipped_xml_bytes)
        raise SkipFile(staff_messages.SKIP_UNZIPPED_XML_TOO_BIG.format(size=human_size(xml), limit=limit))


def count_pages(reader: PdfReader, limit: int) -> int:
    """The leaf pages of a PDF's page tree, counted only up to ``limit + 1``.

    pypdf flattens the whole tree to count it (12 s for 50,000 pages); this walk stops one page past
    the limit, and at ``limit + 1`` when the tree holds more than ten nodes per allowed page (empty
    branches) or loops back on itself.
    """
    catalog = reader.trailer["/Root"].get_object()
    if not isinstance(catalog, DictionaryObject) or "/Pages" not in catalog:
        raise SkipFile(staff_messages.SKIP_CORRUPT_PDF)
    stack: list[object] = [catalog.raw_get("/Pages")]
    seen: set[tuple[int, int]] = set()
    pages = visited = 0
    while stack:
        ref = stack.pop()
        if isinstance(ref, IndirectObject):
            key = (ref.idnum, ref.generation)
            if key in seen:
                continue
            seen.add(key)
        visited += 1
        if visited > 10 * (limit + 1):
            return limit + 1
        node = ref.get_object() if isinstance(ref, IndirectObject) else ref
        if not isinstance(node, DictionaryObject):
            continue
        kids = node.get("/Kids")
        if kids is None:
            pages += 1
            if pages > limit:
                return pages
            continue
        kids = kids.get_object()
        if isinstance(kids, ArrayObject):
            stack.extend(reversed(kids))
    return pages


def over_budget(budget: int) -> str:
    """The skip reason for a file whose text passed ``budget`` characters while it was read."""
    return staff_messages.SKIP_TEXT_TOO_LONG.format(chars=budget)


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
