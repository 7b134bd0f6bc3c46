"""Answer units and article-aware chunks: what an answer is made of, cut at ingest (no model)."""

from __future__ import annotations

from langchain_core.documents import Document

from bot.config import ChunkingSettings
from bot.ingest.chunking import chunk_document
from bot.ingest.units import embedding_text, unit_documents, units_of
from bot.records import Chunk, FileMeta, Unit

REGULATION = """# 婚姻登记条例

## 第二章 结婚登记

第七条 内地居民结婚，男女双方应当亲自到婚姻登记机关共同申请结婚登记。

第八条 申请结婚登记的内地居民应当出具下列证件和书面材料：

（一）本人的居民身份证；

（二）本人无配偶以及与对方当事人没有直系血亲和三代以内旁系血亲关系的签字声明。

第九条 申请结婚登记的当事人有下列情形之一的，婚姻登记机关不予登记：

（一）未到法定结婚年龄的；

（二）属于直系血亲或者三代以内旁系血亲的。

## 第三章 离婚登记

第十三条 内地居民自愿离婚的，男女双方应当签订书面离婚协议，亲自到婚姻登记机关共同申请离婚登记。
"""

GUIDE = """# 结婚登记指南

## 三、需要带什么材料

内地居民申请结婚登记，双方各自出具：

- 本人的居民身份证
- 本人无配偶的签字声明

## 常见问题

**问：**结婚登记能让家人代办吗？
**答：**不能。男女双方必须亲自到婚姻登记机关共同申请。
"""


def chunks_of(markdown: str, title: str, path: str = "doc.md", max_chars: int = 360) -> list[Document]:
    doc = Document(page_content=markdown, metadata=FileMeta(path=path, title=title).as_meta())
    return chunk_document(doc, ChunkingSettings(max_chars=max_chars, min_chars=10))


def test_every_article_is_a_chunk_of_its_own_with_its_number() -> None:
    chunks = [Chunk.from_meta(c.metadata) for c in chunks_of(REGULATION, "婚姻登记条例")]
    assert [c.article for c in chunks] == ["第七条", "第八条", "第九条", "第十三条"]
    assert chunks[1].heading == "婚姻登记条例 › 第二章 结婚登记"
    assert chunks[3].heading == "婚姻登记条例 › 第三章 离婚登记"


def test_a_long_article_is_never_cut_between_its_lead_in_and_its_items() -> None:
    docs = chunks_of(REGULATION, "婚姻登记条例", max_chars=60)
    eighth = [d.page_content for d in docs if Chunk.from_meta(d.metadata).article == "第八条"]
    lead_in = next(t for t in eighth if "下列证件和书面材料" in t)
    assert "（一）本人的居民身份证" in lead_in and "签字声明" in lead_in


def test_items_carry_their_lead_in_and_the_article_number() -> None:
    eighth = next(d for d in chunks_of(REGULATION, "婚姻登记条例") if "第八条" in d.page_content)
    units = units_of(eighth)
    items = [u for u in units if u.kind == "item"]
    assert [u.text for u in items] == [
        "（一）本人的居民身份证；",
        "（二）本人无配偶以及与对方当事人没有直系血亲和三代以内旁系血亲关系的签字声明。",
    ]
    assert {u.context for u in items} == {"申请结婚登记的内地居民应当出具下列证件和书面材料："}
    assert {u.article for u in units} == {"第八条"}
    assert not any(u.text.startswith("第八条") for u in units)  # the number is the unit's article


def test_a_short_clause_of_an_article_stays_one_unit() -> None:
    seventh = next(d for d in chunks_of(REGULATION, "婚姻登记条例") if "第七条" in d.page_content)
    assert [u.text for u in units_of(seventh)] == [
        "内地居民结婚，男女双方应当亲自到婚姻登记机关共同申请结婚登记。"
    ]


def test_guide_lists_know_their_lead_in_and_faq_answers_their_question() -> None:
    docs = chunks_of(GUIDE, "结婚登记指南")
    units = [u for d in docs for u in units_of(d)]
    item = next(u for u in units if u.text == "本人的居民身份证")
    assert item.kind == "item" and item.context == "内地居民申请结婚登记，双方各自出具："
    faq = next(u for u in units if u.kind == "faq")
    assert faq.text == "不能。男女双方必须亲自到婚姻登记机关共同申请。"
    assert faq.quoted == "结婚登记能让家人代办吗？ 不能。男女双方必须亲自到婚姻登记机关共同申请。"


DEFINITIONS = """# 儿童保障

## 一、含义

**孤儿**：失去父母、查找不到生父母的未满18周岁的未成年人。

**事实无人抚养儿童**：父母虽然在世，但事实上无法履行抚养义务的儿童。下列两种情况属于事实无人抚养儿童：

1. 父母双方均符合重残、重病、失联情形之一的儿童；
2. 父母一方死亡或失踪，另一方符合上述情形之一的儿童。

几个关键词的含义：

- 重残：一级、二级残疾；
- 失联的情形：
  1. 失去联系6个月以上
- 重病：按照当地规定确定。

**困境儿童**：主要有三类。
"""


def test_a_definition_that_introduces_a_list_brings_it() -> None:
    units = [u for d in chunks_of(DEFINITIONS, "儿童保障") for u in units_of(d)]
    by_text = {u.text: u for u in units}
    defined = next(u for u in units if u.text.startswith("事实无人抚养儿童："))
    assert defined.kind == "item"  # a term in bold and its definition, whole
    first = by_text["父母双方均符合重残、重病、失联情形之一的儿童；"]
    assert first.context == defined.text and first.group != defined.group
    # A bullet's own sub-items are under it; the next bullet is not.
    assert by_text["失去联系6个月以上"].context == "失联的情形："
    assert by_text["重病：按照当地规定确定。"].context == "几个关键词的含义："
    assert by_text["困境儿童：主要有三类。"].context == ""  # a new term, under no earlier lead-in


def test_a_chunk_never_ends_on_the_lead_in_of_the_list_after_it() -> None:
    docs = chunks_of(DEFINITIONS, "儿童保障", max_chars=200)
    opening = next(d.page_content for d in docs if "几个关键词的含义：" in d.page_content)
    assert "重残：一级、二级残疾" in opening


def test_bold_words_and_decimals_at_a_line_start_are_no_list_marks() -> None:
    doc = "# 标准\n\n**基本生活标准：**\n\n| 类别 | 金额 |\n| --- | --- |\n| 城市 | 1000元 |\n\n1.5倍低保标准以内的家庭可以申请。\n"
    units = [u for d in chunks_of(doc, "标准") for u in units_of(d)]
    row = next(u for u in units if u.kind == "row")
    assert row.context == "基本生活标准："
    assert next(u for u in units if u.text.startswith("1.5倍")).kind == "sentence"


def test_a_unit_is_embedded_with_where_it_stands() -> None:
    eighth = next(d for d in chunks_of(REGULATION, "婚姻登记条例") if "第八条" in d.page_content)
    item = next(u for u in units_of(eighth) if u.kind == "item")
    text = embedding_text(item, Chunk.from_meta(eighth.metadata))
    assert text.startswith("婚姻登记条例 第二章 结婚登记 第八条 申请结婚登记的内地居民")
    assert text.endswith("（一）本人的居民身份证；")


def test_unit_metadata_round_trips() -> None:
    docs = unit_documents(chunks_of(GUIDE, "结婚登记指南"), None)
    units = [Unit.from_meta(d.metadata) for d in docs]
    assert units == [u for d in chunks_of(GUIDE, "结婚登记指南") for u in units_of(d)]
