"""Extractive answers on a small hand-made index (no model): the answer units that answer picked —
a list whole, one row of a table, an FAQ's answer with its question, within the length limit."""

from __future__ import annotations

import dataclasses

import pytest

from bot.answering.extract import Picked, extract, render
from bot.answering.question import Lexicons
from bot.answering.retrieval import search
from bot.chinese.normalize import BUILTIN_SYNONYMS, Lexicon, read_lexicon
from bot.records import Chunk, Unit
from tests.helpers.small_index import Doc, filler, settings_with, small_index

PAPERS = Doc(
    "dibao.md",
    "低保申请指南 › 二、提出申请",
    "申请低保需要带以下材料：\n- 户口簿和身份证\n- 家庭收入证明\n- 银行账户信息",
    vector=(1.0, 0.0, 0.0),
)
TIMES = Doc(
    "dibao.md",
    "低保申请指南 › 三、办理时限",
    "材料齐全的，镇街在10个工作日内完成入户调查。审核结果在村（居）委会公示7天。",
    vector=(0.9, 0.1, 0.0),
)
LINES = Doc(
    "standards.md",
    "救助标准 › 一、低保标准",
    "| 地区 | 每人每月 |\n| --- | --- |\n| 城镇 | 1030元 |\n| 农村 | 840元 |",
    vector=(0.6, 0.4, 0.0),
)
FAQ = Doc(
    "faq.md",
    "常见问题 › 社会救助",
    "问：低保多久审批完？\n答：一般在30个工作日内完成审核确认。",
    vector=(0.5, 0.5, 0.0),
    category="faq",
    kind="faq",
    question="低保多久审批完？",
)
MEMBERS = Doc(
    "review.md",
    "最低生活保障审核确认办法 › 第七条",
    "第七条 共同生活的家庭成员包括：\n（一）配偶；\n（二）未成年子女；\n（三）已成年但不能独立生活的子女。",
    vector=(0.0, 0.0, 0.9),
    kind="article",
)
APPLICANT = Doc(
    "review.md",
    "最低生活保障审核确认办法 › 第四条",
    "第四条 申请最低生活保障以家庭为单位，由申请家庭确定一名共同生活的家庭成员作为申请人。",
    vector=(0.0, 0.1, 1.0),
    kind="article",
)
SETTINGS = settings_with()


@pytest.fixture(scope="module")
def index():  # type: ignore[no-untyped-def]
    return small_index([PAPERS, TIMES, LINES, FAQ, MEMBERS, APPLICANT, *filler(36)])


def answer(index, question: str, vector: tuple[float, ...], max_chars: int = 340) -> str:  # type: ignore[no-untyped-def]
    retrieval = search(index, question, list(vector), SETTINGS)
    answer_settings = dataclasses.replace(SETTINGS.answer, max_chars=max_chars, list_chars=max_chars)
    return extract(index, retrieval, question, answer_settings, SETTINGS.tuning).text


# --- picking the units that answer --------------------------------------------------------------------


def test_a_question_about_papers_gets_the_lead_in_and_the_whole_list(index) -> None:  # type: ignore[no-untyped-def]
    # The items do not repeat the question's words: the lead-in brings the list it introduces.
    got = answer(index, "低保需要带什么材料", (1.0, 0.0, 0.0))
    assert got.startswith("申请低保需要带以下材料：\n· 户口簿和身份证\n· 家庭收入证明\n· 银行账户信息")


def test_a_question_about_one_row_gets_that_row_not_the_table(index) -> None:  # type: ignore[no-untyped-def]
    got = answer(index, "农村低保标准每月多少钱", (0.6, 0.4, 0.0))
    assert "840元" in got and "1030元" not in got


def test_a_when_question_gets_the_sentence_that_says_when(index) -> None:  # type: ignore[no-untyped-def]
    got = answer(index, "入户调查要多少个工作日", (0.9, 0.1, 0.0))
    assert got.startswith("材料齐全的，镇街在10个工作日内完成入户调查。")


def test_an_faq_answers_the_question_it_was_written_for_and_says_which(index) -> None:  # type: ignore[no-untyped-def]
    got = answer(index, "低保多久审批完", (0.5, 0.5, 0.0))
    assert got.startswith("低保多久审批完？ 一般在30个工作日内完成审核确认。")
    assert "问：" not in got and "答：" not in got


