"""The staff console in tests: a private copy of the ingested sample, a .docx notice, logging in."""

from __future__ import annotations

import io

import docx

PASSWORD = "correct horse 42"
# A notice the sample knowledge says nothing about: an answer to it can only come from this file.
DOCX_FACT = "银龄暖心探访活动报名截止时间为2025年10月31日"
DOCX_QUESTION = "银龄暖心探访活动报名截止到什么时候？"


def notice_docx(*, dated: bool = False) -> bytes:
    """A Word notice (heading, text, a table); with ``dated`` it ends with a 落款 date."""
    document = docx.Document()
    document.add_heading("汕尾市民政局关于开展银龄暖心探访活动的通知", 1)
    document.add_paragraph(
        "各镇人民政府：为关爱独居老人，全市开展银龄暖心探访活动，志愿者每月上门探访一次。"
        f"{DOCX_FACT}，报名请到所在村（社区）居委会。"
    )
    table = document.add_table(rows=2, cols=2)
    for (r, c), text in {(0, 0): "项目", (0, 1): "内容", (1, 0): "探访频次", (1, 1): "每月一次"}.items():
        table.cell(r, c).text = text
    if dated:
        document.add_paragraph("汕尾市民政局")
        document.add_paragraph("2025年9月1日")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()
