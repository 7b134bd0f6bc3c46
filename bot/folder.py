"""The rules of the knowledge folder that ingest and the staff console share.

Which names are knowledge files (not Office lock or temp files, hidden files, the bot's own
``_`` dictionaries or sidecars), the sidecar ``<file>.meta.yaml`` that gives a binary file a
title, category, issued date or source, the front matter the console writes into Markdown and
text files, and the content hash that tells whether a file (or its sidecar) changed. Ingest reads
sidecars (:func:`read_sidecar`); the console writes them (:func:`write_sidecar`). Nothing here
imports ingest or serving code, so both sides may use it.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

SIDECAR_SUFFIX = ".meta.yaml"
LAST_REPORT = "last-ingest.json"  # in the data folder: the last real ingest's report, file by file
# What staff may set about a file; the same keys as a Markdown file's front matter.
META_KEYS = ("title", "category", "issued", "source", "sample")
# Markdown keeps its details in its front matter, which the console edits in place; every other
# format (a .txt may be GBK, so the console leaves its bytes alone) gets a sidecar.
FRONT_MATTER_SUFFIXES = frozenset({".md", ".markdown"})
# What ingest reads (bot.ingest.loaders keeps the readers; tests/test_folder.py checks the two agree).
SUPPORTED_SUFFIXES = frozenset(
    {".md", ".markdown", ".txt", ".html", ".htm", ".docx", ".pdf", ".xlsx", ".csv", ".jpg", ".jpeg", ".png"}
)
_LOCK_OR_TEMP = re.compile(r"^~\$|^\.~lock|\.tmp$|~$", re.I)  # ~$x.docx, .~lock.x#, x.tmp, x.docx~
_LOOSE_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)^(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S | re.M)


class SidecarError(ValueError):
    """A sidecar or a value for one is malformed; the message says what to fix."""


# --- names ----------------------------------------------------------------------------------------


def is_lock_or_temp(name: str) -> bool:
    """Word's ``~$notice.docx``, LibreOffice's ``.~lock.notice.docx#``, ``*.tmp``: never knowledge, never reported."""
    return bool(_LOCK_OR_TEMP.search(name))


def is_sidecar(name: str) -> bool:
    return name.lower().endswith(SIDECAR_SUFFIX)


def ignored(name: str) -> bool:
    """True for names ingest passes over silently: hidden, ``_`` dictionaries, lock/temp files, sidecars."""
    return name.startswith((".", "_")) or is_lock_or_temp(name) or is_sidecar(name)


def sidecar_of(path: Path) -> Path:
    """``notice.docx`` -> ``notice.docx.meta.yaml`` beside it."""
    return path.with_name(path.name + SIDECAR_SUFFIX)


def content_hash(data: bytes, path: Path) -> str:
    """SHA-256 of a file's bytes and, when it has one, its sidecar's: editing either is a change."""
    digest = hashlib.sha256(data)
    side = sidecar_of(path)
    try:
        extra = side.read_bytes()
    except OSError:
        return digest.hexdigest()
    digest.update(b"\0sidecar\0")
    digest.update(extra)
    return digest.hexdigest()


# --- values ---------------------------------------------------------------------------------------


def as_date(value: object) -> str:
    """ISO date from a YAML date or 'YYYY-MM-DD' / 'YYYY/M/D' / 'YYYY年M月D日'; '' when empty; SidecarError otherwise."""
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
    raise SidecarError(f"日期“{value}”无法识别，请写成 2025-09-20 或 2025年9月20日")


def clean_meta(raw: dict[str, Any]) -> dict[str, Any]:
    """Validated values for META_KEYS (unknown keys refused); strings stripped, issued as an ISO date."""
    unknown = sorted(str(k) for k in raw if k not in META_KEYS)
    if unknown:
        raise SidecarError(f"未知的项 {', '.join(unknown)}（可用: {', '.join(META_KEYS)}）")
    out: dict[str, Any] = {}
    for key in META_KEYS:
        if key not in raw or raw[key] is None:
            continue
        value = raw[key]
        if key == "issued":
            out[key] = as_date(value)
        elif key == "sample":
            if not isinstance(value, bool):
                raise SidecarError("sample 应为 true 或 false")
            out[key] = value
        else:
            if isinstance(value, dict | list):
                raise SidecarError(f"{key} 应为一行文字")
            text = " ".join(str(value).split())
            if len(text) > 200:
                raise SidecarError(f"{key} 太长（最多 200 字）")
            out[key] = text
    return out


