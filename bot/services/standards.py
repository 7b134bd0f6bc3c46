"""The bureau's published standards, one source of truth for every calculator.

Staff keep them in the front matter of ``knowledge/assistance-standards-shanwei.md`` (the
``standards`` block) next to the tables that show the same figures. Ingest validates the
block (:func:`parse`, errors name the key: every figure finite, above 0 and at most
:data:`MAX_FIGURE`, so ``.nan`` or ``.inf`` can never reach a calculator) and warns when a table in
the same document shows a different figure (:func:`cross_check`), or when any other document still
states a figure the block has changed (:func:`stale_figures`: the FAQ's "农村每人每月840元" after the
rural 低保 standard went to 880 — ingest names it and no answer quotes it). No figure lives in code.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from bot.chinese.numerals import CN_NUMERAL_CHARS, cn_number
from bot.records import table_records

# section -> key -> (unit, required). Units are what the bot says after the number.
SCHEMA: dict[str, dict[str, tuple[str, bool]]] = {
    "dibao": {"urban": ("元/人·月", True), "rural": ("元/人·月", True)},
    "dibao_edge": {"urban": ("元/人·月", True), "rural": ("元/人·月", True)},
    "tekun_basic": {"urban": ("元/人·月", True), "rural": ("元/人·月", True)},
    "tekun_care": {
        "full_self_care": ("元/人·月", True),
        "semi_disabled": ("元/人·月", True),
        "fully_disabled": ("元/人·月", True),
    },
    "temporary_assistance": {
        "normal_max_times": ("倍", True),
        "severe_max_times": ("倍", True),
        "advance_max_yuan": ("元", True),
    },
    "disability": {
        "living": ("元/人·月", True),
        "care_level1": ("元/人·月", True),
        "care_level2": ("元/人·月", True),
    },
    "meal_subsidy": {"A": ("元/餐", True), "B": ("元/餐", True), "C": ("元/餐", True)},
    # Optional: what a standard meal costs and the age lines of the meal subsidy classes.
    "meal": {"price": ("元/餐", False), "min_age": ("周岁", False), "senior_age": ("周岁", False)},
}
OPTIONAL_SECTIONS = frozenset({"meal"})

# Where the same figure appears in the document's tables: (section heading words, row label) -> key.
TABLE_LABELS: dict[tuple[str, str], tuple[str, str]] = {
    ("最低生活保障", "城镇低保标准"): ("dibao", "urban"),
    ("最低生活保障", "农村低保标准"): ("dibao", "rural"),
    ("低保边缘", "城镇"): ("dibao_edge", "urban"),
    ("低保边缘", "农村"): ("dibao_edge", "rural"),
    ("特困", "城镇特困人员"): ("tekun_basic", "urban"),
    ("特困", "农村特困人员"): ("tekun_basic", "rural"),
    ("特困", "全自理"): ("tekun_care", "full_self_care"),
    ("特困", "半失能"): ("tekun_care", "semi_disabled"),
    ("特困", "全失能"): ("tekun_care", "fully_disabled"),
    ("残疾人", "困难残疾人生活补贴"): ("disability", "living"),
    ("残疾人", "重度残疾人护理补贴（一级）"): ("disability", "care_level1"),
    ("残疾人", "重度残疾人护理补贴（二级）"): ("disability", "care_level2"),
}


MAX_FIGURE = 1e7  # no standard, multiple or age is near it; keeps every product far from overflow


def _is_figure(value: object) -> bool:
    """A published figure: a finite number above 0 and at most MAX_FIGURE (not .nan, .inf, 0 or -1)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value) and 0 < value <= MAX_FIGURE


class StandardsError(ValueError):
    """The standards block is malformed; the message names the key and says what is wrong."""


@dataclass(frozen=True)
class Standards:
    values: dict[str, dict[str, float]]
    path: str = ""  # the document they come from, relative to the knowledge folder
    title: str = ""
    issued: str = ""

    def get(self, section: str, key: str) -> float | None:
        return self.values.get(section, {}).get(key)

    def __getitem__(self, section_key: str) -> float:
        section, key = section_key.split(".")
        value = self.get(section, key)
        if value is None:
            raise KeyError(section_key)
        return value

    def to_json(self) -> str:
        return json.dumps(self.values, ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, raw: str, path: str = "", title: str = "", issued: str = "") -> Standards:
        return cls(parse(json.loads(raw)).values, path, title, issued)


