"""The place names of 汕尾 (counties, districts, towns) and of China's provinces (``bot/data/places.txt``).

Where a resident lives is rarely what the question is about, unless it asks where.
"""

from __future__ import annotations

import functools

from bot.chinese.normalize import DATA, dictionary_lines

PLACES = DATA / "places.txt"


@functools.lru_cache(maxsize=1)
def place_names() -> frozenset[str]:
    """Counties, districts and towns of 汕尾, provinces and their capitals (``bot/data/places.txt``)."""
    return frozenset(line for _, _, line in dictionary_lines([PLACES]) if len(line) >= 2)


def is_place(term: str) -> bool:
    """A term that names a place ("陆丰", "红海湾", "海丰县政务") or a part of one ("海陆")."""
    return len(term) >= 2 and any(term in p or p in term for p in place_names())


def without_places(text: str) -> str:
    """``text`` with the place names of 汕尾 taken out (longest first)."""
    for place in sorted(place_names(), key=len, reverse=True):
        text = text.replace(place, "")
    return text
