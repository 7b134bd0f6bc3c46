"""Eligibility arithmetic from the published standards: every line, just below, at and above it."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from bot.chinese.numerals import cn_number
from bot.services import calculators
from bot.services.calculators import Diner, Household, dibao, meal_subsidy, read_diner, read_household
from bot.services.standards import Standards, StandardsError, cross_check, parse
from tests.helpers.knowledge import STANDARDS_BLOCK as BLOCK


@pytest.fixture
def std() -> Standards:
    return Standards(parse(BLOCK).values, "assistance-standards-shanwei.md", "标准一览", "2025-01-01")


def test_the_issue_example(std: Standards) -> None:
    result = calculators.answer_free_text("农村4口人每月总收入2000元能申请低保吗", std)
    assert result is not None
    assert "840" in result.text and "1360" in result.text
    assert result.figures["amount_rural"] == 1360
    assert "初步" in result.text and "标准一览" in result.text and "2025-01-01" in result.text
    assert "财产" in result.text  # what the calculator cannot judge is said, not assumed


@pytest.mark.parametrize(
    ("per_capita", "verdict"),
    [(839, "below"), (840, "edge"), (841, "edge"), (1259, "edge"), (1260, "above"), (1261, "above")],
)
def test_rural_dibao_lines(std: Standards, per_capita: int, verdict: str) -> None:
    result = dibao(Household(size=2, income=per_capita * 2, area="rural"), std)
    if verdict == "below":
        assert result.figures["amount_rural"] == (840 - per_capita) * 2
        assert "收入条件初步符合" in result.text
    elif verdict == "edge":
        assert "amount_rural" not in result.figures
        assert "低保边缘" in result.text
    else:
        assert "不符合低保" in result.text


@pytest.mark.parametrize(("per_capita", "eligible"), [(1029, True), (1030, False), (1031, False)])
def test_urban_dibao_line(std: Standards, per_capita: int, eligible: bool) -> None:
    result = dibao(Household(size=1, income=per_capita, area="urban"), std)
    assert ("amount_urban" in result.figures) is eligible


def test_unknown_area_computes_both(std: Standards) -> None:
    result = dibao(Household(size=3, income=2700, area=None), std)
    assert result.figures["amount_urban"] == (1030 - 900) * 3
    assert "amount_rural" not in result.figures
    assert "城镇还是农村" in result.text


@pytest.mark.parametrize(
    ("age", "statuses", "cls", "subsidy"),
    [
        (59, set(), None, None),
        (60, set(), "C", 2),
        (79, set(), "C", 2),
        (80, set(), "B", 5),
        (81, set(), "B", 5),
        (65, {"低保"}, "A", 8),
        (90, {"特困"}, "A", 8),
        (68, {"计划生育特殊家庭"}, "A", 8),
    ],
)
def test_meal_subsidy_classes(
    std: Standards, age: int, statuses: set[str], cls: str | None, subsidy: int | None
) -> None:
    result = meal_subsidy(Diner(age, frozenset(statuses)), std)
    if cls is None:
        assert "subsidy" not in result.figures and "60" in result.text
    else:
        assert f"{cls}类" in result.text
        assert result.figures["subsidy"] == subsidy
        assert f"约{12 - subsidy}元" in result.text


def test_non_local_elders_get_no_subsidy(std: Standards) -> None:
    result = meal_subsidy(Diner(70, frozenset(), local=False), std)
    assert "不享受" in result.text and not result.figures


@pytest.mark.parametrize(
    ("text", "size", "income", "area"),
    [
        ("农村4口人每月总收入2000元能申请低保吗", 4, 2000, "rural"),
        ("我家住乡下，一家四口，每个月收入加起来两千块，能不能吃低保？", 4, 2000, "rural"),
        ("城里3个人月收入3500元低保能领多少", 3, 3500, "urban"),
        ("我们屋企5口人，一个月总共挣1.2万", 5, 12000, None),
        ("家里2口人，一年收入24000元", 2, 2000, None),
        ("家里4个人，农村户口，一个月2000块，能拿低保不", 4, 2000, "rural"),
        ("城里3口之家月入3000元", 3, 3000, "urban"),
    ],
)
def test_reads_households_from_free_text(text: str, size: int, income: float, area: str | None) -> None:
    assert read_household(text) == Household(size, income, area)


def test_reads_diners_from_free_text() -> None:
    got = read_diner("我们是失独家庭，老伴今年68，不是低保也不是特困")
    assert got is not None and got.age == 68 and got.statuses == {"计划生育特殊家庭"}
    assert read_diner("长者饭堂几点开门") is None


@pytest.mark.parametrize(
    ("token", "value"),
    [
        ("2000", 2000),
        ("2千", 2000),
        ("1.5万", 15000),
        ("两千五", 2500),
        ("十二", 12),
        ("三千零五十", 3050),
        ("四", 4),
        ("二〇二五", 2025),
        ("一亿两千万", 120_000_000),
        ("三十", 30),
    ],
)
def test_chinese_numbers(token: str, value: float) -> None:
    assert cn_number(token) == value


def test_questions_without_numbers_are_left_to_retrieval(std: Standards) -> None:
    assert calculators.answer_free_text("低保怎么申请", std) is None
    assert calculators.answer_free_text("低保边缘家庭的标准是什么", std) is None


def test_the_dibao_standard_is_read_from_the_block(std: Standards) -> None:
    both = calculators.answer_free_text("汕尾的低保标准是多少", std)
    assert (
        both is not None
        and "城镇低保标准：每人每月1030元" in both.text
        and "农村低保标准：每人每月840元" in both.text
    )
    rural = calculators.answer_free_text("汕尾农村低保标准是多少", std)
    assert rural is not None and rural.figures == {"rural": 840} and "城镇" not in rural.text.split("\n")[0]


@pytest.mark.parametrize(
    "question", ["农村的低保标准现在是多少？", "农村低保每月多少钱", "村里低保一个月几多钱"]
)
def test_the_standard_asked_in_other_words_gets_the_figure(std: Standards, question: str) -> None:
    answer = calculators.answer_free_text(question, std)
    assert answer is not None and answer.figures == {"rural": 840}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda b: b["dibao"].pop("rural"), "standards.dibao.rural: 缺少"),
        (lambda b: b["dibao"].update(rural="八百四"), "standards.dibao.rural: 应为"),
        (lambda b: b["dibao"].update(rural=True), "standards.dibao.rural: 应为"),
        (lambda b: b.pop("meal_subsidy"), "standards.meal_subsidy: 缺少"),
        (lambda b: b.update(dibao=[1030, 840]), "standards.dibao: 应当是"),
        (lambda b: b["dibao"].update(suburban=900), "standards.dibao.suburban: 未知"),
        (lambda b: b.update(pension={"x": 1}), "standards.pension: 未知"),
    ],
)
def test_malformed_blocks_name_the_key(change: Any, message: str) -> None:
    block = copy.deepcopy(BLOCK)
    change(block)
    with pytest.raises(StandardsError, match=message):
        parse(block)


def test_cross_check_warns_when_a_table_disagrees(std: Standards) -> None:
    doc = "# 标准\n\n## 一、最低生活保障标准\n\n| 类别 | 标准 |\n| --- | --- |\n| 城镇低保标准 | 1030元 |\n| 农村低保标准 | 900元 |\n"
    warnings = cross_check(std, doc)
    assert len(warnings) == 1 and "农村低保标准" in warnings[0] and "840" in warnings[0]


@pytest.mark.parametrize(
    ("care", "area", "total"),
    [
        ("fully_disabled", "rural", 1344 + 1650),
        ("semi_disabled", "urban", 1648 + 990),
        ("full_self_care", "rural", 1344 + 330),
    ],
)
def test_tekun_amount_is_basic_plus_care(std: Standards, care: str, area: str, total: float) -> None:
    result = calculators.tekun(area, care, std)
    assert result.figures[f"{area}.{care}"] == total
    assert f"{total:g}" in result.text


def test_tekun_from_free_text(std: Standards) -> None:
    result = calculators.answer_free_text("农村特困老人全失能一个月能领多少", std)
    assert result is not None and "2994" in result.text


def test_temporary_assistance_caps_follow_the_urban_standard(std: Standards) -> None:
    result = calculators.answer_free_text("临时救助最多能给多少钱", std)
    assert result is not None
    assert result.figures == {"normal_max": 6 * 1030, "severe_max": 12 * 1030, "advance_max": 3000}
    changed = Standards(parse({**BLOCK, "dibao": {"urban": 1100, "rural": 900}}).values)
    assert calculators.temporary_assistance(changed).figures["normal_max"] == 6600


@pytest.mark.parametrize(
    ("question", "levels"), [("一级重度残疾人护理补贴每月多少", {1}), ("残疾人两项补贴能领多少", {1, 2})]
)
def test_disability_subsidies(std: Standards, question: str, levels: set[int]) -> None:
    result = calculators.answer_free_text(question, std)
    assert result is not None and result.figures["living"] == 200
    assert {int(k[-1]) for k in result.figures if k.startswith("care_level")} == levels
