"""Ingest: knowledge folder → chunks → vectors in Chroma, incremental, idempotent and atomic.

How the pieces fit:

* LangChain's indexing API (:func:`langchain_core.indexing.index`) with a
  :class:`SQLRecordManager` decides which chunks to add and which to delete
  (``cleanup="full"``): unchanged chunks are skipped, chunks of deleted files go.
* It writes to the collection that is *not* being served (see :mod:`bot.index_store`);
  only when that collection is complete does the pointer flip. A ``kill -9`` at any
  moment leaves the served collection untouched; the next ingest finds the record
  manager and the collection out of step, resets that side and completes.
* Vectors go through :class:`CacheBackedEmbeddings` keyed by content hash, so a
  chunk that is already embedded on the other side, or was before, costs no model call.
* Every chunk is also cut into answer units (:mod:`bot.ingest.units`), embedded into the side's
  second collection (``<side>__units``) the same way, with its own record-manager namespace; both
  collections are complete before the pointer flips.
* Across files: which texts are superseded by newer ones (:mod:`bot.ingest.currency`), which
  sentences state a standards figure the block has changed (warned, and never quoted).
* One ingest at a time: per data folder (an exclusive ``flock``), or, with a PostgreSQL
  ``DATABASE_URL``, per Chroma store on every machine (an advisory lock in that database).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import logging
import os
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.documents import Document

from bot import folder, index_store, staff_messages
from bot.chinese import segment
from bot.chinese.normalize import BUILTIN_SYNONYMS, read_lexicon
from bot.config import Settings
from bot.errors import IngestBusyError, SkipFile, UserError
from bot.ingest import currency, units
from bot.ingest.chunking import chunk_document
from bot.ingest.loaders import (
    check_chunk_count,
    file_sha256,
    knowledge_files,
    load_file,
    read_knowledge_bytes,
)
from bot.ingest.report import IngestReport, Progress, ProgressBar
from bot.ingest.vectors import STATE_DB, CountingEmbeddings, IngestDB, SideCollection
from bot.records import Chunk, FileMeta
from bot.state import schema

if TYPE_CHECKING:
    from chromadb.api import ClientAPI

logger = logging.getLogger(__name__)


@dataclass
class FileResult:
    path: str
    sha256: str
    chunks: list[Document] = field(default_factory=list)
    skipped: str = ""  # reason, when the file could not be ingested
    warnings: list[str] = field(default_factory=list)  # ingested, but staff should look
    meta: FileMeta | None = None  # what the loaded file says about itself (None when skipped)
    info: currency.DocInfo | None = None  # what the currency check needs of the loaded document


# --- state: the lock, the manifest of what each side holds, the embedding cache -----------------


@contextlib.contextmanager
def ingest_lock(data_dir: Path, database_url: str = "", store: str = "local") -> Iterator[None]:
    """Hold the ingest lock, or refuse at once with a clear message.

    With a PostgreSQL ``database_url`` the lock is an advisory lock in that database (per Chroma
    store), so a second ingest on any machine refuses; it goes with the connection if the holder
    dies. Otherwise an exclusive ``flock`` on ``<data>/ingest.lock``.
    """
    if database_url and schema.is_postgres(database_url):
        with _database_lock(database_url, store):
            yield
        return
    path = data_dir / "ingest.lock"
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        handle = path.open("a+")
    except OSError as exc:
        raise UserError(
            f"无法使用数据目录 {data_dir}（{exc.strerror or exc}）。请换一个可写的目录（--data DIR），或检查权限和磁盘空间。"
        ) from None
    with handle as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IngestBusyError(staff_messages.INGEST_BUSY.format(lock=path)) from None
        f.truncate(0)
        f.write(f"{os.getpid()}\n")
        f.flush()
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


@contextlib.contextmanager
def _database_lock(url: str, store: str) -> Iterator[None]:
    from sqlalchemy import text

    key = schema.advisory_key(f"ingest:{store}")
    with schema.engine(url, wal=False).connect() as conn:
        if not conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
            raise IngestBusyError(staff_messages.INGEST_BUSY_SHARED.format(url=schema.redacted(url)))
        conn.commit()
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            conn.commit()


# --- reading the folder ------------------------------------------------------------------------------


def read_folder(
    settings: Settings, progress: bool = True, listener: Progress | None = None
) -> list[FileResult]:
    """Load and chunk every knowledge file; broken files come back with a reason instead of chunks."""
    root = settings.knowledge_dir
    if not root.is_dir():
        raise UserError(staff_messages.INGEST_NO_KNOWLEDGE.format(path=root))
    files = knowledge_files(root)
    limits = settings.ingest_limits
    results: list[FileResult] = []
    # The bureau's own synonyms are words too: segment chunks as the bot will segment questions.
    segment.add_words(read_lexicon([BUILTIN_SYNONYMS, root / settings.knowledge.synonyms_file]).canonical)
    for n, path in enumerate(_progress(files, "读取文件", "个", progress)):
        rel = path.relative_to(root).as_posix()
        if listener is not None:
            listener("read", n, len(files), rel)
        try:  # refuses links out of the folder, the data folder, /proc, /etc, and files over the limit
            data = read_knowledge_bytes(path, root, limits, forbidden=(settings.data_dir,))
        except SkipFile as exc:
            results.append(FileResult(rel, "", skipped=exc.reason))
            continue
        result = FileResult(rel, folder.content_hash(data, path))
        try:
            doc = load_file(
                path, root, limits, data=data, chunk_chars=settings.chunking.max_chars, ocr=settings.ocr
            )
            result.meta = FileMeta.from_meta(doc.metadata)
            result.chunks = [_with_words(c) for c in chunk_document(doc, settings.chunking)]
            check_chunk_count(len(result.chunks), limits)
            result.info = currency.DocInfo.of(result.meta, doc.page_content)
            if not result.chunks:
                result.skipped = staff_messages.SKIP_NO_CHUNKS
            elif FileMeta.from_meta(doc.metadata).standards is not None:
                result.warnings = _attach_standards(doc, result.chunks)
        except SkipFile as exc:
            result.skipped = exc.reason
        except Exception as exc:  # a loader bug must not stop the whole ingest
            logger.exception("unexpected error loading %s", rel)
            result.skipped = staff_messages.SKIP_UNREADABLE.format(detail=type(exc).__name__)
        results.append(result)
    served = [r for r in results if not r.skipped]
    found = currency.superseded([r.info for r in served if r.info is not None])
    currency.mark({r.path: r.chunks for r in served}, found)
    standards = units.standards_of(c for r in served for c in r.chunks)
    for r in served:
        for unit in units.stale_units(r.chunks, standards):
            r.warnings.append(
                staff_messages.INGEST_STALE_FIGURE.format(text=unit.text[:40], detail=unit.stale)
            )
    return results


def _with_words(chunk: Document) -> Document:
    """The chunk with its keyword-search words, segmented once here instead of in every worker."""
    meta = Chunk.from_meta(chunk.metadata)
    words = " ".join(segment.words(segment.keyword_text(chunk.page_content)))
    return Document(
        page_content=chunk.page_content, metadata=dataclasses.replace(meta, words=words).as_meta()
    )


def _attach_standards(doc: Document, chunks: list[Document]) -> list[str]:
    """Validate a ``standards`` block and carry it (as JSON) on the document's first chunk.

    A malformed block makes the whole file a skip, so the previous, valid version keeps serving.
    """
    from bot.services.standards import StandardsError, cross_check, parse

    try:
        standards = parse(FileMeta.from_meta(doc.metadata).standards)
    except StandardsError as exc:
        raise SkipFile(staff_messages.SKIP_BAD_STANDARDS.format(detail=exc)) from None
    chunks[0].metadata["standards"] = standards.to_json()
    return cross_check(standards, doc.page_content)


def _progress(items: Sequence[Any], desc: str, unit: str, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit=unit, disable=not enabled, file=sys.stderr, leave=False)


def compare(results: list[FileResult], previous: dict[str, tuple[str, int]], report: IngestReport) -> None:
    seen = set()
    for r in results:
        seen.add(r.path)
        report.warnings += [(r.path, w) for w in r.warnings]
        if r.skipped:
            report.skipped.append((r.path, r.skipped))
        elif r.path not in previous:
            report.added.append(r.path)
        elif previous[r.path][0] != r.sha256:
            report.updated.append(r.path)
        else:
            report.unchanged.append(r.path)
    report.removed = sorted(set(previous) - seen)


# --- the ingest ------------------------------------------------------------------------------------------


def ingest(
    settings: Settings,
    *,
    rebuild: bool = False,
    dry_run: bool = False,
    progress: bool = True,
    listener: Progress | None = None,
) -> IngestReport:
    """Bring the served index in line with the knowledge folder. Returns what changed, file by file.

    ``listener(stage, done, total, path)`` hears of every file read and every batch embedded; a
    real ingest also keeps its report in ``<data>/last-ingest.json`` (the staff console reads it).
    """
    started = time.perf_counter()
    report = IngestReport(dry_run=dry_run)
    with ingest_lock(settings.data_dir, settings.database_url, index_store.store_id(settings)):
        db = IngestDB(settings)
        results = read_folder(settings, progress, listener)
        if not results:
            raise UserError(staff_messages.INGEST_NOTHING.format(path=settings.knowledge_dir))
        client = index_store.open_client(settings)
        pointer = index_store.read_pointer(client, settings)
        sid = index_store.store_id(settings)
        previous = db.manifest(f"{sid}/{pointer.active}") if pointer else {}
        compare(results, previous, report)
        report.describe(results)
        if dry_run:
            report.chunks = sum(len(r.chunks) for r in results)
            report.usable = pointer is not None
            return report
        _write(
            settings,
            db,
            client,
            pointer,
            previous,
            results,
            report,
            rebuild=rebuild,
            progress=progress,
            listener=listener,
        )
    report.seconds = time.perf_counter() - started
    report.save(settings.data_dir / folder.LAST_REPORT)
    return report


def _write(
    settings: Settings,
    db: IngestDB,
    client: ClientAPI,
    pointer: index_store.Pointer | None,
    previous: dict[str, tuple[str, int]],
    results: list[FileResult],
    report: IngestReport,
    *,
    rebuild: bool,
    progress: bool,
    listener: Progress | None = None,
) -> None:
    from bot.embeddings import model_id

    mid = model_id(settings.embedding)
    sid = index_store.store_id(settings)
    target = index_store.inactive_side(pointer, settings)
    sides = [
        SideCollection(target, f"{sid}/{target}", settings),
        SideCollection(index_store.units_name(target), f"{sid}/{target}/units", settings),
    ]

    built_with = index_store.side_model(client, target)
    stale_model = built_with is not None and built_with != mid
    unknown_model = built_with is None and pointer is not None and pointer.model != mid
    if rebuild or stale_model or unknown_model:
        # Only the side being written starts over: the served side keeps answering until the flip,
        # and a new model (new vector dimensions) reaches the other side on the ingest after.
        logger.info("resetting %s (rebuild=%s, model %s -> %s)", target, rebuild, built_with, mid)
        for side in sides:
            side.reset(client)
        if rebuild:
            db.clear_cache()

    docs = [chunk for r in results if not r.skipped for chunk in r.chunks]
    docs += _carry_forward(client, pointer, results, previous, report)
    if not docs:
        report.usable = pointer is not None
        return
    unit_docs = units.unit_documents(docs, units.standards_of(docs))

    bar = ProgressBar(
        _progress_bar(len(docs) + len(unit_docs), progress), listener, len(docs) + len(unit_docs)
    )
    counting = CountingEmbeddings(settings, bar)
    count, unit_count = (
        side.write(client, db, counting, batch) for side, batch in zip(sides, (docs, unit_docs), strict=True)
    )
    bar.close()
    index_store.get_collection(client, target).modify(metadata={index_store.MODEL_KEY: mid})

    # Every file seen, with the chunks it serves (a broken file serves its previous version, or nothing).
    kept = set(report.kept_previous)
    files = {r.path: (r.sha256, len(r.chunks) if not r.skipped else int(r.path in kept)) for r in results}
    db.write_manifest(f"{sid}/{target}", files)
    index_store.write_pointer(
        client,
        settings,
        index_store.Pointer(
            active=target,
            version=(pointer.version + 1) if pointer else 1,
            ingested_at=index_store.now_iso(),
            model=mid,
            documents=sum(1 for _, n in files.values() if n),
            chunks=count,
            units=unit_count,
            layout=index_store.LAYOUT,
        ),
    )
    report.chunks = count
    report.units = unit_count
    report.embedded = counting.count


def _progress_bar(total: int, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(
        total=total,
        desc="计算向量（已缓存的不重复计算）",
        unit="段",
        disable=not enabled,
        file=sys.stderr,
        leave=False,
    )


def _carry_forward(
    client: ClientAPI,
    pointer: index_store.Pointer | None,
    results: list[FileResult],
    previous: dict[str, tuple[str, int]],
    report: IngestReport,
) -> list[Document]:
    """Chunks of files that are broken now but were served before stay served (and are reported)."""
    if pointer is None:
        return []
    wanted = sorted(r.path for r in results if r.skipped and previous.get(r.path, ("", 0))[1] > 0)
    if not wanted:
        return []
    collection = index_store.get_collection(client, pointer.active)
    got = collection.get(where={"path": {"$in": wanted}}, include=["documents", "metadatas"])  # type: ignore[list-item, dict-item]
    docs = [
        Document(page_content=d or "", metadata=dict(m or {}))
        for d, m in zip(got["documents"] or [], got["metadatas"] or [], strict=True)
    ]
    report.kept_previous = sorted({Chunk.from_meta(d.metadata).path for d in docs})
    return docs


def is_stale(settings: Settings) -> bool:
    """True when the served index is missing or differs from the knowledge folder (no model needed)."""
    try:
        client = index_store.open_client(settings)
    except UserError:
        return True
    pointer = index_store.read_pointer(client, settings)
    if pointer is None or pointer.layout != index_store.LAYOUT:
        return True
    if not settings.database_url and not (settings.data_dir / STATE_DB).exists():
        return True
    manifest = IngestDB(settings).manifest(f"{index_store.store_id(settings)}/{pointer.active}")
    root = settings.knowledge_dir
    current = {  # what read_folder would record: "" for a file it refuses to read
        p.relative_to(root).as_posix(): file_sha256(p, root, settings.ingest_limits, (settings.data_dir,))
        for p in knowledge_files(root)
    }
    return current != {p: sha for p, (sha, _) in manifest.items()}
