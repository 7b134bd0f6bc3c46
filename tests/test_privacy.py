"""What staff see in /unanswered holds no resident's contact details or identity (issue 14, item 7).

Questions are redacted before anything is stored (history, the questions log): phone and id numbers
in any notation (punctuated, Chinese numerals, full-width), e-mail addresses, WeChat and QQ ids,
house numbers of street addresses, and personal names that jieba's part-of-speech tagger finds.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot import messages
from bot.state.database import State
from bot.state.privacy import redact

NUMBER, EMAIL, ACCOUNT, ADDRESS, NAME = (
    messages.REDACTED_NUMBER,
    messages.REDACTED_EMAIL,
    messages.REDACTED_ACCOUNT,
    messages.REDACTED_ADDRESS,
    messages.REDACTED_NAME,
)

PHONES = [
    "13800138000",
    "138.0013.8000",
    "138-0013-8000",
    "138 0013 8000",
    "+86 138 0013 8000",
    "(0660) 330-0000",
    "０６６０－３３００００１",
    "１３８００１３８０００",
    "一三八零零一三八零零零",
    "幺三八〇〇幺三八〇〇〇",
    "壹叁捌零零壹叁捌零零零",
    "138零零13八000",
    "一 三 八 零 零 一 三 八 零 零 零",
]
IDS = [
    "44150219900101123X",
    "441502199001011234",
    "441502900101123",
    "441502********123X",
    "4415 0219 9001 0112 34",
]


def no_digits_left(text: str) -> bool:
    """No run of three or more digits, in any notation, survives."""
    folded = text.translate(
        str.maketrans(
            "０１２３４５６７８９零〇幺一二三四五六七八九壹贰叁捌", "0123456789001123456789" + "1238"
        )
    )
    return re.search(r"\d{3,}", re.sub(r"[\s\-.()+]", "", folded)) is None


@pytest.mark.parametrize("phone", PHONES)
def test_phone_numbers_in_any_notation_are_redacted(phone: str) -> None:
    got = redact(f"我电话{phone}，低保怎么申请？")
    assert got.startswith("我电话") and got.endswith("，低保怎么申请？")
    assert NUMBER in got and no_digits_left(got), got


@pytest.mark.parametrize("number", IDS)
def test_id_numbers_are_redacted(number: str) -> None:
    got = redact(f"身份证{number}能查低保吗")
    assert NUMBER in got and no_digits_left(got), got


@pytest.mark.parametrize(
    "text",
    [
        "我的邮箱是 zhang.san+dibao@163.com，请回复",
        "邮箱ＺＨＡＮＧ＠ＱＱ．ＣＯＭ",
        "发到 li_si@shanwei.gov.cn 就行",
    ],
)
def test_email_addresses_are_redacted(text: str) -> None:
    got = redact(text)
    assert EMAIL in got and "@" not in got and "＠" not in got, got


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("加我微信 zhangsan_1990 详细说", "zhangsan_1990"),
        ("微信号：wxid_abc123xyz", "wxid_abc123xyz"),
        ("vx: lisi-888 谢谢", "lisi-888"),
        ("V信wang12345", "wang12345"),
        ("我的QQ号是56789", "56789"),
        ("微信是Chen_Shanwei", "Chen_Shanwei"),
    ],
)
def test_wechat_and_qq_ids_are_redacted(text: str, secret: str) -> None:
    got = redact(text)
    assert secret not in got and ACCOUNT in got, got


@pytest.mark.parametrize(
    ("text", "kept", "gone"),
    [
        ("我住汕尾市城区香城路28号3栋501，附近有长者饭堂吗", "香城路", ["28号", "501"]),
        ("地址是海丰县附城镇新园村3组15号", "新园村", ["3组", "15号"]),
        ("陆丰市东海大道东128号之二", "东海大道", ["128号"]),
        ("金海湾花园二栋一单元602房", "金海湾花园", ["602", "二栋"]),
    ],
)
def test_house_numbers_of_street_addresses_are_redacted(text: str, kept: str, gone: list[str]) -> None:
    got = redact(text)
    assert kept in got and ADDRESS in got, got
    assert not any(part in got for part in gone), got


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("我叫张伟，想问低保怎么申请", "张伟"),
        ("我妈李秀英今年72岁，能去长者饭堂吗", "李秀英"),
        ("我是陈建国，电话发给你", "陈建国"),
        ("我和郑秋菊离婚要什么材料", "郑秋菊"),
        ("黄志明和我要结婚，要带什么", "黄志明"),
    ],
)
def test_personal_names_are_redacted(text: str, name: str) -> None:
    got = redact(text)
    assert name not in got and NAME in got, got


@pytest.mark.parametrize(
    "text",
    [
        "2025-05-10以后要带户口本吗？拨12345，标准1030元",
        "2025.05.10前申请，工作日8:30-12:00办理",
        "城镇3口人每月收入一千二百元，能吃低保吗？",
        "二〇二五年的低保标准是多少",
        "红草镇有没有助餐点",
        "马宫街道的长者饭堂在哪里",
        "东涌镇低保怎么申请",
        "海丰县的长者饭堂电话",
        "结婚登记要带什么材料？",
        "离婚冷静期多久",
        "特困人员全自理每月多少钱",
        "残疾人两项补贴一级护理多少",
        "临时救助最多给多少",
        "老年助餐补贴怎么领",
        "高龄津贴80岁以上有吗",
        "社区志愿者夜校报名热线0660-3327788",
    ],
)
def test_ordinary_questions_keep_their_words(text: str) -> None:
    if "0660-3327788" in text:  # a phone number, even an office's, is still a phone number
        assert redact(text) == text.replace("0660-3327788", NUMBER)
    else:
        assert redact(text) == text


def test_nothing_raw_reaches_the_state_database(tmp_path: Path) -> None:
    questions = [
        "我叫张伟，电话一三八零零一三八零零零，住香城路28号3栋501",
        "邮箱 zhang.san@163.com 微信 zhangsan_1990",
        "身份证441502199001011234，手机138.0013.8000",
    ]
    state = State(tmp_path)
    for question in questions:
        state.record_answer(user="u", chat_type="web", question=question, answered=False, kind="dont_know")
        state.remember(state.chat_key(1), question)
    stored = [row.question for row in state.unanswered(days=1)] + state.history(state.chat_key(1))
    state.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("bot_state")).decode(
        "utf-8", errors="ignore"
    )
    for secret in (
        "张伟",
        "一三八零零一三八零零零",
        "28号",
        "zhang.san@163.com",
        "zhangsan_1990",
        "441502199001011234",
        "138.0013.8000",
    ):
        assert secret not in raw, secret
        assert not any(secret in s for s in stored), secret
