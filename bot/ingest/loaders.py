"""Read one knowledge file (Markdown, text, HTML, Word, PDF, Excel, CSV) into a Markdown-normalised Document.

:func:`knowledge_files` lists what staff keep in the folder; :func:`load_file` picks the reader by
the file's suffix (Markdown, plain text and CSV here, the structured formats in
:mod:`bot.ingest.formats`), all writing the Markdown of :mod:`bot.ingest.markdown`, and returns a
LangChain Document whose metadata is a :class:`~bot.records.FileMeta`. A file that cannot be read
raises :class:`~bot.errors.SkipFile` with a reason a staff member can act on.

Only what is really in the folder is read (:func:`read_knowledge_bytes`): a link that resolves
outside it, a hard link, a file on another file system mounted into it, and anything under the data
folder, ``/proc``, ``/sys``, ``/dev`` or ``/etc`` is refused and named in the ingest report, so no
secret (``/proc/self/environ`` of the process holding the bot token, the salt) can reach an answer.
Every limit of ``[ingest_limits]`` is checked before the work it bounds.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import re
import stat
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from langchain_core.documents import Document

from bot import folder, staff_messages
from bot.config import IngestLimitsSettings, OcrSettings
from bot.errors import SkipFile
from bot.ingest import extras, formats, scans
from bot.ingest.markdown import Parsed, clean_rows, decode_text, human_size, pipe_table, tidy
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
DEFAULT_LIMITS = IngestLimitsSettings()
# Never read from here, whatever links or mounts lead there: process environments, devices, system files.
SYSTEM_DIRS: tuple[Path, ...] = (Path("/proc"), Path("/sys"), Path("/dev"), Path("/etc"))


# --- the folder ------------------------------------------------------------------------------


def knowledge_files(root: Path) -> list[Path]:
    """Every file under root, recursively, sorted; skips hidden files/folders (name starts with '.'),
    files whose name starts with '_' (reserved for the bot's own dictionaries such as _synonyms.txt),
    Office lock and temp files and sidecars (see :func:`bot.folder.ignored`).

    Links to folders and folders that are mount points are listed, not walked: reading them is
    refused by :func:`read_knowledge_bytes`, so the report names them.
    """
    mounts = _mount_points()
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        walked: list[str] = []
        for name in dirnames:
            if name.startswith("."):
                continue
            path = Path(dirpath) / name
            if path.is_symlink() or os.path.realpath(path) in mounts:
                found.append(path)
            else:
                walked.append(name)
        dirnames[:] = walked
        found += [
            Path(dirpath) / name
            for name in filenames
            if not name.startswith((".", "_")) and not folder.ignored(name)
        ]
    return sorted(found)


def read_knowledge_bytes(
    path: Path, root: Path, limits: IngestLimitsSettings = DEFAULT_LIMITS, forbidden: Sequence[Path] = ()
) -> bytes:
    """The bytes of a file of the knowledge folder ``root``, or SkipFile when it must not be read.

    Refused: anything that resolves outside ``root`` (a link), under a ``forbidden`` folder (the data
    folder) or a system folder, on a file system mounted inside ``root``, a hard link, anything that
    is not a regular file, and a file over ``max_file_bytes`` (checked before reading; a file that
    reports no size, as those of /proc do, is read at most one byte past the limit).
    """
    real = os.path.realpath(path)
    home = os.path.realpath(root)
    for place in (*SYSTEM_DIRS, *forbidden):
        where = os.path.realpath(place)
        if _within(real, where):
            raise SkipFile(staff_messages.SKIP_FORBIDDEN.format(target=where))
    if not _within(real, home):
        raise SkipFile(staff_messages.SKIP_OUTSIDE.format(target=real))
    mount = next((m for m in _mount_points() if m != home and _within(m, home) and _within(real, m)), None)
    if mount is not None:
        raise SkipFile(staff_messages.SKIP_OTHER_FILESYSTEM.format(mount=mount))
    if path.is_symlink() and os.path.isdir(real):
        raise SkipFile(staff_messages.SKIP_LINKED_FOLDER)
    try:  # O_NONBLOCK: opening a named pipe must not wait for a writer
        fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise SkipFile(staff_messages.SKIP_UNREADABLE.format(detail=_os_error_detail(exc))) from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SkipFile(staff_messages.SKIP_UNREADABLE.format(detail=staff_messages.SKIP_NOT_REGULAR))
        if info.st_nlink > 1:
            raise SkipFile(staff_messages.SKIP_HARD_LINK)
        if info.st_dev != os.stat(home).st_dev:
            raise SkipFile(staff_messages.SKIP_OTHER_FILESYSTEM.format(mount=real))
        limit = limits.max_file_bytes
        if info.st_size > limit:
            raise SkipFile(
                staff_messages.SKIP_TOO_BIG.format(size=human_size(info.st_size), limit=human_size(limit))
            )
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(limit + 1)
    except OSError as exc:
        raise SkipFile(staff_messages.SKIP_UNREADABLE.format(detail=_os_error_detail(exc))) from exc
    finally:
        os.close(fd)
    if len(data) > limit:
        raise SkipFile(
            staff_messages.SKIP_TOO_BIG.format(size=f"超过 {human_size(limit)}", limit=human_size(limit))
        )
    return data


def file_sha256(
    path: Path, root: Path, limits: IngestLimitsSettings = DEFAULT_LIMITS, forbidden: Sequence[Path] = ()
) -> str:
    """The content hash ingest records for a knowledge file (its bytes and its sidecar's, see
    :func:`bot.folder.content_hash`); "" for a file it refuses (see read_knowledge_bytes)."""
    try:
        return folder.content_hash(read_knowledge_bytes(path, root, limits, forbidden), path)
    except SkipFile:
        return ""


def is_vector_bytes(value: bytes) -> bool:
    """A vector as the embedding cache stores it (LangChain: a JSON list of numbers), not a damaged record."""
    try:
        vector = json.loads(value.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return False
    return isinstance(vector, list) and bool(vector) and all(isinstance(x, int | float) for x in vector)


def _within(path: str, place: str) -> bool:
    return path == place or path.startswith(place.rstrip("/") + "/")


def _mount_points() -> frozenset[str]:
    """Where file systems are mounted (Linux ``/proc/self/mountinfo``; empty where there is none)."""
    try:
        lines = Path("/proc/self/mountinfo").read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return frozenset()
    points = set()
    for line in lines:
        fields = line.split(" ")
        if len(fields) > 4:  # the mount point is the 5th field, with spaces etc. as octal escapes
            points.add(re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4]))
    return frozenset(points)


def check_chunk_count(chunks: int, limits: IngestLimitsSettings = DEFAULT_LIMITS) -> None:
    """SkipFile when a file became more chunks than ``max_chunks_per_file``."""
    if chunks > limits.max_chunks_per_file:
        raise SkipFile(
            staff_messages.SKIP_TOO_MANY_CHUNKS.format(chunks=chunks, limit=limits.max_chunks_per_file)
        )


def load_file(
    path: Path,
    root: Path,
    limits: IngestLimitsSettings = DEFAULT_LIMITS,
    *,
    data: bytes | None = None,
    chunk_chars: int = 360,
    ocr: OcrSettings | None = None,
) -> Document:
    """Load one file as one Document: Markdown-normalised body plus path/title/category/issued/source/sample/format.

    ``data`` is the file's bytes when the caller has read them (with :func:`read_knowledge_bytes`);
    ``chunk_chars`` (``[chunking] max_chars``) lets a text too long for ``max_chunks_per_file`` be
    refused before it is chunked; ``ocr`` how scans are read.
    """
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise SkipFile(
            staff_messages.SKIP_UNSUPPORTED.format(suffix=path.suffix or "（无扩展名）", supported=supported)
        )
    if data is None:
        data = read_knowledge_bytes(path, root, limits)
    if not data.strip():
        raise SkipFile(staff_messages.SKIP_EMPTY)
    budget = 2 * max(1, chunk_chars) * limits.max_chunks_per_file  # see _check_text
    reader = _READERS.get(fmt)
    # A scan is read by recognition; the sidecar and a date from the 落款 or properties complete it.
    read = (lambda raw: reader(raw, limits, budget)) if reader else None
    parsed = scans.read(fmt, data, read, ocr or OcrSettings())
    parsed = extras.complete(parsed, path, data, fmt)
    text = tidy(parsed.text)
    if not text:
        raise SkipFile(staff_messages.SKIP_EMPTY)
    _check_text(text, limits, chunk_chars)
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


def _check_text(text: str, limits: IngestLimitsSettings, chunk_chars: int) -> None:
    """SkipFile for a line over ``max_line_chars``, or a text that must become too many chunks.

    No chunk holds more than ``chunk_chars`` characters of the text, so a text longer than twice
    ``max_chunks_per_file`` full chunks is over the limit whatever the chunker does with it.
    """
    for number, line in enumerate(text.split("\n"), start=1):
        if len(line) > limits.max_line_chars:
            raise SkipFile(
                staff_messages.SKIP_LONG_LINE.format(
                    line=number, chars=len(line), limit=limits.max_line_chars
                )
            )
    at_least = len(text) // (2 * max(1, chunk_chars))
    if at_least > limits.max_chunks_per_file:
        raise SkipFile(
            staff_messages.SKIP_TOO_MANY_CHUNKS.format(chunks=at_least, limit=limits.max_chunks_per_file)
        )


# --- Markdown and plain text (with YAML front matter) ---------------------------------------

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)^(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S | re.M)
_TRUE_WORDS = frozenset({"true", "yes", "y", "on", "1", "是"})
_MARKDOWN_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$", re.M)


def _read_markdown(data: bytes, limits: IngestLimitsSettings = DEFAULT_LIMITS, budget: int = 0) -> Parsed:
    return _read_text(data, limits, plain=False)


def _read_plain(data: bytes, limits: IngestLimitsSettings = DEFAULT_LIMITS, budget: int = 0) -> Parsed:
    return _read_text(data, limits, plain=True)


def _read_text(data: bytes, limits: IngestLimitsSettings, *, plain: bool) -> Parsed:
    text = decode_text(data).lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    front, body = _split_front_matter(text, limits)
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


def _split_front_matter(text: str, limits: IngestLimitsSettings) -> tuple[dict[Any, Any], str]:
    """YAML between a leading '---' line and the next '---' line; ({}, text) when there is none.

    The YAML is at most ``max_front_matter_bytes`` and read by :class:`_FrontMatterLoader` (no
    aliases, bounded nesting), so a few hundred bytes cannot expand into gigabytes.
    """
    if not re.match(r"---[ \t]*\n", text):
        return {}, text
    window = text[: limits.max_front_matter_bytes + 64]  # the closing line must come within the limit
    match = _FRONT_MATTER.match(window)
    if match is None or len(match.group(1).encode("utf-8")) > limits.max_front_matter_bytes:
        if match is not None or _FRONT_MATTER.match(text) is not None:
            raise SkipFile(
                staff_messages.SKIP_FRONT_MATTER_TOO_BIG.format(limit=limits.max_front_matter_bytes)
            )
        raise SkipFile(staff_messages.SKIP_BAD_FRONT_MATTER.format(detail="缺少结束的 --- 行"))
    try:
        meta = yaml.load(
            match.group(1), Loader=_loader(limits.max_front_matter_depth)
        )  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise SkipFile(staff_messages.SKIP_BAD_FRONT_MATTER.format(detail=_yaml_detail(exc))) from exc
    except ValueError as exc:  # issued: 2025-13-01 (no such date), or an integer of thousands of digits
        kind = "日期无效" if re.search(r"year|month|day", str(exc)) else "数值无效"
        raise SkipFile(staff_messages.SKIP_BAD_FRONT_MATTER.format(detail=f"{kind}（{exc}）")) from exc
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise SkipFile(staff_messages.SKIP_BAD_FRONT_MATTER.format(detail="应为“键: 值”形式的若干行"))
    return meta, text[match.end() :]


class _FrontMatterLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader without anchors/aliases and with bounded nesting.

    Aliases are what a "billion laughs" front matter is made of (543 bytes that expand to billions
    of strings when the title is read); staff front matter never needs them.
    """

    max_depth = 10
    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            raise SkipFile(staff_messages.SKIP_FRONT_MATTER_ALIAS)
        self._depth += 1
        try:
            if self._depth > self.max_depth:
                raise SkipFile(staff_messages.SKIP_FRONT_MATTER_DEPTH.format(limit=self.max_depth))
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _loader(max_depth: int) -> type[_FrontMatterLoader]:
    return type("FrontMatterLoader", (_FrontMatterLoader,), {"max_depth": max_depth})


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
    """ISO date as :func:`bot.folder.as_date` reads it; '' (and a warning) where it reads none."""
    try:
        return folder.as_date(value)
    except folder.SidecarError:
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


def _read_csv(data: bytes, limits: IngestLimitsSettings = DEFAULT_LIMITS, budget: int = 0) -> Parsed:
    text = decode_text(data).lstrip("\ufeff")
    try:
        delimiter = csv.Sniffer().sniff(text[:4096], delimiters=",;\t").delimiter
    except csv.Error:
        delimiter = ","
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise SkipFile(staff_messages.SKIP_UNREADABLE.format(detail=f"CSV 格式错误（{exc}）")) from exc
    return Parsed(text=pipe_table(clean_rows(rows)))


# Every reader: (bytes, limits, budget of text characters) -> Parsed. The text readers' output is bounded
# by max_file_bytes already; the structured ones can unpack far more than they read, and check the budget.
_READERS: dict[str, Callable[[bytes, IngestLimitsSettings, int], Parsed]] = {
    "md": _read_markdown,
    "txt": _read_plain,
    "html": formats.read_html,
    "docx": formats.read_docx,
    "pdf": formats.read_pdf,
    "xlsx": formats.read_xlsx,
    "csv": _read_csv,
}
