"""Telegram's HTML parse mode as the fake Bot API checks it: allowed tags, entities, the visible text.

Telegram counts a message's length in UTF-16 code units of its visible text (:func:`utf16_len`)
and rejects markup it cannot parse with "can't parse entities" (:func:`parse_html`).
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

ALLOWED_TAGS = {
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre",
    "span", "tg-spoiler", "tg-emoji", "blockquote",
}  # fmt: skip


class _TelegramHTML(HTMLParser):
    """Accepts what Telegram's HTML parse mode accepts (roughly) and collects the visible text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.error = ""
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS and not self.error:
            self.error = f'Unsupported start tag "{tag}"'
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if (not self.stack or self.stack[-1] != tag) and not self.error:
            self.error = f'Unmatched end tag "{tag}"'
        elif self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse_html(text: str) -> tuple[str, str]:
    """(visible text, error or '') as Telegram would see an HTML-mode message."""
    if re.search(r"&(?!(?:lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);)", text):
        return "", "Can't parse entities: unsupported entity"
    if re.search(r"<(?![a-zA-Z/])", text):
        return "", "Can't parse entities: unexpected < character"
    parser = _TelegramHTML()
    parser.feed(text)
    parser.close()
    if parser.error:
        return "", f"Can't parse entities: {parser.error}"
    if parser.stack:
        return (
            "",
            f"Can't parse entities: can't find end tag corresponding to start tag \"{parser.stack[-1]}\"",
        )
    return html.unescape("".join(parser.text)), ""


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2
