"""Topics and their common questions, and the 查看原文 section text, from the served index's chunks."""

from __future__ import annotations

from types import SimpleNamespace

from bot.records import Chunk
from bot.services.topics import TOPICS, section_text, topic_questions


def test_topic_questions_come_from_the_faq_then_the_topic_guides() -> None:
    chunks = [
        Chunk("faq.md", category="faq", kind="faq", chunk=2, heading="问答 › 婚姻登记", question="法定结婚年龄是多少？"),
        Chunk("faq.md", category="faq", kind="faq", chunk=1, heading="问答 › 老年助餐与养老", question="助餐补贴一天能用几次？"),
        Chunk("faq.md", category="faq", kind="faq", chunk=3, heading="问答 › 社会救助", question="低保去哪里申请？"),
        Chunk("meal.md", category="elderly", kind="list", chunk=0, title="老年助餐服务指南", issued="2025-04-01"),
        Chunk("meal.md", category="elderly", kind="list", chunk=1, title="老年助餐服务指南", issued="2025-04-01"),
        Chunk("care.md", category="elderly", kind="text", chunk=0, title="养老机构入住须知", issued="2025-06-01"),
        Chunk("old.md", category="elderly", kind="faq", chunk=0, question="长者饭堂几点开门？"),
    ]  # fmt: skip
    elderly = topic_questions(chunks, TOPICS["elderly"])
    assert elderly == ["助餐补贴一天能用几次？", "长者饭堂几点开门？", "老年助餐服务指南", "养老机构入住须知"]
    assert topic_questions(chunks, TOPICS["marriage"]) == ["法定结婚年龄是多少？"]
    assert topic_questions(chunks, TOPICS["assistance"], limit=1) == ["低保去哪里申请？"]


def test_section_text_joins_the_chunks_of_one_section_in_order() -> None:
    index = SimpleNamespace(
        texts=[
            "指南 › 二、材料\n第二段",
            "指南 › 二、材料\n第一段",
            "指南 › 三、流程\n别的",
            "其他 › 二、材料\n不相干",
        ],
        chunks=[
            Chunk("a.md", heading="指南 › 二、材料", chunk=2),
            Chunk("a.md", heading="指南 › 二、材料", chunk=1),
            Chunk("a.md", heading="指南 › 三、流程", chunk=3),
            Chunk("b.md", heading="指南 › 二、材料", chunk=1),
        ],
    )

    assert section_text(index, "a.md", "指南 › 二、材料") == "第一段\n\n第二段"
    assert section_text(index, "a.md", "指南 › 九、没有") is None
    assert section_text(index, "../../etc/passwd", "x") is None
