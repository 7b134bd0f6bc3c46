"""Chunking: what each retrieval passage looks like (no model needed)."""

from __future__ import annotations

import re

import pytest
from langchain_core.documents import Document

from bot.config import ChunkingSettings, load_settings
from bot.ingest.chunking import chunk_body, chunk_document
from bot.ingest.loaders import knowledge_files, load_file
from bot.records import HEADING_SEP, table_rows
from tests.helpers.knowledge import KNOWLEDGE

SMALL = ChunkingSettings(max_chars=120, min_chars=40)


def chunks_of(markdown: str, settings: ChunkingSettings = SMALL, title: str = "办事指南") -> list[Document]:
    return chunk_document(
        Document(page_content=markdown, metadata={"path": "guide.md", "title": title}), settings
    )


def bodies(chunks: list[Document]) -> list[str]:
    return [chunk_body(c) for c in chunks]


@pytest.fixture(scope="module")
def corpus_chunks() -> list[Document]:
    """Every chunk of the repository's sample knowledge, with the configured chunk sizes."""
    settings = load_settings(None)
    out: list[Document] = []
    for path in knowledge_files(KNOWLEDGE):
        out += chunk_document(load_file(path, KNOWLEDGE), settings.chunking)
    return out


def test_every_chunk_carries_its_heading_path() -> None:
    chunks = chunks_of(
        "# 办事指南\n\n引言：本指南说明申请流程。\n\n## 申请条件\n\n本市户籍居民。\n\n"
        "### 所需材料\n\n- 身份证\n- 照片\n\n## 办理地点\n\n各镇（街道）便民服务中心。\n"
    )
    by_text = {chunk_body(c): c.metadata["heading"] for c in chunks}
    assert by_text == {
        "引言：本指南说明申请流程。": "办事指南",
        "本市户籍居民。": f"办事指南{HEADING_SEP}申请条件",
        "- 身份证\n- 照片": f"办事指南{HEADING_SEP}申请条件{HEADING_SEP}所需材料",
        "各镇（街道）便民服务中心。": f"办事指南{HEADING_SEP}办理地点",
    }
    # The heading path is also the passage's first line, so the answer keeps its context.
    assert all(c.page_content.split("\n", 1)[0] == c.metadata["heading"] for c in chunks)


def test_heading_path_starts_with_the_title_even_without_a_level_one_heading() -> None:
    chunks = chunks_of("## 补贴标准\n\n每人每月50元。\n", title="高龄津贴指南")
    assert [c.metadata["heading"] for c in chunks] == ["高龄津贴指南 › 补贴标准"]


def test_no_chunk_is_only_a_heading() -> None:
    chunks = chunks_of(
        "# 办事指南\n\n## 空的一节\n\n## 也是空的\n\n### 子节\n\n## 有内容\n\n只有这一段正文。\n\n## 结尾空节\n"
    )
    assert bodies(chunks) == ["只有这一段正文。"]
    assert chunks[0].metadata["heading"] == "办事指南 › 有内容"


def test_no_chunk_of_the_sample_knowledge_is_empty_or_a_bare_heading(corpus_chunks: list[Document]) -> None:
    assert len(corpus_chunks) > 100
    for chunk in corpus_chunks:
        body = chunk_body(chunk).strip()
        assert body, chunk.metadata
        assert not re.fullmatch(r"(#{1,6}\s+.*\n?)+", body), chunk.page_content


def test_sample_knowledge_chunks_fit_the_configured_size(corpus_chunks: list[Document]) -> None:
    max_chars = load_settings(None).chunking.max_chars
    too_long = [
        (c.metadata["path"], len(chunk_body(c))) for c in corpus_chunks if len(chunk_body(c)) > max_chars
    ]
    assert too_long == []


def test_a_split_table_repeats_its_header_row_in_every_piece() -> None:
    header = "| 镇（街道） | 助餐点 | 电话 |\n| --- | --- | --- |"
    rows = [f"| 凤山街道{i}社区 | 第{i}长者饭堂 | 0660-33{i:05d} |" for i in range(12)]
    chunks = chunks_of(f"# 助餐点名录\n\n## 城区\n\n{header}\n" + "\n".join(rows) + "\n", title="助餐点名录")
    assert len(chunks) > 1, "the table is longer than max_chars and must be split"
    seen: list[str] = []
    for chunk in chunks:
        lines = chunk_body(chunk).split("\n")
        assert lines[:2] == header.split("\n")
        assert len(chunk_body(chunk)) <= SMALL.max_chars
        seen += lines[2:]
    assert seen == rows  # every row once, in order, never cut inside


