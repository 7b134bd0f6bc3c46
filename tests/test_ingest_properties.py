"""The knowledge side under hypothesis (issue 14): whatever a clerk drops into knowledge/, ingest
never raises, never exceeds its limits, and never loses the index it served before.

Generated: YAML front matter (random keys and nested values, standards blocks with nan/inf/huge
figures, raw YAML syntax with anchors, aliases and tags), Markdown bodies with long lines and
tables, random bytes under every supported suffix, and valid DOCX/XLSX/PDF/HTML/CSV files with bytes
flipped, cut or inserted — each read with the shipped limits or with random small ones.

The quick tests read folders in this process (no model); the slow one ingests into a copy of the
served index with the real model and checks the sample documents keep being served.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import docx
import openpyxl
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import index_store
from bot.config import IngestLimitsSettings, Settings
from bot.errors import SkipFile
from bot.ingest.indexing import FileResult, read_folder
from bot.ingest.loaders import SUPPORTED_SUFFIXES, knowledge_files, load_file, read_knowledge_bytes
from bot.services.standards import Standards
from tests.helpers.bombs import many_pages_pdf
from tests.helpers.knowledge import REPO, STANDARDS_BLOCK, KnowledgeBase, settings_for

QUICK = settings(
    max_examples=int(os.environ.get("HYPOTHESIS_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)

# --- what a clerk may write --------------------------------------------------------------------------------

WORDS = [
    "低保",
    "特困",
    "临时救助",
    "结婚登记",
    "老年助餐",
    "申请材料",
    "身份证",
    "户口簿",
    "汕尾市",
    "1030元",
    "。",
    "，",
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 1, 1)),
)
yaml_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=25,
)
keys = st.sampled_from(["title", "category", "issued", "source", "sample", "standards", "tags", "owner"])
standards_blocks = st.builds(
    lambda section, key, value: {**STANDARDS_BLOCK, section: {**STANDARDS_BLOCK[section], key: value}},
    st.sampled_from(["dibao", "dibao_edge", "meal_subsidy"]),
    st.sampled_from(["urban", "rural", "A"]),
    scalars,
)
YAML_SYNTAX = ["&a ", "*a", "<<: *a", "!!python/object:os.system ", "!!binary ", "[", "]", "{", "}", ": ", "- ", "\n",
               "  ", "'", '"', "|", ">", "---", "...", "#", "%YAML 1.1", "?", ",", "\t", "\\u0000"]  # fmt: skip
raw_yaml = st.lists(st.sampled_from(YAML_SYNTAX) | st.sampled_from(WORDS) | st.text(max_size=8), max_size=40)
front_matter = st.one_of(
    st.dictionaries(keys | st.text(max_size=8), yaml_values, max_size=6).map(
        lambda d: yaml.safe_dump(d, allow_unicode=True, default_flow_style=None)
    ),
    st.builds(
        lambda block, title: yaml.safe_dump({"title": title, "standards": block}, allow_unicode=True),
        standards_blocks,
        st.text(max_size=20),
    ),
    raw_yaml.map("".join),
    st.integers(min_value=1, max_value=60).map(
        lambda depth: "title: " + "[" * depth + "x" + "]" * depth + "\n"
    ),
)
body_pieces = st.one_of(
    st.sampled_from(WORDS),
    st.sampled_from(
        ["\n", "\n\n", "# ", "## ", "- ", "1. ", "| a | b |\n| --- | --- |\n| 1 | 2 |\n", "问：", "答："]
    ),
    st.text(max_size=30),
    st.builds(
        lambda w, n: w * n, st.sampled_from(WORDS), st.integers(min_value=1, max_value=3000)
    ),  # long lines
)
bodies = st.lists(body_pieces, max_size=40).map("".join)


@st.composite
def markdown_files(draw: Any) -> bytes:
    front = draw(front_matter)
    closing = draw(st.sampled_from(["---\n", "...\n", ""]))  # sometimes never closed
    text = f"---\n{front}\n{closing}{draw(bodies)}"
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "gb18030"]))
    return text.replace("\n", newline).encode(encoding, errors="replace")


def _samples() -> dict[str, bytes]:
    """One valid file of each structured format, to be damaged."""
    out: dict[str, bytes] = {}
    buf = io.BytesIO()
    d = docx.Document()
    d.add_heading("低保申请指南", 1)
    d.add_paragraph("申请低保需要身份证和户口簿。")
    table = d.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(1, 1).text = "类别", "1030元"
    d.save(buf)
    out[".docx"] = buf.getvalue()
    buf = io.BytesIO()
    wb = openpyxl.Workbook()
    wb.active.append(["名称", "地址"])
    wb.active.append(["长者饭堂", "城区香城路"])
    wb.save(buf)
    out[".xlsx"] = buf.getvalue()
    with tempfile.TemporaryDirectory() as folder:
        out[".pdf"] = many_pages_pdf(Path(folder) / "x.pdf", 3).read_bytes()
    out[".html"] = (
        "<html><head><title>低保</title></head><body><h1>低保</h1><p>申请材料</p><table><tr><td>1</td></tr></table></body></html>".encode()
    )
    out[".csv"] = "名称,地址\n长者饭堂,城区香城路\n".encode()
    return out


SAMPLES = _samples()


@st.composite
def damaged(draw: Any) -> tuple[str, bytes]:
    suffix = draw(st.sampled_from(sorted(SAMPLES)))
    data = bytearray(SAMPLES[suffix])
    for _ in range(draw(st.integers(min_value=1, max_value=8))):
        op = draw(st.sampled_from(["flip", "cut", "insert"]))
        at = draw(st.integers(min_value=0, max_value=max(0, len(data) - 1)))
        if op == "flip" and data:
            data[at] ^= draw(st.integers(min_value=1, max_value=255))
        elif op == "cut":
            del data[at : at + draw(st.integers(min_value=1, max_value=512))]
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
    return suffix, bytes(data)


random_files = st.one_of(
    st.tuples(st.sampled_from(sorted(SUPPORTED_SUFFIXES)), st.binary(max_size=4096)),
    damaged(),
    st.tuples(st.sampled_from([".md", ".txt", ".markdown"]), markdown_files()),
)
small_limits = st.builds(
    IngestLimitsSettings,
    max_file_bytes=st.integers(min_value=64, max_value=200_000),
    max_unzipped_bytes=st.integers(min_value=1_000, max_value=2_000_000),
    max_unzipped_xml_bytes=st.integers(min_value=1_000, max_value=1_000_000),
    max_pdf_pages=st.integers(min_value=1, max_value=5),
    max_html_tags=st.integers(min_value=1, max_value=100),
    max_line_chars=st.integers(min_value=10, max_value=2_000),
    max_chunks_per_file=st.integers(min_value=1, max_value=20),
    max_front_matter_bytes=st.integers(min_value=8, max_value=2_000),
    max_front_matter_depth=st.integers(min_value=1, max_value=5),
)
limits_st = st.one_of(st.just(IngestLimitsSettings()), small_limits)


# --- the properties ---------------------------------------------------------------------------------------------


class _Unexpected(logging.Handler):
    """Collects read_folder's "unexpected error loading …" records: a reader bug it had to swallow."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def folder_with(
    files: list[tuple[str, bytes]], limits: IngestLimitsSettings
) -> Iterator[tuple[Path, Settings]]:
    with tempfile.TemporaryDirectory() as tmp:
        knowledge = Path(tmp) / "knowledge"
        knowledge.mkdir()
        for i, (suffix, data) in enumerate(files):
            (knowledge / f"f{i}{suffix}").write_bytes(data)
        base = settings_for(knowledge, Path(tmp) / "data")
        yield knowledge, dataclasses.replace(base, ingest_limits=limits)


