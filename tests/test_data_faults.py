"""Faults of the data folder give one ``错误:`` line naming the path and the fix (issue 14, items 6, 8).

A full disk during ingest printed a raw ``sqlite3.OperationalError`` (or Chroma's ``InternalError``)
traceback; a damaged embedding cache or salt a ``UnicodeDecodeError`` / ``RuntimeError`` traceback; a
symlinked salt was chmod'ed through the link. The full disk is a small tmpfs (root only; skipped
elsewhere, where the web tests' ``PRAGMA max_page_count`` variant still covers answering).
"""

from __future__ import annotations

import contextlib
import errno
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from bot import staff_messages
from bot.errors import UserError, data_fault
from bot.ingest.indexing import STATE_DB
from bot.state.database import State
from bot.state.privacy import load_salt
from tests.helpers.disks import fill, room_for, tmpfs
from tests.helpers.knowledge import KnowledgeBase, run_cli


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, (done.returncode, done.stderr[-2000:])
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    lines = [line for line in done.stderr.splitlines() if line.strip() and " WARNING " not in line]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("错误: ")
    return lines[0]


# --- recognising a fault, whatever form it takes ----------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "template"),
    [
        (sqlite3.OperationalError("database or disk is full"), staff_messages.DATA_DISK_FULL),
        (OSError(errno.ENOSPC, "No space left on device"), staff_messages.DATA_DISK_FULL),
        (
            RuntimeError(
                "Query error: Database error: error returned from database: (code: 13) database or disk is full"
            ),
            staff_messages.DATA_DISK_FULL,
        ),
        (sqlite3.OperationalError("attempt to write a readonly database"), staff_messages.DATA_READ_ONLY),
        (OSError(errno.EROFS, "Read-only file system"), staff_messages.DATA_READ_ONLY),
        (sqlite3.DatabaseError("database disk image is malformed"), staff_messages.DATA_DAMAGED),
    ],
)
def test_data_faults_are_recognised(exc: BaseException, template: str, tmp_path: Path) -> None:
    wrapped = RuntimeError("while writing the index")
    wrapped.__cause__ = exc  # as SQLAlchemy and LangChain raise them: the cause one level down
    for error in (exc, wrapped):
        fault = data_fault(error, tmp_path)
        assert fault is not None and str(fault) == template.format(path=tmp_path)


def test_other_errors_are_no_data_fault(tmp_path: Path) -> None:
    assert data_fault(ValueError("bad literal"), tmp_path) is None
    assert data_fault(OSError(errno.ECONNREFUSED, "refused"), tmp_path) is None


# --- the salt ---------------------------------------------------------------------------------------------


def test_a_symlinked_salt_is_refused_and_its_target_left_alone(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    target = tmp_path / "shared.txt"
    target.write_text("ab" * 32, encoding="utf-8")
    target.chmod(0o644)
    (data / "salt").symlink_to(target)
    with pytest.raises(UserError) as caught:
        load_salt(data)
    assert str(caught.value) == staff_messages.SALT_LINK.format(path=data / "salt")
    assert target.stat().st_mode & 0o777 == 0o644  # not chmod'ed through the link
    (data / "salt").unlink()
    (data / "salt").symlink_to(tmp_path / "missing")  # a dangling link is refused too, not followed
    with pytest.raises(UserError):
        load_salt(data)
    assert not (tmp_path / "missing").exists()


@pytest.mark.parametrize("damage", [b"", b"abc", bytes(range(256)) * 4, ("zz" * 32).encode()])
def test_a_damaged_salt_is_one_clear_error(damage: bytes, tmp_path: Path) -> None:
    (tmp_path / "salt").write_bytes(damage)
    with pytest.raises(UserError) as caught:
        State(tmp_path)
    assert str(caught.value) == staff_messages.SALT_DAMAGED.format(path=tmp_path / "salt")


def test_cli_web_with_a_damaged_salt_prints_one_line(ingested_copy: KnowledgeBase) -> None:
    salt = ingested_copy.data / "salt"
    salt.write_bytes(b"\x00\xff" * 40)
    done = run_cli(
        "-m",
        "bot",
        "web",
        "--knowledge",
        ingested_copy.knowledge,
        "--data",
        ingested_copy.data,
        "--port",
        "0",
    )
    line = one_error_line(done)
    assert str(salt) in line and "删除" in line


# --- the embedding cache --------------------------------------------------------------------------------------


def test_a_damaged_embedding_cache_is_one_clear_error(ingested_copy: KnowledgeBase) -> None:
    kb = ingested_copy
    db = kb.data / STATE_DB
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.execute("UPDATE embedding_cache SET value = x'00ff10' WHERE rowid % 3 = 0")
        conn.commit()
    with (kb.knowledge / "faq.md").open("a", encoding="utf-8") as f:
        f.write("\n\n## 新增\n\n夜校报名热线为0660-3327788。\n")
    line = one_error_line(run_cli("ingest.py", "--knowledge", kb.knowledge, "--data", kb.data))
    assert str(db) in line and "--rebuild" in line
    assert kb.fresh_assistant().ask("离婚冷静期有多长？").answered  # the served index is untouched


# --- a full data disk ------------------------------------------------------------------------------------------


def test_ingest_on_a_full_disk_is_one_clear_error_and_the_served_index_stays(
    ingested_copy: KnowledgeBase, tmp_path: Path
) -> None:
    kb = ingested_copy
    disk = tmp_path / "disk"
    with tmpfs(disk, room_for(kb.data)) as mounted:
        if not mounted:
            pytest.skip("needs root to mount a tmpfs")
        data = disk / "data"
        shutil.copytree(kb.data, data, symlinks=True, ignore=shutil.ignore_patterns("*.lock"))
        with (kb.knowledge / "faq.md").open("a", encoding="utf-8") as f:
            f.write("\n\n## 新增\n\n夜校报名热线为0660-3327788，报名截止日期为每年3月15日。\n")
        fill(disk / "filler")
        line = one_error_line(run_cli("ingest.py", "--knowledge", kb.knowledge, "--data", data))
        assert line == "错误: " + staff_messages.DATA_DISK_FULL.format(path=data)
        # A new process cannot even open Chroma on a full disk (it creates its WAL files); it says why.
        asked = run_cli("-m", "bot", "ask", "离婚冷静期有多长？", "--knowledge", kb.knowledge, "--data", data)
        assert staff_messages.DATA_DISK_FULL.format(path=data) in asked.stderr
        (disk / "filler").unlink()  # room again: the previous version answers, untouched by the failed ingest
        asked = run_cli("-m", "bot", "ask", "离婚冷静期有多长？", "--knowledge", kb.knowledge, "--data", data)
        assert asked.returncode == 0 and "30日" in asked.stdout, asked.stderr[-2000:]
        done = run_cli("ingest.py", "--knowledge", kb.knowledge, "--data", data)
        assert done.returncode == 0 and "更新 1" in done.stdout, done.stdout + done.stderr[-2000:]
