"""The knowledge folder's rules shared by ingest and the staff console: ignored names, sidecars, front matter."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot import folder
from bot.ingest.loaders import SUPPORTED_SUFFIXES, knowledge_files


@pytest.mark.parametrize(
    "name",
    [
        "~$notice.docx",
        ".~lock.notice.docx#",
        "notice.tmp",
        "~WRL0001.tmp",
        "notice.docx~",
        "a.docx.meta.yaml",
        ".hidden.md",
        "_synonyms.txt",
    ],
)
def test_lock_temp_hidden_and_sidecar_names_are_ignored(name: str) -> None:
    assert folder.ignored(name)


@pytest.mark.parametrize("name", ["notice.docx", "低保.md", "scan.png", "meta.yaml.md", "tmp-notes.md"])
def test_knowledge_names_are_kept(name: str) -> None:
    assert not folder.ignored(name)


def test_the_console_and_ingest_agree_on_the_supported_formats() -> None:
    assert folder.SUPPORTED_SUFFIXES == SUPPORTED_SUFFIXES


def test_knowledge_files_passes_over_office_lock_files_and_sidecars(tmp_path: Path) -> None:
    for name in ("notice.docx", "~$notice.docx", ".~lock.notice.docx#", "x.tmp", "notice.docx.meta.yaml"):
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in knowledge_files(tmp_path)] == ["notice.docx"]


def test_a_sidecar_is_written_read_back_and_changes_the_content_hash(tmp_path: Path) -> None:
    doc = tmp_path / "notice.docx"
    doc.write_bytes(b"docx bytes")
    before = folder.content_hash(doc.read_bytes(), doc)
    side = folder.write_sidecar(
        doc, {"title": " 临时救助通知 ", "issued": "2025年9月20日", "category": "assistance"}
    )
    assert side.name == "notice.docx.meta.yaml"
    assert folder.read_sidecar(doc) == folder.Sidecar(
        title="临时救助通知", category="assistance", issued="2025-09-20"
    )
    assert folder.content_hash(doc.read_bytes(), doc) != before
    folder.write_sidecar(doc, {"category": ""})  # an empty value removes the key, the others stay
    assert folder.read_sidecar(doc) == folder.Sidecar(title="临时救助通知", issued="2025-09-20")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("issued: 2025-13-45\n", "日期"),
        ("title: [a, b\n", "YAML"),
        ("colour: red\n", "未知的项 colour"),
        ("- a list\n", "键: 值"),
        ("issued: next tuesday\n", "无法识别"),
    ],
)
def test_a_malformed_sidecar_says_what_is_wrong(tmp_path: Path, text: str, fragment: str) -> None:
    doc = tmp_path / "notice.pdf"
    doc.write_bytes(b"%PDF")
    folder.sidecar_of(doc).write_text(text, encoding="utf-8")
    with pytest.raises(folder.SidecarError, match=fragment):
        folder.read_sidecar(doc)


def test_front_matter_edits_keep_comments_other_keys_and_the_body() -> None:
    text = (
        "---\ntitle: 旧标题\ncategory: assistance\n# staff comment\nstandards:\n  dibao: {urban: 1030, rural: 840}\n"
        "---\n\n# 正文标题\n\n正文。\n"
    )
    edited = folder.set_front_matter(text, {"title": "新标题: 2025年", "issued": "2025/9/20", "category": ""})
    meta = folder.read_front_matter(edited)
    assert meta["title"] == "新标题: 2025年"
    assert meta["issued"] == "2025-09-20"
    assert "category" not in meta
    assert meta["standards"] == {"dibao": {"urban": 1030, "rural": 840}}
    assert "# staff comment" in edited
    assert edited.endswith("---\n\n# 正文标题\n\n正文。\n")


def test_front_matter_is_added_to_a_file_without_one() -> None:
    edited = folder.set_front_matter("# 标题\n\n正文\n", {"issued": "2025-09-20", "source": "市民政局"})
    front, body = folder.split_front_matter(edited)
    assert yaml.safe_load(front) == {"issued": "2025-09-20", "source": "市民政局"}
    assert body == "# 标题\n\n正文\n"
