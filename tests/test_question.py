"""Question understanding on a small hand-made index (no model): follow-up detection, searching a
follow-up with the previous question, and what is embedded for dense search."""

from __future__ import annotations

import pytest

from bot.answering.question import Asked, Lexicons, continues, embedded_text, is_follow_up, understand
from bot.answering.retrieval import search
from bot.chinese.normalize import BUILTIN_SYNONYMS, Lexicon, read_lexicon
from tests.helpers.small_index import Doc, filler, settings_with, small_index

DOCS = [
    Doc(
        "dibao.md",
        "低保申请指南 › 一、申请条件",
        "家庭人均收入低于当地低保标准的，可以申请最低生活保障。",
        (1.0, 0.0, 0.0),
    ),
    Doc("dibao.md", "低保申请指南 › 二、所需材料", "需要带户口簿、身份证和收入证明。", (0.9, 0.1, 0.0)),
    Doc(
        "marriage.md",
        "结婚登记指南 › 一、办理地点",
        "男女双方应当亲自到婚姻登记机关申请结婚登记。",
        (0.0, 0.0, 1.0),
    ),
    Doc("meal.md", "长者饭堂指南 › 一、补贴", "长者饭堂用餐补贴按人员类别发放。", (0.2, 0.8, 0.0)),
    *filler(36),  # enough chunks that a word of one document is rare (idf above follow_up_idf)
]
SETTINGS = settings_with()
NO_WORDS = Lexicons(Lexicon(), Lexicon())


@pytest.fixture(scope="module")
def index():  # type: ignore[no-untyped-def]
    return small_index(DOCS)


@pytest.mark.parametrize(
    "question",
    [
        "那要带什么材料？",  # opens like a follow-up
        "如果是农村户口呢",
        "这个需要本人去吗",  # points back
        "需要带哪些材料？",  # short, in the folder's own words, no subject of its own
        "要多久才能批下来呢？",  # a verb the folder lacks and a question word: no subject
    ],
)
def test_follow_ups_are_recognised(index, question: str) -> None:  # type: ignore[no-untyped-def]
    assert is_follow_up(question, index, SETTINGS.tuning)


@pytest.mark.parametrize(
    "question",
    [
        "我想问一下结婚登记到底应该去哪个地方办理呢",  # a rare word of the folder: a topic of its own
        "火星移民补贴到底应该怎么去申请才可以",  # nouns the folder lacks: something new, not a follow-up
        "宠物狗走丢了应该怎么找回来呢",
    ],
)
def test_questions_with_a_subject_of_their_own_are_new(index, question: str) -> None:  # type: ignore[no-untyped-def]
    assert not is_follow_up(question, index, SETTINGS.tuning)


def test_a_follow_up_is_searched_with_the_previous_question(index) -> None:  # type: ignore[no-untyped-def]
    asked = understand("那要带什么材料？", ["低保怎么申请"], index, NO_WORDS, SETTINGS)
    assert asked.follows_up and asked.search == "低保怎么申请 那要带什么材料?"
    assert asked.earlier == ("低保怎么申请",)
    alone = understand(
        "我想问一下结婚登记到底应该去哪个地方办理呢", ["低保怎么申请"], index, NO_WORDS, SETTINGS
    )
    assert not alone.follows_up and alone.search == alone.query and alone.earlier == ()
    assert alone.with_previous().search == f"低保怎么申请 {alone.query}"


def test_only_the_last_max_history_questions_are_context(index) -> None:  # type: ignore[no-untyped-def]
    history = ["一", "二", "三", "低保怎么申请"]
    asked = understand("那要带什么材料？", history, index, NO_WORDS, settings_with(max_history=2))
    assert asked.context == ("三", "低保怎么申请")


def test_a_new_looking_question_continues_when_it_finds_the_previous_questions_guide(index) -> None:  # type: ignore[no-untyped-def]
    found = search(index, "所需材料", [0.9, 0.1, 0.0], SETTINGS)
    assert continues("低保怎么申请", found, index)  # its best document, dibao.md, is found again
    elsewhere = search(index, "结婚登记去哪里", [0.0, 0.0, 1.0], settings_with(dense_weight=0.0))
    assert "meal.md" not in [d.path for d in elsewhere.docs[:3]]
    assert not continues("长者饭堂补贴", elsewhere, index)  # a new topic: searched alone
    assert not continues("火星移民", found, index)  # no keyword of it in the folder


def test_dense_search_embeds_the_gist_and_leaves_out_place_names() -> None:
    asked = Asked("我住在红海湾，低保标准是多少", "我住在红海湾，低保标准是多少")
    assert "红海湾" not in embedded_text(asked, SETTINGS)  # where the resident lives is not the topic
    where = Asked("红海湾的低保窗口在哪里", "红海湾的低保窗口在哪里")
    assert "红海湾" in embedded_text(where, SETTINGS)
    story = "我家里情况比较复杂。" * 8 + "请问低保怎么申请？"
    assert len(story) > SETTINGS.question.embed_chars
    embedded = embedded_text(Asked(story, story), SETTINGS)
    assert embedded.endswith("请问低保怎么申请？") and len(embedded) <= SETTINGS.question.embed_chars


def test_a_residents_word_meets_the_word_this_folder_uses() -> None:
    # Published rules say 刚性支出困难家庭 where the dictionary's first word is the guides' 支出型困难家庭.
    rules = Doc(
        "rigid.md",
        "刚性支出困难家庭认定办法 › 第四条",
        "第四条 刚性支出困难家庭应当同时具备下列条件：未纳入最低生活保障范围。",
        (0.0, 1.0, 0.0),
    )
    lexicons = Lexicons(read_lexicon([BUILTIN_SYNONYMS]), Lexicon())
    index = small_index([rules, *DOCS], synonyms=lexicons.synonyms)
    asked = lexicons.prepare("因病致贫家庭怎么认定", index)
    assert "刚性支出困难家庭" in asked and "因病致贫" not in asked and "支出型" not in asked
    got = search(index, asked, [0.0, 0.0, 1.0], SETTINGS)  # the vector points elsewhere
    assert got.docs[0].path == "rigid.md"


def test_a_follow_up_naming_only_a_new_subject_asks_what_the_previous_question_asked() -> None:
    # "那离婚呢？" after a question on papers wants the papers for a divorce.
    papers = "结婚登记要带什么材料"
    follow = Asked("那离婚呢?", f"{papers} 那离婚呢?", (papers,))
    assert follow.asking == f"{papers} 那离婚呢?"
    # One with an ask of its own keeps it, and a question read alone is its own ask.
    own = Asked("在哪里办?", f"{papers} 在哪里办?", (papers,))
    assert own.asking == "在哪里办?"
    yes_no = Asked("可以送餐上门吗?", f"{papers} 可以送餐上门吗?", (papers,))
    assert yes_no.asking == "可以送餐上门吗?"
    assert Asked("那离婚呢?", "那离婚呢?", (papers,)).asking == "那离婚呢?"  # not a follow-up
