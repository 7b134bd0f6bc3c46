"""Questions that belong to another department (报案 → 公安, 婚检 → 卫生健康, 个税 → 税务 …).

The built-in list is ``bot/data/other_departments.txt``; the bureau can add its own lines in
``knowledge/_other_departments.txt`` (same format). The knowledge folder still wins where it talks
about the matter itself: when a found passage names the word *and* at least half of what the
question asks about ("老人入住养老院前要体检吗" in the care-home guide's 入住 steps). A passing mention
does not count ("公积金养老金缴纳等信息比对" is no answer on withdrawing one's 公积金 in another city).

Nor is a question referred that asks about one of the bureau's own matters (``bot/data/civil_affairs.txt``)
after naming the other department's: "领失业金期间能申请低保吗" asks about 低保, and 失业金 is its occasion.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.chinese.normalize import dictionary_lines, to_simplified

logger = logging.getLogger(__name__)

BUILTIN = Path(__file__).resolve().parents[1] / "data" / "other_departments.txt"
OURS = BUILTIN.with_name("civil_affairs.txt")


@dataclass(frozen=True)
class Referral:
    department: str
    word: str  # the word of the question that names the matter


@dataclass(frozen=True)
class Departments:
    words: tuple[tuple[str, str], ...]  # (word, department), longest word first
    ours: tuple[str, ...] = ()  # words that name the bureau's own matters

    @classmethod
    def read(cls, paths: Iterable[Path], ours: Iterable[Path] = (OURS,)) -> Departments:
        """Read '部门 | 词 词 词' lines, and the bureau's own matters (words) from ``ours``; '#' starts
        a comment; a file that does not exist is skipped."""
        pairs: dict[str, str] = {}
        for path, line_no, line in dictionary_lines(paths):
            department, sep, words = line.partition("|")
            if not sep or not department.strip() or not words.split():
                logger.warning("%s:%d: expected '部门 | 词 词 …'", path, line_no)
                continue
            for word in words.split():
                pairs[to_simplified(word).lower()] = department.strip()
        own = (to_simplified(w).lower() for _, _, line in dictionary_lines(ours) for w in line.split())
        return cls(tuple(sorted(pairs.items(), key=lambda kv: -len(kv[0]))), tuple(dict.fromkeys(own)))

    def matters_in(self, text: str) -> frozenset[str]:
        """The bureau's own matters ``text`` names."""
        return frozenset(w for w in self.ours if w in text)

    def refer(
        self, question: str, passages: Sequence[str], words: Sequence[str] = (), covered: float = 0.5
    ) -> Referral | None:
        """The department for a (normalised) question, unless the found passages cover the matter.

        ``words`` are the question's content words: a passage covers the matter when it has the
        department's word and at least the share ``covered`` of those words (without them, any
        mention does).
        """
        asked = [w for w in dict.fromkeys(words) if len(w) >= 2]
        for word, department in self.words:
            at = question.rfind(word)
            if at < 0:
                continue
            if self.matters_in(question[at + len(word) :]):
                continue  # the question goes on to ask about one of our matters
            if not any(word in p and _share(asked, p) >= covered for p in passages):
                return Referral(department, word)
        return None


def _share(words: Sequence[str], text: str) -> float:
    return sum(w in text for w in words) / len(words) if words else 1.0
