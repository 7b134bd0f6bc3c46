"""How an answer reads in WeChat, and cutting it into texts that fit WeChat's byte limit.

WeChat shows a text message as it is: newlines kept, no markup. One text, a passive reply or a
customer-service message, holds at most 2048 bytes of UTF-8 (``[wechat] text_max_bytes`` keeps a
margin under it). A longer answer is cut between paragraphs; a paragraph that is itself too long,
between sentences; a sentence that is too long, between characters. Nothing is lost unless the
answer needs more messages than WeChat lets one question have, and then the last one says so.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.channels.wechat.deps import Answer, messages

_SENTENCE_END = re.compile(r"(?<=[。！？；!?;])")


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def answer_text(answer: Answer, *, hotline: str, feedback: bool) -> str:
    """The answer with its sources and notes, the usual footer, and how to rate it (reply 1 / 2)."""
    parts = [answer.render()]
    if answer.answered:
        parts.append(messages.ANSWER_FOOTER.format(hotline=hotline))
    if feedback:
        parts.append(messages.WX_FEEDBACK_HINT)
    return "\n".join(p for p in parts if p)


def _cut(text: str, max_bytes: int) -> list[str]:
    """``text`` in pieces of at most ``max_bytes``, cut between characters."""
    out: list[str] = []
    current = ""
    for ch in text:
        if current and utf8_len(current + ch) > max_bytes:
            out.append(current)
            current = ""
        current += ch
    if current:
        out.append(current)
    return out


def _pieces(paragraph: str, max_bytes: int) -> list[str]:
    """A paragraph as pieces that fit: whole, else by sentences, else by characters."""
    if utf8_len(paragraph) <= max_bytes:
        return [paragraph]
    out: list[str] = []
    for sentence in (s for s in _SENTENCE_END.split(paragraph) if s):
        out += [sentence] if utf8_len(sentence) <= max_bytes else _cut(sentence, max_bytes)
    return out


def split_text(text: str, max_bytes: int) -> list[str]:
    """``text`` as few texts as possible, each at most ``max_bytes`` of UTF-8, cut between paragraphs."""
    if max_bytes < 4:
        raise ValueError("max_bytes must hold at least one character")
    texts: list[str] = []
    current = ""
    for paragraph in text.strip().split("\n"):
        for i, piece in enumerate(_pieces(paragraph, max_bytes)):
            joiner = "\n" if i == 0 else ""  # pieces of one paragraph join without a line break
            candidate = f"{current}{joiner}{piece}" if current else piece
            if utf8_len(candidate) <= max_bytes:
                current = candidate
            else:
                texts.append(current)
                current = piece
    if current.strip():
        texts.append(current)
    return [t.strip("\n") for t in texts if t.strip()]


def limit_texts(texts: Sequence[str], max_texts: int, max_bytes: int, note: str) -> list[str]:
    """At most ``max_texts``: when there are more, the last kept one ends with ``note`` (still fitting)."""
    if len(texts) <= max_texts:
        return list(texts)
    kept = list(texts[:max_texts])
    room = max_bytes - utf8_len(note) - 1
    last = kept[-1]
    while last and utf8_len(last) > room:  # drop whole paragraphs from the end, then characters
        head, sep, _ = last.rpartition("\n")
        if sep:
            last = head
        elif room > 0:
            last = _cut(last, room)[0]
        else:
            last = ""
    kept[-1] = f"{last}\n{note}" if last else note
    return kept
