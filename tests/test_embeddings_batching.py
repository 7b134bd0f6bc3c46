"""Micro-batching of concurrent query embeddings (``bot.embeddings.QueryBatcher``), with the real model.

Bursts are made deterministic without timing: the first ``encode`` of a burst is held until every
other caller has queued, so the rest must share the following encodes. Questions of similar length
share an encode; a much longer one is not padded into a batch of short ones.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot.config import EmbeddingSettings
from bot.embeddings import QueryBatcher, SentenceEmbedder, load_embedder
from tests.helpers.knowledge import new_data_dir

QUESTIONS = [
    "办理结婚登记需要带哪些材料？",
    "离婚冷静期是多少天？",
    "低保怎么申请？",
    "我身份证唔见咗，下个礼拜就约咗去登记结婚，仲嚟唔嚟得切？要点搞？",
    "临时救助找谁申请？",
    "老年助餐补贴一天能用几次？",
    "我跟前妻分居都五六年了，一直没去办离婚手续，现在想跟女朋友去领证，登记处会给我们办吗？",
    "长者饭堂在哪里？",
    "低保边缘家庭是什么意思？",
    "补领结婚证要带什么？",
    "支出型困难家庭怎么认定？",
    "火星移民补贴怎么申请？",
]
SIMILAR = [f"第{i:02d}个问题：低保怎么申请？" for i in range(12)]  # all the same length
WAIT = 60.0  # generous bound for waits that only a deadlock would exceed


class CountingModel:
    """Wraps the loaded model: counts ``encode`` calls and their sizes, can hold the first one or fail."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.prompts = getattr(model, "prompts", {})
        self.sizes: list[int] = []
        self.hold_first: Callable[[], None] | None = None
        self.fail_on: set[int] = set()  # 1-based numbers of the encode calls that raise

    def get_embedding_dimension(self) -> int | None:
        return int(self.model.get_embedding_dimension())

    def encode(self, texts: list[str], **kwargs: Any) -> Any:
        self.sizes.append(len(texts))
        if len(self.sizes) == 1 and self.hold_first is not None:
            self.hold_first()
        if len(self.sizes) in self.fail_on:
            raise RuntimeError(f"encode {len(self.sizes)} failed")
        return self.model.encode(texts, **kwargs)


