"""The date a notice was issued, when its front matter does not say: the 落款 in its text, or its file properties.

An official notice ends with the issuing office and the date (落款), e.g. ``汕尾市民政局`` /
``2025年9月20日`` or ``二〇二五年九月二十日``; :func:`from_text` takes that date from the last
lines. Word and PDF files also record when they were made (:func:`from_docx`, :func:`from_pdf`),
a weaker hint used only when the text has no 落款. Dates are given in China Standard Time.
"""

from __future__ import annotations

import io
import logging
import re
import zipfile
from datetime import UTC, date, datetime, timedelta, timezone

from lxml import etree

logger = logging.getLogger(__name__)

CHINA = timezone(timedelta(hours=8))
TAIL_LINES = 8  # the 落款 stands within the last lines (a 抄送 or 此件公开发布 line may follow it)
TAIL_LINE_CHARS = 40  # a 落款 line is short: the office name and the date at most
# python-docx's blank template says it was created at this moment; a file made with it was not.
_TEMPLATE_STAMPS = frozenset({datetime(2013, 12, 23, 23, 15, tzinfo=UTC)})
_CN_DIGITS = {"〇": 0, "○": 0, "零": 0, "O": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5,
              "六": 6, "七": 7, "八": 8, "九": 9}  # fmt: skip
_CN = "〇○零O一二三四五六七八九十"
_DATE = re.compile(
    rf"(\d{{4}}|[{_CN}]{{4}})\s*年\s*(\d{{1,2}}|[{_CN}]{{1,3}})\s*月\s*(\d{{1,2}}|[{_CN}]{{1,3}})\s*日"
)
_DCTERMS = "{http://purl.org/dc/terms/}"


def from_text(text: str) -> str:
    """The ISO date of the 落款: a short line among the last ones that ends with a date; '' when none."""
    lines = [line.strip(" \t\u3000*_#") for line in text.splitlines()]
    tail = [line for line in lines if line][-TAIL_LINES:]
    for line in reversed(tail):
        if len(line) > TAIL_LINE_CHARS:
            continue
        match = _DATE.search(line)
        if match is None or line[match.end() :].strip(" \t\u3000。.）)"):
            continue  # the date must end the line ("自2025年9月20日起执行" is no 落款)
        found = _to_date(*match.groups())
        if found:
            return found
    return ""


def _to_date(year: str, month: str, day: str) -> str:
    try:
        return date(_cn_year(year), _cn_number(month), _cn_number(day)).isoformat()
    except ValueError:
        return ""


def _cn_year(text: str) -> int:
    if text.isdigit():
        return int(text)
    return int("".join(str(_CN_DIGITS[ch]) for ch in text))


def _cn_number(text: str) -> int:
    """1–31 written as digits or as 一…十…三十一."""
    if text.isdigit():
        return int(text)
    if "十" not in text:
        return _CN_DIGITS[text] if len(text) == 1 else -1
    tens, _, ones = text.partition("十")
    return (_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[ones] if ones else 0)


def _local_date(moment: datetime | None) -> str:
    if moment is None or moment in _TEMPLATE_STAMPS:
        return ""
    if moment.tzinfo is not None:
        moment = moment.astimezone(CHINA)
    if not 1990 <= moment.year <= 2100:
        return ""
    return moment.date().isoformat()


def from_docx(data: bytes) -> str:
    """When the Word file was created (``docProps/core.xml``), as a date; '' when unknown."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            root = etree.fromstring(archive.read("docProps/core.xml"))
    except Exception:  # no properties part, or a damaged one: the date is only a hint
        return ""
    for name in ("created", "modified"):
        node = root.find(_DCTERMS + name)
        if node is not None and node.text:
            try:
                moment = datetime.fromisoformat(node.text.strip().replace("Z", "+00:00"))
            except ValueError:
                continue
            if found := _local_date(moment):
                return found
    return ""


def from_pdf(data: bytes) -> str:
    """When the PDF was created (its document information), as a date; '' when unknown."""
    from pypdf import PdfReader

    try:
        info = PdfReader(io.BytesIO(data)).metadata
        moments = (info.creation_date, info.modification_date) if info is not None else ()
    except Exception:  # damaged or locked: the date is only a hint
        return ""
    for moment in moments:
        if found := _local_date(moment):
            return found
    return ""
