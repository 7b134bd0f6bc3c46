"""Loading knowledge files of every supported format into Markdown-normalised Documents."""

from __future__ import annotations

import codecs
import logging
import re
from pathlib import Path

import docx
import openpyxl
import pytest
from reportlab.lib.pdfencrypt import StandardEncryption
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

from bot import staff_messages
from bot.errors import SkipFile
from bot.ingest.loaders import SUPPORTED_SUFFIXES, decode_text, knowledge_files, load_file

KNOWLEDGE = Path(__file__).resolve().parents[1] / "knowledge"

FRONT_MATTER_MD = """---
title: 汕尾市最低生活保障申请指南
category: assistance
issued: 2025-01-01
source: seed
sample: true
owner: 社会救助科
---

# 低保申请指南

城镇低保标准为每人每月1030元。

| 类别 | 标准 |
| --- | --- |
| 城镇 | 1030元 |
"""


def write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


def skip_reason(path: Path, root: Path) -> str:
    with pytest.raises(SkipFile) as info:
        load_file(path, root)
    return info.value.reason


def make_pdf(
    path: Path, pages: list[list[str]], title: str | None = None, password: str | None = None
) -> Path:
    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    encrypt = None if password is None else StandardEncryption(password, ownerPassword="owner", canModify=0)
    pdf = canvas.Canvas(str(path), encrypt=encrypt)
    if title is not None:
        pdf.setTitle(title)
    for lines in pages:
        pdf.setFont("STSong-Light", 14)
        for i, line in enumerate(lines):
            pdf.drawString(72, 760 - 24 * i, line)
        pdf.showPage()
    pdf.save()
    return path


# --- Markdown and text -----------------------------------------------------------------------


def test_markdown_front_matter_becomes_metadata(tmp_path: Path) -> None:
    path = write(tmp_path, "sub/dibao.md", FRONT_MATTER_MD)
    doc = load_file(path, tmp_path)
    assert doc.metadata == {
        "path": "sub/dibao.md",
        "title": "汕尾市最低生活保障申请指南",
        "category": "assistance",
        "issued": "2025-01-01",
        "source": "seed",
        "sample": True,
        "format": "md",
    }
    assert doc.page_content.startswith("# 低保申请指南\n\n城镇低保标准为每人每月1030元。")
    assert "| 类别 | 标准 |\n| --- | --- |\n| 城镇 | 1030元 |" in doc.page_content
    assert "category" not in doc.page_content and "---\n" not in doc.page_content


def test_front_matter_is_found_after_a_utf8_bom(tmp_path: Path) -> None:
    path = write(tmp_path, "bom.md", codecs.BOM_UTF8 + FRONT_MATTER_MD.replace("\n", "\r\n").encode())
    doc = load_file(path, tmp_path)
    assert doc.metadata["title"] == "汕尾市最低生活保障申请指南"
    assert doc.metadata["sample"] is True
    assert doc.page_content.startswith("# 低保申请指南")
    assert "\r" not in doc.page_content


def test_markdown_without_front_matter_takes_title_from_first_heading(tmp_path: Path) -> None:
    path = write(tmp_path, "guide.md", "前言一句。\n\n## 高龄津贴申领指南 ##\n\n年满80周岁可以申请。\n")
    doc = load_file(path, tmp_path)
    assert doc.metadata["title"] == "高龄津贴申领指南"
    assert (doc.metadata["category"], doc.metadata["issued"], doc.metadata["source"]) == ("", "", "")
    assert doc.metadata["sample"] is False


def test_front_matter_values_are_normalised(tmp_path: Path) -> None:
    text = "---\ntitle: 2025\nissued: '2025年3月1日'\nsample: 是\nsource: [甲网站, 乙网站]\n---\n正文\n"
    doc = load_file(write(tmp_path, "x.md", text), tmp_path)
    assert doc.metadata["title"] == "2025"
    assert doc.metadata["issued"] == "2025-03-01"
    assert doc.metadata["sample"] is True
    assert doc.metadata["source"] == "甲网站; 乙网站"


def test_gb18030_text_file(tmp_path: Path) -> None:
    body = "汕尾市民政局关于调整低保标准的通知\r\n\r\n一、总则\r\n　　城乡低保标准统一提高。\r\n"
    path = write(tmp_path, "通知.txt", body.encode("gb18030"))
    doc = load_file(path, tmp_path)
    assert "汕尾市民政局关于调整低保标准的通知" in doc.page_content
    assert "一、总则\n城乡低保标准统一提高。" in doc.page_content
    assert doc.metadata["title"] == "通知"
    assert doc.metadata["format"] == "txt"


