"""Which texts are in force: a newer document on the same subject supersedes an older one.

A bureau's folder holds several texts on one subject (社会救助暂行办法 2019 and the 社会救助法
2026), and answers must come from the one in force. At ingest every document is checked against
the others, and a document is *superseded* when

* its front matter says so: ``superseded_by: <file or title>``, or ``valid_until: <date>`` in the past;
* another document of the folder abolishes it by title ("《…》同时废止", "《…》废止") and was issued
  after it;
* another document of the same category has the same subject in its title (the title without
  "中华人民共和国", "暂行", "（试行）" and the kind of text: 法, 条例, 办法 …), was issued after it,
  and is already in force ("本法自2026年7月1日起施行" on or before today).

The result is a map from path to the :class:`Supersession`; :func:`mark` writes it on the chunks
(``Chunk.superseded_by``, ``Chunk.in_force_since``), where extraction reads it: the superseded text
counts for less, and an answer that still quotes it says which text is in force.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from langchain_core.documents import Document

from bot.records import EXPIRED, Chunk, FileMeta

_ABOLISHED = re.compile(r"《([^《》]{2,60}?)》(?:（[^）]{0,30}）)?\s*(?:同时)?(?:予以)?废止")
_IN_FORCE = re.compile(r"自\s*(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日\s*起(?:施行|实施|执行)")
_PREFIX = re.compile(r"^(?:中华人民共和国|国务院|民政部)")
_KIND = re.compile(r"(?:暂行|试行|（试行）|\(试行\))")
_SUFFIX = re.compile(r"(?:法|条例|办法|规定|细则|实施细则|意见|通知|决定)$")


@dataclass(frozen=True)
class DocInfo:
    """What currency needs to know of one document."""

    path: str
    title: str
    category: str
    issued: str  # ISO date or ""
    text: str  # the document body (for 施行 and 废止 statements)
    superseded_by: str = ""  # front matter: a path or title
    valid_until: str = ""  # front matter: ISO date

    @classmethod
    def of(cls, meta: FileMeta, text: str) -> DocInfo:
        return cls(
            meta.path, meta.title, meta.category, meta.issued, text, meta.superseded_by, meta.valid_until
        )


@dataclass(frozen=True)
class Supersession:
    path: str  # the superseded document
    by_path: str  # the document in force ("" when it simply expired)
    by_title: str
    since: str  # ISO date the newer text took effect, or ""
    reason: str  # "front matter" | "abolished" | "same subject" | "expired"


def subject(title: str) -> str:
    """The subject a title names: "中华人民共和国社会救助法" and "社会救助暂行办法" → "社会救助"."""
    core = _PREFIX.sub("", title.strip())
    core = _KIND.sub("", core)
    return _SUFFIX.sub("", core)


def in_force_from(text: str) -> str:
    """The date a text says it takes effect ("本法自2026年7月1日起施行"), ISO, or ""."""
    m = _IN_FORCE.search(text)
    if not m:
        return ""
    try:
        return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3))).isoformat()
    except ValueError:
        return ""


def superseded(docs: Sequence[DocInfo], today: dt.date | None = None) -> dict[str, Supersession]:
    """Every superseded document of the folder, with the document in force."""
    today = today or dt.date.today()
    now = today.isoformat()
    by_title = {d.title: d for d in docs if d.title}
    by_path = {d.path: d for d in docs}
    effective = {d.path: in_force_from(d.text) or d.issued for d in docs}
    out: dict[str, Supersession] = {}

    def mark(old: DocInfo, new: DocInfo | None, reason: str) -> None:
        if old.path in out or (new is not None and new.path == old.path):
            return
        out[old.path] = Supersession(
            old.path,
            new.path if new else "",
            new.title if new else "",
            effective[new.path] if new else old.valid_until,
            reason,
        )

    for d in docs:
        if d.superseded_by:
            mark(d, by_path.get(d.superseded_by) or by_title.get(d.superseded_by), "front matter")
        elif d.valid_until and d.valid_until < now:
            mark(d, None, "expired")
    for new in docs:
        if effective[new.path] > now:
            continue  # not in force yet: the text it replaces still applies
        for name in _ABOLISHED.findall(new.text):
            old = by_title.get(name)
            if old is not None and old.issued and new.issued and old.issued < new.issued:
                mark(old, new, "abolished")
    for old in docs:
        key = subject(old.title)
        if not key or not old.issued:
            continue
        newer = [
            d
            for d in docs
            if d.path != old.path
            and d.category == old.category
            and subject(d.title) == key
            and d.issued > old.issued
            and effective[d.path] <= now
        ]
        if newer:
            mark(old, max(newer, key=lambda d: d.issued), "same subject")
    return out


def mark(chunks_by_path: dict[str, list[Document]], found: dict[str, Supersession]) -> None:
    """Write what :func:`superseded` found on every chunk of the superseded documents."""
    for path, chunks in chunks_by_path.items():
        got = found.get(path)
        for doc in chunks:
            chunk = dataclasses.replace(
                Chunk.from_meta(doc.metadata),
                superseded_by=(got.by_path or EXPIRED) if got else "",
                in_force_since=got.since if got else "",
            )
            doc.metadata = chunk.as_meta()
