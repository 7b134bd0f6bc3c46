"""Telegram HTML messages and inline keyboards: pure functions, no network.

Every piece of resident or knowledge text goes through :func:`esc` (``html.escape``); the only
tags in a message are the ``<b>`` and ``<i>`` added here, always closed within one block. A
message is at most 4096 characters, counted in UTF-16 code units as Telegram counts them (an
emoji counts two), and long text is split on paragraph boundaries, then line breaks, then
sentence ends; a cut inside a sentence is the last resort.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, KeyboardButton, ReplyKeyboardMarkup
from telegram.constants import InlineKeyboardButtonLimit, MessageLimit

from bot import messages
from bot.records import TABLE_ROW, heading_parts, join_heading, table_rows

if TYPE_CHECKING:
    from bot.config import ContactSettings
    from bot.records import Answer, KnowledgeInfo
    from bot.state.database import Stats, Unanswered

MAX_MESSAGE = int(MessageLimit.MAX_TEXT_LENGTH)  # 4096
MAX_CALLBACK_BYTES = int(InlineKeyboardButtonLimit.MAX_CALLBACK_DATA)  # 64
BUTTON_LABEL_CHARS = 32

# Callback data: "<kind>:<arg>:...", only short opaque ids and indexes, never resident text.
CB_UP = "up"
CB_DOWN = "dn"
CB_SOURCE = "src"
CB_HUMAN = "hu"
CB_TOPIC = "tp"
CB_QUESTION = "q"
TOPIC_HOME = "home"

_SENTENCE_END = re.compile(r"(?<=[。！？!?；;])")
_MARKUP = re.compile(r"\*\*|__|`")


# --- escaping and measuring ----------------------------------------------------------------------


def esc(text: str) -> str:
    """Text made safe for Telegram's HTML parse mode."""
    return html.escape(text, quote=True)


