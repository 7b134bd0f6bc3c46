"""Loading a file with what its own text does not say: the sidecar, the 落款 date, Word properties."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import docx
import pytest

from bot import staff_messages
from bot.errors import SkipFile
from bot.ingest.loaders import load_file
from bot.records import FileMeta


def write_docx(path: Path, *paragraphs: str, created: datetime | None = None) -> None:
    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    if created is not None:
        document.core_properties.created = created
    out = io.BytesIO()
    document.save(out)
    path.write_bytes(out.getvalue())


def meta(path: Path) -> FileMeta:
    return FileMeta.from_meta(load_file(path, path.parent).metadata)


def test_a_word_notice_takes_the_date_of_its_signature_block(tmp_path: Path) -> None:
    write_docx(
        tmp_path / "notice.docx", "各镇人民政府：临时救助请向镇政府申请。", "汕尾市民政局", "2025年9月20日"
    )
    assert meta(tmp_path / "notice.docx").issued == "2025-09-20"


def test_without_a_signature_date_the_word_properties_give_one(tmp_path: Path) -> None:
    created = datetime(2024, 6, 1, 2, 0, tzinfo=UTC)
    write_docx(tmp_path / "notice.docx", "低保申请材料说明。", created=created)
    assert meta(tmp_path / "notice.docx").issued == "2024-06-01"


def test_the_sidecar_wins_over_what_the_file_says(tmp_path: Path) -> None:
    write_docx(tmp_path / "notice.docx", "正文。", "汕尾市民政局", "2025年9月20日")
    (tmp_path / "notice.docx.meta.yaml").write_text(
        "title: 临时救助办理说明\nissued: 2025-10-08\ncategory: assistance\nsource: 市民政局官网\n",
        encoding="utf-8",
    )
    got = meta(tmp_path / "notice.docx")
    assert (got.title, got.issued, got.category, got.source) == (
        "临时救助办理说明",
        "2025-10-08",
        "assistance",
        "市民政局官网",
    )


def test_front_matter_dates_are_not_replaced_by_the_signature_date(tmp_path: Path) -> None:
    path = tmp_path / "guide.md"
    path.write_text(
        "---\nissued: 2025-01-01\n---\n# 指南\n\n正文。\n\n汕尾市民政局\n2025年9月20日\n", encoding="utf-8"
    )
    assert meta(path).issued == "2025-01-01"
    path.write_text("# 指南\n\n正文。\n\n汕尾市民政局\n2025年9月20日\n", encoding="utf-8")
    assert meta(path).issued == "2025-09-20"


def test_a_broken_sidecar_skips_the_file_with_the_reason(tmp_path: Path) -> None:
    write_docx(tmp_path / "notice.docx", "正文。")
    (tmp_path / "notice.docx.meta.yaml").write_text("issued: 2025-02-30\n", encoding="utf-8")
    with pytest.raises(SkipFile) as caught:
        load_file(tmp_path / "notice.docx", tmp_path)
    assert caught.value.reason.startswith(staff_messages.SKIP_BAD_SIDECAR.split("{")[0])
    assert "notice.docx.meta.yaml" in caught.value.reason
