"""Phone numbers in answers become tap-to-call parts for the web page; figures that are not
numbers to call (amounts, dates, ages, ID numbers, article numbers) stay text."""

from __future__ import annotations

import pytest

from bot import messages
from bot.channels.web import phones


@pytest.mark.parametrize(
    ("text", "dialled"),
    [
        ("拨打 12345 政务服务便民热线", ["12345"]),
        ("业务咨询电话 0660-3300000（工作日 8:30—12:00）", ["06603300000"]),
        ("电话：0660-3301101", ["06603301101"]),
        ("联系电话0660 3301203。", ["06603301203"]),
        ("手机 13812345678 或 138-1234-5678", ["13812345678", "13812345678"]),
        ("客服 400-800-1234", ["4008001234"]),
        ("紧急情况请拨打 110（报警）或 120（急救）。", ["110", "120"]),
        ("每人每月200元，低保标准1030元/人·月", []),
        ("2025-06-01 起施行，补贴120元，年满110岁", []),
        ("依据第110条；身份证号440000199001011234", []),
        ("12345678", []),
        ("占比12345%", []),
    ],
)
def test_phone_numbers_and_only_they_become_parts_to_dial(text: str, dialled: list[str]) -> None:
    assert phones.numbers(text) == dialled


def test_parts_keep_the_whole_text_in_order() -> None:
    text = messages.TG_CONTACT.format(hotline="12345", bureau_phone="0660-3300000", office_hours="工作日")
    parts = phones.parts(text)
    assert "".join(p["text"] for p in parts) == text
    assert [p["tel"] for p in parts if "tel" in p] == ["12345", "06603300000", "110", "120"]
    assert all(p["text"].replace("-", "").isdigit() for p in parts if "tel" in p)
    # The website in the text stays text: nothing but a phone number becomes a link.
    assert any("www.gdzwfw.gov.cn" in p["text"] and "tel" not in p for p in parts)
    assert phones.parts("") == [] and phones.parts("没有电话") == [{"text": "没有电话"}]
