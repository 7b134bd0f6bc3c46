"""Chroma: a local PersistentClient under ``<data>/chroma`` or an HttpClient to a ``chroma run`` server.

The index lives in two collections, ``<name>__blue`` and ``<name>__green``. Ingest
writes to the one not being served, then flips a pointer kept in the metadata of
``<name>__meta`` (one atomic row update). Readers follow the pointer, so a killed
ingest never changes what residents are served. Keeping the pointer inside Chroma
means every bot worker that talks to the same server sees the same version.

Collections are always created without an embedding function: vectors come from
:mod:`bot.embeddings`, never from Chroma's default (which would download a model).
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from bot.config import Settings
from bot.errors import StoreUnavailableError, UserError, data_fault

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

logger = logging.getLogger(__name__)

SIDES = ("blue", "green")
# What a side holds. 2: article-aware chunks with their keyword words, and a second collection of
# answer-unit vectors (``<side>__units``). An index of another layout is served by nobody: ingest again.
LAYOUT = 2
HNSW = {"hnsw": {"space": "cosine", "ef_search": 100}}


@dataclass(frozen=True)
class Pointer:
    """Which side is served, and what it holds."""

    active: str  # full collection name
    version: int
    ingested_at: str  # ISO 8601, local time with offset
    model: str
    documents: int
    chunks: int
    units: int = 0
    layout: int = 1  # see LAYOUT (pointers written before layouts were numbered are 1)

    @classmethod
    def from_metadata(cls, meta: dict[str, Any] | None) -> Pointer | None:
        if not meta or "active" not in meta:
            return None
        return cls(
            active=str(meta["active"]),
            version=int(meta.get("version", 0)),
            ingested_at=str(meta.get("ingested_at", "")),
            model=str(meta.get("model", "")),
            documents=int(meta.get("documents", 0)),
            chunks=int(meta.get("chunks", 0)),
            units=int(meta.get("units", 0)),
            layout=int(meta.get("layout", 1)),
        )

    def as_metadata(self) -> dict[str, Any]:
        return {
            "active": self.active,
            "version": self.version,
            "ingested_at": self.ingested_at,
            "model": self.model,
            "documents": self.documents,
            "chunks": self.chunks,
            "units": self.units,
            "layout": self.layout,
        }


def store_id(settings: Settings) -> str:
    """Names the store in local bookkeeping, so a local and a server index never share records."""
    return settings.store.url.rstrip("/") if settings.store.url else "local"


def open_client(settings: Settings) -> ClientAPI:
    """A Chroma client for ``settings``; raises a clear error when the server is down."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    url = settings.store.url
    if url:
        parsed = urlparse(url if "://" in url else f"http://{url}")
        if not parsed.hostname:
            raise UserError(f"CHROMA_URL / store.url 无效: {url!r}（示例: http://127.0.0.1:8000）")
        try:
            client = chromadb.HttpClient(
                host=parsed.hostname,
                port=parsed.port or (443 if parsed.scheme == "https" else 8000),
                ssl=parsed.scheme == "https",
                settings=chroma_settings,
            )
            client.heartbeat()
        except Exception as exc:
            raise StoreUnavailableError(
                f"无法连接 Chroma 服务器 {url}: {exc} 请确认服务器已启动"
                "（chroma run --path DIR --host HOST --port PORT），或检查 CHROMA_URL / [store] url。"
            ) from None
        return client
    path = settings.data_dir / "chroma"
    try:
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
    except Exception as exc:
        fault = data_fault(exc, settings.data_dir)  # a full disk must not be answered with "delete it"
        if fault is not None:
            raise fault from None
        raise UserError(
            f"无法打开本地向量库 {path}: {exc}。请检查目录权限，或删除该目录后重新导入。"
        ) from None


def side_name(settings: Settings, side: str) -> str:
    return f"{settings.store.collection}__{side}"


def units_name(side: str) -> str:
    """The collection of a side's answer-unit vectors."""
    return f"{side}__units"


def meta_name(settings: Settings) -> str:
    return f"{settings.store.collection}__meta"


def read_pointer(client: ClientAPI, settings: Settings) -> Pointer | None:
    from chromadb.errors import NotFoundError

    try:
        meta = client.get_collection(meta_name(settings), embedding_function=None).metadata
    except (NotFoundError, ValueError):
        return None
    return Pointer.from_metadata(dict(meta) if meta else None)


def write_pointer(client: ClientAPI, settings: Settings, pointer: Pointer) -> None:
    collection = client.get_or_create_collection(meta_name(settings), embedding_function=None)
    collection.modify(metadata=pointer.as_metadata())


def inactive_side(pointer: Pointer | None, settings: Settings) -> str:
    if pointer is not None and pointer.active == side_name(settings, SIDES[0]):
        return side_name(settings, SIDES[1])
    return side_name(settings, SIDES[0])


def get_collection(client: ClientAPI, name: str) -> Collection:
    return client.get_or_create_collection(name, embedding_function=None, configuration=HNSW)  # type: ignore[arg-type]


MODEL_KEY = "embedding_model"


def side_model(client: ClientAPI, name: str) -> str | None:
    """The embedding model a side was last written with (None when unknown or absent)."""
    from chromadb.errors import NotFoundError

    try:
        collection = client.get_collection(name, embedding_function=None)
    except (NotFoundError, ValueError):
        return None
    value = (collection.metadata or {}).get(MODEL_KEY)
    return str(value) if value else None


def drop_collection(client: ClientAPI, name: str) -> None:
    from chromadb.errors import NotFoundError

    with contextlib.suppress(NotFoundError, ValueError):
        client.delete_collection(name)


def fetch_all(
    collection: Collection, batch: int = 5000
) -> tuple[list[str], list[str], list[dict[str, Any]], Any]:
    """Every (id, document, metadata) of a collection and its vectors (a float32 matrix, one row
    each), paged so large indexes do not time out."""
    import numpy as np

    ids: list[str] = []
    docs: list[str] = []
    metas: list[dict[str, Any]] = []
    rows: list[Any] = []
    offset = 0
    while True:
        got = collection.get(include=["documents", "metadatas", "embeddings"], limit=batch, offset=offset)  # type: ignore[list-item]
        ids += got["ids"]
        docs += [d or "" for d in got["documents"] or []]
        metas += [dict(m or {}) for m in got["metadatas"] or []]
        vectors = got["embeddings"]
        if vectors is not None and len(vectors):
            rows.append(np.asarray(vectors, dtype=np.float32))
        if len(got["ids"]) < batch:
            return ids, docs, metas, (np.vstack(rows) if rows else np.zeros((0, 0), dtype=np.float32))
        offset += batch


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")
