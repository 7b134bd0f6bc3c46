"""Client/server mode: the index in a real ``chroma run`` server on 127.0.0.1 (``CHROMA_URL``).

A session fixture starts ``.venv/bin/chroma run`` on a free port and waits for its heartbeat. The
data folders reuse the embedding cache of the session's ``ingested`` index, so ingesting the sample
knowledge into the server costs no model call. The fault tests start their own server, so killing
it does not disturb the others.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot import messages
from bot.answering.assistant import Assistant
from bot.config import Settings
from bot.ingest.indexing import STATE_DB, ingest
from bot.testing.chroma import CHROMA, ChromaServer
from bot.testing.ports import free_port
from tests.helpers.knowledge import KnowledgeBase, run_cli

QUESTION = "结婚登记要带什么材料？"

pytestmark = pytest.mark.skipif(not CHROMA.exists(), reason="the chroma CLI is not installed in .venv")


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a ``chroma run`` server for the session."""
    server = ChromaServer(tmp_path_factory.mktemp("chroma-server") / "db").start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def warm_data(ingested: KnowledgeBase, make_data_dir: Callable[..., Path]) -> Path:
    """A new data folder whose embedding cache already holds every chunk of the sample knowledge."""
    data = make_data_dir()
    shutil.copy2(ingested.data / STATE_DB, data / STATE_DB)
    return data


def with_url(settings: Settings, url: str) -> Settings:
    return dataclasses.replace(settings, store=dataclasses.replace(settings.store, url=url))


def test_ingest_and_ask_through_chroma_url(
    chroma_server: str,
    knowledge_copy: Path,
    warm_data: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CHROMA_URL", chroma_server)
    done = run_cli("ingest.py", "--knowledge", knowledge_copy, "--data", warm_data, "--quiet")
    assert done.returncode == 0, done.stderr
    assert "导入完成" in done.stdout
    assert not (warm_data / "chroma").exists()  # nothing went to a local store

    lines = [
        json.dumps({"question": QUESTION}, ensure_ascii=False),
        json.dumps({"question": "那要不要预约？", "history": ["结婚登记去哪里办？"]}, ensure_ascii=False),
    ]
    asked = run_cli(
        "-m", "bot", "ask", "--jsonl", "--knowledge", knowledge_copy, "--data", warm_data,
        stdin="\n".join(lines) + "\n",
    )  # fmt: skip
    assert asked.returncode == 0, asked.stderr
    replies = [json.loads(line) for line in asked.stdout.splitlines()]
    assert len(replies) == 2
    first = replies[0]
    assert first["answered"] is True
    assert first["sources"] and any("marriage" in s["path"] for s in first["sources"])
    assert "身份证" in first["answer"]

    # Unchanged knowledge: a second ingest through the server changes nothing.
    again = run_cli("ingest.py", "--knowledge", knowledge_copy, "--data", warm_data, "--quiet")
    assert again.returncode == 0, again.stderr
    assert "新增 0，更新 0，删除 0" in again.stdout


@pytest.mark.parametrize(
    "command",
    [
        ("ingest.py",),
        ("-m", "bot", "ask", "--jsonl"),
        ("-m", "bot", "run", "--no-ingest"),
    ],
)
def test_server_down_at_start_is_one_clear_error(
    command: tuple[str, ...], knowledge_copy: Path, warm_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    monkeypatch.setenv("CHROMA_URL", url)
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    done = run_cli(*command, "--knowledge", knowledge_copy, "--data", warm_data, stdin="")
    assert done.returncode == 1
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("错误: 无法连接 Chroma 服务器")
    assert url in lines[0] and "chroma run" in lines[0]  # names the server and the fix
    assert "Traceback" not in done.stderr


def test_server_killed_mid_run_then_back(
    tmp_path: Path, ingested: KnowledgeBase, knowledge_copy: Path, warm_data: Path
) -> None:
    server = ChromaServer(tmp_path / "db").start()
    try:
        settings = with_url(ingested.settings, server.url)
        settings = dataclasses.replace(
            settings,
            knowledge=dataclasses.replace(settings.knowledge, dir=knowledge_copy),
            data=dataclasses.replace(settings.data, dir=warm_data),
        )
        report = ingest(settings, progress=False)
        assert report.embedded == 0 and report.chunks > 0  # the cache served every vector

        assistant = Assistant(settings)
        assistant.warm_up()
        assert assistant.ask(QUESTION).answered

        server.kill()
        down = messages.STORE_DOWN.format(
            hotline=settings.contact.hotline, bureau_phone=settings.contact.bureau_phone
        )
        for _ in range(3):  # the cached index's query fails, then the reconnect fails: always polite
            reply = assistant.ask(QUESTION)
            assert not reply.answered
            assert reply.kind == "store_down"
            assert reply.text == down
            time.sleep(0.5)

        server.start()  # same port, same path
        deadline = time.monotonic() + 15
        reply = assistant.ask(QUESTION)
        while not reply.answered and time.monotonic() < deadline:
            time.sleep(0.5)
            reply = assistant.ask(QUESTION)
        assert reply.answered, reply.text
        assert "身份证" in reply.text and reply.cited
    finally:
        server.stop()
