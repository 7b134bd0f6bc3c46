"""Phone numbers in a text, cut out as tap-to-call parts for the web page.

An answer's text becomes a list of parts, ``{"text": ...}`` or ``{"text": "0660-3300000", "tel":
"06603300000"}``; the page sets each part's text with ``textContent`` and makes a ``tel:`` link of
the second kind only, so a phone number is one tap away for a resident who cannot copy it, and
nothing else (an address, a website named in the text) ever becomes a link.

What counts as a phone number: a landline with its area code (0660-3300000), a mobile number
(13812345678), a 400 number, the 12345 hotline and the other five-digit public-service lines
(123xx), and 110/119/120/122 where the text says to call them ("拨打 110"). Figures glued to other
digits, a decimal point or a unit (120元, 12345678901234567X) are left alone.
"""

from __future__ import annotations

import re
from typing import TypedDict

_NUMBER = re.compile(
    r"(?<![\d.\-－])"
    r"(?:"
    r"0\d{2,3}[-－ ]?\d{7,8}"  # landline with area code
    r"|1[3-9]\d[- ]?\d{4}[- ]?\d{4}"  # mobile
    r"|400[- ]?\d{3}[- ]?\d{4}"  # 400 service number
    r"|123\d{2}"  # 12345 and the other public-service lines
    r"|11[09]|12[02]"  # emergency numbers: only where the text says to call them
    r")"
    r"(?![\d.%％元岁块个人年月日号])"
)
_CALL_CUE = re.compile(r"(?:拨打|致电|电话|热线|打)[^\d]{0,3}$")
_EMERGENCY_CUE = re.compile(r"\s*[（(]?(?:报警|急救|火警|匪警|交通)")
_EMERGENCY = frozenset({"110", "119", "120", "122"})


class Part(TypedDict, total=False):
    text: str
    tel: str


def parts(text: str) -> list[Part]:
    """``text`` cut into plain parts and phone-number parts (with the digits to dial), in order."""
    out: list[Part] = []
    at = 0
    for match in _NUMBER.finditer(text):
        number = match.group(0)
        if number in _EMERGENCY and not _called(text, match.start(), match.end()):
            continue
        if match.start() > at:
            out.append({"text": text[at : match.start()]})
        out.append({"text": number, "tel": re.sub(r"\D", "", number)})
        at = match.end()
    if at < len(text):
        out.append({"text": text[at:]})
    return out


def _called(text: str, start: int, end: int) -> bool:
    """Whether the text says to call the short number at ``start:end`` ("拨打 110", "120（急救）")."""
    return bool(_CALL_CUE.search(text[max(0, start - 6) : start]) or _EMERGENCY_CUE.match(text, end))


def numbers(text: str) -> list[str]:
    """The digits to dial for every phone number in ``text``."""
    return [p["tel"] for p in parts(text) if "tel" in p]
