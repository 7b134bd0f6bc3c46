"""Ingest from anywhere: with the same ``CHROMA_URL`` + ``DATABASE_URL`` the manifest, vector cache,
record manager and lock are shared, so a second data folder sees the first one's ingest, and a second
ingest while one runs refuses in one line, whichever machine (data folder) it starts from."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.config import Settings
from bot.index_store import store_id
from bot.ingest.indexing import STATE_DB, ingest_lock
from bot.testing.chroma import CHROMA, ChromaServer
from bot.testing.postgres import PostgresCluster, seed_vector_cache
from tests.helpers.knowledge import KnowledgeBase, run_cli

pytestmark = pytest.mark.skipif(not CHROMA.exists(), reason="the chroma CLI is not installed in .venv")


@pytest.fixture
def chroma(tmp_path: Path) -> Iterator[str]:
    server = ChromaServer(tmp_path / "chroma-db").start()
    try:
        yield server.url
    finally:
        server.stop()


def test_two_data_folders_share_one_index_and_one_lock(
    ingested: KnowledgeBase,
    postgres: PostgresCluster,
    chroma: str,
    knowledge_copy: Path,
    make_data_dir: Callable[..., Path],
) -> None:
    url = postgres.new_database()
    assert seed_vector_cache(ingested.data / STATE_DB, url) > 0
    env = {"CHROMA_URL": chroma, "DATABASE_URL": url}
    first, second = make_data_dir(), make_data_dir()
    settings: Settings = dataclasses.replace(
        ingested.settings, store=dataclasses.replace(ingested.settings.store, url=chroma)
    )

    with ingest_lock(second, url, store_id(settings)):  # an ingest elsewhere holds the lock
        refused = run_cli("ingest.py", "--knowledge", knowledge_copy, "--data", first, "--quiet", env=env)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and "另一个导入正在使用同一个数据库" in lines[0], refused.stderr
    assert "postgres@127.0.0.1" in lines[0]

    done = run_cli("ingest.py", "--knowledge", knowledge_copy, "--data", first, "--quiet", env=env)
    assert done.returncode == 0, done.stderr
    assert not (first / STATE_DB).exists()  # the bookkeeping went to the shared database
    # Another machine (data folder) finds the index current: nothing to add, update or delete.
    again = run_cli("ingest.py", "--knowledge", knowledge_copy, "--data", second, "--quiet", env=env)
    assert again.returncode == 0, again.stderr
    assert "新增 0，更新 0，删除 0" in again.stdout

    # While one ingest really runs, a second one from the other folder refuses.
    (knowledge_copy / "新增办事指南.md").write_text(
        "# 新增办事指南\n\n社区服务站每周一上午开放，办理临时救助咨询。\n", encoding="utf-8"
    )
    with ingest_lock(first, url, store_id(settings)):
        busy = run_cli("ingest.py", "--knowledge", knowledge_copy, "--data", second, "--quiet", env=env)
    assert busy.returncode == 1 and "另一个导入" in busy.stderr
    added = run_cli("ingest.py", "--knowledge", knowledge_copy, "--data", second, "--quiet", env=env)
    assert added.returncode == 0, added.stderr
    assert "新增 1" in added.stdout
