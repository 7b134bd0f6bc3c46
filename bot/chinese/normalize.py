"""Normalising Chinese text the way the documents are written, and the word lists that say how.

A resident's question is normalised before retrieval: traditional → simplified (OpenCC), common
Cantonese and English words → Mandarin, full-width → half-width digits and letters; then
colloquial terms are mapped to the words the documents use (the synonym dictionary).
"""

from __future__ import annotations

import functools
import logging
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

DATA = Path(__file__).resolve().parents[1] / "data"
BUILTIN_SYNONYMS = DATA / "synonyms.txt"
CANTONESE = DATA / "cantonese.txt"
ENGLISH = DATA / "english.txt"

_SPACE = re.compile(r"\s+")


def to_halfwidth(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


@functools.lru_cache(maxsize=1)
def _t2s() -> object:
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    return str(_t2s().convert(text))  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Lexicon:
    """Phrase replacements: variant → canonical, longest variant first.

    ``groups`` keeps the lines as read (term first, then its variants), so that :meth:`toward` can
    aim each group at the word a particular folder uses.
    """

    replacements: tuple[tuple[str, str], ...] = ()
    canonical: frozenset[str] = field(default_factory=frozenset)
    groups: tuple[tuple[str, ...], ...] = ()

    def apply(self, text: str) -> str:
        if not self.replacements:
            return text
        pattern, lookup = _compiled(self.replacements)
        return pattern.sub(lambda m: lookup[m.group(0)], text)

    def toward(self, used: Callable[[str], bool]) -> Lexicon:
        """The same groups, each mapped to the first of its words that ``used`` (the folder) has.

        The dictionary names a group by the word the sample guides use (支出型困难家庭); a folder of
        published rules may say 刚性支出困难家庭 instead, and a question must meet the folder's word.
        A group none of whose words the folder uses keeps its first word.
        """
        return _lexicon(
            tuple(g if not g[0] else (next((w for w in g if used(w)), g[0]), *g) for g in self.groups)
        )


def _lexicon(groups: tuple[tuple[str, ...], ...]) -> Lexicon:
    """Replacements of ``groups`` (term first; "" deletes its variants), later lines winning."""
    mapping: dict[str, str] = {}
    canonical: set[str] = set()
    for head, *variants in groups:
        if head:
            canonical.add(head)
            mapping.setdefault(head, head)
        for v in variants:
            if v != head:
                mapping[v] = head
    pairs = tuple(sorted(mapping.items(), key=lambda kv: (-len(kv[0]), kv[0])))
    return Lexicon(pairs, frozenset(canonical), groups)


@functools.lru_cache(maxsize=16)
def _compiled(pairs: tuple[tuple[str, str], ...]) -> tuple[re.Pattern[str], dict[str, str]]:
    return re.compile("|".join(re.escape(v) for v, _ in pairs)), dict(pairs)


def dictionary_lines(paths: Iterable[Path]) -> Iterator[tuple[Path, int, str]]:
    """(file, line number, line) of every entry of the word lists that exist; '#' starts a comment."""
    for path in paths:
        if not path.is_file():
            continue
        for line_no, raw in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1):
            line = raw.split("#", 1)[0].strip()
            if line:
                yield path, line_no, line


def read_lexicon(paths: Iterable[Path]) -> Lexicon:
    """Read dictionaries: one group a line, canonical term first, variants after it.

    Words are separated by spaces, or by "|" when a line has one (for phrases with spaces).

    Lines starting with '#' are comments. The term "_" deletes its variants. Canonical terms map
    to themselves, so a variant inside a longer canonical term ("饭堂" in "长者饭堂") is left alone.
    """
    groups: list[tuple[str, ...]] = []
    for path, line_no, line in dictionary_lines(paths):
        parts = line.split("|") if "|" in line else line.split()
        words = [to_simplified(to_halfwidth(w.strip())).lower() for w in parts if w.strip()]
        if len(words) < 2:
            logger.warning("%s:%d: a group needs a term and at least one variant", path, line_no)
            continue
        groups.append(("" if words[0] == "_" else words[0], *words[1:]))
    return _lexicon(tuple(groups))


def normalize(text: str, dialect: Lexicon | None = None) -> str:
    """Simplified, half-width, single-spaced, lower-case Latin; Cantonese words in Mandarin."""
    text = to_halfwidth(text)
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
    text = to_simplified(text).lower()
    if dialect is not None:
        text = dialect.apply(text)
    return _SPACE.sub(" ", text).strip()
