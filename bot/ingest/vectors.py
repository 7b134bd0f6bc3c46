"""Writing vectors: the embedding cache, the model call counter, and one collection of a side.

* :class:`IngestDB`: the manifest and the vector cache, in ``<data>/index.sqlite`` or the shared
  database (``DATABASE_URL``); :class:`DatabaseByteStore` is LangChain's byte-store interface over it;
  with :class:`CacheBackedEmbeddings` it is the vector cache keyed by content hash, so a text embedded
  once (on either side, in any earlier ingest, on any machine) never costs a model call again.
* :class:`CountingEmbeddings`: loads the model only when some text really needs embedding, counts
  those texts and drives the progress bar.
* :class:`SideCollection`: one Chroma collection of the side being written (the chunks, or the
  answer units) with its record manager: LangChain's ``index`` brings it in line with the given
  documents (cleanup "full"), a half-written collection left by a killed ingest is reset first,
  and the count is verified after writing.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.stores import ByteStore
from sqlalchemy import delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DatabaseError

from bot import index_store, staff_messages
from bot.config import Settings
from bot.errors import UserError
from bot.ingest.loaders import is_vector_bytes
from bot.state import schema

if TYPE_CHECKING:
    from chromadb.api import ClientAPI

logger = logging.getLogger(__name__)

STATE_DB = "index.sqlite"  # the ingest state database in the data folder


class IngestDB:
    """The ingest's bookkeeping: the manifest of what each side holds and the vector cache, in
    ``<data>/index.sqlite`` or, with ``DATABASE_URL``, the shared database (any machine may ingest)."""

    def __init__(self, settings: Settings) -> None:
        path = settings.data_dir / STATE_DB
        self.url = settings.database_url or schema.sqlite_url(path)
        self.where = schema.redacted(self.url) if settings.database_url else str(path)
        self.engine = schema.engine(self.url, wal=False)
        try:
            with self.engine.begin() as conn:
                schema.create_ingest_tables(conn)
        except DatabaseError as exc:
            if settings.database_url:
                raise
            raise UserError(
                f"索引状态数据库 {path} 已损坏或无法写入（{exc.orig}）。请删除该文件后运行 `python ingest.py --rebuild`。"
            ) from None

    def _insert(self, table: Any) -> Any:
        return (postgresql.insert if schema.is_postgres(self.url) else sqlite.insert)(table)

    def manifest(self, key: str) -> dict[str, tuple[str, int]]:
        """path -> (sha256, chunks served) for every file the last ingest of ``key`` saw."""
        m = schema.manifest.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(m.path, m.sha256, m.chunks).where(m.collection == key))
            return {path: (sha, n) for path, sha, n in rows}

    def write_manifest(self, key: str, files: dict[str, tuple[str, int]]) -> None:
        rows = [{"collection": key, "path": p, "sha256": sha, "chunks": n} for p, (sha, n) in files.items()]
        with self.engine.begin() as conn:
            conn.execute(delete(schema.manifest).where(schema.manifest.c.collection == key))
            if rows:
                conn.execute(insert(schema.manifest), rows)

    def clear_cache(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(schema.embedding_cache))

    def byte_store(self) -> DatabaseByteStore:
        return DatabaseByteStore(self)


class DatabaseByteStore(ByteStore):
    """A LangChain byte store in the ingest database (used as the embedding cache)."""

    def __init__(self, db: IngestDB) -> None:
        self.db = db

    def mget(self, keys: Sequence[str]) -> list[bytes | None]:
        c = schema.embedding_cache.c
        found: dict[str, bytes] = {}
        with self.db.engine.connect() as conn:
            for start in range(0, len(keys), 500):
                part = list(keys[start : start + 500])
                found.update(
                    (k, bytes(v)) for k, v in conn.execute(select(c.key, c.value).where(c.key.in_(part)))
                )
        if not all(is_vector_bytes(v) for v in found.values()):  # else a traceback deep in LangChain
            raise UserError(staff_messages.CACHE_DAMAGED.format(path=self.db.where))
        return [found.get(k) for k in keys]

    def mset(self, key_value_pairs: Sequence[tuple[str, bytes]]) -> None:
        if not key_value_pairs:
            return
        upsert = self.db._insert(schema.embedding_cache)
        upsert = upsert.on_conflict_do_update(index_elements=["key"], set_={"value": upsert.excluded.value})
        with self.db.engine.begin() as conn:
            conn.execute(upsert, [{"key": k, "value": v} for k, v in key_value_pairs])

    def mdelete(self, keys: Sequence[str]) -> None:
        with self.db.engine.begin() as conn:
            conn.execute(delete(schema.embedding_cache).where(schema.embedding_cache.c.key.in_(list(keys))))

    def yield_keys(self, *, prefix: str | None = None) -> Iterator[str]:
        c = schema.embedding_cache.c
        with self.db.engine.connect() as conn:
            keys = [k for (k,) in conn.execute(select(c.key).where(c.key.startswith(prefix or "")))]
        yield from keys


class CountingEmbeddings(Embeddings):
    """Loads the model only when a passage really needs it; counts those and drives the progress bar."""

    def __init__(self, settings: Settings, progress: Any = None) -> None:
        self.settings = settings
        self.count = 0
        self.progress = progress

    @property
    def inner(self) -> Embeddings:
        from bot.embeddings import load_embedder

        return load_embedder(self.settings.embedding, self.settings.data_dir)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        vectors = self.inner.embed_documents(texts)
        self.count += len(texts)
        if self.progress is not None:
            self.progress.update(len(texts))
        return vectors

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)


@dataclass
class SideCollection:
    """One collection of the side being written, with the record manager that tracks it."""

    name: str
    namespace: str
    settings: Settings

    @functools.cached_property
    def records(self) -> Any:
        from langchain_classic.indexes import SQLRecordManager

        db = IngestDB(self.settings)
        manager = SQLRecordManager(self.namespace, engine=db.engine)
        manager.create_schema()
        return manager

    def reset(self, client: ClientAPI) -> None:
        index_store.drop_collection(client, self.name)
        keys = self.records.list_keys()
        if keys:
            self.records.delete_keys(keys)

    def write(self, client: ClientAPI, db: IngestDB, counting: Embeddings, docs: list[Document]) -> int:
        """Bring the collection in line with ``docs`` (LangChain's index, cleanup "full"); verify the count."""
        from langchain_chroma import Chroma
        from langchain_classic.embeddings import CacheBackedEmbeddings
        from langchain_core.indexing import index

        from bot.embeddings import model_id

        if index_store.get_collection(client, self.name).count() != len(self.records.list_keys()):
            # A killed ingest left this side half-written; start it over (the cache keeps this cheap).
            logger.warning("collection %s is out of step with its records; resetting it", self.name)
            self.reset(client)
        cached = CacheBackedEmbeddings.from_bytes_store(
            counting, db.byte_store(), namespace=model_id(self.settings.embedding), key_encoder="sha256"
        )
        vector_store = Chroma(
            client=client,
            collection_name=self.name,
            embedding_function=cached,
            collection_configuration=index_store.HNSW,  # type: ignore[arg-type]
        )
        index(
            docs,
            self.records,
            vector_store,
            cleanup="full",
            source_id_key="path",
            batch_size=256,
            key_encoder="sha256",
        )
        count = index_store.get_collection(client, self.name).count()
        unique = len({_doc_key(d) for d in docs})
        if count != unique:
            raise UserError(
                f"写入后校验失败: 集合 {self.name} 有 {count} 条，应为 {unique} 条。请重新运行导入。"
            )
        return count


def _doc_key(doc: Document) -> tuple[str, str]:
    return doc.page_content, repr(sorted(doc.metadata.items()))
