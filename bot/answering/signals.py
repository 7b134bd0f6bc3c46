"""What a candidate answer unit is scored by: the signals of :data:`FEATURES`, one row per unit.

The candidates are the answer units (:class:`bot.records.Unit`, cut and embedded at ingest) of the
documents retrieval ranked best. Each candidate is described by a handful of signals: how close its
vector is to the question's; how much of the question's rarity-weighted words it holds (itself, its
section heading, its chunk); whether it is the kind of text the question asks for (a time, a number,
a list, a phone, an office); what kind of unit it is; how well its chunk and its document ranked;
whether its document is superseded or it speaks of people the question does not. Its score is a
weighted sum of them (:func:`weights_vector`); the weights are fitted on the evaluation sets
(``[answer.weights]`` in config.toml, ``python -m bot eval FILES --fit-answers``), not set by hand.
What a unit's own text holds is computed once per index version.
"""

from __future__ import annotations

import math
import re
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from bot import intents
from bot.answering.index import KnowledgeIndex, Units
from bot.answering.retrieval import place_weights
from bot.chinese import segment
from bot.config import AnswerSettings, TuningSettings
from bot.records import Chunk, Retrieval, Unit

# What a unit's text holds (the question patterns live in bot.intents).
_DIGIT = re.compile(r"\d|[一二两三四五六七八九十百千万]+[元岁周日天个年倍%]")
_PHONE = re.compile(r"\d{3,4}-\d{6,8}|\b1\d{10}\b|\b123\d{2}\b")
_OFFICE = re.compile(r"向|到|在|窗口|政府|街道|登记处|地址|中心|机关")
# A time a rule or service runs by; a calendar year alone ("2025年全市民政工作会议") dates a text, not it.
_WHEN = re.compile(
    r"次月|当月|之日|日内|天内|工作日|个月|小时|当场|当天|之前|以前|以后|起|前|期满|届满|\d+[日天月号]|(?<!\d)\d{1,3}年"
)
_MONEY = re.compile(r"\d+(?:\.\d+)?\s*元|[一二两三四五六七八九十百千万]+元")
_CAP = re.compile(r"最多|最高|上限|不超过|不高于|合计|共计|总计|最低|不低于|至少")
_DEFINING = r"是指|一般指|指的是|所称|包括|同时具备"
_DEFINES = re.compile(_DEFINING + r"|认定为|具备下列条件")
_CONDITION = re.compile(
    r"下列(?:情形|条件)|符合.{0,12}条件|同时具备|对.{2,40}的，|因.{2,30}导致|无.{2,6}能力|不予|不得|终止"
)
_PROCEDURE = re.compile(r"向.{2,24}(?:提出|申请|申报)|提交|办理|到.{2,16}(?:办理|申请)")
# A definition, or a rule that lists the cases or conditions of something ("有下列情形之一的，婚姻无效：").
_DEFINITION = re.compile(_DEFINING + r"|具备下列|符合下列|有下列|下列情形|以下情形|以下条件")
# A unit saying a matter is another department's: it can lead a redirect, never support an answer.
NOT_OURS = re.compile(r"不属于民政")
# Rules for particular groups of people, which a question about ordinary residents is not about.
_SPECIAL_PEOPLE = re.compile(r"外国人|华侨|香港|澳门|台湾|港澳台|现役军人|军人|驻外")

FEATURES = (
    "cos",  # cosine of the unit's vector to the question's
    "cos_gap",  # … minus the best cosine among the candidates
    "words",  # share of the question's (idf-weighted) terms the unit and its context hold
    "words_gap",  # … minus the best share among the candidates
    "section",  # share the unit's section heading holds and the unit does not
    "chunk",  # share the unit's whole chunk (article, section part) holds
    "passage",  # 1 / (1 + rank) of its chunk among the retrieved passages, 0 when not retrieved
    "document",  # its document's fused score relative to the best document's
    "asks_when",  # the question asks when, the unit says a time
    "asks_number",  # … a number, the unit has one
    "asks_money",  # … how much money, the unit states an amount in 元
    "asks_cap",  # … the most / the least / in all, the unit states a cap or a total
    "asks_list",  # … which ones / what papers, the unit is a list item or table row
    "asks_phone",  # … a phone, the unit has one
    "asks_place",  # … where, the unit names an office
    "asks_what",  # … what something is, the unit defines
    "asks_condition",  # … who qualifies / in which case, the unit states a condition
    "asks_how",  # … how to apply, the unit says where to apply or what to hand in
    "chunk_cos",  # cosine of the unit's chunk (its article, its section part) to the question
    "chunk_cos_gap",  # … minus the best chunk cosine among the candidates
    "kind_section",  # the unit's section is the kind that answers this kind of question
    "faq",  # the unit is an FAQ answer
    "faq_match",  # … and this is how much its question is like the resident's (bigram Dice)
    "item",  # a list item
    "row",  # a table row
    "lead_in",  # a sentence ending in "：" (says nothing without what follows)
    "length",  # log(1 + characters)
    "superseded",  # its document has been replaced by a newer one
    "special_people",  # it is about foreigners, overseas Chinese… and the question is not
    "defines_asked",  # … what / which / in which case, and the unit stands under a definition or a rule
    #                   of cases that names the question's terms (their share in it)
)


