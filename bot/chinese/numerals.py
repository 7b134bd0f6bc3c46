"""Numbers as residents write them: '2000', '2千', '1.5万', '两千五', '二〇二五' (:func:`cn_number`),
and quantities made comparable for matching: 22岁 ↔ 二十二周岁, 30天 ↔ 三十日 (:func:`canonical`).

Whatever a resident types, :func:`cn_number` returns a finite number between 0 and
:data:`MAX_NUMBER`, or None: 309 × "九" once became ``inf`` and crashed the 低保 calculator.
"""

from __future__ import annotations

import math
import re

_CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "俩": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10**4, "亿": 10**8}
CN_NUMERAL_CHARS = "".join(_CN_DIGITS) + "".join(_CN_UNITS)
MAX_NUMBER = 10**12  # far above any income, age or household size; below float's exact integers
MAX_TOKEN_CHARS = 24  # a longer "number" is read as none (the digits of 10**12 in any notation fit)


def cn_number(token: str) -> float | None:
    """'2000' '2千' '1.5万' '两千五' '四' '十二' '二〇二五' → a number.

    None when it is not one, and when it is longer than MAX_TOKEN_CHARS or larger than MAX_NUMBER:
    callers get a finite number in [0, MAX_NUMBER] or nothing, never inf or nan.
    """
    token = token.strip()
    if len(token) > MAX_TOKEN_CHARS:
        return None
    value = _read(token)
    return value if value is not None and math.isfinite(value) and 0 <= value <= MAX_NUMBER else None


def _read(token: str) -> float | None:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([万千kK亿]?)", token)
    if m:
        factor = {"亿": 10**8, "万": 10000, "千": 1000, "k": 1000, "K": 1000, "": 1}[m.group(2)]
        return float(m.group(1)) * factor
    if not token or any(ch not in _CN_DIGITS and ch not in _CN_UNITS for ch in token):
        return None
    if not any(ch in _CN_UNITS for ch in token):  # 二〇二五: digit by digit
        return float("".join(str(_CN_DIGITS[ch]) for ch in token))
    total, section, digit = 0, 0, None
    last_unit = 1
    for ch in token:
        if ch in _CN_DIGITS:
            digit = _CN_DIGITS[ch]
        else:
            unit = _CN_UNITS[ch]
            if unit >= 10**4:
                total += (section + (digit or 0)) * unit
                section, digit = 0, None
            else:
                section += (digit if digit is not None else 1) * unit
                digit = None
            last_unit = unit
    if digit is not None:
        # '两千五' means 2500: a trailing digit is one unit below the last one.
        section += digit * (last_unit // 10 if last_unit >= 100 and token[-2] in _CN_UNITS else 1)
    return float(total + section)


# Measure words after a number, and the one form each is compared in.
_MEASURES = {
    "周岁": "岁",
    "岁": "岁",
    "日": "日",
    "天": "日",
    "个工作日": "个工作日",
    "工作日": "个工作日",
    "个月": "个月",
    "年": "年",
    "元": "元",
    "块": "元",
    "倍": "倍",
    "小时": "小时",
    "周": "周",
    "个星期": "周",
    "星期": "周",
}
_MEASURE = "|".join(sorted(_MEASURES, key=len, reverse=True))
# "5万元" is one number (50000元), not "5" and "万元"; a unit alone ("上万元") is no number.
_NUMBER = re.compile(rf"(\d+(?:\.\d+)?\s*[万千亿]?|[{CN_NUMERAL_CHARS}]+)\s*({_MEASURE})")
_DAYS_IN = {"个月": 30, "周": 7}


def canonical(text: str) -> str:
    """``text`` with every counted quantity written as digits and one measure word.

    "二十二周岁" → "22岁", "三十天" → "30日", "一个月" → "30日", "两周" → "14日": up to three months
    or weeks are counted in days, which is how rules state them ("三十日内"). Dates are left alone:
    a bare 月 is never a measure ("5月10日").
    """

    def one(m: re.Match[str]) -> str:
        written = m.group(1).replace(" ", "")
        value = cn_number(written) if _counts(written) else None
        if value is None:
            return m.group(0)
        measure = _MEASURES[m.group(2)]
        if measure in _DAYS_IN and value <= 3:
            value, measure = value * _DAYS_IN[measure], "日"
        number = f"{value:g}" if value < 1e15 else m.group(1)  # a huge numeral stays as written
        return f"{number}{measure}"

    return _NUMBER.sub(one, text)


def _counts(written: str) -> bool:
    """A numeral that says how many: it has a digit, or starts with 十 ("十元"); "万" alone does not."""
    return written[0] == "十" or any(ch.isdigit() or ch in _CN_DIGITS for ch in written)
