"""The standards form: the ``standards`` block of the standards document, read, validated and written back.

Values are validated exactly as ingest validates them (:func:`bot.services.standards.parse`); the
block is rewritten in place in the document's front matter (one ``section: {key: value}`` line per
section, the comments beside them kept), and the result is read back before it is saved. After a
change the form shows where the old figure is still stated: the document's own tables
(:func:`bot.services.standards.cross_check`) and every served document whose text holds the old
number (:func:`stale_documents`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot import folder
from bot.channels.admin import strings
from bot.errors import UserError
from bot.records import ServedChunks
from bot.services.standards import SCHEMA, Standards, StandardsError, cross_check, parse

_BLOCK_LINE = re.compile(r"^\s+(\w+)\s*:\s*\{[^}]*\}\s*(#.*)?$")


@dataclass(frozen=True)
class Change:
    section: str
    key: str
    old: float | None
    new: float | None


def find_document(knowledge_dir: Path, files: list[Path]) -> Path | None:
    """The Markdown file whose front matter holds the ``standards`` block."""
    for path in files:
        if path.suffix.lower() not in folder.FRONT_MATTER_SUFFIXES:
            continue
        try:
            if "standards" in folder.read_front_matter(path.read_text(encoding="utf-8-sig")):
                return path
        except (folder.SidecarError, OSError, UnicodeDecodeError):
            continue
    return None


def read_block(path: Path) -> dict[str, Any]:
    block = folder.read_front_matter(path.read_text(encoding="utf-8-sig")).get("standards")
    return block if isinstance(block, dict) else {}


def schema() -> list[dict[str, Any]]:
    """The form's fields: every section and key with its unit and whether it is required."""
    return [
        {
            "section": section,
            "label": strings.STANDARDS_SECTIONS.get(section, section),
            "keys": [
                {
                    "key": k,
                    "label": strings.STANDARDS_KEYS.get(f"{section}.{k}", k),
                    "unit": unit,
                    "required": req,
                }
                for k, (unit, req) in keys.items()
            ],
        }
        for section, keys in SCHEMA.items()
    ]


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _rewrite(front: str, values: dict[str, dict[str, float]]) -> str:
    lines = front.splitlines()
    start = next((i for i, line in enumerate(lines) if re.match(r"^standards\s*:", line)), None)
    if start is None:
        raise UserError(strings.STANDARDS_NO_BLOCK)
    end = start + 1
    while end < len(lines) and (lines[end].startswith((" ", "\t")) or not lines[end].strip()):
        end += 1
    comments: dict[str, str] = {}
    loose: list[str] = []  # comment lines inside the block
    for line in lines[start + 1 : end]:
        match = _BLOCK_LINE.match(line)
        if match and match.group(2):
            comments[match.group(1)] = "   " + match.group(2)
        elif line.strip().startswith("#"):
            loose.append(line)
    block = [
        f"  {section}: {{"
        + ", ".join(f"{k}: {_number(v)}" for k, v in keys.items())
        + "}"
        + comments.get(section, "")
        for section, keys in values.items()
    ]
    return "\n".join([*lines[: start + 1], *loose, *block, *lines[end:]])


def save(path: Path, block: Any) -> tuple[Standards, list[Change], list[str]]:
    """Validate ``block`` and write it into ``path``; (the standards, what changed, table warnings)."""
    try:
        standards = parse(block)
    except StandardsError as exc:
        raise UserError(str(exc)) from None
    old = parse_or_empty(read_block(path))
    text = path.read_text(encoding="utf-8-sig")
    front, body = folder.split_front_matter(text)
    ordered = {
        s: {k: standards.values[s][k] for k in SCHEMA[s] if k in standards.values[s]}
        for s in standards.values
    }
    new_text = "---\n" + _rewrite(front, ordered) + "\n---\n" + body
    written = folder.read_front_matter(new_text).get("standards")
    if parse(written).values != standards.values:  # never save what ingest would read differently
        raise UserError(strings.STANDARDS_REWRITE_FAILED)
    folder.write_atomic(path, new_text.encode("utf-8"))
    changes = [
        Change(s, k, old.get(s, {}).get(k), v)
        for s, keys in standards.values.items()
        for k, v in keys.items()
        if old.get(s, {}).get(k) != v
    ]
    return standards, changes, cross_check(standards, body)


def parse_or_empty(block: Any) -> dict[str, dict[str, float]]:
    try:
        return parse(block).values
    except StandardsError:
        return {}


def stale_documents(changes: list[Change], index: ServedChunks | None) -> list[dict[str, Any]]:
    """Served documents whose text still states an old figure.

    A hook for ``bot.services.standards`` (a ``stale figures`` check is coming there): until then,
    any document with the old number followed by 元 (or 倍) is listed.
    """
    if index is None:
        return []
    found: list[dict[str, Any]] = []
    for change in changes:
        if change.old is None:
            continue
        pattern = re.compile(rf"(?<![\d.]){re.escape(_number(change.old))}(?:\.0+)?\s*(?:元|倍|周岁)")
        seen: set[str] = set()
        for text, chunk in zip(index.texts, index.chunks, strict=True):
            if chunk.path not in seen and pattern.search(text):
                seen.add(chunk.path)
                found.append(
                    {
                        "path": chunk.path,
                        "title": chunk.title,
                        "key": f"{change.section}.{change.key}",
                        "old": change.old,
                        "new": change.new,
                    }
                )
    return found
