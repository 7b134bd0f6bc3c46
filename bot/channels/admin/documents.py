"""The knowledge folder as staff see it in the console: the documents table, uploads, the trash, details.

Rows join the files on disk with the last ingest's report (``<data>/last-ingest.json``): a file
whose content hash (with its sidecar) matches what that ingest read is served or skipped with its
reason; any other file is waiting for the next ingest. Nothing is ever lost: a replaced or deleted
file (and its sidecar) moves into ``<data>/admin/trash/`` and can be restored. Every path a
request names is checked (:func:`clean_path`) before anything touches the disk.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import shutil
import threading
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from bot import folder
from bot.channels.admin import strings
from bot.channels.admin.accounts import admin_dir

logger = logging.getLogger(__name__)

MAX_PATH_CHARS = 200
MAX_DEPTH = 6
TRASH = "trash"


class BadPath(ValueError):
    """A path a request named cannot be used; the message says why (in Chinese, for staff)."""


@dataclass(frozen=True)
class Row:
    path: str
    title: str
    issued: str
    category: str
    status: str  # "served" | "skipped" | "pending"
    reason: str
    source: str = ""
    sample: bool = False
    format: str = ""
    ocr: bool = False
    chunks: int = 0
    size: int = 0
    modified: str = ""  # when the file (or its sidecar) last changed, local time
    details_in: str = ""  # "front_matter" | "sidecar": where an edit of the details goes
    has_sidecar: bool = False


@dataclass(frozen=True)
class TrashItem:
    id: str
    path: str
    deleted_at: str
    user: str
    why: str  # "delete" | "replace"


def clean_path(raw: str) -> str:
    """A safe relative path inside the knowledge folder, or BadPath saying what is wrong with it."""
    if not isinstance(raw, str) or not raw.strip():
        raise BadPath(strings.PATH_EMPTY)
    text = unicodedata.normalize("NFC", raw.strip())
    if len(text) > MAX_PATH_CHARS:
        raise BadPath(strings.PATH_TOO_LONG.format(max=MAX_PATH_CHARS))
    if any(ch in text for ch in "\\\0") or any(unicodedata.category(ch) == "Cc" for ch in text):
        raise BadPath(strings.PATH_BAD_CHARS)
    if text.startswith("/") or re.match(r"^[A-Za-z]:", text):
        raise BadPath(strings.PATH_ABSOLUTE)
    parts = PurePosixPath(text).parts
    if any(p in ("", ".", "..") for p in text.split("/")):
        raise BadPath(strings.PATH_TRAVERSAL)
    if len(parts) > MAX_DEPTH:
        raise BadPath(strings.PATH_TOO_DEEP.format(max=MAX_DEPTH))
    if any(p.startswith((".", "_")) for p in parts) or folder.ignored(parts[-1]):
        raise BadPath(strings.PATH_IGNORED)
    suffix = PurePosixPath(parts[-1]).suffix.lower()
    if suffix not in folder.SUPPORTED_SUFFIXES:
        supported = ", ".join(sorted(folder.SUPPORTED_SUFFIXES))
        raise BadPath(strings.PATH_UNSUPPORTED.format(suffix=suffix or "（无扩展名）", supported=supported))
    return "/".join(parts)


class Folder:
    """The knowledge folder and the console's trash; safe to use from several threads."""

    def __init__(self, knowledge_dir: Path, data_dir: Path) -> None:
        self.root = knowledge_dir
        self.data_dir = data_dir
        self.trash_dir = admin_dir(data_dir) / TRASH
        self._lock = threading.RLock()
        self._hashes: dict[str, tuple[tuple[int, int, int], str]] = {}

    # --- paths ----------------------------------------------------------------------------------

    def resolve(self, rel: str) -> Path:
        """The file a clean relative path names, refusing one that leads outside through a symlink."""
        rel = clean_path(rel)
        root = self.root.resolve()
        path = root / rel
        here = root
        for part in PurePosixPath(rel).parts:
            here = here / part
            if here.is_symlink():
                raise BadPath(strings.PATH_SYMLINK)
        if not path.resolve().is_relative_to(root):
            raise BadPath(strings.PATH_TRAVERSAL)
        return path

    def files(self) -> list[Path]:
        """Every knowledge file (as ingest lists them: no hidden, ``_``, lock/temp files or sidecars; no symlinks)."""
        found: list[Path] = []
        if not self.root.is_dir():
            return found
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "_")))
            for name in filenames:
                path = Path(dirpath) / name
                if not folder.ignored(name) and path.is_file() and not path.is_symlink():
                    found.append(path)
        return sorted(found)

    # --- the table ------------------------------------------------------------------------------

    def last_report(self) -> dict[str, Any]:
        try:
            raw = json.loads((self.data_dir / folder.LAST_REPORT).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return raw if isinstance(raw, dict) else {}

    def rows(self) -> list[Row]:
        seen = {
            f["path"]: f for f in self.last_report().get("files", []) if isinstance(f, dict) and "path" in f
        }
        return [self._row(path, seen) for path in self.files()]

    def _row(self, path: Path, seen: dict[str, dict[str, Any]]) -> Row:
        rel = path.relative_to(self.root).as_posix()
        entry = seen.get(rel, {})
        stat = path.stat()
        side = folder.sidecar_of(path)
        side_mtime = side.stat().st_mtime if side.exists() else 0.0
        own = self.details(path)  # what staff set: wins over the (maybe older) report
        sha = self._hash(path, stat, side_mtime)
        if entry and entry.get("sha256") == sha:
            if entry.get("status") == "skipped":
                status = "skipped"
                reason = str(entry.get("reason", "")) + (
                    strings.KEPT_PREVIOUS if entry.get("kept_previous") else ""
                )
            else:
                status, reason = "served", ""
        else:
            status = "pending"
            reason = strings.PENDING_CHANGED if entry else strings.PENDING_NEW
        modified = datetime.fromtimestamp(max(stat.st_mtime, side_mtime)).astimezone()
        suffix = path.suffix.lower()
        return Row(
            path=rel,
            title=str(own.get("title") or entry.get("title") or path.stem),
            issued=str(own.get("issued") or entry.get("issued") or ""),
            category=str(own.get("category") or entry.get("category") or ""),
            source=str(own.get("source") or entry.get("source") or ""),
            sample=bool(own.get("sample", entry.get("sample", False))),
            status=status,
            reason=reason,
            format=str(entry.get("format") or suffix.lstrip(".")),
            ocr=bool(entry.get("ocr", False)),
            chunks=int(entry.get("chunks", 0) or 0) if status != "pending" else 0,
            size=stat.st_size,
            modified=modified.isoformat(timespec="seconds"),
            details_in="front_matter" if suffix in folder.FRONT_MATTER_SUFFIXES else "sidecar",
            has_sidecar=side.exists(),
        )

    def _hash(self, path: Path, stat: os.stat_result, side_mtime: float) -> str:
        key = (stat.st_mtime_ns, stat.st_size, int(side_mtime * 1e9))
        cached = self._hashes.get(str(path))
        if cached and cached[0] == key:
            return cached[1]
        sha = folder.content_hash(path.read_bytes(), path)
        self._hashes[str(path)] = (key, sha)
        return sha

    def details(self, path: Path) -> dict[str, Any]:
        """What staff set about a file: its front matter (Markdown) or its sidecar; {} when unreadable."""
        try:
            if path.suffix.lower() in folder.FRONT_MATTER_SUFFIXES:
                meta = folder.read_front_matter(path.read_text(encoding="utf-8-sig"))
                return {k: v for k, v in meta.items() if k in folder.META_KEYS}
            sidecar = folder.read_sidecar(path)
        except (folder.SidecarError, OSError, UnicodeDecodeError):
            return {}
        return {k: v for k, v in (sidecar.__dict__ if sidecar else {}).items() if v is not None}

    # --- changes --------------------------------------------------------------------------------

    def save(self, rel: str, data: bytes, user: str) -> bool:
        """Write an uploaded file; an existing one goes to the trash first. True when it replaced one."""
        path = self.resolve(rel)
        with self._lock:
            replaced = path.exists()
            if replaced:
                self._to_trash(path, user, "replace", keep_sidecar=True)
            folder.write_atomic(path, data)
        return replaced

    def delete(self, rel: str, user: str) -> TrashItem:
        path = self.resolve(rel)
        with self._lock:
            if not path.is_file():
                raise FileNotFoundError(rel)
            return self._to_trash(path, user, "delete", keep_sidecar=False)

    def edit(self, rel: str, values: dict[str, Any]) -> str:
        """Set a file's title / category / issued / source / sample; returns where they went."""
        path = self.resolve(rel)
        with self._lock:
            if not path.is_file():
                raise FileNotFoundError(rel)
            if path.suffix.lower() in folder.FRONT_MATTER_SUFFIXES:
                text = path.read_text(encoding="utf-8-sig")
                folder.write_atomic(path, folder.set_front_matter(text, values).encode("utf-8"))
                return "front_matter"
            folder.write_sidecar(path, values)
            return "sidecar"

    def _to_trash(self, path: Path, user: str, why: str, *, keep_sidecar: bool) -> TrashItem:
        rel = path.relative_to(self.root.resolve()).as_posix()
        item = TrashItem(
            id=datetime.now().strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3),
            path=rel,
            deleted_at=datetime.now().astimezone().isoformat(timespec="seconds"),
            user=user,
            why=why,
        )
        where = self.trash_dir / item.id
        (where / "files").mkdir(parents=True)
        shutil.copy2(path, where / "files" / path.name)  # copy first: the original goes only once it is safe
        side = folder.sidecar_of(path)
        if side.exists():
            shutil.copy2(side, where / "files" / side.name)
        (where / "item.json").write_text(json.dumps(item.__dict__, ensure_ascii=False), encoding="utf-8")
        path.unlink()
        if side.exists() and not keep_sidecar:
            side.unlink()
        return item

    def trash(self) -> list[TrashItem]:
        items: list[TrashItem] = []
        if not self.trash_dir.is_dir():
            return items
        for entry in sorted(self.trash_dir.iterdir(), reverse=True):
            try:
                items.append(TrashItem(**json.loads((entry / "item.json").read_text(encoding="utf-8"))))
            except (OSError, ValueError, TypeError):
                continue
        return items

    def restore(self, item_id: str, user: str) -> str:
        """Put a trashed file back where it was (what is there now goes to the trash first)."""
        if not re.fullmatch(r"[\w-]{1,40}", item_id):
            raise FileNotFoundError(item_id)
        where = self.trash_dir / item_id
        with self._lock:
            try:
                item = TrashItem(**json.loads((where / "item.json").read_text(encoding="utf-8")))
            except (OSError, ValueError, TypeError):
                raise FileNotFoundError(item_id) from None
            path = self.resolve(item.path)
            if path.exists():
                self._to_trash(path, user, "replace", keep_sidecar=False)
            path.parent.mkdir(parents=True, exist_ok=True)
            for kept in (where / "files").iterdir():
                folder.write_atomic(path.parent / kept.name, kept.read_bytes())
            shutil.rmtree(where)
        return item.path
