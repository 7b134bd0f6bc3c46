"""Faults injected on purpose: an unusable data folder, a damaged model, a corrupt ingest database,
and two security properties of the Telegram channel (the token never logged; 查看原文 only shows
sections of the served index, never a file named by the request).

``kill -9`` during ingest and two concurrent ingests are tested in ``test_ingest.py``; the Chroma
server going away is tested in ``test_chroma_server.py``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import shutil
import socket
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from telegram import Update

from bot import messages, model_convert
from bot.config import DEFAULT_MODEL, EmbeddingSettings
from bot.embeddings import load_embedder, resolve_model
from bot.errors import UserError
from bot.ingest.indexing import STATE_DB
from bot.testing.bot_api import FakeBotAPI
from bot.testing.telegram_html import parse_html
from tests.helpers.knowledge import MODEL_NAME, REPO, KnowledgeBase, run_cli

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
PYTHON = str(REPO / ".venv" / "bin" / "python")


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    """The CLI failed with exit 1 and exactly one ``错误:`` line on stderr, no traceback."""
    assert done.returncode == 1, (done.returncode, done.stderr[-2000:])
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("错误: ")
    return lines[0]


# --- a data folder that cannot be written ------------------------------------------------------


@pytest.fixture
def unusable_data(tmp_path: Path) -> Path:
    """A data path that can never be created, even by root: its parent is a regular file."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where a folder should be\n", encoding="utf-8")
    return blocker / "data"