# --- sidecars -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sidecar:
    """What a ``.meta.yaml`` says; ``None`` for a key it does not set."""

    title: str | None = None
    category: str | None = None
    issued: str | None = None
    source: str | None = None
    sample: bool | None = None


def read_sidecar(path: Path) -> Sidecar | None:
    """The sidecar of ``path``, or None when it has none. Raises SidecarError when it is malformed."""
    side = sidecar_of(path)
    try:
        text = side.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise SidecarError(f"无法读取（{exc}）") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SidecarError(f"YAML 格式错误（{getattr(exc, 'problem', None) or exc}）") from None
    except ValueError as exc:  # a YAML date that does not exist
        raise SidecarError(f"日期无效（{exc}）") from None
    if raw is None:
        return Sidecar()
    if not isinstance(raw, dict):
        raise SidecarError("应为“键: 值”形式的若干行")
    return Sidecar(**clean_meta(raw))


def write_sidecar(path: Path, values: dict[str, Any]) -> Path:
    """Write (atomically) the sidecar of ``path`` with the given values; an empty value removes the key."""
    side = sidecar_of(path)
    current: dict[str, Any] = {}
    existing = read_sidecar(path)
    if existing is not None:
        current = {k: v for k, v in existing.__dict__.items() if v is not None}
    current.update(clean_meta(values))
    current = {k: v for k, v in current.items() if v not in ("", None)}
    header = "# 由工作人员后台写入：这个文件的标题、分类、发布日期和来源（导入时使用）\n"
    write_atomic(side, (header + yaml.safe_dump(current, allow_unicode=True, sort_keys=False)).encode())
    return side


# --- front matter (Markdown and text files) ---------------------------------------------------------


def split_front_matter(text: str) -> tuple[str, str]:
    """(the front matter's YAML text, the rest); ('', text) when the file has none."""
    match = _FRONT_MATTER.match(text) if re.match(r"---[ \t]*\n", text) else None
    if match is None:
        return "", text
    return match.group(1), text[match.end() :]


def read_front_matter(text: str) -> dict[str, Any]:
    front, _ = split_front_matter(text)
    try:
        raw = yaml.safe_load(front) if front else {}
    except (yaml.YAMLError, ValueError) as exc:
        raise SidecarError(f"文件头部的 YAML 信息格式错误（{exc}）") from None
    return raw if isinstance(raw, dict) else {}


def set_front_matter(text: str, values: dict[str, Any]) -> str:
    """``text`` with its front matter's top-level ``values`` set (an empty value removes the key).

    Lines of other keys, comments and nested blocks (``standards``) are kept as they are.
    """
    values = {k: v for k, v in values.items() if k in META_KEYS}
    cleaned = clean_meta({k: v for k, v in values.items() if v not in ("", None)})
    removed = {k for k, v in values.items() if v in ("", None)}
    front, body = split_front_matter(text)
    lines = front.splitlines() if front else []
    out: list[str] = []
    done: set[str] = set()
    skipping = False
    for line in lines:
        key = re.match(r"^([A-Za-z_]\w*)\s*:", line)
        if key:
            name = key.group(1)
            skipping = False
            if name in cleaned:
                out.append(_yaml_line(name, cleaned[name]))
                done.add(name)
                skipping = True  # drop the old value's continuation lines, if any
                continue
            if name in removed:
                skipping = True
                continue
        elif skipping and (line.startswith((" ", "\t")) or not line.strip()):
            continue
        else:
            skipping = False
        out.append(line)
    out += [_yaml_line(k, v) for k, v in cleaned.items() if k not in done]
    result = "---\n" + "".join(line + "\n" for line in out) + "---\n" + body
    read_front_matter(result)  # never write a front matter ingest cannot read
    return result


def _yaml_line(key: str, value: Any) -> str:
    dumped = yaml.safe_dump({key: value}, allow_unicode=True, default_flow_style=False, width=10_000)
    return dumped.strip().replace("\n", " ")


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a hidden temp file in the same folder (ingest never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".upload-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