def test_who_counts_as_a_member_is_answered_by_the_rule_that_says_who(index) -> None:  # type: ignore[no-untyped-def]
    # Both articles name 共同生活的家庭成员, and the other is nearer the question's vector; the one
    # that says what the term covers answers "如何确定", with its items.
    got = answer(index, "申请最低生活保障时共同生活的家庭成员如何确定", (0.0, 0.1, 1.0))
    assert got.startswith("共同生活的家庭成员包括：\n· （一）配偶\n· （二）未成年子女")


def test_the_answer_keeps_within_max_chars_but_always_has_the_best_unit(index) -> None:  # type: ignore[no-untyped-def]
    full = answer(index, "低保需要带什么材料", (1.0, 0.0, 0.0))
    short = answer(index, "低保需要带什么材料", (1.0, 0.0, 0.0), max_chars=20)
    assert len(short) < len(full) and short.split("\n")[0] in full
    assert answer(index, "低保需要带什么材料", (1.0, 0.0, 0.0), max_chars=1)  # never empty


def test_nothing_to_cut_gives_no_answer(index) -> None:  # type: ignore[no-untyped-def]
    retrieval = search(index, "火星移民", [0.0, 0.0, 1.0], SETTINGS)
    retrieval.passages.clear()
    retrieval.docs.clear()
    got = extract(index, retrieval, "火星移民", SETTINGS.answer, SETTINGS.tuning)
    assert got.text == "" and got.picked == ()


def test_how_old_is_answered_by_the_rule_that_states_the_age() -> None:
    # The procedure shares the question's words (男女双方, 结婚登记); the rule of age does not, but
    # "多大" asks for an age, and 结婚年龄 is one.
    procedure = Doc(
        "regulation.md",
        "婚姻登记条例 › 第七条",
        "第七条 内地居民结婚，男女双方应当亲自到婚姻登记机关共同申请结婚登记。",
        vector=(0.0, 0.0, 1.0),
        kind="article",
    )
    age = Doc(
        "code.md",
        "民法典 婚姻家庭编 › 第一千零四十七条",
        "第一千零四十七条 结婚年龄，男不得早于二十二周岁，女不得早于二十周岁。",
        vector=(0.0, 0.0, 1.0),
        kind="article",
    )
    lexicons = Lexicons(read_lexicon([BUILTIN_SYNONYMS]), Lexicon())
    index = small_index([procedure, age, *filler(36)], synonyms=lexicons.synonyms)
    question = lexicons.prepare("男的多大女的多大可以领结婚证", index)
    got = answer(index, question, (0.0, 0.0, 1.0))
    assert "二十二周岁" in got.split("\n")[0]


def test_a_date_question_is_not_answered_by_the_year_a_meeting_was_held() -> None:
    # "2025年" dates the meeting that announced the campaign; it says nothing of when it runs.
    campaign = Doc(
        "campaigns.md",
        "专项救助 › 夏季送清凉",
        "2025年全市民政工作会议提出，持续开展夏季送清凉行动。\n\n"
        "| 行动 | 时间 |\n| --- | --- |\n| 夏季送清凉 | 每年6月1日至9月30日 |",
        vector=(0.0, 0.0, 1.0),
    )
    index = small_index([campaign, *filler(36)])
    got = answer(index, "夏季送清凉行动由几号做到几号", (0.0, 0.0, 1.0))
    assert got.split("\n")[0].endswith("每年6月1日至9月30日"), got


def test_a_sub_list_under_an_item_does_not_repeat_the_item() -> None:
    # "**事实无人抚养儿童**：…下列两种情况…：" is an entry of one list and the lead-in of the next.
    parent = "事实无人抚养儿童：父母虽然在世但无法履行抚养义务的儿童，下列两种情况属于事实无人抚养儿童："
    units = [
        Unit("children.md", 0, "item", parent, group=1, order=1),
        Unit("children.md", 0, "item", "父母双方均重残、重病、服刑或失联的儿童；", parent, group=2, order=2),
        Unit(
            "children.md",
            0,
            "item",
            "父母一方死亡或失踪，另一方符合上述情形的儿童。",
            parent,
            group=2,
            order=3,
        ),
    ]
    got = render([Picked(u, Chunk("children.md"), 1.0, "list") for u in units])
    assert got.split("\n") == [
        "· " + parent,
        "· 父母双方均重残、重病、服刑或失联的儿童",
        "· 父母一方死亡或失踪，另一方符合上述情形的儿童。",
    ]


