"""Ingest with the real model and a real local Chroma: incremental, atomic, and honest about broken files.

Most tests change a private copy of the session's ingested index (``ingested_copy``), whose
embedding cache already holds every sample chunk, so only new text costs model time.
"""

from __future__ import annotations

import collections
import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bot import index_store, staff_messages
from bot.config import Settings
from bot.ingest.indexing import CountingEmbeddings, ingest_lock, is_stale, read_folder
from bot.ingest.loaders import knowledge_files
from bot.ingest.units import standards_of, unit_documents
from tests.helpers.knowledge import (
    KNOWLEDGE,
    PYTHON,
    REPO,
    KnowledgeBase,
    knowledge_base,
    run_cli,
    source_paths,
)

pytestmark = pytest.mark.slow

SAMPLE_FILES = sorted(p.relative_to(KNOWLEDGE).as_posix() for p in knowledge_files(KNOWLEDGE))
N = len(SAMPLE_FILES)  # 25 sample documents

KNOWN_QUESTION = "离婚冷静期有多长？"
KNOWN_FACT = "30日"

NEW_FILE = "volunteer-night-school.md"
NEW_TEXT = """---
title: 汕尾市社区志愿者夜校报名指南
category: volunteer
issued: 2025-06-01
---

# 汕尾市社区志愿者夜校报名指南

## 报名方式

社区志愿者夜校每年开设两期，报名热线为0660-3327788，报名截止日期为每年3月15日和9月15日。学员结业后可获得志愿服务时长40小时。
"""
NEW_QUESTION = "志愿者夜校的报名热线是多少？"
NEW_FACT = "0660-3327788"

CHANGED_FILE = "marriage-certificate-replacement.md"
APPENDED = "\n\n## 六、夜间补领服务\n\n城区婚姻登记处每月最后一个星期五晚上加开补领结婚证窗口，办理时间为18:30至20:30。\n"
CHANGED_QUESTION = "城区婚姻登记处夜间补领结婚证窗口几点开？"
CHANGED_FACT = "18:30至20:30"

DELETED_FILE = "senior-age-allowance.md"
DELETED_QUESTION = "高龄津贴每月发多少？"


def served(settings: Settings) -> tuple[index_store.Pointer, collections.Counter[str]]:
    """The served pointer and how many chunks each knowledge path has in the served collection."""
    client = index_store.open_client(settings)
    pointer = index_store.read_pointer(client, settings)
    assert pointer is not None, "no index is served"
    _, _, metas, _ = index_store.fetch_all(index_store.get_collection(client, pointer.active))
    return pointer, collections.Counter(str(m["path"]) for m in metas)


def chunk_texts(settings: Settings) -> set[str]:
    return {c.page_content for r in read_folder(settings, progress=False) for c in r.chunks}


def embedded_texts(settings: Settings, path: str | None = None) -> set[str]:
    """Every text the folder has embedded (its chunks and their answer units), or one file's."""
    chunks = [c for r in read_folder(settings, progress=False) for c in r.chunks]
    texts = [d.page_content for d in chunks] + [
        d.page_content for d in unit_documents(chunks, standards_of(chunks))
    ]
    if path is not None:
        mine = [c for c in chunks if c.metadata["path"] == path]
        texts = [d.page_content for d in mine] + [d.page_content for d in unit_documents(mine, None)]
    return set(texts)


def assert_answers(kb: KnowledgeBase, question: str, fact: str, path: str, *, first: bool = True) -> None:
    """A restarted bot answers ``question`` with ``fact``, citing ``path`` (first, unless first=False)."""
    answer = kb.fresh_assistant().ask(question)
    assert answer.answered, answer.render()
    assert fact in answer.text
    paths = source_paths(answer)
    assert path in (paths[:1] if first else paths), paths


# --- first and repeated ingest ---------------------------------------------------------------------


def test_first_ingest_adds_every_file_and_embeds_each_chunk_once(ingested: KnowledgeBase) -> None:
    report = ingested.report
    assert report is not None
    assert N >= 25
    assert sorted(report.added) == SAMPLE_FILES
    assert (report.updated, report.removed, report.unchanged, report.skipped) == ([], [], [], [])
    assert report.chunks > 100 and report.units > 3 * report.chunks
    assert report.embedded == report.chunks + report.units == len(embedded_texts(ingested.settings))
    assert report.usable
    pointer, paths = served(ingested.settings)
    assert sorted(paths) == SAMPLE_FILES
    assert sum(paths.values()) == report.chunks == pointer.chunks
    assert pointer.documents == N
    answer = ingested.assistant.ask(KNOWN_QUESTION)
    assert answer.answered and KNOWN_FACT in answer.text


