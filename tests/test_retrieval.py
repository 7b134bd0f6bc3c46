"""Hybrid retrieval on a small hand-made index (no model, no Chroma): BM25, rank fusion, the keyword
lead, place names, and grouping passages into documents."""

from __future__ import annotations

import dataclasses
import itertools
import math

import pytest

from bot.answering.index import BM25
from bot.answering.retrieval import coverage, group_by_document, place_weights, rrf, search
from bot.chinese import segment
from bot.records import Chunk, Passage
from tests.helpers.small_index import Doc, filler, settings_with, small_index

DIBAO_RULES = Doc(
    "dibao.md",
    "低保申请指南 › 一、申请条件",
    "户籍在本市、家庭人均收入低于当地低保标准的家庭，可以申请最低生活保障。",
    vector=(1.0, 0.0, 0.0),
)
DIBAO_PAPERS = Doc(
    "dibao.md",
    "低保申请指南 › 二、需要带什么材料",
    "申请人需要提交：\n- 户口簿和身份证\n- 家庭收入证明\n- 银行账户信息",
    vector=(0.9, 0.1, 0.0),
)
MARRIAGE = Doc(
    "marriage.md",
    "结婚登记指南 › 一、办理地点",
    "内地居民结婚，男女双方应当亲自到婚姻登记机关共同申请结婚登记。",
    vector=(0.0, 0.0, 1.0),
    category="marriage",
)
MEAL = Doc(
    "meal.md",
    "老年助餐服务指南 › 三、补贴标准",
    "| 类别 | 每餐补贴 |\n| --- | --- |\n| A类 | 8元 |\n| B类 | 5元 |",
    vector=(0.2, 0.8, 0.0),
    category="elderly",
)
DOCS = [DIBAO_RULES, DIBAO_PAPERS, MARRIAGE, MEAL, *filler(36)]


@pytest.fixture(scope="module")
def index():  # type: ignore[no-untyped-def]
    return small_index(DOCS)


# --- BM25 --------------------------------------------------------------------------------------------


def test_bm25_scores_only_the_chunks_that_have_the_terms_and_rarer_terms_count_more() -> None:
    bm25 = BM25([["低保", "申请"], ["结婚", "申请"], ["申请"]], k1=1.2, b=0.75)
    scores = bm25.scores(["低保"])
    assert scores[0] > 0 and scores[1] == scores[2] == 0
    assert bm25.idf_of("低保") > bm25.idf_of("申请")  # in one chunk, against all three
    assert bm25.idf_of("火星") == bm25.max_idf  # a word the folder lacks counts as the rarest
    assert not bm25.scores(["火星"]).any()


def test_bm25_weights_and_length_normalisation() -> None:
    docs = [["低保"], ["低保", "其他", "其他", "其他"]]
    normalised = BM25(docs, k1=1.2, b=0.75).scores(["低保"])
    assert normalised[0] > normalised[1]  # the same one match counts more in a shorter chunk
    flat = BM25(docs, k1=1.2, b=0.0).scores(["低保"])
    assert math.isclose(flat[0], flat[1])  # b = 0: length does not matter
    weighted = BM25(docs, k1=1.2, b=0.75).scores(["低保"], [0.3])
    assert math.isclose(weighted[0], 0.3 * normalised[0], rel_tol=1e-6)


# --- fusion ------------------------------------------------------------------------------------------


def test_reciprocal_rank_fusion_adds_weighted_votes_by_rank() -> None:
    fused = rrf([([7, 3], 1.0), ([3, 9], 1.0)], k=60)
    assert fused[3] == pytest.approx(1 / 62 + 1 / 61)  # second in one ranking, first in the other
    assert fused[7] == pytest.approx(1 / 61) and fused[9] == pytest.approx(1 / 62)
    assert max(fused, key=fused.__getitem__) == 3  # found by both rankers, it wins
    assert rrf([([7], 0.0), ([9], 1.0)], k=60)[7] == 0.0  # a ranker with weight 0 has no say


def test_search_ranks_the_chunk_with_the_questions_words_first(index) -> None:  # type: ignore[no-untyped-def]
    got = search(index, "低保需要带什么材料", [0.9, 0.1, 0.0], settings_with())
    assert got.passages[0].chunk.heading == DIBAO_PAPERS.heading
    assert got.docs[0].path == "dibao.md"
    assert got.dense_top == pytest.approx(1.0) and got.sparse_top > 0
    assert got.coverage == pytest.approx(1.0)  # every word of the question is in the best passages


