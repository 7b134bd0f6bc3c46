"""What an ingest did, file by file: the report ``ingest.py`` prints and the staff console shows.

:class:`IngestReport` names every file: added, updated, removed, unchanged, skipped (with the
reason, and whether its previous version still serves), and the warnings staff should look at;
which file is the meal-site directory and how many sites it holds. :meth:`IngestReport.as_json`
is the same report for machines (``python -m bot ingest --json``, ``<data>/last-ingest.json``).
``Progress`` listeners hear of every file read and every batch of vectors computed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from langchain_core.documents import Document

from bot import folder, staff_messages
from bot.records import FileMeta
from bot.services import meal_sites

logger = logging.getLogger(__name__)

# stage ("read" | "embed"), done, total, the file being read ("" while embedding)
Progress = Callable[[str, int, int, str], None]


class FileResult(Protocol):
    """What reading one file gave (bot.ingest.indexing.FileResult)."""

    path: str
    sha256: str
    chunks: list[Document]
    skipped: str
    meta: FileMeta | None


@dataclass(frozen=True)
class FileEntry:
    """One file as the last ingest saw it (a row of the console's documents table)."""

    path: str
    status: str  # "added" | "updated" | "unchanged" | "skipped" | "removed"
    sha256: str = ""
    reason: str = ""  # why it was skipped
    title: str = ""
    category: str = ""
    issued: str = ""
    source: str = ""
    sample: bool = False
    format: str = ""
    ocr: bool = False
    chunks: int = 0


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (path, what to check)
    kept_previous: list[str] = field(default_factory=list)  # skipped files still served from the last index
    files: list[FileEntry] = field(default_factory=list)
    directory: list[tuple[str, int]] = field(default_factory=list)  # (meal-site directory file, sites)
    chunks: int = 0
    units: int = 0  # answer units (each embedded like a chunk)
    embedded: int = 0
    seconds: float = 0.0
    dry_run: bool = False
    usable: bool = True

    def describe(self, results: Sequence[FileResult]) -> None:
        """Record every file (after ``compare`` sorted them) and which one is the meal-site directory."""
        status = {p: "added" for p in self.added} | {p: "updated" for p in self.updated}
        status |= {p: "unchanged" for p in self.unchanged} | {p: "skipped" for p, _ in self.skipped}
        for r in results:
            meta = r.meta
            self.files.append(
                FileEntry(
                    path=r.path,
                    status=status.get(r.path, "skipped"),
                    sha256=r.sha256,
                    reason=r.skipped,
                    title=meta.title if meta else "",
                    category=meta.category if meta else "",
                    issued=meta.issued if meta else "",
                    source=meta.source if meta else "",
                    sample=meta.sample if meta else False,
                    format=meta.format if meta else "",
                    ocr=meta.ocr if meta else False,
                    chunks=0 if r.skipped else len(r.chunks),
                )
            )
            if not r.skipped and meal_sites.is_directory(r.path):
                sites, missing = meal_sites.directory_check([c.page_content for c in r.chunks])
                self.directory.append((r.path, sites))
                if missing:
                    self.warnings.append(
                        (r.path, staff_messages.INGEST_DIRECTORY_COLUMNS.format(columns="、".join(missing)))
                    )
        self.files += [FileEntry(path=p, status="removed") for p in self.removed]
        if len(self.directory) > 1:
            names = "、".join(p for p, _ in self.directory)
            self.warnings.append(
                (self.directory[0][0], staff_messages.INGEST_DIRECTORY_SEVERAL.format(names=names))
            )

    # --- for people ------------------------------------------------------------------------------

    def summary(self) -> str:
        """Every file by name, then the totals (a dry run says what would change, and no timings)."""
        ocr = {f.path for f in self.files if f.ocr}

        def named(template: str, paths: list[str]) -> list[str]:
            return [template.format(path=p) + (staff_messages.INGEST_OCR if p in ocr else "") for p in paths]

        lines = named(staff_messages.INGEST_ADDED_LINE, self.added)
        lines += named(staff_messages.INGEST_UPDATED_LINE, self.updated)
        lines += [staff_messages.INGEST_REMOVED_LINE.format(path=p) for p in self.removed]
        lines += [
            staff_messages.INGEST_SKIPPED_LINE.format(path=path, reason=reason)
            + (staff_messages.INGEST_KEPT_PREVIOUS if path in self.kept_previous else "")
            for path, reason in self.skipped
        ]
        lines += [
            staff_messages.INGEST_WARNING_LINE.format(path=path, warning=w) for path, w in self.warnings
        ]
        if self.unchanged:
            lines.append(
                staff_messages.INGEST_UNCHANGED_LINE.format(
                    count=len(self.unchanged), paths="、".join(self.unchanged)
                )
            )
        lines += [staff_messages.INGEST_DIRECTORY_LINE.format(path=p, sites=n) for p, n in self.directory]
        counts = {
            "added": len(self.added),
            "updated": len(self.updated),
            "removed": len(self.removed),
            "unchanged": len(self.unchanged),
            "skipped": len(self.skipped),
            "chunks": self.chunks,
            "units": self.units,
        }
        if self.dry_run:
            lines.append(staff_messages.INGEST_DRY_RUN_SUMMARY.format(**counts))
        else:
            lines.append(
                staff_messages.INGEST_SUMMARY.format(**counts, embedded=self.embedded, seconds=self.seconds)
            )
        return "\n".join(lines)

    # --- for machines ----------------------------------------------------------------------------

    def as_json(self) -> dict[str, Any]:
        kept = set(self.kept_previous)
        return {
            "added": self.added,
            "updated": self.updated,
            "removed": self.removed,
            "unchanged": self.unchanged,
            "skipped": [{"path": p, "reason": r, "kept_previous": p in kept} for p, r in self.skipped],
            "warnings": [{"path": p, "warning": w} for p, w in self.warnings],
            "directory": [{"path": p, "sites": n} for p, n in self.directory],
            "files": [asdict(f) | {"kept_previous": f.path in kept} for f in self.files],
            "chunks": self.chunks,
            "units": self.units,
            "embedded": self.embedded,
            "seconds": round(self.seconds, 2),
            "dry_run": self.dry_run,
            "usable": self.usable,
            "summary": self.summary(),
        }

    def save(self, path: Path) -> None:
        """Keep the report beside the index (atomically; a failure to write it is logged, not fatal)."""
        try:
            folder.write_atomic(path, json.dumps(self.as_json(), ensure_ascii=False, indent=1).encode())
        except OSError as exc:
            logger.warning("cannot write the ingest report %s: %s", path, exc)


class ProgressBar:
    """The embedding progress bar (tqdm) that also tells a listener how far it got."""

    def __init__(self, bar: Any, listener: Progress | None, total: int) -> None:
        self.bar = bar
        self.listener = listener
        self.total = total
        self.done = 0

    def update(self, n: int) -> None:
        self.bar.update(n)
        self.done += n
        if self.listener is not None:
            self.listener("embed", self.done, self.total, "")

    def close(self) -> None:
        self.bar.close()