def test_ingesting_again_without_changes_embeds_nothing(
    ingested_copy: KnowledgeBase, ingested: KnowledgeBase
) -> None:
    before, _ = served(ingested_copy.settings)
    report = ingested_copy.ingest()
    assert report.embedded == 0
    assert len(report.unchanged) == N
    assert (report.added, report.updated, report.removed, report.skipped) == ([], [], [], [])
    assert report.chunks == ingested.report.chunks  # type: ignore[union-attr]
    assert "本次新计算向量 0 个" in report.summary()
    after, paths = served(ingested_copy.settings)
    assert after.version == before.version + 1 and sum(paths.values()) == before.chunks


# --- changes ------------------------------------------------------------------------------------------


def test_a_changed_an_added_and_a_deleted_file(ingested_copy: KnowledgeBase) -> None:
    kb = ingested_copy
    old_texts = embedded_texts(kb.settings)
    with (kb.knowledge / CHANGED_FILE).open("a", encoding="utf-8") as f:
        f.write(APPENDED)
    (kb.knowledge / NEW_FILE).write_text(NEW_TEXT, encoding="utf-8")
    (kb.knowledge / DELETED_FILE).unlink()
    new_texts = embedded_texts(kb.settings)
    expected_embedded = len(new_texts - old_texts)  # only chunks and units whose text is new need the model

    report = kb.ingest()

    assert (report.added, report.updated, report.removed) == ([NEW_FILE], [CHANGED_FILE], [DELETED_FILE])
    assert len(report.unchanged) == N - 2 and report.skipped == []
    assert 0 < expected_embedded < 15
    assert report.embedded == expected_embedded
    assert report.chunks == len(chunk_texts(kb.settings))

    _, paths = served(kb.settings)
    assert DELETED_FILE not in paths
    assert paths[NEW_FILE] >= 1
    deleted = kb.fresh_assistant().ask(DELETED_QUESTION)
    assert DELETED_FILE not in source_paths(deleted)
    assert_answers(kb, NEW_QUESTION, NEW_FACT, NEW_FILE)
    assert_answers(kb, CHANGED_QUESTION, CHANGED_FACT, CHANGED_FILE)


def test_a_gb18030_text_file_is_ingested_and_answered(ingested_copy: KnowledgeBase) -> None:
    kb = ingested_copy
    data = (
        "民政便民服务车下乡安排\n\n"
        "民政便民服务车每月第二个星期三开到海丰县红草镇，现场受理低保、临时救助咨询，"
        "并代办残疾人两项补贴申请。服务车停靠在红草镇政府门前广场，服务时间为上午9点至下午4点。\n"
    ).encode("gb18030")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    (kb.knowledge / "service-bus.txt").write_bytes(data)

    report = kb.ingest()

    assert report.added == ["service-bus.txt"] and report.skipped == []
    _, paths = served(kb.settings)
    assert paths["service-bus.txt"] >= 1
    # its chunks and their units, and nothing else
    assert report.embedded == len(embedded_texts(kb.settings, "service-bus.txt"))
    answer = kb.fresh_assistant().ask("民政便民服务车什么时候到红草镇？")
    assert answer.answered, answer.render()
    assert "第二个星期三" in answer.text
    assert "�" not in answer.render()  # decoded, not mangled
    assert source_paths(answer)[0] == "service-bus.txt"


# --- broken files --------------------------------------------------------------------------------------

