"""Writing vectors: the embedding cache, the model call counter, and one collection of a side.

* :class:`SqliteByteStore`: LangChain's byte-store interface over the ingest state database; with
  :class:`CacheBackedEmbeddings` it is the vector cache keyed by content hash, so a text embedded
  once (on either side, in any earlier ingest) never costs a model call again.
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
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.stores import ByteStore

from bot import index_store, staff_messages
from bot.config import Settings
from bot.errors import UserError
from bot.ingest.loaders import is_vector_bytes

if TYPE_CHECKING:
    from chromadb.api import ClientAPI

logger = logging.getLogger(__name__)

STATE_DB = "index.sqlite"  # the ingest state database in the data folder


class SqliteByteStore(ByteStore):
    """A LangChain byte store in the ingest state database (used as the embedding cache)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def mget(self, keys: Sequence[str]) -> list[bytes | None]:
        found: dict[str, bytes] = {}
        for start in range(0, len(keys), 500):
            part = list(keys[start : start + 500])
            marks = ",".join("?" * len(part))
            found.update(
                self.conn.execute(f"SELECT key, value FROM embedding_cache WHERE key IN ({marks})", part)
            )
        if not all(is_vector_bytes(v) for v in found.values()):  # else a traceback deep in LangChain
            path = self.conn.execute("PRAGMA database_list").fetchone()[2]
            raise UserError(staff_messages.CACHE_DAMAGED.format(path=path))
        return [found.get(k) for k in keys]

    def mset(self, key_value_pairs: Sequence[tuple[str, bytes]]) -> None:
        with self.conn:
            self.conn.executemany("INSERT OR REPLACE INTO embedding_cache VALUES (?, ?)", key_value_pairs)

    def mdelete(self, keys: Sequence[str]) -> None:
        with self.conn:
            self.conn.executemany("DELETE FROM embedding_cache WHERE key = ?", [(k,) for k in keys])

    def yield_keys(self, *, prefix: str | None = None) -> Iterator[str]:
        rows = self.conn.execute("SELECT key FROM embedding_cache WHERE key LIKE ?", (f"{prefix or ''}%",))
        for (key,) in rows:
            yield key


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

        manager = SQLRecordManager(self.namespace, db_url=f"sqlite:///{self.settings.data_dir / STATE_DB}")
        manager.create_schema()
        return manager

    def reset(self, client: ClientAPI) -> None:
        index_store.drop_collection(client, self.name)
        keys = self.records.list_keys()
        if keys:
            self.records.delete_keys(keys)

    def write(
        self, client: ClientAPI, conn: sqlite3.Connection, counting: Embeddings, docs: list[Document]
    ) -> int:
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
            counting, SqliteByteStore(conn), namespace=model_id(self.settings.embedding), key_encoder="sha256"
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
