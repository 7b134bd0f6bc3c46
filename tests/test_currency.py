"""Which texts are in force, and which sentences state figures the standards block changed (no model)."""

from __future__ import annotations

import datetime as dt

from bot.chinese.numerals import canonical
from bot.ingest.currency import DocInfo, in_force_from, subject, superseded
from bot.services.standards import parse, stale_figures
from tests.helpers.knowledge import STANDARDS_BLOCK

TODAY = dt.date(2026, 12, 1)


def doc(path: str, title: str, issued: str, text: str = "", **front: str) -> DocInfo:
    return DocInfo(path, title, "assistance", issued, text, **front)


def test_a_newer_text_on_the_same_subject_supersedes_the_older() -> None:
    old = doc("interim.md", "社会救助暂行办法", "2019-03-02")
    new = doc("law.md", "中华人民共和国社会救助法", "2026-04-30", "第七十八条 本法自2026年7月1日起施行。")
    found = superseded([old, new], TODAY)
    assert set(found) == {"interim.md"}
    assert found["interim.md"].by_path == "law.md"
    assert found["interim.md"].since == "2026-07-01"


def test_a_text_not_yet_in_force_replaces_nothing() -> None:
    old = doc("interim.md", "社会救助暂行办法", "2019-03-02")
    new = doc("law.md", "中华人民共和国社会救助法", "2026-04-30", "本法自2027年1月1日起施行。")
    assert superseded([old, new], TODAY) == {}


def test_different_subjects_and_other_categories_stand_side_by_side() -> None:
    docs = [
        doc("a.md", "特困人员认定办法", "2021-04-26"),
        doc("b.md", "最低生活保障审核确认办法", "2021-06-11"),
        DocInfo("c.md", "社会救助暂行办法", "marriage", "2019-03-02", ""),
        doc("d.md", "中华人民共和国社会救助法", "2026-04-30"),
    ]
    assert superseded(docs, TODAY) == {}


def test_a_text_that_abolishes_another_by_title_supersedes_it() -> None:
    old = doc("old.md", "最低生活保障审核审批办法（试行）", "2012-12-12")
    new = doc(
        "new.md",
        "最低生活保障审核确认办法",
        "2021-06-11",
        "第四十二条 本办法自2021年7月1日起施行，2012年12月12日民政部印发的《最低生活保障审核审批办法（试行）》同时废止。",
    )
    assert superseded([old, new], TODAY)["old.md"].reason == "abolished"


def test_a_text_abolishing_an_older_version_of_itself_is_still_in_force() -> None:
    self_citing = doc(
        "t.md", "特困人员认定办法", "2021-04-26", "2016年10月10日民政部印发的《特困人员认定办法》同时废止。"
    )
    assert superseded([self_citing], TODAY) == {}


def test_front_matter_says_so_directly() -> None:
    old = doc("faq-2023.md", "常见问题（2023版）", "2023-01-01", superseded_by="faq.md")
    new = doc("faq.md", "常见问题", "2025-05-20")
    expired = doc("notice.md", "2024年寒冬送温暖通知", "2024-11-01", valid_until="2025-03-01")
    found = superseded([old, new, expired], TODAY)
    assert found["faq-2023.md"].by_path == "faq.md" and found["faq-2023.md"].reason == "front matter"
    assert found["notice.md"].reason == "expired" and found["notice.md"].by_path == ""


def test_subjects_and_effective_dates_are_read_from_the_text() -> None:
    assert subject("中华人民共和国社会救助法") == subject("社会救助暂行办法") == "社会救助"
    assert in_force_from("第七十八条 本法自2026年7月1日起施行。") == "2026-07-01"
    assert in_force_from("没有施行日期") == ""


def test_a_sentence_with_an_old_standards_figure_is_found() -> None:
    block = {**STANDARDS_BLOCK, "dibao": {"urban": 1030, "rural": 880}}
    standards = parse(block)
    faq = "城镇每人每月1030元，农村每人每月840元。"
    problems = stale_figures(standards, faq, "汕尾现在的低保标准是多少？")
    assert problems and "840" in problems[0] and "880" in problems[0] and "dibao.rural" in problems[0]
    assert stale_figures(parse(STANDARDS_BLOCK), faq, "汕尾现在的低保标准是多少？") == []
    # The 低保边缘 line (1.5 times the standard) is about another figure.
    assert stale_figures(standards, "农村：1260元（农村低保标准的1.5倍）", "低保边缘家庭") == []
    assert stale_figures(standards, "农村每人每月八百四十元", "低保标准") != []  # written in numerals


def test_quantities_are_compared_as_written_either_way() -> None:
    assert canonical("男不得早于二十二周岁") == canonical("男不得早于22岁")
    assert canonical("三十日内") == canonical("30天内") == canonical("一个月内")
    assert canonical("2025年5月10日") == "2025年5月10日"  # a date is no duration
    assert canonical("每人每月八百四十元") == "每人每月840元"
    assert canonical("银行存款5万元") == canonical("银行存款五万元") == "银行存款50000元"  # not "50元"
    assert canonical("上万元") == "上万元"  # a unit alone counts nothing
