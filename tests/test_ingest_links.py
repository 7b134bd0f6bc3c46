"""Only files really inside the knowledge folder are read (issue 14, item 1).

A link to ``/proc/self/environ`` once served the bot token and the LLM key to anyone who asked
"LLM_API_KEY TELEGRAM_BOT_TOKEN 是什么"; ``/etc/passwd`` and ``<data>/salt`` went the same way. Now
every link out of the folder, hard link, mounted file system, special file and anything under the data
folder, /proc, /sys, /dev or /etc is refused and named in the ingest report.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import index_store, staff_messages
from bot.ingest.indexing import FileResult, is_stale, read_folder
from bot.ingest.loaders import knowledge_files
from tests.helpers.knowledge import KnowledgeBase, run_cli, settings_for

SECRET = "sk-test-4f1c9e0b7d2a"  # what an LLM key looks like; it must never be read
TOKEN = "123456:AAE-secret-token-value"
QUESTION = "LLM_API_KEY TELEGRAM_BOT_TOKEN 是什么"
GOOD = "# 临时救助\n\n遇到突发困难可以申请临时救助。\n"


def prefix(template: str) -> str:
    return template.split("{")[0]


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    knowledge = tmp_path / "knowledge"
    data = tmp_path / "data"
    knowledge.mkdir()
    data.mkdir()
    (knowledge / "good.md").write_text(GOOD, encoding="utf-8")
    (data / "salt").write_text("ab" * 32, encoding="utf-8")
    return knowledge, data


def read(knowledge: Path, data: Path) -> dict[str, FileResult]:
    results = {r.path: r for r in read_folder(settings_for(knowledge, data), progress=False)}
    assert results["good.md"].chunks and not results["good.md"].skipped
    return results


def all_text(results: dict[str, FileResult]) -> str:
    return "\n".join(chunk.page_content for r in results.values() for chunk in r.chunks)


def test_links_out_of_the_folder_are_refused_and_named(
    folders: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    knowledge, data = folders
    monkeypatch.setenv("LLM_API_KEY", SECRET)  # in /proc/self/environ of this process
    outside = tmp_path / "elsewhere.md"
    outside.write_text("# 别处\n\n知识库之外的文件。\n", encoding="utf-8")
    (knowledge / "环境说明.txt").symlink_to("/proc/self/environ")
    (knowledge / "用户.txt").symlink_to("/etc/passwd")
    (knowledge / "盐.txt").symlink_to(data / "salt")
    (knowledge / "别处.md").symlink_to(outside)
    (knowledge / "系统").symlink_to("/etc", target_is_directory=True)
    (knowledge / "sub").mkdir()
    (knowledge / "sub" / "up.md").symlink_to("../../elsewhere.md")  # relative, climbing out
    results = read(knowledge, data)

    assert results["环境说明.txt"].skipped == staff_messages.SKIP_FORBIDDEN.format(target="/proc")
    assert results["用户.txt"].skipped == staff_messages.SKIP_FORBIDDEN.format(target="/etc")
    assert results["盐.txt"].skipped == staff_messages.SKIP_FORBIDDEN.format(target=data.resolve())
    assert results["别处.md"].skipped == staff_messages.SKIP_OUTSIDE.format(target=outside.resolve())
    assert results["sub/up.md"].skipped == staff_messages.SKIP_OUTSIDE.format(target=outside.resolve())
    assert results["系统"].skipped == staff_messages.SKIP_FORBIDDEN.format(target="/etc")
    for name in ("环境说明.txt", "用户.txt", "盐.txt", "别处.md", "系统"):
        assert results[name].sha256 == "" and not results[name].chunks  # never even read
    text = all_text(results)
    assert SECRET not in text and "root:" not in text and "ab" * 32 not in text


def test_hard_links_special_files_and_links_inside_the_folder(folders: tuple[Path, Path]) -> None:
    knowledge, data = folders
    os.link(data / "salt", knowledge / "salt-copy.txt")  # the same inode as the data folder's salt
    os.mkfifo(knowledge / "pipe.md")  # would block a plain open() forever
    (knowledge / "same.md").symlink_to("good.md")  # stays inside: read like the file itself
    (knowledge / "dangling.md").symlink_to("missing.md")
    results = read(knowledge, data)
    assert results["salt-copy.txt"].skipped == staff_messages.SKIP_HARD_LINK
    assert results["pipe.md"].skipped == staff_messages.SKIP_UNREADABLE.format(
        detail=staff_messages.SKIP_NOT_REGULAR
    )
    assert not results["same.md"].skipped and results["same.md"].chunks
    assert results["dangling.md"].skipped.startswith(prefix(staff_messages.SKIP_UNREADABLE))


def test_a_data_folder_inside_the_knowledge_folder_is_never_read(tmp_path: Path) -> None:
    knowledge = tmp_path / "knowledge"
    knowledge.mkdir()
    (knowledge / "good.md").write_text(GOOD, encoding="utf-8")
    data = knowledge / "data"  # a careless --data
    data.mkdir()
    (data / "notes.md").write_text("# 内部\n\n数据目录里的文件。\n", encoding="utf-8")
    results = read(knowledge, data)
    assert results["data/notes.md"].skipped == staff_messages.SKIP_FORBIDDEN.format(target=data.resolve())


def test_knowledge_files_lists_linked_folders_instead_of_hiding_them(folders: tuple[Path, Path]) -> None:
    knowledge, _ = folders
    (knowledge / "etc").symlink_to("/etc", target_is_directory=True)
    listed = knowledge_files(knowledge)
    assert knowledge / "etc" in listed
    assert not any(p.is_relative_to(knowledge / "etc") and p != knowledge / "etc" for p in listed)


@contextlib.contextmanager
def bind_mount(source: Path, target: Path) -> Iterator[None]:
    done = subprocess.run(["mount", "--bind", str(source), str(target)], capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot bind-mount here: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield
    finally:
        subprocess.run(["umount", str(target)], check=False)


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("mount") is None, reason="bind mounts need root")
def test_a_folder_mounted_into_the_knowledge_folder_is_refused(
    folders: tuple[Path, Path], tmp_path: Path
) -> None:
    """A bind mount is no link: only the mount table shows that /etc/ssl is behind knowledge/ssl."""
    knowledge, data = folders
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "secret.md").write_text("# 机密\n\n不应导入的内容。\n", encoding="utf-8")
    (knowledge / "mounted").mkdir()
    with bind_mount(elsewhere, knowledge / "mounted"):
        listed = knowledge_files(knowledge)
        assert knowledge / "mounted" in listed and knowledge / "mounted" / "secret.md" not in listed
        results = read(knowledge, data)
    mount = str((knowledge / "mounted").resolve())
    assert results["mounted"].skipped == staff_messages.SKIP_OTHER_FILESYSTEM.format(mount=mount)
    assert "不应导入" not in all_text(results)


# --- end to end: ingest and ask, as staff and residents would ------------------------------------------


def test_symlinked_secrets_never_reach_an_answer(ingested_copy: KnowledgeBase) -> None:
    kb = ingested_copy
    (kb.knowledge / "环境说明.txt").symlink_to("/proc/self/environ")
    (kb.knowledge / "passwd.txt").symlink_to("/etc/passwd")
    (kb.data / "salt").write_text("cd" * 32, encoding="utf-8")
    (kb.knowledge / "salt.txt").symlink_to(kb.data / "salt")
    env = {"LLM_API_KEY": SECRET, "TELEGRAM_BOT_TOKEN": TOKEN}
    done = run_cli("ingest.py", "--knowledge", kb.knowledge, "--data", kb.data, env=env)
    assert done.returncode == 0, done.stderr
    for name in ("环境说明.txt", "passwd.txt", "salt.txt"):
        line = next(line for line in done.stdout.splitlines() if name in line)
        assert line.strip().startswith("跳过") and ("系统或数据目录" in line or "之外" in line), line
    assert SECRET not in done.stdout + done.stderr and TOKEN not in done.stdout + done.stderr

    answer = kb.fresh_assistant().ask(QUESTION)
    assert SECRET not in answer.render() and TOKEN not in answer.render()
    client = index_store.open_client(kb.settings)
    pointer = index_store.read_pointer(client, kb.settings)
    assert pointer is not None
    stored = index_store.get_collection(client, pointer.active).get(include=["documents"])["documents"] or []
    assert stored and not any(SECRET in d or TOKEN in d or "root:x:0:0" in d for d in stored)
    assert not is_stale(kb.settings)  # `run` does not ingest again at every start because of them


def test_run_ingests_in_its_own_process_without_reading_its_environment(ingested_copy: KnowledgeBase) -> None:
    """`run` ingests (the folder changed) inside the process whose environment holds the secrets."""
    kb = ingested_copy
    (kb.knowledge / "环境说明.txt").symlink_to("/proc/self/environ")
    env = {"LLM_API_KEY": SECRET, "WECHAT_APP_SECRET": TOKEN}  # no TELEGRAM_BOT_TOKEN: the console chats
    done = run_cli(
        "-m", "bot", "run", "--knowledge", kb.knowledge, "--data", kb.data, stdin=QUESTION + "\n", env=env
    )
    assert done.returncode == 0, done.stderr
    assert "环境说明.txt" in done.stdout and "系统或数据目录" in done.stdout
    assert SECRET not in done.stdout and TOKEN not in done.stdout
