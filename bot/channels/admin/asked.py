"""What residents asked: the questions the bot could not answer and the answers they marked 👎.

Read from the channels' state (:class:`bot.state.database.State`) for the console's page, its CSV
export and ``python -m bot report [--since DATE]``. From any question, staff may write an FAQ
entry (:func:`add_faq`): a ``**问：** / **答：**`` pair appended to the staff FAQ file in the
knowledge folder (``[admin] faq_file``), which the next ingest serves.
"""

from __future__ import annotations

import csv
import io
import re
import sys
import time
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from bot import folder
from bot.channels.admin import strings
from bot.config import Settings
from bot.errors import UserError
from bot.records import HEADING_SEP
from bot.state.database import State

MAX_ROWS = 500
FAQ_MAX_QUESTION = 200
FAQ_MAX_ANSWER = 2000


@dataclass(frozen=True)
class Asked:
    """One row of the page: an unanswered question, or a question whose answer got 👎."""

    kind: str  # "unanswered" | "downvoted"
    question: str
    count: int  # times asked (unanswered) or 👎 votes (downvoted)
    last: str  # local time of the last one, ISO
    source: str = ""  # for a 👎 answer: the section it was taken from (《title》 › heading)
    source_path: str = ""
    answer_kind: str = ""


def since_days(since: str | None, default_days: int, now: float | None = None) -> int:
    """Whole days back from today that include ``since`` (YYYY-MM-DD); ``default_days`` when not given."""
    if not since:
        return default_days
    try:
        day = date.fromisoformat(since.strip())
    except ValueError:
        raise UserError(strings.BAD_SINCE.format(since=since)) from None
    today = datetime.fromtimestamp(now if now is not None else time.time()).date()
    if day > today:
        raise UserError(strings.BAD_SINCE.format(since=since))
    return (today - day).days + 1


def collect(state: State, days: int, now: float | None = None) -> list[Asked]:
    """Unanswered questions (most frequent first), then 👎 answers (most votes first), within ``days``."""
    start = (now if now is not None else time.time()) - days * 86400
    rows = [
        Asked("unanswered", u.question, u.count, _local(u.last))
        for u in state.unanswered(days=days, limit=MAX_ROWS)
    ]
    for d in state.downvoted(start, limit=MAX_ROWS):
        title = f"《{d.source_title}》" if d.source_title else ""
        heading = d.source_heading.split(HEADING_SEP, 1)[1] if HEADING_SEP in d.source_heading else ""
        source = title + (f" › {heading}" if heading else "")
        rows.append(Asked("downvoted", d.question, d.votes, _local(d.last), source, d.source_path, d.kind))
    return rows


def _local(epoch: float) -> str:
    return datetime.fromtimestamp(epoch).astimezone().isoformat(timespec="minutes")


def as_csv(rows: list[Asked]) -> str:
    """UTF-8 CSV with a BOM (Excel opens it as Chinese text)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(strings.CSV_HEADER)
    for r in rows:
        writer.writerow([strings.ASKED_KINDS[r.kind], _cell(r.question), r.count, r.last, _cell(r.source)])
    return "\ufeff" + out.getvalue()


def _cell(text: str) -> str:
    """A cell a spreadsheet will not run as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def as_text(rows: list[Asked], days: int) -> str:
    lines = [strings.REPORT_UNANSWERED.format(days=days)]
    unanswered = [r for r in rows if r.kind == "unanswered"]
    lines += [strings.REPORT_LINE.format(count=r.count, question=r.question, last=r.last) for r in unanswered]
    if not unanswered:
        lines.append(strings.REPORT_NONE)
    lines.append(strings.REPORT_DOWNVOTED.format(days=days))
    down = [r for r in rows if r.kind == "downvoted"]
    lines += [
        strings.REPORT_DOWN_LINE.format(
            count=r.count, question=r.question, last=r.last, source=r.source or "—"
        )
        for r in down
    ]
    if not down:
        lines.append(strings.REPORT_NONE)
    return "\n".join(lines)


def print_report(settings: Settings, *, since: str | None, csv_out: bool = False) -> int:
    """``python -m bot report``: what residents asked, as text or CSV, on stdout."""
    days = since_days(since, settings.telegram.unanswered_days)
    state = State(settings.data_dir, history_size=0, url=settings.database_url)
    try:
        rows = collect(state, days)
    finally:
        state.close()
    sys.stdout.write(as_csv(rows) if csv_out else as_text(rows, days) + "\n")
    return 0


# --- the staff FAQ --------------------------------------------------------------------------------


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _answer_lines(text: str) -> list[str]:
    """The answer's lines, none blank (a blank line would end the FAQ entry), none read as markup."""
    lines = [line.strip() for line in text.replace("\r", "\n").split("\n") if line.strip()]
    return [re.sub(r"^(?:#+|---+|\*\*\s*(?:问|答|Q|A)\s*[:：])\s*", "", line) or "-" for line in lines]


def add_faq(settings: Settings, question: str, answer: str) -> Path:
    """Append a 问/答 pair to the staff FAQ file (created with its front matter when missing)."""
    q = _one_line(question).lstrip("#*- ")
    lines = _answer_lines(answer)
    if not q or not lines:
        raise UserError(strings.FAQ_EMPTY)
    if len(q) > FAQ_MAX_QUESTION or sum(map(len, lines)) > FAQ_MAX_ANSWER:
        raise UserError(strings.FAQ_TOO_LONG.format(question=FAQ_MAX_QUESTION, answer=FAQ_MAX_ANSWER))
    name = settings.admin.faq_file
    path = settings.knowledge_dir / name
    today = date.today().isoformat()
    if path.exists():
        text = folder.set_front_matter(path.read_text(encoding="utf-8-sig"), {"issued": today})
    else:
        text = folder.set_front_matter(strings.FAQ_FILE_BODY, strings.FAQ_FILE_META | {"issued": today})
    entry = f"**问：**{q}\n**答：**" + "\n".join(lines) + "\n"
    text = text.rstrip("\n") + "\n\n" + entry
    folder.write_atomic(path, text.encode("utf-8"))
    return path