def test_a_unit_under_a_heading_that_names_the_question_counts_as_naming_it() -> None:
    # The hours do not repeat "办公时间"; their heading does. The address names 婚姻登记处 itself.
    address = Doc(
        "registry.md",
        "婚姻登记处指南 › 一、地址",
        "城区婚姻登记处在香洲街道政务服务中心一楼。",
        vector=(0.0, 0.0, 1.0),
    )
    hours = Doc(
        "registry.md",
        "婚姻登记处指南 › 二、办公时间",
        "- 周一至周五上午8:30—12:00\n- 周一至周五下午14:30—17:30",
        vector=(0.0, 0.0, 1.0),
    )
    index = small_index([address, hours, *filler(36)])
    got = answer(index, "婚姻登记处的办公时间是几点到几点", (0.0, 0.0, 1.0))
    assert got.startswith("· 周一至周五"), got  # the hours lead, not the address


STEPS = Doc(
    "care-home.md",
    "养老机构入住须知 › 二、入住流程",
    "入住一般经过下面几步：\n- 咨询参观：了解床位、收费和服务项目，实地查看环境\n"
    "- 健康体检：提供近期体检报告\n- 签订合同：老人、机构、担保人三方签订服务合同\n"
    "- 入住适应：适应期内可以按约定退住",
    vector=(0.0, 0.0, 1.0),
)


def test_the_one_step_a_question_names_comes_first_and_the_others_follow() -> None:
    index = small_index([STEPS, *filler(36)])
    got = answer(index, "入住养老院签合同是哪几方签", (0.0, 0.0, 1.0)).split("\n")
    assert got[0] == "入住一般经过下面几步：", got
    assert got[1].startswith("· 签订合同：老人、机构、担保人三方"), got
    assert len(got) == 5 and got[2].startswith("· 咨询参观"), got  # the rest in their own order


def test_a_question_for_the_whole_list_gets_it_in_its_own_order() -> None:
    # Only the last item says "材料", but so does the heading: the question asks for every paper.
    papers = Doc(
        "temporary.md",
        "临时救助指南 › 三、需要准备的材料",
        "- 申请书\n- 家庭成员的身份证或户口簿\n- 与困难情况有关的证明材料",
        vector=(0.0, 0.0, 1.0),
    )
    index = small_index([papers, *filler(36)])
    got = answer(index, "临时救助要准备什么材料", (0.0, 0.0, 1.0)).split("\n")
    assert got == ["· 申请书", "· 家庭成员的身份证或户口簿", "· 与困难情况有关的证明材料"], got


def test_a_list_question_led_by_a_rule_gets_the_list_the_rule_calls_for() -> None:
    # The rule answers "复婚" but lists no papers; the papers of 结婚登记 follow, not those of 华侨.
    rule = Doc(
        "regulation.md",
        "婚姻登记条例 › 第十八条",
        "第十八条 离婚后，男女双方自愿恢复婚姻关系的，应当到婚姻登记机关重新申请结婚登记。",
        vector=(0.0, 0.0, 1.0),
        kind="article",
    )
    papers = Doc(
        "regulation.md",
        "婚姻登记条例 › 第八条",
        "第八条 申请结婚登记的内地居民应当出具下列证件和书面材料：\n（一）本人的居民身份证；\n"
        "（二）本人无配偶以及与对方当事人没有直系血亲和三代以内旁系血亲关系的签字声明。",
        vector=(0.0, 0.05, 1.0),
        kind="article",
    )
    overseas = Doc(
        "regulation.md",
        "婚姻登记条例 › 第十条",
        "第十条 申请结婚登记的华侨应当出具下列证件和书面材料：\n（一）本人的有效护照；\n"
        "（二）居住国公证机构出具的本人无配偶的证明。",
        vector=(0.0, 0.1, 1.0),
        kind="article",
    )
    index = small_index([rule, papers, overseas, *filler(36)])
    got = answer(index, "离婚后想恢复婚姻关系，需要带哪些证件", (0.0, 0.0, 1.0), max_chars=170).split("\n")
    assert got[0].startswith("离婚后，男女双方自愿恢复婚姻关系的"), got
    assert got[1:] == [
        "申请结婚登记的内地居民应当出具下列证件和书面材料：",
        "· （一）本人的居民身份证",
        "· （二）本人无配偶以及与对方当事人没有直系血亲和三代以内旁系血亲关系的签字声明。",
    ], got