@dataclass(frozen=True)
class Candidates:
    """The units considered for one question, with their signals (one row of ``x`` per unit)."""

    rows: list[int]  # indices into index.units
    x: np.ndarray  # len(rows) × len(FEATURES)
    own: list[set[str]]  # per unit: the terms of *this* question it mentions (not the earlier ones')
    headed: list[bool] = field(default_factory=list)  # … or its section heading does (二、办公时间)


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


# The signals of a unit that do not depend on the question, computed once per index version.
_STATIC = (
    "when", "digit", "money", "cap", "phone", "office", "defines", "condition", "procedure",
    "special_people", "faq", "item", "row", "lead_in", "length",
)  # fmt: skip
_STATIC_CACHE: weakref.WeakKeyDictionary[Units, np.ndarray] = weakref.WeakKeyDictionary()
_SUBJECT_CACHE: weakref.WeakKeyDictionary[Units, list[str]] = weakref.WeakKeyDictionary()


def subject(unit: Unit) -> str:
    """The definition or rule of cases ``unit`` stands under ("共同生活的家庭成员包括：", "有下列情形之
    一的，婚姻无效："), as keyword text; "" when it stands under none. An item stands under its lead-in."""
    head = unit.context if unit.kind in ("item", "row") else unit.text
    return segment.keyword_text(head) if _DEFINITION.search(head) else ""


def _subjects(table: Units) -> list[str]:
    got = _SUBJECT_CACHE.get(table)
    if got is None:
        got = _SUBJECT_CACHE[table] = [subject(u) for u in table.units]
    return got


def _static(table: Units) -> np.ndarray:
    """Units × :data:`_STATIC`: what each unit's own text holds."""
    got = _STATIC_CACHE.get(table)
    if got is None:
        rows = []
        for u in table.units:
            both = u.context + u.text
            rows.append(
                (
                    bool(_WHEN.search(u.text)),
                    bool(_DIGIT.search(u.text)),
                    bool(_MONEY.search(u.text)),
                    bool(_CAP.search(u.text)),
                    bool(_PHONE.search(u.text)),
                    bool(_OFFICE.search(u.text)),
                    bool(_DEFINES.search(both)),
                    bool(_CONDITION.search(both)),
                    bool(_PROCEDURE.search(u.text)),
                    bool(_SPECIAL_PEOPLE.search(both)),
                    u.kind == "faq",
                    u.kind == "item",
                    u.kind == "row",
                    u.is_lead_in,
                    math.log1p(len(u.text)),
                )
            )
        got = np.asarray(rows, dtype=np.float64).reshape(len(table.units), len(_STATIC))
        _STATIC_CACHE[table] = got
    return got


# feature ← (what the question must ask, what the unit must hold)
_ASKED = {
    "asks_when": (intents.ASKS_WHEN, "when"),
    "asks_number": (intents.ASKS_NUMBER, "digit"),
    "asks_money": (intents.ASKS_MONEY, "money"),
    "asks_cap": (intents.ASKS_LIMIT, "cap"),
    "asks_phone": (intents.ASKS_PHONE, "phone"),
    "asks_place": (intents.ASKS_PLACE, "office"),
    "asks_what": (intents.ASKS_WHAT, "defines"),
    "asks_condition": (intents.ASKS_CONDITION, "condition"),
    "asks_how": (intents.ASKS_HOW, "procedure"),
}


