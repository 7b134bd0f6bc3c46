"""OCR of scanned notices (RapidOCR with the models its wheel ships, offline): a PNG and a PDF without text."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import OcrSettings
from bot.ingest.loaders import load_file
from bot.records import FileMeta
from tests.helpers.scans import NOTICE, accuracy, png_bytes, scanned_pdf_bytes

pytestmark = pytest.mark.slow  # recognition models: seconds per page


@pytest.mark.parametrize(("name", "data"), [("scan.png", png_bytes), ("scan.pdf", scanned_pdf_bytes)])
def test_a_scanned_notice_is_read_by_ocr_and_marked(tmp_path: Path, name: str, data: object) -> None:
    path = tmp_path / name
    path.write_bytes(data())  # type: ignore[operator]
    doc = load_file(path, tmp_path)
    got = FileMeta.from_meta(doc.metadata)
    assert got.ocr is True
    assert got.title == NOTICE[0]
    assert got.issued == "2025-09-20"  # from the recognised 落款
    assert accuracy(doc.page_content) >= 0.97, doc.page_content
    # The wrapped sentence is one sentence again.
    assert "八十周岁以上老年人高龄津贴每人每月提高到一百二十元" in doc.page_content


def test_ocr_can_be_switched_off(tmp_path: Path) -> None:
    from bot.errors import SkipFile

    path = tmp_path / "scan.pdf"
    path.write_bytes(scanned_pdf_bytes())
    with pytest.raises(SkipFile, match="没有文字层"):
        load_file(path, tmp_path, ocr=OcrSettings(enabled=False))


def test_a_scan_over_the_page_limit_is_skipped_with_the_reason(tmp_path: Path) -> None:
    from bot.errors import SkipFile

    path = tmp_path / "scan.pdf"
    path.write_bytes(scanned_pdf_bytes())
    with pytest.raises(SkipFile, match="超过文字识别的上限 0 页"):
        load_file(path, tmp_path, ocr=OcrSettings(max_pages=0))


def test_a_damaged_image_is_skipped_with_the_reason(tmp_path: Path) -> None:
    from bot.errors import SkipFile

    path = tmp_path / "scan.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(SkipFile, match="图片文件损坏"):
        load_file(path, tmp_path)