def test_keywords_alone_or_vectors_alone_still_find_a_document(index) -> None:  # type: ignore[no-untyped-def]
    by_words = search(index, "结婚登记去哪里办", [1.0, 0.0, 0.0], settings_with(dense_weight=0.0))
    assert by_words.docs[0].path == "marriage.md"  # the vector points at 低保; the words win
    by_vector = search(index, "结婚登记去哪里办", [0.0, 0.0, 1.0], settings_with(sparse_weight=0.0))
    assert by_vector.docs[0].path == "marriage.md"


def test_a_chunk_far_ahead_on_keywords_gets_an_extra_vote(index) -> None:  # type: ignore[no-untyped-def]
    settings = settings_with()
    no_lead = dataclasses.replace(settings, tuning=dataclasses.replace(settings.tuning, sparse_lead=0.0))
    question = "助餐补贴怎么申请"  # 助餐, 补贴 only in meal.md; 申请 in the others too
    with_lead = search(index, question, [1.0, 0.0, 0.0], settings)
    without = search(index, question, [1.0, 0.0, 0.0], no_lead)
    assert with_lead.passages[0].path == "meal.md"  # 24 on BM25 where the next document has 9
    assert without.passages[0].path == "dibao.md"  # on ranks alone the vector's favourite ties ahead
    meal = with_lead.passages[0]
    runner_up = max(p.sparse for p in with_lead.passages if p.path != "meal.md")
    bonus = settings.tuning.sparse_lead * (1.0 - runner_up / meal.sparse) / (settings.retrieval.rrf_k + 1)
    plain = next(p for p in without.passages if p.path == "meal.md")
    assert meal.score == pytest.approx(plain.score + bonus)
    assert len(with_lead.passages) <= settings.tuning.passages


# --- place names and coverage -------------------------------------------------------------------------


def test_place_names_count_less_unless_the_question_asks_where() -> None:
    terms = ["红海湾", "低保", "标准"]
    assert place_weights("我家在红海湾，低保标准一样吗", terms, 0.3) == [0.3, 1.0, 1.0]
    assert place_weights("红海湾的低保窗口在哪里", terms, 0.3) == [1.0, 1.0, 1.0]


def test_coverage_is_the_idf_weighted_share_of_the_question_words_found(index) -> None:  # type: ignore[no-untyped-def]
    got = search(index, "结婚登记", [0.0, 0.0, 1.0], settings_with())
    words = segment.words("结婚登记火星移民")
    share = coverage(index, words, got.passages[:3])
    assert 0.0 < share < 1.0  # 结婚, 登记 found; 火星, 移民 nowhere
    assert coverage(index, [], got.passages) == 0.0


# --- documents ----------------------------------------------------------------------------------------


def test_passages_are_grouped_by_document_best_document_first(index) -> None:  # type: ignore[no-untyped-def]
    settings = settings_with()
    got = search(index, "低保需要带什么材料", [1.0, 0.0, 0.0], settings)
    docs = group_by_document(got.passages, settings.tuning.document_decay)
    assert [d.path for d in docs] == [d.path for d in got.docs]
    dibao = docs[0]
    assert dibao.path == "dibao.md" and dibao.title == "低保申请指南" and dibao.category == "assistance"
    assert [p.chunk.heading for p in dibao.passages] == [
        p.chunk.heading for p in got.passages if p.path == "dibao.md"
    ]
    decay = settings.tuning.document_decay
    assert dibao.score == pytest.approx(sum(decay**n * p.score for n, p in enumerate(dibao.passages)))
    assert all(a.score >= b.score for a, b in itertools.pairwise(docs))


def test_a_document_several_passages_agree_on_outranks_one_lucky_passage() -> None:
    def passage(path: str, n: int, score: float) -> Passage:
        return Passage(f"{path}{n}", "", Chunk(path, chunk=n), 0.0, 0.0, score)

    lucky = passage("notice.md", 0, 0.030)
    rule = [passage("measures.md", n, s) for n, s in enumerate((0.028, 0.025, 0.020))]
    assert [d.path for d in group_by_document([lucky, *rule], 0.6)] == ["measures.md", "notice.md"]
    assert [d.path for d in group_by_document([lucky, *rule], 0.0)] == ["notice.md", "measures.md"]
