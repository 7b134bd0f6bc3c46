"""Notices rendered as scans: a picture of text (PNG) and a PDF with no text layer, for the OCR tests.

The text is drawn with a CJK font from Debian (``make test`` installs fonts-wqy-microhei when
no CJK font is there), so the scan holds only pixels, as a scanner's output does.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONTS = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
)

NOTICE = (
    "汕尾市民政局关于提高高龄津贴标准的通知",
    "各县（市、区）民政局：",
    "经市人民政府同意，自2025年10月1日起，本市户籍八十周岁以上老年人",
    "高龄津贴每人每月提高到一百二十元，按月发放到本人社会保障卡。",
    "申请人持身份证到户籍所在地村（社区）居委会登记，咨询电话0660-3300000。",
    "汕尾市民政局",
    "2025年9月20日",
)


def cjk_font(size: int) -> ImageFont.FreeTypeFont:
    for path in FONTS:
        if path.exists():
            return ImageFont.truetype(str(path), size)
    raise RuntimeError("no CJK font: apt-get install fonts-wqy-microhei (make test does this)")


def render(lines: tuple[str, ...] = NOTICE, *, size: int = 34, width: int = 1654) -> Image.Image:
    """A white A4-wide page (200 dpi) with the lines in black, as a flatbed scanner gives it."""
    font = cjk_font(size)
    height = 160 + len(lines) * int(size * 1.9)
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    y = 80
    for line in lines:
        draw.text((110, y), line, font=font, fill=0)
        y += int(size * 1.9)
    return image


def png_bytes(lines: tuple[str, ...] = NOTICE) -> bytes:
    out = io.BytesIO()
    render(lines).save(out, "PNG")
    return out.getvalue()


def scanned_pdf_bytes(lines: tuple[str, ...] = NOTICE) -> bytes:
    """A one-page PDF holding only the picture of the page: no text layer."""
    out = io.BytesIO()
    render(lines).convert("RGB").save(out, "PDF", resolution=200)
    return out.getvalue()


# A notice the sample knowledge says nothing about, so an answer to it can only come from the scan.
STATION_NOTICE = (
    "汕尾市民政局关于设立海陆丰助老驿站的通知",
    "各镇人民政府、街道办事处：",
    "为方便老年人就近获得帮助，全市设立海陆丰助老驿站，驿站开放时间为",
    "每周二至周六上午九点至下午五点，提供代办、陪诊和理发服务。",
    "汕尾市民政局",
    "2025年9月20日",
)


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance, one row at a time."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def accuracy(got: str, lines: tuple[str, ...] = NOTICE) -> float:
    """Share of the notice's characters read right (spaces and Markdown heading marks ignored)."""
    truth = "".join("".join(lines).split())
    text = "".join(got.replace("#", "").split())
    return 1 - edit_distance(text, truth) / len(truth)