def check_within_limits(knowledge: Path, results: list[FileResult], limits: IngestLimitsSettings) -> None:
    for result in results:
        if result.skipped:
            assert result.skipped.strip()  # a reason staff can read
            continue
        path = knowledge / result.path
        data = read_knowledge_bytes(path, knowledge, limits)
        assert len(data) <= limits.max_file_bytes
        assert 0 < len(result.chunks) <= limits.max_chunks_per_file
        doc = load_file(path, knowledge, limits, data=data)
        assert max(len(line) for line in doc.page_content.split("\n")) <= limits.max_line_chars
        for chunk in result.chunks:
            assert chunk.page_content.strip()
            raw = chunk.metadata.get("standards")
            if raw:  # only a valid block is ever carried into the index
                values = Standards.from_json(raw).values
                assert all(0 < v <= 1e7 for section in values.values() for v in section.values())


def read_and_check(files: list[tuple[str, bytes]], limits: IngestLimitsSettings) -> list[FileResult]:
    watcher = _Unexpected()
    logger = logging.getLogger("bot.ingest.indexing")
    logger.addHandler(watcher)
    try:
        with folder_with(files, limits) as (knowledge, settings_):
            results = read_folder(settings_, progress=False)  # must not raise
            check_within_limits(knowledge, results, limits)
    finally:
        logger.removeHandler(watcher)
    assert not watcher.records, [r.getMessage() for r in watcher.records]  # every refusal is a SkipFile
    assert len(results) == len(files)
    return results


