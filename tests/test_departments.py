"""Questions for other departments are referred there; the knowledge folder's own words still win."""

from __future__ import annotations

from pathlib import Path

from bot.services.departments import BUILTIN, Departments, Referral


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
