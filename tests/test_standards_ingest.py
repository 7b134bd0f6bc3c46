"""Staff change a standard, re-ingest, and every calculator answer follows; a broken block is refused."""

from __future__ import annotations

import re

QUESTION = "农村4口人每月总收入2000元能申请低保吗"
STANDARDS = "assistance-standards-shanwei.md"


def _edit(kb, old: str, new: str) -> None:
    path = kb.knowledge / STANDARDS
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_changing_a_standard_changes_the_answer(ingested_copy) -> None:
    kb = ingested_copy
    before = kb.assistant.ask(QUESTION)
    assert before.kind == "calculator" and "1360" in before.text and before.sources[0].path == STANDARDS

    _edit(kb, "dibao: {urban: 1030, rural: 840}", "dibao: {urban: 1030, rural: 900}")
    report = kb.ingest()
    assert report.updated == [STANDARDS]
    # The table still says 840: ingest points at the disagreement.
    assert any(path == STANDARDS and "农村低保标准" in w for path, w in report.warnings)

    after = kb.fresh_assistant().ask(QUESTION)
    assert "900" in after.text and "1600" in after.text
    assert "1360" not in after.text


def test_a_malformed_block_keeps_the_previous_standards(ingested_copy) -> None:
    kb = ingested_copy
    _edit(kb, "dibao: {urban: 1030, rural: 840}", "dibao: {urban: 1030, rural: 八百四}")
    report = kb.ingest()
    reasons = dict(report.skipped)
    assert STANDARDS in reasons and "standards.dibao.rural" in reasons[STANDARDS]
    assert STANDARDS in report.kept_previous
    answer = kb.fresh_assistant().ask(QUESTION)
    assert "1360" in answer.text


def test_the_shipped_standards_match_their_tables(ingested) -> None:
    # The sample corpus is consistent: the first ingest raised no warnings about it.
    assert not [w for path, w in ingested.report.warnings if path == STANDARDS]
    text = (ingested.knowledge / STANDARDS).read_text(encoding="utf-8")
    assert re.search(r"rural: 840", text)