def test_utf16_text_file_with_bom(tmp_path: Path) -> None:
    path = write(tmp_path, "utf16.txt", "临时救助申请指南\n急难情形可以先行救助。".encode("utf-16"))
    assert load_file(path, tmp_path).page_content == "临时救助申请指南\n急难情形可以先行救助。"


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_decode_bomless_utf16(encoding: str) -> None:
    text = "汕尾市民政局 12345 热线\n一、低保\n"
    assert decode_text(text.encode(encoding)) == text


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16"])
def test_decode_common_encodings(encoding: str) -> None:
    text = "汕尾市长者饭堂，老人助餐补贴3元。"
    assert decode_text(text.encode(encoding)).lstrip("\ufeff") == text


def test_decode_stray_nul_in_utf8_is_not_taken_for_utf16() -> None:
    text = "汕尾市民政局关于做好二〇二五年城乡最低生活保障工作的通知，请各县（市、区）认真贯彻落实。\n"
    assert decode_text(text.encode() + b"\x00").startswith(text)


def test_decode_rejects_undecodable_and_binary_bytes() -> None:
    garbage = b"\x80\xff" * 20  # invalid in UTF-8 and in GB18030, and no BOM
    for encoding in ("utf-8", "gb18030"):
        with pytest.raises(UnicodeDecodeError):
            garbage.decode(encoding)
    for data in (garbage, bytes(range(1, 32)) * 10, b"\x00\x00\x01\x00" * 50):
        with pytest.raises(SkipFile) as info:
            decode_text(data)
        assert info.value.reason == staff_messages.SKIP_UNDECODABLE


# --- HTML --------------------------------------------------------------------------------------


def test_html_keeps_text_and_tables_and_drops_scripts(tmp_path: Path) -> None:
    html = """<!DOCTYPE html><html><head><meta charset="gbk"><title>汕尾市养老服务补贴公示</title>
    <style>.x { color: red }</style><script>var secretToken = "abc";</script></head>
    <body><nav>首页 | 政务公开</nav>
    <h1>养老服务补贴</h1><p>符合条件的<b>老年人</b>可以申请。<br>第二行</p>
    <h2>补贴标准</h2>
    <ul><li>高龄津贴</li><li>护理补贴</li></ul>
    <table><thead><tr><th>年龄段</th><th>标准（元/月）</th></tr></thead>
    <tbody><tr><td>80-89周岁</td><td>50</td></tr><tr><td>90周岁以上</td><td>100|200</td></tr></tbody></table>
    <footer>版权所有 汕尾市民政局</footer><!-- 注释 --></body></html>"""
    doc = load_file(write(tmp_path, "notice.html", html.encode("gbk")), tmp_path)
    text = doc.page_content
    assert doc.metadata["title"] == "汕尾市养老服务补贴公示"
    assert doc.metadata["format"] == "html"
    assert "secretToken" not in text and "color" not in text and "政务公开" not in text
    assert "版权所有" not in text and "注释" not in text
    assert not re.search(r"<[a-z/!]", text)
    assert "# 养老服务补贴\n\n符合条件的老年人可以申请。\n第二行\n\n## 补贴标准" in text
    assert "- 高龄津贴\n- 护理补贴" in text
    assert "| 年龄段 | 标准（元/月） |\n| --- | --- |\n| 80-89周岁 | 50 |\n| 90周岁以上 | 100\\|200 |" in text


def test_html_title_falls_back_to_h1(tmp_path: Path) -> None:
    doc = load_file(write(tmp_path, "page.htm", "<h1>殡葬服务</h1><div>惠民殡葬政策</div>"), tmp_path)
    assert doc.metadata["title"] == "殡葬服务"
    assert doc.page_content == "# 殡葬服务\n\n惠民殡葬政策"


# --- Word --------------------------------------------------------------------------------------


