"""Extractive answers: the sentences, list items or table rows that answer, never a dump of chunks.

Given the retrieved passages, every passage is cut into units (sentences, list
items, table rows rendered with their column names, FAQ answers). Units are scored
by the question's words they contain (weighted by rarity), by the rank of their
passage, and by what the question asks for (a number, a place, a phone, a list).
The best unit and its strongest neighbours make the answer, in document order.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot import intents
from bot.answering.index import KnowledgeIndex
from bot.answering.retrieval import place_weights
from bot.chinese import segment
from bot.config import TuningSettings
from bot.records import Passage, Retrieval, table_rows

_SENTENCE_END = re.compile(r"(?<=[。！？；!?;])")
_LIST_MARK = re.compile(r"^\s*(?:[-*+•·]|\d{1,3}[.、)）]|[（(]\d{1,3}[)）])\s*")
_TABLE_LINE = re.compile(r"^\s*\|")
_MARKUP = re.compile(r"\*\*|__|`")
_FAQ_Q = re.compile(r"^(?:问|Q)\s*[:：]\s*")
_FAQ_A = re.compile(r"^(?:答|A)\s*[:：]\s*")
_DIGIT = re.compile(r"\d")
_PHONE = re.compile(r"\d{3,4}-\d{6,8}|\b1\d{10}\b|\b123\d{2}\b")
_OFFICE = re.compile(r"向|到|在|窗口|政府|街道|登记处|地址|中心")  # a unit that says where to go

_WHEN = re.compile(
    r"次月|当月|之日|日内|天内|工作日|个月|小时|当场|当天|之前|以前|以后|起|前|期满|届满|\d+[日天月年号]"
)


@dataclass(frozen=True)
class Unit:
    text: str
    passage: int  # index into the passages considered
    order: int  # position inside its passage
    group: int  # units of one list or one table share a group id
    kind: str  # "sentence" | "item" | "row" | "faq"
    match: str = ""  # text matched against the question, when more than ``text`` (an FAQ's question)
    section: str = ""  # the heading the unit stands under ("" for a document's introduction)
    title: str = ""  # the document's title: its words name the topic, not the answer
    question: str = ""  # for an FAQ answer, the question it was written for

    @property
    def haystack(self) -> str:
        return self.match or self.text


@dataclass(frozen=True)
class Extract:
    text: str
    passages: tuple[Passage, ...]  # the passages the answer was taken from, best first


def units_of(passage: Passage, index: int) -> list[Unit]:
    """Cut one passage body into answerable units, each knowing the section it stands under."""
    chunk = passage.chunk
    return [
        dataclasses.replace(u, section=chunk.section, title=chunk.title, question=chunk.question)
        for u in _units(passage, index)
    ]


def _units(passage: Passage, index: int) -> list[Unit]:
    out: list[Unit] = []
    group = 0
    body = passage.body
    if passage.chunk.kind == "faq":
        answer = "\n".join(line for line in body.splitlines() if not _FAQ_Q.match(_MARKUP.sub("", line)))
        answer = _FAQ_A.sub("", _MARKUP.sub("", answer).strip())
        return [Unit(answer, index, 0, 0, "faq", passage.chunk.question + answer)] if answer else []
    lines = body.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if _TABLE_LINE.match(line):
            j = i
            while j < len(lines) and _TABLE_LINE.match(lines[j]):
                j += 1
            group += 1
            out += [Unit(r, index, len(out), group, "row") for r in table_rows("\n".join(lines[i:j]))]
            i = j
            continue
        clean = _MARKUP.sub("", line).strip()
        if _LIST_MARK.match(line):
            if not out or out[-1].kind != "item":
                group += 1
            out.append(Unit(_LIST_MARK.sub("", clean), index, len(out), group, "item"))
        else:
            group += 1
            out += [
                Unit(s.strip(), index, len(out) + k, group, "sentence")
                for k, s in enumerate(_sentences(clean))
            ]
        i += 1
    return [u for u in out if len(u.text) >= 2]


def _sentences(paragraph: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(paragraph) if s.strip()]


def _score(unit: Unit, weights: dict[str, float], question: str, faq_match: float, t: TuningSettings) -> float:
    haystack = unit.haystack
    # Words of the document title are what the whole document is about; the others pick the sentence.
    score = sum(
        w * (t.title_term if term in unit.title else 1.0) for term, w in weights.items() if term in haystack
    )
    # A section heading ("二、办公时间", "六、救助方式") says what its sentences are about.
    score += t.section_term * sum(
        w for term, w in weights.items() if term in unit.section and term not in haystack
    )
    if unit.kind == "faq":
        score *= t.faq_base + t.faq_match * faq_match  # an FAQ answers only the question it was written for
    elif not unit.section:
        score *= t.introduction  # a document's introduction is background, rarely the answer
    if intents.ASKS_WHEN.search(question) and _WHEN.search(unit.text):
        score *= t.asks_when
    if intents.ASKS_NUMBER.search(question) and _DIGIT.search(unit.text):
        score *= t.asks_number
    if intents.ASKS_PHONE.search(question) and _PHONE.search(unit.text):
        score *= t.asks_phone
    if intents.ASKS_PLACE.search(question) and _OFFICE.search(unit.text):
        score *= t.asks_place
    if intents.answers_kind(question, unit.section):
        score *= t.answers_kind
    if unit.kind == "sentence" and len(unit.text) < t.lead_in_chars and unit.text.endswith(("：", ":")):
        score *= t.lead_in  # a lead-in such as "需要提交的材料：" says nothing alone
    return score


def term_weights(
    index: KnowledgeIndex, query_words: Sequence[str], query: str, t: TuningSettings
) -> dict[str, float]:
    """Rarity-weighted terms of the question: its content words, and its bigrams at a lower weight."""
    weights: dict[str, float] = {}
    for w in query_words:
        bonus = 1.0 + t.word_length_bonus * min(len(w), t.word_length_cap)
        weights[w] = max(weights.get(w, 0.0), index.bm25.idf_of(w) * bonus)
    for b in segment.cjk_bigrams(query):
        # Bigrams across a function character ("保怎", "么申") are noise, not terms.
        if b not in segment.STOPWORDS and b not in weights and not set(b) & segment.FUNCTION_CHARS:
            weights[b] = t.bigram_weight * index.bm25.idf_of(b)
    factors = place_weights(query, list(weights), t.place_weight)
    return {t: w * f for (t, w), f in zip(weights.items(), factors, strict=True)}


def extract(
    index: KnowledgeIndex,
    retrieval: Retrieval,
    question: str,
    max_chars: int,
    tuning: TuningSettings,
    context_words: Sequence[str] = (),
) -> Extract:
    """Pick the units that answer ``question`` from the best passages."""
    t = tuning
    passages = _candidates(retrieval, t)
    weights = term_weights(index, [w for w in dict.fromkeys(segment.words(question)) if w], question, t)
    own = set(weights)  # the terms of this question, not of the earlier ones
    for w in context_words:  # words carried over from earlier questions in a follow-up
        weights.setdefault(w, t.context_weight * index.bm25.idf_of(w))
    units = [u for i, p in enumerate(passages) for u in units_of(p, i)]
    if not units:
        return Extract("", ())
    prior = [1.0 / (1.0 + t.passage_decay * i) for i in range(len(passages))]
    asked = set(segment.cjk_bigrams(question))
    scored = sorted(
        (
            (_score(u, weights, question, _dice(asked, u.question), t) * prior[u.passage], k)
            for k, u in enumerate(units)
        ),
        key=lambda t: -t[0],
    )
    # The answer must say something about this question, not only about the earlier ones.
    scored = [t for t in scored if _mentions(units[t[1]], own)] or scored
    best_score, best_k = scored[0]
    best = units[best_k]
    chosen = {best_k}
    wants_list = bool(intents.ASKS_LIST.search(question))
    if best.kind in ("item", "row") and wants_list:
        chosen |= {k for k, u in enumerate(units) if u.passage == best.passage and u.group == best.group}
    if best.text.endswith(("：", ":")) and best_k + 1 < len(units):
        # A lead-in ("同时符合下面两个条件：") is nothing without the list or table it introduces.
        nxt = units[best_k + 1]
        if nxt.passage == best.passage and nxt.kind in ("item", "row"):
            chosen |= {k for k, u in enumerate(units) if u.passage == nxt.passage and u.group == nxt.group}
    for score, k in scored[1:]:
        if score < t.same_passage * best_score:
            break
        if not _mentions(units[k], own):
            continue  # in a follow-up, a sentence that only matches the earlier question is not an answer
        if units[k].kind == "row" and best.kind == "row" and units[k].group == best.group and not wants_list:
            continue  # "陆丰的登记处在哪" is one row of the table, not the whole table
        if units[k].passage == best.passage or score >= t.other_passage * best_score:
            chosen.add(k)
    picked = _fit(
        [units[k] for k in sorted(chosen, key=lambda k: (units[k].passage != best.passage, k))],
        max_chars,
        best,
    )
    used = tuple(dict.fromkeys(passages[u.passage] for u in picked))
    return Extract(_render(picked), used)


def _mentions(unit: Unit, terms: set[str]) -> bool:
    return any(t in unit.haystack or t in unit.section for t in terms)


def _dice(asked: set[str], text_: str) -> float:
    """Bigram Dice overlap between the question and an FAQ's question+answer (0 when not an FAQ)."""
    if not text_ or not asked:
        return 0.0
    other = set(segment.cjk_bigrams(text_))
    return 2 * len(asked & other) / (len(asked) + len(other)) if other else 0.0


def _candidates(retrieval: Retrieval, t: TuningSettings) -> list[Passage]:
    """The top passages of the best few documents, best first."""
    docs = [d.path for d in retrieval.docs[: t.candidate_documents]]
    return [p for p in retrieval.passages[: t.candidate_passages] if p.path in docs][: t.extract_passages]


def _fit(units: list[Unit], max_chars: int, best: Unit) -> list[Unit]:
    out: list[Unit] = []
    size = 0
    for u in [best, *[u for u in units if u is not best]]:
        if out and size + len(u.text) > max_chars:
            continue
        out.append(u)
        size += len(u.text) + 1
    return sorted(out, key=lambda u: (u.passage != best.passage, u.passage, u.order))


def _render(units: list[Unit]) -> str:
    lines: list[str] = []
    for u in units:
        if u.kind in ("item", "row"):
            lines.append("· " + u.text.rstrip("；;，,"))
        elif (
            lines and not lines[-1].startswith("· ") and u.kind == "sentence" and lines[-1][-1:] in "。！？；"
        ):
            lines[-1] += u.text
        else:
            lines.append(u.text)
    return "\n".join(lines)
