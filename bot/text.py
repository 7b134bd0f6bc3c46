"""Chinese text handling shared by ingest and retrieval: normalisation, tokens, synonyms.

A resident's question is normalised before retrieval: traditional → simplified
(OpenCC), common Cantonese words → Mandarin, full-width → half-width digits and
letters, then colloquial terms and typos are mapped to the words the documents use
(the synonym dictionary, plus homophones of corpus words found through pinyin).
"""

from __future__ import annotations

import functools
import logging
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

BUILTIN_SYNONYMS = Path(__file__).resolve().parent / "data" / "synonyms.txt"
CANTONESE = Path(__file__).resolve().parent / "data" / "cantonese.txt"
ENGLISH = Path(__file__).resolve().parent / "data" / "english.txt"
PLACES = Path(__file__).resolve().parent / "data" / "places.txt"

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
CJK_RUN = _CJK
_ASCII_WORD = re.compile(r"[a-z0-9]+(?:\.[0-9]+)?")
_SPACE = re.compile(r"\s+")

# Words that say nothing about the topic; they are dropped from keyword matching.
STOPWORDS = frozenset(
    [
        "的",
        "了",
        "吗",
        "呢",
        "吧",
        "啊",
        "呀",
        "哦",
        "嘛",
        "么",
        "是",
        "在",
        "有",
        "和",
        "与",
        "及",
        "或",
        "就",
        "都",
        "也",
        "还",
        "又",
        "要",
        "会",
        "能",
        "可",
        "可以",
        "能不能",
        "可不可以",
        "我",
        "你",
        "他",
        "她",
        "它",
        "我们",
        "你们",
        "他们",
        "咱",
        "俺",
        "自己",
        "这",
        "那",
        "这个",
        "那个",
        "这些",
        "那些",
        "哪",
        "哪个",
        "哪些",
        "什么",
        "怎么",
        "怎样",
        "怎么样",
        "如何",
        "为什么",
        "请问",
        "请",
        "问",
        "一下",
        "想",
        "想问",
        "咨询",
        "你好",
        "您好",
        "谢谢",
        "麻烦",
        "老师",
        "知道",
        "告诉",
        "一个",
        "个",
        "多少",
        "几",
        "吗",
        "没有",
        "不",
        "没",
        "把",
        "被",
        "让",
        "给",
        "对",
        "从",
        "到",
        "去",
        "来",
        "说",
        "讲",
        "现在",
        "今年",
        "如果",
        "但是",
        "因为",
        "所以",
        "然后",
        "还是",
        "或者",
        "已经",
        "应该",
        "需要",
        "需不需要",
        "得",
        "地",
        "着",
        "过",
        "之",
        "其",
        "该",
        "每",
        "各",
        "等",
        # question filler: how residents ask, not what about
        "是不是",
        "不是",
        "要不要",
        "有没有",
        "会不会",
        "行不行",
        "用不用",
        "算不算",
        "不行",
        "不了",
        "不会",
        "的话",
        "为啥",
        "啥",
        "咋",
        "那边",
        "这边",
        "大概",
        "大约",
        "一般",
        "好像",
        "好似",
        "真的",
        "其实",
        "还能",
        "能否",
        "是否",
    ]
)


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
    """Phrase replacements: variant → canonical, longest variant first."""

    replacements: tuple[tuple[str, str], ...] = ()
    canonical: frozenset[str] = field(default_factory=frozenset)

    def apply(self, text: str) -> str:
        if not self.replacements:
            return text
        pattern, lookup = _compiled(self.replacements)
        return pattern.sub(lambda m: lookup[m.group(0)], text)


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
    mapping: dict[str, str] = {}
    canonical: set[str] = set()
    for path, line_no, line in dictionary_lines(paths):
        parts = line.split("|") if "|" in line else line.split()
        words = [to_simplified(to_halfwidth(w.strip())).lower() for w in parts if w.strip()]
        if len(words) < 2:
            logger.warning("%s:%d: a group needs a term and at least one variant", path, line_no)
            continue
        head, *variants = words
        if head == "_":
            head = ""
        else:
            canonical.add(head)
            mapping.setdefault(head, head)
        for v in variants:
            mapping[v] = head
    pairs = tuple(sorted(mapping.items(), key=lambda kv: (-len(kv[0]), kv[0])))
    return Lexicon(pairs, frozenset(canonical))


def normalize(text: str, dialect: Lexicon | None = None) -> str:
    """Simplified, half-width, single-spaced, lower-case Latin; Cantonese words in Mandarin."""
    text = to_halfwidth(text)
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
    text = to_simplified(text).lower()
    if dialect is not None:
        text = dialect.apply(text)
    return _SPACE.sub(" ", text).strip()