def test_docx_keeps_order_headings_lists_and_tables(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_heading("特困人员救助供养指南", level=1)
    document.add_paragraph("本指南说明申请条件。")
    document.add_heading("申请材料", level=2)
    document.add_paragraph("居民身份证", style="List Bullet")
    document.add_paragraph("户口簿", style="List Bullet")
    table = document.add_table(rows=3, cols=2)
    for row, cells in zip(
        table.rows, [("类别", "标准"), ("城镇", "1648元"), ("农村", "1344元")], strict=True
    ):
        for cell, text in zip(row.cells, cells, strict=True):
            cell.text = text
    document.add_paragraph("以上为示例数据。")
    path = tmp_path / "特困.docx"
    document.save(str(path))

    doc = load_file(path, tmp_path)
    assert doc.metadata["title"] == "特困人员救助供养指南"
    assert doc.metadata["format"] == "docx"
    assert doc.page_content == (
        "# 特困人员救助供养指南\n\n本指南说明申请条件。\n\n## 申请材料\n\n- 居民身份证\n- 户口簿\n\n"
        "| 类别 | 标准 |\n| --- | --- |\n| 城镇 | 1648元 |\n| 农村 | 1344元 |\n\n以上为示例数据。"
    )


def test_docx_core_properties_title_wins(tmp_path: Path) -> None:
    document = docx.Document()
    document.core_properties.title = "婚姻登记指南"
    document.add_paragraph("结婚登记只需身份证。")
    path = tmp_path / "a.docx"
    document.save(str(path))
    assert load_file(path, tmp_path).metadata["title"] == "婚姻登记指南"


# --- PDF ---------------------------------------------------------------------------------------


def test_pdf_with_chinese_text_layer(tmp_path: Path) -> None:
    path = make_pdf(
        tmp_path / "低保标准.pdf", [["汕尾市最低生活保障标准", "城镇低保1030元"], ["第二页 临时救助"]]
    )
    doc = load_file(path, tmp_path)
    assert "汕尾市最低生活保障标准" in doc.page_content
    assert "城镇低保1030元" in doc.page_content
    assert "\n\n第二页 临时救助" in doc.page_content
    assert doc.metadata["title"] == "低保标准"  # reportlab's placeholder title "untitled" is ignored
    assert doc.metadata["format"] == "pdf"


def test_pdf_metadata_title(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "a.pdf", [["殡葬惠民政策"]], title="Microsoft Word - 殡葬惠民政策.docx")
    assert load_file(path, tmp_path).metadata["title"] == "殡葬惠民政策"


def test_pdf_without_text_layer(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "scan.pdf", [[]])
    # No text layer: the page is read by OCR (tests/test_scans.py), and a blank page gives nothing.
    assert skip_reason(path, tmp_path) == staff_messages.SKIP_OCR_NOTHING


def test_pdf_locked_only_against_editing_is_read(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "locked.pdf", [["加密的通知"]], password="")
    assert load_file(path, tmp_path).page_content == "加密的通知"


def test_pdf_needing_a_password_is_skipped(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "secret.pdf", [["加密的通知"]], password="secret")
    assert skip_reason(path, tmp_path) == staff_messages.SKIP_CORRUPT_PDF


def test_broken_pdfs_are_skipped_quietly(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    good = make_pdf(tmp_path / "good.pdf", [["汕尾市民政局"]]).read_bytes()
    truncated = write(tmp_path, "truncated.pdf", good[: len(good) // 3])
    garbage = write(tmp_path, "garbage.pdf", b"%PDF-1.7\n" + bytes(range(256)) * 4)
    caplog.set_level(logging.DEBUG)
    assert skip_reason(truncated, tmp_path) == staff_messages.SKIP_CORRUPT_PDF
    assert skip_reason(garbage, tmp_path) == staff_messages.SKIP_CORRUPT_PDF
    assert not [r for r in caplog.records if r.name.startswith("pypdf") and r.levelno < logging.ERROR]


# --- Excel and CSV -----------------------------------------------------------------------------


def test_xlsx_sheets_become_tables(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "长者饭堂"
    sheet.append([None, None, None])
    sheet.append(["区县", None, "名称", "补贴（元）"])
    sheet.append(["城区", None, "凤山长者饭堂", 3.0])
    sheet.append([None, None, None, None])
    sheet.append(["海丰县", None, "海城长者饭堂", 2.5])
    workbook.create_sheet("空表")
    path = tmp_path / "sites.xlsx"
    workbook.save(str(path))

    doc = load_file(path, tmp_path)
    assert doc.page_content == (
        "## 长者饭堂\n\n| 区县 | 名称 | 补贴（元） |\n| --- | --- | --- |\n"
        "| 城区 | 凤山长者饭堂 | 3 |\n| 海丰县 | 海城长者饭堂 | 2.5 |"
    )
    assert doc.metadata["title"] == "sites"
    assert doc.metadata["format"] == "xlsx"


def test_gbk_csv_becomes_one_table(tmp_path: Path) -> None:
    data = "区县;咨询电话;地址\r\n城区;0660-3300100;城区政务服务中心\r\n陆丰市;0660-3300300;东海街道\r\n"
    doc = load_file(write(tmp_path, "电话.csv", data.encode("gbk")), tmp_path)
    assert doc.page_content == (
        "| 区县 | 咨询电话 | 地址 |\n| --- | --- | --- |\n"
        "| 城区 | 0660-3300100 | 城区政务服务中心 |\n| 陆丰市 | 0660-3300300 | 东海街道 |"
    )
    assert doc.metadata["format"] == "csv"


# --- files that must be skipped -------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("broken.docx", b"PK\x03\x04 this is not really a zip", staff_messages.SKIP_CORRUPT_DOCX),
        ("broken.xlsx", b"not a workbook at all", staff_messages.SKIP_CORRUPT_XLSX),
        ("random.txt", b"\x80\xff" * 20, staff_messages.SKIP_UNDECODABLE),
        ("empty.md", b"", staff_messages.SKIP_EMPTY),
        ("blank.md", b" \n\t\r\n  \n", staff_messages.SKIP_EMPTY),
        ("only-front-matter.md", "---\ntitle: 空文档\n---\n\n".encode(), staff_messages.SKIP_EMPTY),
        ("empty.csv", b",,\n,,\n", staff_messages.SKIP_EMPTY),
    ],
)
def test_broken_files_are_skipped_with_reason(tmp_path: Path, name: str, data: bytes, reason: str) -> None:
    assert skip_reason(write(tmp_path, name, data), tmp_path) == reason


def test_unsupported_suffix(tmp_path: Path) -> None:
    reason = skip_reason(write(tmp_path, "photo.HEIC", b"\x00\x00\x00\x18ftypheic"), tmp_path)
    assert reason == staff_messages.SKIP_UNSUPPORTED.format(
        suffix=".HEIC", supported=", ".join(sorted(SUPPORTED_SUFFIXES))
    )
    assert ".docx" in reason


def test_malformed_front_matter(tmp_path: Path) -> None:
    bad_yaml = write(tmp_path, "bad.md", "---\ntitle: 低保\ncategory: [assistance\n---\n正文\n")
    assert skip_reason(bad_yaml, tmp_path).startswith(staff_messages.SKIP_BAD_FRONT_MATTER.split("{")[0])
    unclosed = write(tmp_path, "unclosed.md", "---\ntitle: 低保\n正文没有结束行\n")
    assert "缺少结束的 --- 行" in skip_reason(unclosed, tmp_path)
    bad_date = write(tmp_path, "date.md", "---\nissued: 2025-13-01\n---\n正文\n")
    assert "日期无效" in skip_reason(bad_date, tmp_path)


def test_unreadable_file(tmp_path: Path) -> None:
    folder = tmp_path / "folder.md"
    folder.mkdir()
    assert skip_reason(folder, tmp_path).startswith(staff_messages.SKIP_UNREADABLE.split("{")[0])


# --- the folder ------------------------------------------------------------------------------


def test_knowledge_files_skips_hidden_and_reserved(tmp_path: Path) -> None:
    for name in ["b.md", "a/c.txt", "a/_synonyms.txt", ".hidden.md", ".git/config.md", "a/.cache/x.md"]:
        write(tmp_path, name, "内容")
    assert knowledge_files(tmp_path) == [tmp_path / "a" / "c.txt", tmp_path / "b.md"]


def test_sample_corpus_loads_with_metadata() -> None:
    files = knowledge_files(KNOWLEDGE)
    assert files
    docs = {doc.metadata["path"]: doc for doc in (load_file(path, KNOWLEDGE) for path in files)}
    for doc in docs.values():
        assert doc.metadata["title"] and doc.metadata["category"]
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", doc.metadata["issued"])
        assert isinstance(doc.metadata["sample"], bool)
        assert not doc.page_content.startswith("---")
    faq = docs["faq.md"].metadata
    assert (faq["title"], faq["category"], faq["issued"], faq["sample"]) == (
        "民政业务常见问题解答",
        "faq",
        "2025-05-20",
        True,
    )
    assert docs["temporary-assistance.md"].metadata["sample"] is False
    assert "| 类别 | 标准（元/人·月） |\n| --- | --- |\n| 城镇低保标准 | 1030元 |" in (
        docs["assistance-standards-shanwei.md"].page_content
    )
