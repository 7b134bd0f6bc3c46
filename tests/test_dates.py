"""Issued dates when the front matter has none: the 落款 at the end of a notice, Word and PDF properties."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta, timezone

import docx
import pytest

from bot.ingest import dates


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("通知正文。\n\n汕尾市民政局\n2025年9月20日\n", "2025-09-20"),
        ("通知正文。\n汕尾市民政局\n二〇二五年九月二十日\n（此件公开发布）\n", "2025-09-20"),
        ("正文。\n汕尾市民政局  2024年12月3日", "2024-12-03"),
        (
            "正文。\n\u3000\u3000汕尾市民政局\n\u3000\u30002025 年 1 月 31 日。\n抄送：市财政局。",
            "2025-01-31",
        ),
        ("二〇一九年十月一日", "2019-10-01"),
    ],
)
def test_the_date_of_the_signature_block_is_found(text: str, expected: str) -> None:
    assert dates.from_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "本标准自2025年10月1日起执行，全市统一适用。",  # a date inside a sentence is no 落款
        "通知正文。\n汕尾市民政局\n2025年2月30日",  # no such day
        "2025年9月20日\n" + "\n".join(f"第{i}条 正文内容。" for i in range(20)),  # at the start, not the end
        "",
    ],
)
def test_no_date_is_made_up(text: str) -> None:
    assert dates.from_text(text) == ""


def _docx(created: datetime | None) -> bytes:
    document = docx.Document()
    document.add_paragraph("正文")
    if created is not None:
        document.core_properties.created = created
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_a_word_file_gives_its_creation_date_in_china_time() -> None:
    created = datetime(2025, 9, 19, 17, 30, tzinfo=UTC)  # 01:30 on the 20th in Shanwei
    assert dates.from_docx(_docx(created)) == "2025-09-20"


def test_python_docx_template_stamp_is_not_a_date() -> None:
    assert dates.from_docx(_docx(None)) == ""


def test_a_pdf_gives_its_creation_date() -> None:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    moment = datetime(2025, 3, 5, 9, 0, tzinfo=timezone(timedelta(hours=8)))
    writer.add_metadata({"/CreationDate": "D:20250305090000+08'00'"})
    out = io.BytesIO()
    writer.write(out)
    assert dates.from_pdf(out.getvalue()) == moment.date().isoformat()


def test_damaged_files_give_no_date() -> None:
    assert dates.from_docx(b"PK\x03\x04 broken") == ""
    assert dates.from_pdf(b"%PDF-1.7 broken") == ""
