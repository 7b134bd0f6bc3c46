"""Extractive answers: the unit that answers, first, then at most a few that complete it.

The candidates and their scores come from :mod:`bot.answering.signals`. The best unit leads the
answer. A list item or table row brings the items of its list when the question asks for a list (or
the item needs them); a lead-in ("…下列证件和书面材料：") brings the list it introduces; a list
question led by a rule that lists nothing ("复婚…应当重新申请结婚登记") also gets the best list that
scores nearly as well. Then at most ``support`` more units follow, if they score nearly as well, say
something the lead does not, and come from the documents already cited or, while fewer than
``max_sources`` are, one more. Units stating an outdated standards figure are never used.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bot import intents
from bot.answering.index import KnowledgeIndex
from bot.answering.signals import FEATURES, NOT_OURS, Candidates, candidates, weights_vector
from bot.config import AnswerSettings, TuningSettings
from bot.records import Chunk, Retrieval, Unit


@dataclass(frozen=True)
class Picked:
    """One unit of the answer, as it is shown."""

    unit: Unit
    chunk: Chunk
    score: float
    role: str  # "lead" | "list" | "support"


@dataclass(frozen=True)
class Extract:
    text: str
    picked: tuple[Picked, ...]  # lead first

    @property
    def paths(self) -> list[str]:
        """The documents the answer quotes, lead first."""
        return list(dict.fromkeys(p.chunk.path for p in self.picked))


def extract(
    index: KnowledgeIndex,
    retrieval: Retrieval,
    question: str,
    settings: AnswerSettings,
    tuning: TuningSettings,
    context_words: Sequence[str] = (),
    asking: str = "",
) -> Extract:
    """The units that answer ``question``, lead first, within ``settings.max_chars``."""
    found = candidates(index, retrieval, question, tuning, context_words, asking)
    if not found.rows:
        return Extract("", ())
    scores = found.x @ weights_vector(settings)
    order = [int(k) for k in np.argsort(-scores)]
    # In a follow-up, the answer must say something about this question, not only the earlier one.
    named = [bool(found.own[k]) or found.headed[k] for k in range(len(found.rows))]
    mentions = [k for k in order if named[k]]
    order = mentions + [k for k in order if not named[k]] if mentions else order
    chosen = lead_block(index, found, order[0], asking or question, settings, scores)
    listed = _list_for(index, found, order, asking or question, settings, scores, chosen)
    if listed:  # the rule and the list it calls for answer a list question: nothing more
        return Extract(render(chosen + listed), tuple(chosen + listed))
    budget = settings.max_chars - sum(len(p.unit.quoted) for p in chosen)  # a long list leaves no room
    said = set().union(*(found.own[k] for k in order[:1]))
    docs = [chosen[0].chunk.path]  # a lead block is one document's
    for k in order[1:]:
        if sum(p.role == "support" for p in chosen) >= settings.support:
            break
        if scores[k] < scores[order[0]] - settings.support_margin:
            break
        candidate = _picked(index, found, k, scores, "support")
        new_doc = candidate.chunk.path not in docs
        if (new_doc and len(docs) >= settings.max_sources) or any(p.unit == candidate.unit for p in chosen):
            continue
        if not found.own[k] - said or len(candidate.unit.quoted) > budget:
            continue  # says nothing the answer has not said, or does not fit
        if NOT_OURS.search(candidate.unit.quoted):
            continue  # "退休金的问题找人社" beside an answer on 低保 reads as a refusal
        if candidate.unit.is_lead_in:
            continue  # a lead-in says nothing without the list it introduces
        chosen.append(candidate)
        said |= found.own[k]
        budget -= len(candidate.unit.quoted)
        if new_doc:
            docs.append(candidate.chunk.path)
    return Extract(render(chosen), tuple(chosen))


def _list_for(
    index: KnowledgeIndex,
    found: Candidates,
    order: Sequence[int],
    question: str,
    settings: AnswerSettings,
    scores: np.ndarray,
    chosen: Sequence[Picked],
) -> list[Picked]:
    """A list question whose lead is a rule with no list ("复婚…应当重新申请结婚登记" for "复婚要带哪些
    证件") also gets the best list within the support margin, when the whole answer stays within
    ``list_chars``: the lead-in and its items ("申请结婚登记的内地居民应当出具下列证件和书面材料：…").
    A lead block is one document's, so the list's is the second document cited at most."""
    if not intents.ASKS_LIST.search(question) or any(p.unit.kind in ("item", "row") for p in chosen):
        return []
    table = index.units
    lead = order[0]
    special_people = FEATURES.index("special_people")
    room = settings.list_chars - sum(len(p.unit.quoted) for p in chosen)
    for k in order[1:]:
        if scores[k] < scores[lead] - settings.support_margin:
            break
        unit = table.units[found.rows[k]]
        if not unit.is_lead_in or any(p.unit == unit for p in chosen):
            continue
        if found.x[k, special_people]:
            continue  # the papers of 华侨 or 外国人 are not those of a resident who did not say so
        block = lead_block(index, found, k, question, settings, scores)
        if block[0].chunk.path != chosen[0].chunk.path and settings.max_sources < 2:
            continue
        if len(block) > 1 and sum(len(p.unit.quoted) for p in block) <= room:
            return [dataclasses.replace(p, role="list") for p in block]
        return []  # the best list does not fit: no other, lesser one instead
    return []


def _picked(index: KnowledgeIndex, found: Candidates, k: int, scores: np.ndarray, role: str) -> Picked:
    table = index.units
    i = found.rows[k]
    row = table.row[i]
    chunk = index.chunks[row] if row >= 0 else Chunk(table.units[i].path)
    return Picked(table.units[i], chunk, float(scores[k]), role)


def lead_block(
    index: KnowledgeIndex,
    found: Candidates,
    lead_k: int,
    question: str,
    settings: AnswerSettings,
    scores: np.ndarray,
) -> list[Picked]:
    """What an answer led by candidate ``lead_k`` shows before any support: the unit, with its list
    (a lead-in's items; an item's siblings when the question asks for a list) within the length
    limit, or its whole article when that is short."""
    wants_list = bool(intents.ASKS_LIST.search(question))
    lead = _picked(index, found, lead_k, scores, "lead")
    listed = _list_of(found, lead_k, index, wants_list)
    chosen = [lead] + [_picked(index, found, k, scores, "list") for k in listed]
    chosen = _within(chosen, settings.list_chars if wants_list else settings.max_chars)
    if lead.unit.kind in ("item", "row"):
        # A list reads in its own order, whichever item led, unless the lead alone names something the
        # question asks about ("签合同是哪几方签" among the steps of moving into a care home): then it
        # comes first. A word of the list's lead-in or heading ("那要带什么材料？" under 三、需要准备的材料)
        # asks for the whole list.
        around = lead.unit.context + lead.chunk.heading
        named_only_by_lead = {
            term
            for term in found.own[lead_k] - set().union(*(found.own[k] for k in listed))
            if term not in around
        }
        chosen.sort(key=lambda p: (not (named_only_by_lead and p is lead), p.unit.order))
    article = _whole_article(found, lead_k, index, settings.max_chars)
    if article:
        # A short article is quoted whole, as a rule is cited: its 款 complete each other.
        chosen = [_picked(index, found, k, scores, "lead" if k == lead_k else "article") for k in article]
    return chosen


def _within(chosen: list[Picked], max_chars: int) -> list[Picked]:
    """The lead and as much of its list as fits in ``max_chars``, in list order."""
    kept, size = [chosen[0]], len(chosen[0].unit.quoted) + len(chosen[0].unit.context)
    for p in chosen[1:]:
        if size + len(p.unit.quoted) <= max_chars:
            kept.append(p)
            size += len(p.unit.quoted)
    return kept


def _whole_article(found: Candidates, lead_k: int, index: KnowledgeIndex, max_chars: int) -> list[int]:
    """The units of the lead's article (its chunk), in order, when the lead is part of one that fits."""
    table = index.units
    lead = table.units[found.rows[lead_k]]
    if not lead.article:
        return []
    same = [
        k
        for k, i in enumerate(found.rows)
        if (table.units[i].path, table.units[i].chunk) == (lead.path, lead.chunk)
    ]
    same.sort(key=lambda k: table.units[found.rows[k]].order)
    return same if sum(len(table.units[found.rows[k]].quoted) for k in same) <= max_chars else []


def _list_of(found: Candidates, lead_k: int, index: KnowledgeIndex, wants_list: bool) -> list[int]:
    """The items that come with the lead: the rest of its list, or the list a lead-in introduces."""
    table = index.units
    lead = table.units[found.rows[lead_k]]
    by_position = {
        (table.units[i].path, table.units[i].chunk, table.units[i].order): k for k, i in enumerate(found.rows)
    }
    if lead.is_lead_in:
        group = [
            k
            for k, i in enumerate(found.rows)
            if table.units[i].path == lead.path
            and table.units[i].chunk == lead.chunk
            and table.units[i].context == lead.text
        ]
        return sorted(group, key=lambda k: table.units[found.rows[k]].order)
    if lead.kind == "row" and not wants_list:
        return []  # "陆丰的登记处在哪" is one row of the table, not the table
    if lead.kind not in ("item", "row") or not wants_list:
        return []  # one item answers; its lead-in is shown with it
    siblings = []
    for (path, chunk, _order), k in sorted(by_position.items()):
        u = table.units[found.rows[k]]
        if (path, chunk) == (lead.path, lead.chunk) and u.group == lead.group and u != lead:
            siblings.append(k)
    return siblings


def render(picked: Sequence[Picked]) -> str:
    """The answer's text: the lead (after its lead-in when it is an item), its list, the rest."""
    lines: list[str] = []
    shown: set[str] = set()  # texts already on a line: a sub-list's lead-in may be an item shown above
    lead_in = ""
    for p in picked:
        u = p.unit
        shown.add(u.text)
        if u.kind in ("item", "row"):
            if u.context and u.context != lead_in and u.context not in lines and u.context not in shown:
                lines.append(u.context)
                lead_in = u.context
            lines.append("· " + u.text.rstrip("；;，,"))
        elif (
            lines
            and not lines[-1].startswith("· ")
            and u.kind == "sentence"
            and lines[-1][-1:] in "。！？；"
            and not u.is_lead_in  # a lead-in opens its list on a line of its own
        ):
            lines[-1] += u.text
        else:
            lines.append(u.quoted)
    return "\n".join(lines)