def candidates(
    index: KnowledgeIndex,
    retrieval: Retrieval,
    question: str,
    tuning: TuningSettings,
    context_words: Sequence[str] = (),
    asking: str = "",
) -> Candidates:
    """Every unit of the best documents, with the signals that score it. What the question asks
    for (a time, a list …) is read from ``asking`` when given (:attr:`Asked.asking`)."""
    t = tuning
    table = index.units
    docs = retrieval.docs[: t.candidate_documents]
    rows = [i for d in docs for i in table.by_path.get(d.path, []) if not table.units[i].stale]
    if not rows or not retrieval.vector:
        return Candidates([], np.zeros((0, len(FEATURES))), [], [])
    query = segment.keyword_text(question)
    weights = term_weights(index, [w for w in dict.fromkeys(segment.words(query)) if w], query, t)
    own_terms = set(weights)
    for w in context_words:  # words carried over from earlier questions in a follow-up
        weights.setdefault(w, t.context_weight * index.bm25.idf_of(w))
    total = sum(weights.values()) or 1.0
    passage_rank = {(p.chunk.path, p.chunk.chunk): k for k, p in enumerate(retrieval.passages)}
    doc_score = {d.path: d.score / (docs[0].score or 1.0) for d in docs}
    vector = np.asarray(retrieval.vector, dtype=np.float32)
    vector /= max(float(np.linalg.norm(vector)), 1e-12)
    x = np.zeros((len(rows), len(FEATURES)))
    col = {name: j for j, name in enumerate(FEATURES)}
    x[:, col["cos"]] = table.vectors[rows] @ vector if table.vectors.size else 0.0
    chunk_rows = [table.row[i] for i in rows]
    x[:, col["chunk_cos"]] = index.chunk_similarity(vector, chunk_rows)
    static = _static(table)[rows]
    at = {name: j for j, name in enumerate(_STATIC)}
    asks = asking or question
    for feature, (pattern, holds) in _ASKED.items():
        if pattern.search(asks):
            x[:, col[feature]] = static[:, at[holds]]
    if intents.ASKS_LIST.search(asks):
        x[:, col["asks_list"]] = np.maximum(static[:, at["item"]], static[:, at["row"]])
    for name in ("faq", "item", "row", "lead_in", "length"):
        x[:, col[name]] = static[:, at[name]]
    if not _SPECIAL_PEOPLE.search(question):
        x[:, col["special_people"]] = static[:, at["special_people"]]
    # What a whole chunk holds and where it stands, once per chunk.
    per_chunk: dict[int, tuple[float, float, float, float, str, bool]] = {}
    for row in dict.fromkeys(chunk_rows):
        chunk = index.chunks[row] if row >= 0 else Chunk("")
        text = index.keyword_texts[row] if row >= 0 else ""
        sections = " ".join(chunk.heading.split(" › ")[1:])
        rank = passage_rank.get((chunk.path, chunk.chunk))
        per_chunk[row] = (
            sum(w for term, w in weights.items() if term in text) / total,
            1.0 / (1.0 + rank) if rank is not None else 0.0,
            float(intents.answers_kind(asks, chunk.section)),
            float(bool(chunk.superseded_by)),
            sections,
            any(term in sections for term in own_terms),
        )
    asked_bigrams = set(segment.cjk_bigrams(question))
    subjects = _subjects(table) if intents.ASKS_DEFINITION.search(asks) else None
    own: list[set[str]] = []
    headed: list[bool] = []
    for n, i in enumerate(rows):
        unit, hay = table.units[i], table.haystacks[i]
        in_chunk, passage, kind_section, superseded, sections, heading_names = per_chunk[chunk_rows[n]]
        held = {term for term in weights if term in hay}
        x[n, col["words"]] = sum(weights[w] for w in held) / total
        x[n, col["section"]] = (
            sum(w for term, w in weights.items() if term in sections and term not in held) / total
        )
        x[n, col["chunk"]] = in_chunk
        x[n, col["passage"]] = passage
        x[n, col["document"]] = doc_score.get(unit.path, 0.0)
        x[n, col["kind_section"]] = kind_section
        x[n, col["superseded"]] = superseded
        if unit.kind == "faq":
            x[n, col["faq_match"]] = _dice(asked_bigrams, unit.context)
        if subjects is not None and subjects[i]:
            x[n, col["defines_asked"]] = sum(w for term, w in weights.items() if term in subjects[i]) / total
        own.append(held & own_terms)
        headed.append(heading_names)
    for name in ("cos", "words", "chunk_cos"):
        x[:, col[f"{name}_gap"]] = x[:, col[name]] - x[:, col[name]].max()
    return Candidates(rows, x, own, headed)


def weights_vector(settings: AnswerSettings) -> np.ndarray:
    """The fitted weights, in the order of :data:`FEATURES`."""
    return np.array([getattr(settings.weights, name) for name in FEATURES], dtype=np.float64)


def _dice(asked: set[str], text_: str) -> float:
    """Bigram Dice overlap between the question and an FAQ answer's question."""
    if not text_ or not asked:
        return 0.0
    other = set(segment.cjk_bigrams(text_))
    return 2 * len(asked & other) / (len(asked) + len(other)) if other else 0.0