def test_each_faq_pair_is_one_chunk_with_its_question() -> None:
    chunks = chunks_of(
        "# 常见问题\n\n## 婚姻登记\n\n"
        "**问：**结婚登记还要带户口本吗？\n**答：**不用，只需本人身份证和签字声明。\n\n"
        "问：能让家人代办吗？\n答：不能，双方必须亲自到场。\n"
        "问：要收费吗？\n答：不收费。\n",
        title="常见问题",
    )
    assert [c.metadata["kind"] for c in chunks] == ["faq", "faq", "faq"]
    assert [c.metadata["question"] for c in chunks] == [
        "结婚登记还要带户口本吗？",
        "能让家人代办吗？",
        "要收费吗？",
    ]
    assert "只需本人身份证" in chunk_body(chunks[0]) and "代办" not in chunk_body(chunks[0])
    assert chunk_body(chunks[1]) == "问：能让家人代办吗？\n答：不能，双方必须亲自到场。"
    assert chunk_body(chunks[2]) == "问：要收费吗？\n答：不收费。"


def test_sample_faq_file_gives_one_chunk_per_question(corpus_chunks: list[Document]) -> None:
    faq = [c for c in corpus_chunks if c.metadata["path"] == "faq.md" and c.metadata["kind"] == "faq"]
    text = (KNOWLEDGE / "faq.md").read_text(encoding="utf-8")
    assert len(faq) == len(re.findall(r"^\*\*问：\*\*", text, re.M)) > 10
    assert all(chunk_body(c).count("问：") == 1 and "答：" in chunk_body(c) for c in faq)


def test_a_long_paragraph_is_cut_after_sentence_ends_within_max_chars() -> None:
    sentences = [
        "申请人应当向户籍所在地的镇人民政府（街道办事处）提出书面申请。",
        "镇人民政府（街道办事处）应当自受理之日起十个工作日内完成入户调查！",
        "调查结果是否需要公示？",
        "需要公示的，在村（居）民委员会设置的公示栏公示七日；",
        "公示无异议的，报县级民政部门审批。",
    ]
    paragraph = "".join(sentences * 3)
    assert len(paragraph) > 2 * SMALL.max_chars
    chunks = chunks_of(f"# 办事指南\n\n## 办理流程\n\n{paragraph}\n")
    assert len(chunks) >= 3
    for chunk in chunks:
        body = chunk_body(chunk)
        assert len(body) <= SMALL.max_chars, body
        assert len(chunk.page_content) <= SMALL.max_chars + len(chunk.metadata["heading"]) + 1
        assert body[-1] in "。！？；", f"cut inside a sentence: {body!r}"
    assert "".join(b.replace("\n", "") for b in bodies(chunks)) == paragraph  # nothing lost or repeated


def test_a_short_last_sentence_does_not_push_a_chunk_over_max_chars() -> None:
    settings = ChunkingSettings(max_chars=100, min_chars=40)
    sentence = "一二三四五六七八九十一二三四五六七八九。"  # 20 characters
    chunks = chunks_of(f"# 办事指南\n\n## 说明\n\n{sentence * 5}短尾。\n", settings)
    assert max(len(chunk_body(c)) for c in chunks) <= settings.max_chars


def test_a_list_stays_in_one_chunk() -> None:
    items = ["- 居民身份证原件", "- 户口簿", "- 近期二寸免冠照片两张", "- 收入证明", "- 签字的申请声明"]
    chunks = chunks_of(
        "# 办事指南\n\n## 所需材料\n\n申请时请带齐以下材料：\n\n"
        + "\n".join(items)
        + "\n\n材料不全的不予受理。\n"
    )
    holding = [c for c in chunks if items[0] in c.page_content]
    assert len(holding) == 1
    assert all(item in holding[0].page_content for item in items)


def test_a_list_longer_than_max_chars_is_cut_between_items() -> None:
    items = [f"{i}. 第{i}项：请携带本人有效证件及相关证明材料的原件和复印件各一份。" for i in range(1, 9)]
    chunks = chunks_of("# 办事指南\n\n## 所需材料\n\n" + "\n".join(items) + "\n")
    assert len(chunks) > 1
    lines = [line for b in bodies(chunks) for line in b.split("\n")]
    assert lines == items  # no item cut in two, none lost
    assert all(len(b) <= SMALL.max_chars for b in bodies(chunks))


def test_table_rows_render_column_and_value() -> None:
    text = (
        "城乡低保标准如下：\n"
        "| 类别 | 标准 | 备注 |\n| --- | --- | --- |\n| 城镇 | 1030元 |  |\n| 农村 | 800元 | 示例 |\n"
        "\n| 年龄段 | 每人每月 |\n|---|---|\n| 80至89周岁 | 50元 |\n"
    )
    assert table_rows(text) == [
        "类别：城镇，标准：1030元",
        "类别：农村，标准：800元，备注：示例",
        "年龄段：80至89周岁，每人每月：50元",
    ]
    assert table_rows("没有表格的一段话。") == []
