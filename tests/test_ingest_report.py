"""The ingest report names every file, passes over Office lock files, says which file is the meal-site
directory (an .xlsx too), and ``python -m bot report`` prints what residents asked."""

from __future__ import annotations

import json

import openpyxl

from bot import folder
from bot.services import meal_sites
from bot.state.database import State
from tests.helpers.admin import notice_docx
from tests.helpers.knowledge import KnowledgeBase, run_cli


def test_the_report_names_files_ignores_lock_files_and_finds_an_xlsx_directory(
    ingested_copy: KnowledgeBase,
) -> None:
    kb = ingested_copy
    (kb.knowledge / "notice.docx").write_bytes(notice_docx(dated=True))
    (kb.knowledge / "~$notice.docx").write_bytes(b"\x05lock")  # Word's lock file while the notice is open
    (kb.knowledge / ".~lock.notice.docx#").write_text("lock", encoding="utf-8")
    (kb.knowledge / "draft.tmp").write_bytes(b"junk")
    (kb.knowledge / meal_sites.SITES_PATH).unlink()
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["序号", "所在区域", "点位名称", "地址", "供餐时段", "送餐上门", "联系电话", "经度", "纬度"])
    sheet.append(
        [
            1,
            "城区",
            "凤山街道长者饭堂",
            "城区凤山街道某路1号",
            "11:00-12:30",
            "是",
            "0660-1234567",
            115.37,
            22.79,
        ]
    )
    sheet.append(
        [
            2,
            "海丰县",
            "梅陇镇长者饭堂",
            "海丰县梅陇镇某街2号",
            "11:00-12:00",
            "否",
            "0660-7654321",
            115.2,
            22.9,
        ]
    )
    book.save(kb.knowledge / "elderly-meal-sites-directory.xlsx")

    result = run_cli("ingest.py", "--knowledge", kb.knowledge, "--data", kb.data, "--quiet")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "新增 notice.docx" in out and "新增 elderly-meal-sites-directory.xlsx" in out
    assert f"删除 {meal_sites.SITES_PATH}" in out
    assert "长者饭堂名录: elderly-meal-sites-directory.xlsx（2 个点位）" in out
    assert "~$" not in out and "lock" not in out and "draft.tmp" not in out
    assert "marriage-registration.md" in out  # unchanged files are named too

    saved = json.loads((kb.data / folder.LAST_REPORT).read_text(encoding="utf-8"))
    notice = next(f for f in saved["files"] if f["path"] == "notice.docx")
    assert notice["status"] == "added" and notice["issued"] == "2025-09-01" and notice["chunks"] > 0

    answer = kb.fresh_assistant().ask("我在梅陇镇，最近的长者饭堂在哪？")
    assert answer.answered and "梅陇镇长者饭堂" in answer.text, answer.render()
    assert answer.sources[0].path == "elderly-meal-sites-directory.xlsx"

    lines = run_cli(
        "-m", "bot", "ingest", "--knowledge", kb.knowledge, "--data", kb.data, "--json"
    ).stdout.splitlines()
    events = [json.loads(line) for line in lines]
    assert (
        events[-1]["event"] == "report" and len(events[-1]["report"]["unchanged"]) == len(saved["files"]) - 1
    )
    assert any(e["event"] == "progress" and e["path"] == "notice.docx" for e in events)


def test_python_m_bot_report_prints_unanswered_questions_and_downvotes(ingested_copy: KnowledgeBase) -> None:
    kb = ingested_copy
    state = State(kb.data, history_size=0)
    try:
        for _ in range(2):
            state.record_answer(
                user="a", chat_type="web", question="殡葬补贴能代领吗？", answered=False, kind="dont_know"
            )
        answer_id = state.record_answer(
            user="b",
            chat_type="web",
            question="低保多少钱",
            answered=True,
            kind="answer",
            source_title="最低生活保障",
            source_heading="最低生活保障 › 保障标准",
        )
        state.vote(answer_id, "b", -1)
    finally:
        state.close()
    result = run_cli("-m", "bot", "report", "--knowledge", kb.knowledge, "--data", kb.data)
    assert result.returncode == 0, result.stderr
    assert "2 次｜殡葬补贴能代领吗？" in result.stdout
    assert "1 个 👎｜低保多少钱" in result.stdout and "《最低生活保障》 › 保障标准" in result.stdout
    csv = run_cli("-m", "bot", "report", "--knowledge", kb.knowledge, "--data", kb.data, "--csv")
    assert csv.stdout.startswith("\ufeff类型,问题,次数")
    bad = run_cli(
        "-m", "bot", "report", "--knowledge", kb.knowledge, "--data", kb.data, "--since", "yesterday"
    )
    assert bad.returncode == 1 and "日期 yesterday 不对" in bad.stderr