@pytest.fixture(scope="module")
def real_model(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The session's loaded sentence-transformers model (shared, never modified here)."""
    data = new_data_dir(tmp_path_factory.mktemp("batching"), model_dir)
    return load_embedder(EmbeddingSettings(), data).model


def counting_embedder(real_model: Any, batch_size: int = 32) -> tuple[SentenceEmbedder, CountingModel]:
    """A fresh embedder (its own batcher) over the shared model, with encode calls counted."""
    counting = CountingModel(real_model)
    settings = EmbeddingSettings(batch_size=batch_size)
    return SentenceEmbedder(counting, "counting", settings), counting  # type: ignore[arg-type]


def hold_until_queued(batcher: QueryBatcher, n: int) -> Callable[[], None]:
    """A hook that blocks until ``n`` texts wait in ``batcher``'s queue."""

    def hold() -> None:
        deadline = time.monotonic() + WAIT
        while batcher.pending < n:
            if time.monotonic() > deadline:
                raise AssertionError(f"only {batcher.pending} of {n} callers queued")
            time.sleep(0.005)

    return hold


def burst(embed: Callable[[str], list[float]], texts: Sequence[str]) -> list[list[float] | BaseException]:
    """Call ``embed`` once per text, all from their own threads at once; results (or errors) in order."""
    out: list[list[float] | BaseException | None] = [None] * len(texts)

    def call(i: int) -> None:
        try:
            out[i] = embed(texts[i])
        except BaseException as exc:
            out[i] = exc

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(texts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    assert not any(t.is_alive() for t in threads), "a caller is stuck"
    assert all(r is not None for r in out)
    return out  # type: ignore[return-value]


def test_concurrent_queries_share_encodes_and_match_sequential_vectors(real_model: Any) -> None:
    embedder, counting = counting_embedder(real_model)
    sequential = [embedder.embed_query(q) for q in QUESTIONS]
    assert counting.sizes == [1] * len(QUESTIONS)

    counting.sizes.clear()
    counting.hold_first = hold_until_queued(embedder.queries, len(QUESTIONS) - 1)
    concurrent = burst(embedder.embed_query, QUESTIONS)

    # The first caller encodes alone; those who queued meanwhile share a few encodes (by length).
    assert counting.sizes[0] == 1 and sum(counting.sizes) == len(QUESTIONS)
    assert len(counting.sizes) < len(QUESTIONS) and max(counting.sizes) > 1
    for question, alone, batched in zip(QUESTIONS, sequential, concurrent, strict=True):
        assert not isinstance(batched, BaseException), question
        np.testing.assert_allclose(batched, alone, atol=1e-5, err_msg=question)
    assert embedder.queries.texts == 2 * len(QUESTIONS)
    assert embedder.queries.batches == len(QUESTIONS) + len(counting.sizes)


def test_a_burst_of_similar_questions_takes_two_encodes(real_model: Any) -> None:
    embedder, counting = counting_embedder(real_model)
    counting.hold_first = hold_until_queued(embedder.queries, len(SIMILAR) - 1)
    results = burst(embedder.embed_query, SIMILAR)
    assert counting.sizes == [1, len(SIMILAR) - 1]
    for text, vector in zip(SIMILAR, results, strict=True):
        assert not isinstance(vector, BaseException)
        np.testing.assert_allclose(vector, embedder.embed_query(text), atol=1e-5, err_msg=text)


def test_many_threads_without_a_gate_get_their_own_vectors(real_model: Any) -> None:
    embedder, counting = counting_embedder(real_model)
    texts = QUESTIONS * 3
    expected = {q: embedder.embed_query(q) for q in QUESTIONS}
    results = burst(embedder.embed_query, texts)
    for question, vector in zip(texts, results, strict=True):
        assert not isinstance(vector, BaseException), question
        np.testing.assert_allclose(vector, expected[question], atol=1e-5, err_msg=question)
    assert sum(counting.sizes) == len(QUESTIONS) + len(texts)  # every text encoded exactly once


def test_a_batch_never_exceeds_the_batch_size(real_model: Any) -> None:
    embedder, counting = counting_embedder(real_model, batch_size=4)
    counting.hold_first = hold_until_queued(embedder.queries, 11)
    results = burst(embedder.embed_query, SIMILAR)
    assert not any(isinstance(r, BaseException) for r in results)
    assert counting.sizes == [1, 4, 4, 3]  # first come, first encoded


def test_an_encode_error_reaches_every_caller_of_its_batch_and_later_calls_work(real_model: Any) -> None:
    embedder, counting = counting_embedder(real_model)
    counting.hold_first = hold_until_queued(embedder.queries, len(SIMILAR) - 1)
    counting.fail_on = {2}  # the batch of everyone who queued behind the first caller
    results = burst(embedder.embed_query, SIMILAR)

    assert counting.sizes == [1, len(SIMILAR) - 1]
    errors = [r for r in results if isinstance(r, BaseException)]
    assert len(errors) == len(SIMILAR) - 1  # all but the first caller, who was encoded alone
    assert all(isinstance(e, RuntimeError) and str(e) == "encode 2 failed" for e in errors)

    counting.hold_first = None
    after = burst(embedder.embed_query, QUESTIONS[:3])  # no deadlock, no stale error
    assert not any(isinstance(r, BaseException) for r in after)
    assert embedder.queries.pending == 0


def test_long_questions_are_not_padded_into_a_batch_of_short_ones() -> None:
    batches: list[list[str]] = []
    release = threading.Event()

    def encode(texts: list[str]) -> list[list[float]]:
        batches.append(texts)
        if len(batches) == 1:
            release.wait(WAIT)
        return [[float(len(t))] for t in texts]

    batcher = QueryBatcher(encode, max_batch=32, pad_budget=32)
    short = ["低保怎么申请？", "临时救助找谁？", "长者饭堂在哪里？", "离婚冷静期多久？"]
    long_ = ["我" * 80, "你" * 85]
    order = [short[0], short[1], long_[0], short[2], short[3], long_[1]]  # the queue, oldest first
    results: dict[str, list[float]] = {}
    threads = []
    for n, text in enumerate(order):
        thread = threading.Thread(target=lambda t=text: results.setdefault(t, batcher.embed(t)))
        thread.start()
        threads.append(thread)
        deadline = time.monotonic() + WAIT
        while (len(batches) if n == 0 else batcher.pending) < max(1, n) and time.monotonic() < deadline:
            time.sleep(0.002)  # wait until this caller is encoding (the first) or queued, in order
    release.set()
    for thread in threads:
        thread.join(WAIT)
    assert batches == [[short[0]], [short[1], short[2], short[3]], long_]
    assert all(results[t] == [float(len(t))] for t in order)


def test_an_error_in_a_lone_encode_is_raised_and_the_next_call_works(real_model: Any) -> None:
    embedder, counting = counting_embedder(real_model)
    counting.fail_on = {1}
    with pytest.raises(RuntimeError, match="encode 1 failed"):
        embedder.embed_query(QUESTIONS[0])
    assert len(embedder.embed_query(QUESTIONS[0])) == embedder.dimension


def test_documents_and_queries_still_use_the_model_one_encode_at_a_time(real_model: Any) -> None:
    embedder, counting = counting_embedder(real_model)
    inside = [0]
    most = [0]
    guard = threading.Lock()
    real_encode = counting.encode

    def tracked(texts: list[str], **kwargs: Any) -> Any:
        with guard:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        try:
            return real_encode(texts, **kwargs)
        finally:
            with guard:
                inside[0] -= 1

    counting.encode = tracked  # type: ignore[method-assign]
    documents = threading.Thread(target=embedder.embed_documents, args=(QUESTIONS * 4,))
    documents.start()
    burst(embedder.embed_query, QUESTIONS)
    documents.join(WAIT)
    assert not documents.is_alive()
    assert most[0] == 1


def test_set_threads_sets_torch_threads_and_zero_keeps_the_default() -> None:
    import torch

    from bot.embeddings import set_threads

    before = torch.get_num_threads()
    try:
        set_threads(0)
        assert torch.get_num_threads() == before
        set_threads(1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
