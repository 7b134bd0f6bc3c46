"""Read one knowledge file (Markdown, text, HTML, Word, PDF, Excel, CSV) into a Markdown-normalised Document.

:func:`knowledge_files` lists what staff keep in the folder; :func:`load_file` picks the reader by
the file's suffix (Markdown, plain text and CSV here, the structured formats in
:mod:`bot.ingest.formats`), all writing the Markdown of :mod:`bot.ingest.markdown`, and returns a
LangChain Document whose metadata is a :class:`~bot.records.FileMeta`. A file that cannot be read
raises :class:`~bot.errors.SkipFile` with a reason a staff member can act on.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import re
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml
from langchain_core.documents import Document

from bot import folder, messages
from bot.config import OcrSettings
from bot.errors import SkipFile
from bot.ingest import extras, formats, scans
from bot.ingest.markdown import Parsed, clean_rows, decode_text, pipe_table, tidy
from bot.records import FileMeta

logger = logging.getLogger(__name__)

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
    ".jpg": "image",  # scans: read by text recognition (bot.ingest.scans)
    ".jpeg": "image",
    ".png": "image",
}
SUPPORTED_SUFFIXES: frozenset[str] = frozenset(_FORMATS)


# --- the folder ------------------------------------------------------------------------------


def knowledge_files(root: Path) -> list[Path]:
    """Every regular file under root, recursively, sorted; skips hidden files/folders (name starts with '.'),
    files whose name starts with '_' (reserved for the bot's own dictionaries such as _synonyms.txt),
    Office lock and temp files and sidecars (see :func:`bot.folder.ignored`)."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [name for name in dirnames if not name.startswith(".")]
        for name in filenames:
            path = Path(dirpath) / name
            if not folder.ignored(name) and path.is_file():
                found.append(path)
    return sorted(found)


def load_file(path: Path, root: Path, ocr: OcrSettings | None = None) -> Document:
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
    parsed = scans.read(fmt, data, _READERS.get(fmt), ocr or OcrSettings())  # scans by recognition
    parsed = extras.complete(parsed, path, data, fmt)  # the sidecar; a date from the 落款 or properties
    text = tidy(parsed.text)
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
        superseded_by=parsed.superseded_by,
        valid_until=parsed.valid_until,
        ocr=parsed.ocr,
    ).as_meta()
    return Document(page_content=text, metadata=metadata)


def _os_error_detail(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return "没有读取权限"
    if isinstance(exc, FileNotFoundError):
        return "文件不存在（可能已被移动或删除）"
    return exc.strerror or str(exc)


# --- Markdown and plain text (with YAML front matter) ---------------------------------------

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)^(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S | re.M)
_TRUE_WORDS = frozenset({"true", "yes", "y", "on", "1", "是"})
_LOOSE_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")
_MARKDOWN_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$", re.M)


def _read_markdown(data: bytes) -> Parsed:
    return _read_text(data, plain=False)


def _read_plain(data: bytes) -> Parsed:
    return _read_text(data, plain=True)


def _read_text(data: bytes, *, plain: bool) -> Parsed:
    text = decode_text(data).lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    front, body = _split_front_matter(text)
    if plain:  # drop the full-width indentation of Chinese notices; keep the line structure
        body = "\n".join(line.strip(" \t\u3000") for line in body.split("\n"))
    heading = _MARKDOWN_HEADING.search(body)
    return Parsed(
        text=body,
        title=_as_text(front.get("title")) or (heading.group(1).strip() if heading else ""),
        category=_as_text(front.get("category")),
        issued=_as_date(front.get("issued")),
        source=_as_text(front.get("source")),
        sample=_as_bool(front.get("sample")),
        standards=front.get("standards"),
        superseded_by=_as_text(front.get("superseded_by")),
        valid_until=_as_date(front.get("valid_until")),
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


# --- CSV ----------------------------------------------------------------------------------------


def _read_csv(data: bytes) -> Parsed:
    text = decode_text(data).lstrip("\ufeff")
    try:
        delimiter = csv.Sniffer().sniff(text[:4096], delimiters=",;\t").delimiter
    except csv.Error:
        delimiter = ","
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise SkipFile(messages.SKIP_UNREADABLE.format(detail=f"CSV 格式错误（{exc}）")) from exc
    return Parsed(text=pipe_table(clean_rows(rows)))


_READERS: dict[str, Callable[[bytes], Parsed]] = {
    "md": _read_markdown,
    "txt": _read_plain,
    "html": formats.read_html,
    "docx": formats.read_docx,
    "pdf": formats.read_pdf,
    "xlsx": formats.read_xlsx,
    "csv": _read_csv,
}
