"""Questions for other departments are referred there; the knowledge folder's own words still win."""

from __future__ import annotations

from pathlib import Path

from bot.services.departments import BUILTIN, OURS, Departments, Referral


def test_reads_lines_and_skips_comments_and_bad_lines(tmp_path: Path, caplog) -> None:
    extra = tmp_path / "_other_departments.txt"
    extra.write_text("# 注释\n文旅部门 | 景区门票 導遊\n没有竖线的行\n", encoding="utf-8")
    departments = Departments.read([BUILTIN, extra])
    referral = departments.refer("景区门票怎么买", [])
    assert referral == Referral("文旅部门", "景区门票")
    assert departments.refer("导游证去哪里考", []) is not None  # traditional forms are read as simplified
    assert "expected '部门 | 词 词 …'" in caplog.text
    assert departments.refer("低保怎么申请", []) is None


def test_words_the_found_passages_use_are_not_referred() -> None:
    departments = Departments.read([BUILTIN])
    assert departments.refer("老人被骗了去哪里报案", ["低保申请指南"]) is not None
    assert departments.refer("老人被骗了去哪里报案", ["被骗后可以向公安机关报案"]) is None


def test_longest_word_names_the_matter() -> None:
    departments = Departments((("婚前医学检查", "卫生健康部门"), ("检查", "别的部门")))
    got = departments.refer("婚前医学检查去哪做", [])
    assert got is not None and got.word == "婚前医学检查"


def test_a_passing_mention_of_the_matter_does_not_keep_the_question() -> None:
    departments = Departments.read([BUILTIN])
    question = "我在上海交了半年公积金，离职后封存了，能异地提取公积金吗"
    words = ["上海", "半年", "公积金", "离职", "封存", "异地", "提取"]
    mention = "推动不动产登记、银行存款、公积金养老金缴纳等信息比对，完善异地协同查询核对机制。"
    got = departments.refer(question, [mention], words, covered=0.34)
    assert got is not None and "公积金" in got.department
    answers = "离职后公积金账户封存的，可以在上海或异地申请提取公积金。"
    assert departments.refer(question, [answers], words, covered=0.34) is None


def test_a_question_that_goes_on_to_ask_about_our_matter_is_ours() -> None:
    # 失业金 and 房产证 are the occasion; what is asked is whether 低保 can be had.
    departments = Departments.read([BUILTIN])
    assert departments.refer("领失业金期间能申请低保吗", []) is None
    assert departments.refer("房产证上有房子还能申请低保吗", []) is None
    # Named before the other department's matter, ours is only its occasion: the hospital does 婚检.
    got = departments.refer("结婚登记之前要做婚检吗，免费婚检去哪家医院做", [])
    assert got is not None and "卫生健康" in got.department
    assert departments.refer("低保户坐公交免费吗", []) is not None


def test_the_bureau_adds_its_own_matters(tmp_path: Path) -> None:
    question = "景区门票买了，还能申领老年人优待证吗"
    others = tmp_path / "_other_departments.txt"
    others.write_text("文旅部门 | 景区门票\n", encoding="utf-8")
    assert Departments.read([BUILTIN, others]).refer(question, []) is not None
    ours = tmp_path / "_civil_affairs.txt"
    ours.write_text("# 局里补充\n老年人优待证\n", encoding="utf-8")
    assert Departments.read([BUILTIN, others], [OURS, ours]).refer(question, []) is None
    assert Departments.read([BUILTIN], [OURS, tmp_path / "missing.txt"]).ours  # a missing file is skipped
