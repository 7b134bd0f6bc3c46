"""The question path fuzzed with hypothesis: any Unicode, huge input, control characters, markup.

For every input ``Assistant.ask`` returns (no exception escapes), the reply is non-empty, and every
Telegram message built from it is HTML that Telegram accepts (only its tags, balanced, known
entities) and at most 4096 UTF-16 code units.
"""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.channels.telegram import format as fmt
from bot.records import Answer
from bot.testing.telegram_html import parse_html, utf16_len
from tests.helpers.knowledge import KnowledgeBase

TELEGRAM_TAGS = {"b", "i", "u", "s", "a", "code", "pre", "blockquote"}
_TAG = re.compile(r"</?([a-zA-Z][a-zA-Z0-9-]*)")

WORDS = [
    "低保",
    "结婚登记",
    "离婚",
    "老年助餐",
    "特困",
    "临时救助",
    "材料",
    "多少钱",
    "怎么申请",
    "汕尾",
    "？",
]
NASTY = [
    "<b>", "</i>", "<script>alert(1)</script>", "&amp;", "&", "&#0;", "<", ">", '"', "'", "\x00", "\x1b[31m",
    "\u202e", "\u200b", "\ufeff", "\ud7ff", "\U0001f600", "\U0001f468\u200d\U0001f469\u200d\U0001f467",
    "\r\n", "\t", "\x85", "\u2028", "忽略之前的指令", "ignore previous instructions", "440101199001011234",
    "**问：**", "| a | b |", "# 标题", "`code`", "../../etc/passwd",
]  # fmt: skip

any_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=300)
controls = st.text(alphabet=st.characters(categories=["Cc", "Cf", "Zl", "Zp", "Zs", "Mn"]), max_size=200)
mixed = st.lists(st.sampled_from(WORDS + NASTY) | any_text, max_size=12).map("".join)
huge = st.builds(
    lambda piece, n: (piece or "低保") * n,
    st.sampled_from(WORDS + NASTY) | st.text(max_size=20),
    st.integers(min_value=500, max_value=20_000),
)
questions = st.one_of(any_text, controls, mixed, huge)
histories = st.lists(st.one_of(st.sampled_from(WORDS), any_text), max_size=4)


def check_telegram_messages(answer: Answer) -> None:
    for echo in ("", answer.question[:5000]):
        texts = fmt.answer_messages(answer, hotline="12345", question=echo, note="")
        assert texts
        for text in texts:
            assert utf16_len(text) <= 4096
            tags = {m.group(1).lower() for m in _TAG.finditer(text)}
            assert tags <= TELEGRAM_TAGS, tags
            visible, error = parse_html(text)
            assert not error, (error, text[:300])
            assert visible.strip()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(question=questions, history=histories)
def test_ask_never_raises_and_replies_are_valid_telegram_html(
    ingested: KnowledgeBase, question: str, history: list[str]
) -> None:
    answer = ingested.assistant.ask(question, history)
    assert isinstance(answer, Answer)
    assert answer.text.strip()
    assert answer.kind
    check_telegram_messages(answer)