@QUICK
@given(files=st.lists(st.tuples(st.just(".md"), markdown_files()), min_size=1, max_size=3), limits=limits_st)
def test_any_front_matter_is_read_or_refused_within_the_limits(
    files: list[tuple[str, bytes]], limits: Any
) -> None:
    read_and_check(files, limits)


@QUICK
@given(files=st.lists(random_files, min_size=1, max_size=3), limits=limits_st)
def test_any_bytes_in_any_format_are_read_or_refused_within_the_limits(
    files: list[tuple[str, bytes]], limits: Any
) -> None:
    read_and_check(files, limits)


@QUICK
@given(front=front_matter)
def test_load_file_raises_nothing_but_skip_file(front: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.md"
        path.write_text(f"---\n{front}\n---\n\n# 标题\n\n正文。\n", encoding="utf-8")
        try:
            doc = load_file(path, Path(tmp))
        except SkipFile as exc:
            assert exc.reason
        else:
            assert isinstance(doc.metadata["title"], str) and isinstance(doc.metadata["sample"], bool)


# --- the served index survives whatever is added ----------------------------------------------------------------

SAMPLE_FILES = sorted(
    p.relative_to(REPO / "knowledge").as_posix() for p in knowledge_files(REPO / "knowledge")
)


@pytest.mark.slow
@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
@given(files=st.lists(random_files, min_size=1, max_size=3))
def test_ingest_never_loses_the_served_index(
    ingested_copy: KnowledgeBase, files: list[tuple[str, bytes]]
) -> None:
    """Each example adds files to the same copy of the served index and ingests with the real model."""
    kb = ingested_copy
    added = []
    for suffix, data in files:
        name = f"random-{len(list(kb.knowledge.iterdir()))}{suffix}"
        (kb.knowledge / name).write_bytes(data[:2000] if suffix in (".md", ".txt", ".markdown") else data)
        added.append(name)
    report = kb.ingest()  # must not raise
    assert report.usable
    client = index_store.open_client(kb.settings)
    pointer = index_store.read_pointer(client, kb.settings)
    assert pointer is not None
    served = index_store.get_collection(client, pointer.active).get(include=["metadatas"])["metadatas"] or []
    paths = {str(m["path"]) for m in served}
    assert set(SAMPLE_FILES) <= paths, set(SAMPLE_FILES) - paths  # nothing served before was lost
    per_file: dict[str, int] = {}
    for m in served:
        per_file[str(m["path"])] = per_file.get(str(m["path"]), 0) + 1
    assert all(n <= kb.settings.ingest_limits.max_chunks_per_file for n in per_file.values())
    answer = kb.fresh_assistant().ask("离婚冷静期有多长？")
    assert answer.answered and "30日" in answer.text