def tg_len(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def html_to_plain(text: str) -> str:
    """The plain-text version of a message built here: our tags dropped, entities decoded."""
    return html.unescape(re.sub(r"</?(?:b|i)>", "", text))


def _wrap(escaped: str, tag: str) -> str:
    return f"<{tag}>{escaped}</{tag}>" if tag else escaped


# --- splitting ---------------------------------------------------------------------------------


def split_text(text: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Cut plain ``text`` into pieces whose escaped form is at most ``limit`` long.

    Cuts fall at blank lines, then line breaks, then sentence ends; a piece with none of them is
    cut by characters. Pieces are stripped of the line breaks they were cut at.
    """
    if limit < 8:
        raise ValueError("limit too small")
    text = text.strip("\n")
    if not text.strip():
        return []
    return [p for p in (q.strip("\n") for q in _split(text, limit, 0)) if p.strip()]


def _units(text: str, level: int) -> list[str]:
    if level == 0:
        return re.split(r"(?<=\n\n)", text)
    if level == 1:
        return re.split(r"(?<=\n)", text)
    return _SENTENCE_END.split(text)


def _fits(text: str, limit: int) -> bool:
    return tg_len(esc(text.strip("\n"))) <= limit


def _split(text: str, limit: int, level: int) -> list[str]:
    if _fits(text, limit):
        return [text]
    if level > 2:
        return _hard_cut(text, limit)
    units = [u for u in _units(text, level) if u]
    if len(units) <= 1:
        return _split(text, limit, level + 1)
    out: list[str] = []
    current = ""
    for unit in units:
        if _fits(current + unit, limit):
            current += unit
            continue
        if current.strip():
            out.append(current)
        current = ""
        if _fits(unit, limit):
            current = unit
        else:
            out.extend(_split(unit, limit, level + 1))
    if current.strip():
        out.append(current)
    return out


def _hard_cut(text: str, limit: int) -> list[str]:
    out: list[str] = []
    current: list[str] = []
    size = 0
    for ch in text:
        n = tg_len(esc(ch))
        if size + n > limit:
            out.append("".join(current))
            current, size = [], 0
        current.append(ch)
        size += n
    if current:
        out.append("".join(current))
    return out


def paragraphs(text: str, tag: str = "", limit: int = MAX_MESSAGE) -> list[str]:
    """Escaped HTML blocks for plain ``text``, one per paragraph, each optionally in ``<tag>``, each ≤ limit."""
    overhead = len(f"<{tag}></{tag}>") if tag else 0
    blocks: list[str] = []
    for para in re.split(r"\n[ \t]*\n", text):
        blocks.extend(_wrap(esc(piece), tag) for piece in split_text(para, limit - overhead))
    return blocks


def pack(blocks: Iterable[str], limit: int = MAX_MESSAGE, sep: str = "\n\n") -> list[str]:
    """Join self-contained HTML blocks (each ≤ limit) into as few messages ≤ limit as possible."""
    out: list[str] = []
    current = ""
    for block in blocks:
        if not block:
            continue
        if tg_len(block) > limit:
            raise ValueError("block longer than the limit")
        candidate = f"{current}{sep}{block}" if current else block
        if tg_len(candidate) <= limit:
            current = candidate
        else:
            out.append(current)
            current = block
    if current:
        out.append(current)
    return out


# --- answers and source sections ------------------------------------------------------------------


def answer_messages(
    answer: Answer, *, hotline: str, question: str = "", note: str = "", limit: int = MAX_MESSAGE
) -> list[str]:
    """An answer as HTML messages: the question (bold, when it came from a button), a note (italic),
    the text, its sources under a bold heading, the answer's notes and the footer in italics."""
    blocks: list[str] = []
    if question:
        blocks += paragraphs("问：" + question, "b", limit)
    if note:
        blocks += paragraphs(note, "i", limit)
    blocks += paragraphs(answer.text, "", limit)
    if answer.cited:
        lines = ["· " + s.line() for s in answer.cited]
        head = f"<b>{esc(messages.SOURCES_HEADING)}</b>"
        body = paragraphs("\n".join(lines), "", limit - tg_len(head) - 1)
        blocks += [f"{head}\n{body[0]}", *body[1:]] if body else []
    for note in answer.notes:
        blocks += paragraphs(note, "i", limit)
    if answer.answered:
        blocks += paragraphs(messages.ANSWER_FOOTER.format(hotline=hotline), "i", limit)
    return pack(blocks, limit)


def readable(body: str) -> str:
    """Knowledge Markdown made readable as plain text: tables as '列：值' lines, no ** or ` markup."""
    lines = body.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        if TABLE_ROW.match(lines[i]):
            j = i
            while j < len(lines) and TABLE_ROW.match(lines[j]):
                j += 1
            out += ["· " + row for row in table_rows("\n".join(lines[i:j]))]
            i = j
            continue
        out.append(_MARKUP.sub("", lines[i]))
        i += 1
    return "\n".join(out).strip()


def heading_tail(heading: str, title: str) -> str:
    """A heading path without the document title it starts with."""
    parts = [p for p in heading_parts(heading) if p]
    if parts and parts[0] == title:
        parts = parts[1:]
    return join_heading(parts)


def section_messages(title: str, heading: str, body: str, limit: int = MAX_MESSAGE) -> list[str]:
    """The 查看原文 view: document title, section heading, the section text, all escaped."""
    head = f"<b>{esc(messages.TG_SOURCE_HEADING)}：《{esc(title[:200])}》</b>"
    tail = heading_tail(heading, title)
    if tail:
        head += f"\n<i>{esc(tail[:300])}</i>"
    return pack([head, *paragraphs(readable(body), "", limit)], limit)


# --- fixed texts -----------------------------------------------------------------------------------


def text_messages(text: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Any fixed plain text (a refusal, a help page) as escaped HTML messages."""
    return pack(paragraphs(text, "", limit), limit)


def contact_text(contact: ContactSettings) -> str:
    return messages.TG_CONTACT.format(
        hotline=contact.hotline, bureau_phone=contact.bureau_phone, office_hours=contact.office_hours
    )


def format_time(iso: str) -> str:
    """'2025-06-01T10:58:45+0800' → '2025-06-01 10:58' (unparseable text is returned as is)."""
    try:
        return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M")
    except (ValueError, TypeError):
        return iso or "未知"


def format_epoch(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%m-%d %H:%M")


def about_text(info: KnowledgeInfo, hotline: str) -> str:
    names = messages.TG_CATEGORY_NAMES
    ordered = sorted(info.categories.items(), key=lambda kv: (-kv[1], kv[0]))
    categories = "、".join(f"{names.get(cat, cat)}（{n}）" for cat, n in ordered)
    return messages.TG_ABOUT.format(
        documents=info.documents,
        chunks=info.chunks,
        categories=categories,
        version=info.version,
        ingested_at=format_time(info.ingested_at),
        hotline=hotline,
    )


def stats_text(stats: Stats, info: KnowledgeInfo | None) -> str:
    return messages.TG_STATS.format(
        total=stats.total,
        week=stats.week,
        answered=stats.answered,
        share=f"{stats.answered_share:.0%}",
        up=stats.up,
        down=stats.down,
        handoffs=stats.handoffs,
        version=info.version if info else "?",
        documents=info.documents if info else "?",
        ingested_at=format_time(info.ingested_at) if info else "?",
    )


def unanswered_messages(rows: Sequence[Unanswered], days: int, limit: int = MAX_MESSAGE) -> list[str]:
    """Staff view of unanswered questions; the questions are residents' text, so escaped."""
    if not rows:
        return text_messages(messages.TG_UNANSWERED_NONE.format(days=days), limit)
    blocks = [f"<b>{esc(messages.TG_UNANSWERED_HEADER.format(days=days))}</b>"]
    for row in rows:
        line = messages.TG_UNANSWERED_LINE.format(
            count=row.count, question=row.question.replace("\n", " ")[:300], last=format_epoch(row.last)
        )
        blocks += paragraphs(line, "", limit)
    return pack(blocks, limit, sep="\n")


# --- keyboards -------------------------------------------------------------------------------------


def callback(*parts: str | int) -> str:
    """Callback data from short parts; refuses anything over Telegram's 64 bytes."""
    data = ":".join(str(p) for p in parts)
    if len(data.encode()) > MAX_CALLBACK_BYTES:
        raise ValueError(f"callback data too long: {data!r}")
    return data


def parse_callback(data: str | None) -> tuple[str, list[str]]:
    """('kind', [args]) from callback data; ('', []) for anything unexpected."""
    if not data or len(data.encode()) > MAX_CALLBACK_BYTES:
        return "", []
    kind, *args = data.split(":")
    return kind, args


def button_label(text: str, limit: int = BUTTON_LABEL_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def answer_keyboard(answer_id: str, *, source: bool, feedback: bool = True) -> InlineKeyboardMarkup:
    """👍 / 👎 on the first row; 查看原文 (when there is a source section) and 转人工 on the second."""
    rows: list[list[InlineKeyboardButton]] = []
    if feedback:
        rows.append(
            [
                InlineKeyboardButton(messages.TG_BUTTON_UP, callback_data=callback(CB_UP, answer_id)),
                InlineKeyboardButton(messages.TG_BUTTON_DOWN, callback_data=callback(CB_DOWN, answer_id)),
            ]
        )
    second = []
    if source:
        second.append(
            InlineKeyboardButton(messages.TG_BUTTON_SOURCE, callback_data=callback(CB_SOURCE, answer_id))
        )
    second.append(InlineKeyboardButton(messages.TG_BUTTON_HUMAN, callback_data=callback(CB_HUMAN, answer_id)))
    rows.append(second)
    return InlineKeyboardMarkup(rows)


def topics_keyboard(labels: Mapping[str, str] = messages.TG_TOPIC_LABELS) -> InlineKeyboardMarkup:
    """The /start topics, two per row."""
    buttons = [
        InlineKeyboardButton(label, callback_data=callback(CB_TOPIC, key)) for key, label in labels.items()
    ]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    rows.append([InlineKeyboardButton(messages.WIZ_BUTTON, callback_data=callback(CB_WIZARD, "go"))])
    return InlineKeyboardMarkup(rows)


def back_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(messages.TG_BACK, callback_data=callback(CB_TOPIC, TOPIC_HOME))]]
    )


def questions_keyboard(topic: str, version: int, questions: Sequence[str]) -> InlineKeyboardMarkup:
    """One button per common question (callback: topic, index version, position), then 返回."""
    rows = [
        [InlineKeyboardButton(button_label(q), callback_data=callback(CB_QUESTION, topic, version, i))]
        for i, q in enumerate(questions)
    ]
    rows.append([InlineKeyboardButton(messages.TG_BACK, callback_data=callback(CB_TOPIC, TOPIC_HOME))])
    return InlineKeyboardMarkup(rows)


# --- self-check wizards and meal sites -------------------------------------------------------------

CB_WIZARD = "wz"  # wz:go[:kind] starts a wizard; wz:o:<step>:<i> picks option i; wz:x cancels
CB_NEARBY = "ms"  # ms:ask asks for the resident's location


def wizard_keyboard(step: str, choices: Sequence[str]) -> InlineKeyboardMarkup:
    """The options of a wizard step (two per row, long ones alone), then 取消."""
    buttons = [
        InlineKeyboardButton(button_label(label), callback_data=callback(CB_WIZARD, "o", step, i))
        for i, label in enumerate(choices)
    ]
    rows: list[list[InlineKeyboardButton]] = []
    for button in buttons:
        if rows and len(rows[-1]) == 1 and len(rows[-1][0].text) <= 6 and len(button.text) <= 6:
            rows[-1].append(button)
        else:
            rows.append([button])
    rows.append([InlineKeyboardButton(messages.WIZ_CANCEL, callback_data=callback(CB_WIZARD, "x"))])
    return InlineKeyboardMarkup(rows)


def topic_extra_rows(topic: str) -> list[list[InlineKeyboardButton]]:
    """Buttons a topic's menu shows above 返回: the self-check wizard, and nearby meal sites."""
    rows: list[list[InlineKeyboardButton]] = []
    if topic == "elderly":
        rows.append([InlineKeyboardButton(messages.MS_BUTTON, callback_data=callback(CB_NEARBY, "ask"))])
        rows.append(
            [InlineKeyboardButton(messages.WIZ_BUTTON, callback_data=callback(CB_WIZARD, "go", "meal"))]
        )
    elif topic == "assistance":
        rows.append(
            [InlineKeyboardButton(messages.WIZ_BUTTON, callback_data=callback(CB_WIZARD, "go", "dibao"))]
        )
    return rows


def with_rows_before_back(
    keyboard: InlineKeyboardMarkup, rows: Sequence[Sequence[InlineKeyboardButton]]
) -> InlineKeyboardMarkup:
    """``keyboard`` with ``rows`` inserted above its last row (the 返回 button)."""
    existing = [list(r) for r in keyboard.inline_keyboard]
    return InlineKeyboardMarkup([*existing[:-1], *[list(r) for r in rows], *existing[-1:]])


def location_keyboard() -> ReplyKeyboardMarkup:
    """A one-time keyboard whose button shares the resident's location (private chats only)."""
    button = KeyboardButton(messages.MS_SEND_LOCATION, request_location=True)
    return ReplyKeyboardMarkup([[button]], resize_keyboard=True, one_time_keyboard=True)