BROKEN = {
    "notice-scan.pdf": (b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog broken", staff_messages.SKIP_CORRUPT_PDF),
    "table.docx": (b"PK\x03\x04 this is not really a zip archive", staff_messages.SKIP_CORRUPT_DOCX),
    "draft.md": (b"", staff_messages.SKIP_EMPTY),
    "photo.jpg": (
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
        staff_messages.SKIP_CORRUPT_IMAGE,
    ),  # a scan, but damaged
    "garbled.txt": (bytes(range(256)) * 8, staff_messages.SKIP_UNDECODABLE),
}


def test_broken_files_are_named_with_a_reason_and_the_rest_is_served(ingested_copy: KnowledgeBase) -> None:
    kb = ingested_copy
    for name, (data, _) in BROKEN.items():
        (kb.knowledge / name).write_bytes(data)

    result = run_cli("ingest.py", "--knowledge", kb.knowledge, "--data", kb.data, "--quiet")

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stdout.splitlines()
    for name, (_, reason) in BROKEN.items():
        assert any(name in line and reason in line for line in lines), (
            f"{name}: {reason!r} not in\n{result.stdout}"
        )
    assert "跳过 5 个文件" in result.stdout
    pointer, paths = served(kb.settings)
    assert pointer.documents == N and not set(BROKEN) & set(paths)
    answer = kb.fresh_assistant().ask(KNOWN_QUESTION)
    assert answer.answered and KNOWN_FACT in answer.text


def test_a_file_that_breaks_keeps_its_previous_version_served(ingested_copy: KnowledgeBase) -> None:
    kb = ingested_copy
    name = "extremely-poor-support.md"
    question, fact = "特困人员供养包括哪些内容？", "提供基本生活条件"  # the fact is only in this file
    _, before = served(kb.settings)
    assert_answers(kb, question, fact, name, first=False)
    good = (kb.knowledge / name).read_bytes()
    (kb.knowledge / name).write_text("---\ntitle: [特困人员供养\n---\n\n正文被误删了。\n", encoding="utf-8")

    for _ in range(2):  # and it stays served on the next ingest while the file is still broken
        report = kb.ingest()
        assert report.kept_previous == [name]
        assert [path for path, _ in report.skipped] == [name]
        assert report.skipped[0][1].startswith(staff_messages.SKIP_BAD_FRONT_MATTER.split("{")[0])
        assert f"跳过 {name}" in report.summary() and "继续使用上一版内容" in report.summary()
        assert report.updated == [] and report.removed == []
        pointer, paths = served(kb.settings)
        assert paths[name] == before[name] and pointer.documents == N
        assert_answers(kb, question, fact, name, first=False)

    (kb.knowledge / name).write_bytes(good)
    report = kb.ingest()
    assert report.updated == [name] and report.skipped == [] and report.kept_previous == []
    assert report.embedded == 0  # the text is what it was before, and its vectors are cached


# --- crashes and concurrency ----------------------------------------------------------------------------


def embedding_cache_size(data: Path) -> int:
    with sqlite3.connect(data / "index.sqlite", timeout=30) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM embedding_cache").fetchone()[0])


def test_kill_9_during_ingest_leaves_the_previous_index_served(ingested_copy: KnowledgeBase) -> None:
    kb = ingested_copy
    texts_before = embedded_texts(kb.settings)
    bulk = kb.knowledge / "zz-bulk"  # sorts after the sample files: their cached chunks go first
    bulk.mkdir()
    streets = ["海滨", "香洲", "汕马", "红草", "东涌", "马宫", "捷胜", "田墘", "遮浪", "赤坑"]
    for i in range(200):
        (bulk / f"station-{i:03d}.md").write_text(
            f"# 第{i}号社区服务站\n\n第{i}号社区服务站位于{streets[i % 10]}片区第{i // 10 + 1}网格，"
            f"每周{'一二三四五六日'[i % 7]}上午{8 + i % 3}点开放，联系电话0660-38{i:05d}。\n",
            encoding="utf-8",
        )
    (bulk / "zz-marker.md").write_text(NEW_TEXT, encoding="utf-8")
    before, _ = served(kb.settings)
    cached = embedding_cache_size(kb.data)

    proc = subprocess.Popen(
        [PYTHON, "ingest.py", "--knowledge", str(kb.knowledge), "--data", str(kb.data), "--quiet"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # Kill it while it is embedding: after its first batch of new vectors is cached, during the next.
        deadline = time.monotonic() + 180
        while (grown := embedding_cache_size(kb.data) - cached) == 0:
            assert proc.poll() is None, "the ingest ended before it could be killed"
            assert time.monotonic() < deadline, "the ingest never started embedding"
            time.sleep(0.2)
        assert (kb.data / "ingest.lock").read_text().strip() == str(proc.pid)
        time.sleep(1.0)
        assert proc.poll() is None, "the ingest ended before it could be killed; make the bulk folder larger"
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    pointer, paths = served(kb.settings)
    assert pointer == before
    assert not any(p.startswith("zz-bulk/") for p in paths)
    answer = kb.fresh_assistant().ask(KNOWN_QUESTION)
    assert answer.answered and KNOWN_FACT in answer.text
    assert not any(p.startswith("zz-bulk/") for p in source_paths(kb.fresh_assistant().ask(NEW_QUESTION)))

    report = kb.ingest()

    assert len(report.added) == 201 and report.unchanged and not report.skipped
    bulk_texts = len(embedded_texts(kb.settings) - texts_before)
    assert 0 < report.embedded <= bulk_texts - grown  # what the killed run cached is not embedded again
    pointer, paths = served(kb.settings)
    assert pointer.version == before.version + 1
    assert sum(1 for p in paths if p.startswith("zz-bulk/")) == 201
    assert sum(paths.values()) == report.chunks == before.chunks + 201
    assert_answers(kb, NEW_QUESTION, NEW_FACT, "zz-bulk/zz-marker.md")


def test_a_second_ingest_is_refused_while_one_is_running(ingested_copy: KnowledgeBase) -> None:
    kb = ingested_copy
    with ingest_lock(kb.data):
        result = run_cli("ingest.py", "--knowledge", kb.knowledge, "--data", kb.data, "--quiet")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("错误") and "另一个导入" in lines[0], result.stderr
    assert result.stdout == ""
    # The lock is released with its holder: the next ingest runs (the pid left in the file does not matter).
    result = run_cli("ingest.py", "--knowledge", kb.knowledge, "--data", kb.data, "--quiet")
    assert result.returncode == 0, result.stderr
    assert f"未变 {N}" in result.stdout


# --- --dry-run and --rebuild ------------------------------------------------------------------------------


def test_dry_run_reports_the_changes_and_writes_nothing(ingested_copy: KnowledgeBase) -> None:
    kb = ingested_copy
    (kb.knowledge / NEW_FILE).write_text(NEW_TEXT, encoding="utf-8")
    (kb.knowledge / DELETED_FILE).unlink()
    before = served(kb.settings)

    result = run_cli("ingest.py", "--knowledge", kb.knowledge, "--data", kb.data, "--quiet", "--dry-run")

    assert result.returncode == 0, result.stderr
    assert "新增 1" in result.stdout and "删除 1" in result.stdout and f"未变 {N - 1}" in result.stdout
    assert "试运行（未写入索引）" in result.stdout
    assert "新计算向量" not in result.stdout and "用时" not in result.stdout  # it computes and times nothing
    # Every changed file is named.
    assert f"新增 {NEW_FILE}" in result.stdout and f"删除 {DELETED_FILE}" in result.stdout
    assert served(kb.settings) == before
    assert is_stale(kb.settings)  # the folder still differs from what is served
    answer = kb.fresh_assistant().ask(NEW_QUESTION)
    assert NEW_FILE not in source_paths(answer)


def test_rebuild_embeds_everything_again(knowledge_copy: Path, make_data_dir: Callable[..., Path]) -> None:
    keep = {"senior-age-allowance.md", "assistance-standards-shanwei.md"}
    for path in knowledge_copy.iterdir():
        if path.name not in keep:
            path.unlink()
    kb = knowledge_base(knowledge_copy, make_data_dir())  # a fresh data folder: nothing cached yet
    report = kb.ingest()
    assert sorted(report.added) == sorted(keep)
    assert report.embedded == report.chunks + report.units > 0

    report = kb.ingest(rebuild=True)  # what `python ingest.py --rebuild` runs

    chunks = sum(len(r.chunks) for r in read_folder(kb.settings, progress=False))
    assert report.embedded == report.chunks + report.units == len(embedded_texts(kb.settings))
    assert report.chunks == chunks
    assert sorted(report.unchanged) == sorted(keep)
    pointer, paths = served(kb.settings)
    assert set(paths) == keep and pointer.chunks == chunks
    answer = kb.fresh_assistant().ask("80到89岁的高龄津贴每人每月多少？")
    assert answer.answered and "50元" in answer.text, answer.render()
    assert set(source_paths(answer)) <= keep


def test_a_rebuild_that_stops_midway_leaves_the_previous_index_served(
    ingested_copy: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    kb = ingested_copy
    before = served(kb.settings)

    def interrupted(self: object, texts: list[str]) -> list[list[float]]:
        raise KeyboardInterrupt  # staff press Ctrl-C (or the machine runs out of memory) while embedding

    monkeypatch.setattr(CountingEmbeddings, "embed_documents", interrupted)
    with pytest.raises(KeyboardInterrupt):
        kb.ingest(rebuild=True)

    assert served(kb.settings) == before
    answer = kb.fresh_assistant().ask(KNOWN_QUESTION)
    assert answer.answered and KNOWN_FACT in answer.text