@pytest.mark.parametrize("command", [("-m", "bot", "ask", "--jsonl"), ("-m", "bot", "run", "--no-ingest")])
def test_unusable_data_folder_is_one_clear_error(
    command: tuple[str, ...], knowledge_copy: Path, unusable_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CHROMA_URL", raising=False)
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    line = one_error_line(run_cli(*command, "--knowledge", knowledge_copy, "--data", unusable_data, stdin=""))
    assert str(unusable_data) in line  # names the path
    assert "权限" in line or "删除" in line  # and what to do


def test_ingest_into_unusable_data_folder_is_one_clear_error(
    knowledge_copy: Path, unusable_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CHROMA_URL", raising=False)
    line = one_error_line(run_cli("ingest.py", "--knowledge", knowledge_copy, "--data", unusable_data))
    assert str(unusable_data) in line


@pytest.mark.skipif(IS_ROOT, reason="root ignores file permissions; the file-as-parent variant covers this")
def test_read_only_data_folder_is_one_clear_error(
    knowledge_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CHROMA_URL", raising=False)
    data = tmp_path / "readonly"
    data.mkdir()
    data.chmod(0o500)
    try:
        done = run_cli("-m", "bot", "ask", "--jsonl", "--knowledge", knowledge_copy, "--data", data, stdin="")
        assert str(data) in one_error_line(done)
    finally:
        data.chmod(0o700)


# --- the model ---------------------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["missing", "flipped byte"])
def test_damaged_model_file_is_noticed_and_reconverted(
    damage: str,
    model_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    data = tmp_path / "data"
    target = data / "models" / MODEL_NAME
    shutil.copytree(model_dir / MODEL_NAME, target)
    weights = target / model_convert.ONNX_MODEL  # the file the bot loads
    if damage == "missing":
        weights.unlink()
    else:
        with weights.open("r+b") as f:
            f.seek(weights.stat().st_size // 2)
            byte = f.read(1)
            f.seek(-1, os.SEEK_CUR)
            f.write(bytes([byte[0] ^ 0xFF]))
    assert model_convert.verify(target) is not None  # the checksum check notices

    with caplog.at_level(logging.WARNING, logger="bot.embeddings"):
        assert resolve_model(DEFAULT_MODEL, data) == str(target)
    assert f"model folder {target} is not intact" in caplog.text  # the log says what was wrong
    assert str(target) in capsys.readouterr().err  # and the person sees that it is converted again
    assert model_convert.verify(target) is None


def test_model_folder_that_cannot_be_written_is_one_clear_error(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "models").write_text("not a folder", encoding="utf-8")
    with pytest.raises(UserError) as caught:
        resolve_model(DEFAULT_MODEL, data)
    message = str(caught.value)
    assert str(data / "models" / MODEL_NAME) in message and "权限" in message


def test_missing_weights_of_a_configured_model_folder_is_one_clear_error(
    model_dir: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "my-model"
    shutil.copytree(model_dir / MODEL_NAME, folder, ignore=shutil.ignore_patterns("model.safetensors"))
    with pytest.raises(UserError) as caught:  # the CLI prints a UserError as one 错误 line, exit 1
        load_embedder(EmbeddingSettings(model=str(folder)), tmp_path / "data")
    message = str(caught.value)
    assert str(folder) in message and "embedding.model" in message


def test_corrupt_weights_of_a_configured_model_folder_is_one_clear_error(
    model_dir: Path, tmp_path: Path
) -> None:
    folder = shutil.copytree(model_dir / MODEL_NAME, tmp_path / "my-model")
    with (folder / "model.safetensors").open("r+b") as f:
        f.write(b"\xff" * 8)  # the header length: garbage
    try:
        load_embedder(EmbeddingSettings(model=str(folder)), tmp_path / "data")
    except UserError as exc:
        assert str(folder) in str(exc)
    else:
        pytest.fail("a corrupt model loaded")


# --- the ingest database -------------------------------------------------------------------------


@pytest.mark.parametrize("command", [("ingest.py",), ("ingest.py", "--dry-run"), ("-m", "bot", "run")])
def test_corrupt_index_database_is_one_clear_error(
    command: tuple[str, ...], ingested_copy: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CHROMA_URL", raising=False)
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    db = ingested_copy.data / STATE_DB
    db.write_bytes(b"this is not an SQLite database\x00" * 512)
    done = run_cli(*command, "--knowledge", ingested_copy.knowledge, "--data", ingested_copy.data, stdin="")
    line = one_error_line(done)
    assert str(db) in line  # names the file
    assert "--rebuild" in line and "删除" in line  # and the fix


def test_corrupt_index_database_does_not_stop_answering(ingested_copy: KnowledgeBase) -> None:
    """The served index lives in Chroma; only the next ingest needs the ingest database."""
    (ingested_copy.data / STATE_DB).write_bytes(os.urandom(8192))
    answer = ingested_copy.fresh_assistant().ask("结婚登记要带什么材料？")
    assert answer.answered and answer.cited


# --- security: the token --------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_bot(kb: KnowledgeBase, token: str, base_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": token, "TELEGRAM_API_BASE_URL": base_url}
    env.pop("CHROMA_URL", None)
    command = [PYTHON, "-m", "bot", "run", "-v", "--no-ingest"]
    command += ["--knowledge", str(kb.knowledge), "--data", str(kb.data)]
    return subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_token_is_never_printed_when_the_bot_cannot_start(ingested_copy: KnowledgeBase) -> None:
    token = "987654:SECRET-token-that-must-not-leak"
    with FakeBotAPI() as api:  # the fake answers 401 to any other token
        wrong = _run_bot(ingested_copy, token, api.base_url)
    unreachable = _run_bot(ingested_copy, token, f"http://127.0.0.1:{_free_port()}")
    for done in (wrong, unreachable):
        assert done.returncode == 1, done.stderr[-2000:]
        assert token not in done.stdout + done.stderr
        assert "SECRET" not in done.stdout + done.stderr
        assert "Traceback" not in done.stderr


def _drive(kb: KnowledgeBase, api: FakeBotAPI, state_dir: Path, scenario: Callable[[Any], Any]) -> None:
    from bot.channels.telegram.app import build_application
    from bot.state.database import State

    settings = dataclasses.replace(
        kb.settings, telegram=dataclasses.replace(kb.settings.telegram, questions_per_minute=100)
    )
    state = State(state_dir, history_size=settings.telegram.history_size)
    app = build_application(kb.assistant, settings, api.token, api.base_url, state=state)

    async def main() -> None:
        async with app:
            await scenario(app)

    try:
        asyncio.run(main())
    finally:
        state.close()


_ids = iter(range(50_000, 10**9))


async def _feed(app: Any, update: dict[str, Any]) -> None:
    await app.process_update(Update.de_json({**update, "update_id": next(_ids)}, app.bot))


def test_token_is_never_logged_even_at_debug(
    ingested: KnowledgeBase, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with FakeBotAPI() as api:
        api.fail_next("sendMessage", 400, description="Bad Request: chat not found")

        async def scenario(app: Any) -> None:
            await _feed(app, api.text_update("低保怎么申请？"))  # its reply fails: logged, apologised for
            await _feed(app, api.text_update("结婚登记要带什么材料？"))

        from bot.channels.telegram.app import _private_logging

        saved = {name: logging.getLogger(name).level for name in ("telegram", "httpx", "httpcore")}
        try:
            with caplog.at_level(logging.DEBUG):
                _private_logging()  # what run_bot does first: -v must not print URLs holding the token
                _drive(ingested, api, tmp_path, scenario)
        finally:
            for name, level in saved.items():
                logging.getLogger(name).setLevel(level)
        assert api.sent()
    assert caplog.records and "error while handling an update" in caplog.text
    assert api.token not in caplog.text
    assert api.token.split(":")[1] not in caplog.text


# --- security: 查看原文 -----------------------------------------------------------------------------


def test_view_source_cannot_be_steered_outside_the_knowledge(ingested: KnowledgeBase, tmp_path: Path) -> None:
    """The button carries an opaque answer id; the section comes from the served index, never a file."""
    outside = tmp_path / "secret.md"
    outside.write_text("# 机密\n\nTOP-SECRET-CONTENT\n", encoding="utf-8")
    user = 777123456
    with FakeBotAPI() as api:

        async def scenario(app: Any) -> None:
            await _feed(app, api.text_update("高龄津贴多少岁可以领？", user_id=user))
            answer = api.sent(user)[-1]
            source = answer.button("查看原文")["callback_data"]
            answer_id = source.split(":", 1)[1]
            # A request naming a path instead of an id.
            for data in ("src:../../../../etc/passwd", "src:/etc/passwd", "src:", "src:" + "a" * 60):
                await _feed(app, api.callback_update(data, user_id=user))
            # Even a stored record pointing outside the folder (a tampered database) shows nothing.
            db = sqlite3.connect(tmp_path / "bot_state.sqlite")
            with db:
                db.execute(
                    "UPDATE questions SET source_path = ?, source_heading = ? WHERE id = ?",
                    (str(outside), "机密", answer_id),
                )
            db.close()
            await _feed(app, api.callback_update(source, user_id=user))

        _drive(ingested, api, tmp_path, scenario)
        toasts = [c.get("text") for c in api.calls_of("answerCallbackQuery")]
        shown = [parse_html(c.text)[0] for c in api.sent(user)]
    assert toasts == [messages.TG_SOURCE_NONE] * 4 + [messages.TG_SOURCE_GONE]
    assert len(shown) == 1  # only the answer itself
    assert not any("TOP-SECRET" in s or "root:" in s for s in shown)