def parse(block: Any) -> Standards:
    """Validate a front-matter ``standards`` block; raise StandardsError naming every bad key."""
    if not isinstance(block, dict):
        raise StandardsError("standards 应当是一个表（每个类别下写 键: 数字）")
    problems: list[str] = []
    values: dict[str, dict[str, float]] = {}
    for name in block:
        if name not in SCHEMA:
            problems.append(f"standards.{name}: 未知的类别（可用: {', '.join(SCHEMA)}）")
    for section, keys in SCHEMA.items():
        raw = block.get(section)
        if raw is None:
            if section not in OPTIONAL_SECTIONS:
                problems.append(f"standards.{section}: 缺少这一类别")
            continue
        if not isinstance(raw, dict):
            problems.append(f"standards.{section}: 应当是 键: 数字 的表")
            continue
        for key in raw:
            if key not in keys:
                problems.append(f"standards.{section}.{key}: 未知的项（可用: {', '.join(keys)}）")
        values[section] = {}
        for key, (_, required) in keys.items():
            value = raw.get(key)
            if value is None:
                if required:
                    problems.append(f"standards.{section}.{key}: 缺少这一项")
                continue
            if not _is_figure(value):
                problems.append(
                    f"standards.{section}.{key}: 应为大于 0、不超过 {MAX_FIGURE:g} 的数字，现在是 {value!r}"
                )
                continue
            values[section][key] = float(value)
    if problems:
        raise StandardsError("；".join(problems))
    return Standards(values)


def cross_check(standards: Standards, markdown: str) -> list[str]:
    """Warnings for table rows in the document that show a different figure from the block."""
    warnings: list[str] = []
    section = ""
    for block in re.split(r"\n(?=#{1,6} )", markdown):
        first = block.split("\n", 1)[0]
        if first.startswith("#"):
            section = first
        for record in table_records(block):
            if not record:
                continue
            label = record[0][1]
            number = re.search(r"(\d+(?:\.\d+)?)\s*元", " ".join(cell for _, cell in record[1:]))
            if number is None:
                continue
            for (where, name), (sec, key) in TABLE_LABELS.items():
                if where in section and name == label:
                    expected = standards.get(sec, key)
                    shown = float(number.group(1))
                    if expected is not None and shown != expected:
                        warnings.append(
                            f"表格中“{label}”为 {shown:g} 元，而 standards.{sec}.{key} 为 {expected:g}，请核对并统一"
                        )
    return warnings


@dataclass(frozen=True)
class Figure:
    """How a document states one figure of the block in prose: a topic word somewhere around it, a
    qualifier right before the amount, and words that mean it is about another figure."""

    section: str
    key: str
    topic: str  # regex, in the sentence, its FAQ question or its heading
    qualifier: str  # regex, written at most a few characters before the amount
    exclude: str = "$^"  # regex: the sentence is about something else


_AREA = {"urban": "城镇|城市|市区", "rural": "农村"}
FIGURES = (
    *(Figure("dibao", k, "低保|最低生活保障", q, "边缘|特困|1\\.5倍|渐退") for k, q in _AREA.items()),
    *(Figure("dibao_edge", k, "低保边缘|边缘家庭", q) for k, q in _AREA.items()),
    *(Figure("tekun_basic", k, "特困", q, "照料|护理|自理|失能") for k, q in _AREA.items()),
    Figure("tekun_care", "full_self_care", "特困|照料|护理", "全自理"),
    Figure("tekun_care", "semi_disabled", "特困|照料|护理", "半失能"),
    Figure("tekun_care", "fully_disabled", "特困|照料|护理", "全失能"),
    Figure("disability", "living", "残疾", "生活补贴"),
    Figure("disability", "care_level1", "残疾", "一级"),
    Figure("disability", "care_level2", "残疾", "二级"),
)
_AMOUNT = re.compile(rf"[^。；;！？\n]{{0,10}}?(\d+(?:\.\d+)?|[{CN_NUMERAL_CHARS}]+)\s*元")


def stale_figures(standards: Standards, text: str, around: str = "") -> list[str]:
    """Figures ``text`` states that the block no longer has ("写的是 840 元，standards.dibao.rural 为 880 元").

    ``around`` is what the text stands under: its FAQ question, its heading path.
    """
    found: list[str] = []
    scope = f"{around} {text}"
    for fig in FIGURES:
        expected = standards.get(fig.section, fig.key)
        if expected is None or not re.search(fig.topic, scope) or re.search(fig.exclude, scope):
            continue
        for qualifier in re.finditer(fig.qualifier, text):
            amount = _AMOUNT.match(text, qualifier.end())
            shown = cn_number(amount.group(1)) if amount else None
            if shown is not None and shown != expected:
                found.append(
                    f"写的是 {shown:g} 元，而 standards.{fig.section}.{fig.key} 为 {expected:g} 元，请核对并更新"
                )
    return found
