"""Words and tokens: jieba segmentation, character bigrams, stopwords, and the pinyin of a word.

What keyword search (BM25), sentence scoring and typo correction see of a text.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterable
from typing import Any

from bot.chinese.numerals import canonical

CJK_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
_ASCII_WORD = re.compile(r"[a-z0-9]+(?:\.[0-9]+)?")

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


def cjk_bigrams(text: str) -> list[str]:
    """Overlapping character bigrams of every run of Chinese characters (single characters stay)."""
    out: list[str] = []
    for run in CJK_RUN.findall(text):
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


@functools.lru_cache(maxsize=1)
def jieba_tagger() -> Any:
    """jieba's part-of-speech tagger over the same dictionary (with the words add_words taught it)."""
    _jieba()
    import jieba.posseg

    return jieba.posseg.dt


def nouns(text: str) -> list[str]:
    """The nouns of ``text`` as jieba tags them (火星, 宠物狗), not its verbs (批下来, 打过来)."""
    return [t.word for t in jieba_tagger().cut(text) if t.flag[:1] == "n" or t.flag in ("vn", "eng")]


def add_words(words: Iterable[str]) -> None:
    """Teach the word segmenter domain terms (synonym dictionary entries, document headings)."""
    jieba = _jieba()
    for w in words:
        if len(w) >= 2 and CJK_RUN.fullmatch(w):
            jieba.add_word(w, freq=2000)  # type: ignore[attr-defined]


def words(text: str) -> list[str]:
    """Content words: jieba's search-mode segmentation minus stopwords and punctuation."""
    jieba = _jieba()
    out = []
    for tok in jieba.lcut_for_search(text):  # type: ignore[attr-defined]
        tok = tok.strip()
        if tok and tok not in STOPWORDS and (CJK_RUN.search(tok) or _ASCII_WORD.fullmatch(tok)):
            out.append(tok)
    return out


def keyword_text(text: str) -> str:
    """Text as keyword search sees it, in the documents and in questions alike: quantities written
    one way (二十二周岁 and 22岁 both "22岁", 三十日 and 30天 both "30日")."""
    return canonical(text)


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


def is_cjk(word: str) -> bool:
    return bool(CJK_RUN.fullmatch(word))


@functools.lru_cache(maxsize=65536)
def pinyin_key(word: str) -> str:
    from pypinyin import lazy_pinyin

    return " ".join(lazy_pinyin(word))