def cjk_bigrams(text: str) -> list[str]:
    """Overlapping character bigrams of every run of Chinese characters (single characters stay)."""
    out: list[str] = []
    for run in _CJK.findall(text):
        if len(run) == 1:
            out.append(run)
        else:
            out.extend(run[i : i + 2] for i in range(len(run) - 1))
    return out


@functools.lru_cache(maxsize=1)
def _jieba() -> object:
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def add_words(words: Iterable[str]) -> None:
    """Teach the word segmenter domain terms (synonym dictionary entries, document headings)."""
    jieba = _jieba()
    for w in words:
        if len(w) >= 2 and _CJK.fullmatch(w):
            jieba.add_word(w, freq=2000)  # type: ignore[attr-defined]


def words(text: str) -> list[str]:
    """Content words: jieba's search-mode segmentation minus stopwords and punctuation."""
    jieba = _jieba()
    out = []
    for tok in jieba.lcut_for_search(text):  # type: ignore[attr-defined]
        tok = tok.strip()
        if tok and tok not in STOPWORDS and (_CJK.search(tok) or _ASCII_WORD.fullmatch(tok)):
            out.append(tok)
    return out


def tokens(text: str, content_words: list[str] | None = None) -> list[str]:
    """Index terms for keyword search: content words, Chinese character bigrams, Latin words and numbers.

    ``content_words`` are ``words(text)`` when the caller already has them (segmentation is the cost).
    """
    out = list(words(text) if content_words is None else content_words)
    out += [b for b in cjk_bigrams(text) if b not in STOPWORDS]
    out += _ASCII_WORD.findall(text)
    return out


FUNCTION_CHARS = frozenset(
    "的了是在有不没也都就和与或我你他她它们这那个吗呢吧啊呀哦嘛么着过要会能可把被让给对从到去来说又还很太更最几多少怎么什哪谁"
)


def plain_segments(run: str) -> list[str]:
    """Dictionary segmentation without guessing unknown words: typos fall apart into single characters."""
    return list(_jieba().lcut(run, HMM=False))  # type: ignore[attr-defined]


def dictionary_freq(word: str) -> int:
    """How common ``word`` is in the segmenter's general dictionary (0 when it is not a word)."""
    return int(_jieba().get_FREQ(word) or 0)  # type: ignore[attr-defined]


@functools.lru_cache(maxsize=1)
def place_names() -> frozenset[str]:
    """Counties, districts and towns of 汕尾 (``bot/data/places.txt``)."""
    return frozenset(line for _, _, line in dictionary_lines([PLACES]) if len(line) >= 2)


def is_place(term: str) -> bool:
    """A term that names a place ("陆丰", "红海湾", "海丰县政务") or a part of one ("海陆")."""
    return len(term) >= 2 and any(term in p or p in term for p in place_names())


def without_places(text: str) -> str:
    """``text`` with the place names of 汕尾 taken out (longest first)."""
    for place in sorted(place_names(), key=len, reverse=True):
        text = text.replace(place, "")
    return text


def is_cjk(word: str) -> bool:
    return bool(_CJK.fullmatch(word))


@functools.lru_cache(maxsize=65536)
def pinyin_key(word: str) -> str:
    from pypinyin import lazy_pinyin

    return " ".join(lazy_pinyin(word))


_CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "俩": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10**4, "亿": 10**8}
CN_NUMERAL_CHARS = "".join(_CN_DIGITS) + "".join(_CN_UNITS)


def cn_number(token: str) -> float | None:
    """'2000' '2千' '1.5万' '两千五' '四' '十二' '二〇二五' → a number (None when it is not one)."""
    token = token.strip()
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([万千kK]?)", token)
    if m:
        factor = {"万": 10000, "千": 1000, "k": 1000, "K": 1000, "": 1}[m.group(2)]
        return float(m.group(1)) * factor
    if not token or any(ch not in _CN_DIGITS and ch not in _CN_UNITS for ch in token):
        return None
    if not any(ch in _CN_UNITS for ch in token):  # 二〇二五: digit by digit
        return float("".join(str(_CN_DIGITS[ch]) for ch in token))
    total, section, digit = 0, 0, None
    last_unit = 1
    for ch in token:
        if ch in _CN_DIGITS:
            digit = _CN_DIGITS[ch]
        else:
            unit = _CN_UNITS[ch]
            if unit >= 10**4:
                total += (section + (digit or 0)) * unit
                section, digit = 0, None
            else:
                section += (digit if digit is not None else 1) * unit
                digit = None
            last_unit = unit
    if digit is not None:
        # '两千五' means 2500: a trailing digit is one unit below the last one.
        section += digit * (last_unit // 10 if last_unit >= 100 and token[-2] in _CN_UNITS else 1)
    return float(total + section)
