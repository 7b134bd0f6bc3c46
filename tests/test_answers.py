"""Answers a resident can act on: the fact first, from the documents cited, current rules only.

End to end with the real model: the sample folder (``ingested``), a copy where staff change a
standard, and a small folder of regulations where a newer law replaces an older one.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.evaluation import documents_of, quotes_uncited
from bot.ingest.indexing import ingest
from tests.helpers.knowledge import KnowledgeBase, knowledge_base

OLD_LAW = """---
title: 社会救助暂行办法
category: assistance
issued: 2019-03-02
---

# 社会救助暂行办法

## 第六章 临时救助

第四十七条 国家对因火灾、交通事故等意外事件，家庭成员突发重大疾病等原因，导致基本生活暂时出现严重困难的家庭，给予临时救助。

第四十八条 申请临时救助的，应当向乡镇人民政府、街道办事处提出，经审核、公示后，由县级人民政府民政部门审批。
"""

NEW_LAW = """---
title: 中华人民共和国社会救助法
category: assistance
issued: 2026-04-30
---

# 中华人民共和国社会救助法

## 第二章 救助对象和措施

第三十六条 对遭遇突发事件、意外伤害、重大疾病等原因导致基本生活暂时陷入困境的家庭或者个人，给予临时救助。

第三十七条 申请临时救助，由本人或者与其共同生活的家庭成员向急难发生地乡镇人民政府、街道办事处提出。

## 第七章 附 则

第七十八条 本法自2026年7月1日起施行。
"""

MARRIAGE = """---
title: 婚姻登记条例
category: marriage
issued: 2025-04-06
---

# 婚姻登记条例

## 第二章 结婚登记

第七条 内地居民结婚，男女双方应当亲自到婚姻登记机关共同申请结婚登记。

第八条 申请结婚登记的内地居民应当出具下列证件和书面材料：

（一）本人的居民身份证；

（二）本人无配偶以及与对方当事人没有直系血亲和三代以内旁系血亲关系的签字声明。

第九条 申请结婚登记的当事人有下列情形之一的，婚姻登记机关不予登记：

（一）未到法定结婚年龄的；

（二）属于直系血亲或者三代以内旁系血亲的。
"""


@pytest.fixture
def regulations(tmp_path: Path, make_data_dir) -> KnowledgeBase:  # type: ignore[no-untyped-def]
    folder = tmp_path / "regulations"
    folder.mkdir()
    (folder / "interim.md").write_text(OLD_LAW, encoding="utf-8")
    (folder / "law.md").write_text(NEW_LAW, encoding="utf-8")
    (folder / "marriage.md").write_text(MARRIAGE, encoding="utf-8")
    kb = knowledge_base(folder, make_data_dir())
    kb.ingest()
    return kb


def test_the_answer_leads_with_the_fact_asked_for(ingested: KnowledgeBase) -> None:
    answer = ingested.assistant.ask("离婚冷静期有多长？")
    assert answer.answered
    assert re.search(r"30日|三十日", answer.text.split("\n")[0])


def test_an_faq_answer_carries_its_question(ingested: KnowledgeBase) -> None:
    answer = ingested.assistant.ask("结婚登记能让家人代办吗？")
    assert answer.answered
    assert "代办" in answer.text.split("不能")[0]  # the question it answers comes before "不能"


def test_answers_quote_only_the_documents_they_cite(ingested: KnowledgeBase) -> None:
    documents = documents_of(ingested.assistant)
    for question in (
        "长者饭堂补贴标准是多少？",
        "低保怎么申请？",
        "离婚证丢了怎么补？",
        "结婚登记去哪里办？",
    ):
        answer = ingested.assistant.ask(question)
        assert answer.answered, question
        assert not quotes_uncited(answer, documents), answer.render()
        assert 1 <= len(answer.cited) <= 2


def test_a_follow_up_on_another_topic_leaves_the_earlier_one_behind(ingested: KnowledgeBase) -> None:
    answer = ingested.assistant.ask("低保怎么申请？", ["结婚登记要带什么材料？"])
    assert answer.answered
    assert answer.cited[0].path == "minimum-living-allowance.md"
    assert "结婚" not in answer.text and "婚姻" not in answer.text


def test_a_follow_up_without_a_subject_still_reads_with_the_earlier_question(ingested: KnowledgeBase) -> None:
    answer = ingested.assistant.ask("需要带哪些材料？", ["残疾人两项补贴怎么申请？"])
    assert answer.answered
    assert answer.cited[0].path == "disability-two-subsidies.md"


def test_a_changed_standard_is_never_contradicted_by_an_old_faq(ingested_copy: KnowledgeBase) -> None:
    standards = ingested_copy.knowledge / "assistance-standards-shanwei.md"
    text = standards.read_text(encoding="utf-8")
    text = text.replace("rural: 840", "rural: 880").replace(
        "| 农村低保标准 | 840元 |", "| 农村低保标准 | 880元 |"
    )
    standards.write_text(text, encoding="utf-8")
    report = ingested_copy.ingest()
    stale = [w for path, w in report.warnings if path == "faq.md"]
    assert stale and "840" in stale[0] and "880" in stale[0]
    assistant = ingested_copy.fresh_assistant()
    for question in ("汕尾农村低保标准是多少", "农村低保每人每月多少钱？", "汕尾现在的低保标准是多少？"):
        answer = assistant.ask(question)
        assert "840" not in answer.render(), question
    assert "880" in assistant.ask("汕尾农村低保标准是多少").render()


def test_an_answer_from_a_regulation_cites_its_article(regulations: KnowledgeBase) -> None:
    answer = regulations.assistant.ask("领结婚证需要带什么证件？")
    assert answer.answered
    assert "居民身份证" in answer.text and "签字声明" in answer.text
    assert "《婚姻登记条例》第八条（2025-04-06）" in answer.render()


def test_the_text_in_force_is_preferred_and_named(regulations: KnowledgeBase) -> None:
    answer = regulations.assistant.ask("家里遭遇意外伤害，生活困难，可以申请什么救助？")
    assert answer.answered
    assert answer.cited[0].path == "law.md"
    quoted_old = regulations.assistant.ask("社会救助暂行办法第四十八条怎么规定临时救助申请？")
    if any(s.path == "interim.md" for s in quoted_old.cited):
        assert "已由《中华人民共和国社会救助法》取代（2026-07-01起施行）" in quoted_old.render()


def test_ingest_marks_the_superseded_text(regulations: KnowledgeBase) -> None:
    index = regulations.assistant.index()
    assert {c.superseded_by for c in index.chunks if c.path == "interim.md"} == {"law.md"}
    assert {c.superseded_by for c in index.chunks if c.path == "law.md"} == {""}
    report = ingest(regulations.settings, progress=False)
    assert report.unchanged  # marking is stable: nothing to write again
