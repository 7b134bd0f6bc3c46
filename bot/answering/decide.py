"""The reply once retrieval has run: the answer with its sources, "I don't know", or another department.

:func:`compose` extracts the units that answer (:mod:`bot.answering.extract`), refers the question
when the knowledge itself says it is another department's business or the question names such a
matter (:mod:`bot.services.departments`), refuses when the calibrated confidence is too low, and
otherwise answers, citing the guide a sentence comes from before the FAQ that sums it up. With
``[llm] enabled`` the answer's wording may then come from the model (:mod:`bot.answering.llm`).
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Sequence

from bot import messages
from bot.answering.extract import Extract, extract
from bot.answering.index import KnowledgeIndex
from bot.answering.question import Asked
from bot.answering.signals import NOT_OURS
from bot.chinese import segment
from bot.config import Settings
from bot.records import EXPIRED, Answer, Chunk, DocHit, Passage, Retrieval, Source
from bot.services.departments import Departments, Referral

logger = logging.getLogger(__name__)

_REDIRECT_SECTION = re.compile(r"不属于|非民政|其他部门")


def contact(settings: Settings) -> dict[str, str]:
    """The placeholders every refusal fills in: the human channels."""
    c = settings.contact
    return {"hotline": c.hotline, "bureau_phone": c.bureau_phone, "office_hours": c.office_hours}


def compose(
    settings: Settings,
    index: KnowledgeIndex,
    question: str,
    asked: Asked,
    retrieval: Retrieval,
    departments: Departments,
) -> Answer:
    """Answer, refuse or refer ``question`` from what retrieval found."""
    reach = contact(settings)
    cfg = settings.retrieval
    listed = settings.answer.listed_sources
    if not retrieval.passages:
        return Answer(question, messages.DONT_KNOW.format(**reach), False, "dont_know")
    top = retrieval.passages[0]
    # What was found is still listed (not cited): the ranking is useful to staff and to evaluation.
    related = sources(retrieval.docs[:listed], top, cited=set())
    context_words = [w for c in asked.earlier for w in segment.words(c)]
    found = extract(
        index, retrieval, asked.query, settings.answer, settings.tuning, context_words, asked.asking
    )
    if found.picked and _redirects(found, retrieval, settings, departments):
        hint = found.picked[0].unit.quoted.strip()  # the lead alone, not what follows it on its line
        hint += "" if hint.endswith(("。", "！", "？", "!", "?")) else "。"
        reply = messages.OTHER_DEPARTMENT.format(hint=hint, **reach)
        return Answer(question, reply, False, "other_department", related)
    referred = referral(departments, retrieval, cfg.min_keyword_coverage)
    if referred is not None:
        logger.info("referred to another department for %r", referred.word)
        hint = messages.REFERRAL_HINT.format(department=referred.department)
        return Answer(
            question,
            messages.OTHER_DEPARTMENT.format(hint=hint, **reach),
            False,
            "other_department",
            related,
        )
    confidence = retrieval.confidence(cfg.confidence_weights, cfg.confidence_bias)
    if confidence < cfg.min_confidence or not found.text:
        logger.info("refused: confidence %.2f < %.2f", confidence, cfg.min_confidence)
        return Answer(question, messages.DONT_KNOW.format(**reach), False, "dont_know", related)
    docs = {d.path: d for d in retrieval.docs}
    cited_paths = found.paths  # the document the answer leads with first
    ordered = [docs[p] for p in cited_paths if p in docs]
    ordered += [d for d in retrieval.docs if d.path not in cited_paths]
    lead = found.picked[0].chunk
    cited = tuple(
        dataclasses.replace(s, articles=_articles(found, s.path))
        for s in sources(ordered[:listed], None, cited=set(cited_paths))
    )
    cited = tuple(dataclasses.replace(s, heading=lead.heading) if s.path == lead.path else s for s in cited)
    sample = (messages.SAMPLE_NOTICE,) if any(s.sample for s in cited if s.cited) else ()
    notes = sample + _currency_notes(found, index)
    answer = Answer(question, found.text, True, "answer", cited, notes=notes)
    if not settings.llm.enabled:
        return answer
    return _reworded(
        settings, answer, retrieval, _passages_of(found, retrieval, index), asked.query, asked.earlier
    )


def referral(departments: Departments, retrieval: Retrieval, covered: float) -> Referral | None:
    """Another department's business, when the question names it and the found passages do not."""
    passages = [p.body for p in retrieval.passages[:3]]
    return departments.refer(retrieval.query, passages, retrieval.words, covered)


def from_document(
    settings: Settings,
    index: KnowledgeIndex,
    question: str,
    text: str,
    path: str,
    kind: str,
    retrieval: Retrieval,
) -> Answer:
    """An answer computed from one document (a calculator, the meal-site directory), citing it first;
    the guides retrieval found follow, uncited."""
    chunk = next((c for c in index.chunks if c.path == path), Chunk(path, title=path))
    source = Source(
        path=path, title=chunk.title, issued=chunk.issued, score=1.0, sample=chunk.sample, ocr=chunk.ocr
    )
    related = [d for d in retrieval.docs if d.path != path][: settings.answer.listed_sources - 1]
    best = retrieval.passages[0] if retrieval.passages else None
    listed = (source, *sources(related, best, cited=set()))
    notes = (messages.SAMPLE_NOTICE,) if source.sample and messages.SAMPLE_NOTICE not in text else ()
    return Answer(question, text, True, kind, listed, notes=notes)


def sources(
    docs: Sequence[DocHit], best: Passage | None, cited: set[str] | None = None
) -> tuple[Source, ...]:
    """Sources for ``docs``; the one ``best`` comes from carries its section heading (for 查看原文)."""
    return tuple(
        Source(
            path=d.path,
            title=d.title,
            issued=d.issued,
            score=d.score,
            sample=d.sample,
            heading=best.chunk.heading if best is not None and d.path == best.path else "",
            cited=cited is None or d.path in cited,
            ocr=any(p.chunk.ocr for p in d.passages),
        )
        for d in docs
    )


def _articles(found: Extract, path: str) -> tuple[str, ...]:
    """The articles of ``path`` the answer quotes, in the order it quotes them."""
    return tuple(
        dict.fromkeys(p.unit.article for p in found.picked if p.chunk.path == path and p.unit.article)
    )


def _currency_notes(found: Extract, index: KnowledgeIndex) -> tuple[str, ...]:
    """Which text is in force, for every quoted document a newer one has replaced."""
    titles = {c.path: c.title for c in index.chunks}
    notes: list[str] = []
    for chunk in dict((p.chunk.path, p.chunk) for p in found.picked).values():
        if chunk.superseded_by == EXPIRED:
            notes.append(messages.EXPIRED_NOTE.format(old=chunk.title))
        elif chunk.superseded_by:
            since = (
                messages.SUPERSEDED_SINCE.format(date=chunk.in_force_since) if chunk.in_force_since else ""
            )
            new = titles.get(chunk.superseded_by, chunk.superseded_by)
            notes.append(messages.SUPERSEDED_NOTE.format(old=chunk.title, new=new, since=since))
    return tuple(notes)


def _passages_of(found: Extract, retrieval: Retrieval, index: KnowledgeIndex) -> list[Passage]:
    """The chunks the answer quotes, as passages (for the optional LLM), lead first."""
    retrieved = {(p.chunk.path, p.chunk.chunk): p for p in retrieval.passages}
    out: dict[tuple[str, int], Passage] = {}
    for p in found.picked:
        key = (p.chunk.path, p.chunk.chunk)
        row = index.row_of_chunk.get(key)
        if key in out or row is None:
            continue
        out[key] = retrieved.get(key) or Passage(index.ids[row], index.texts[row], p.chunk, 0.0, 0.0, 0.0)
    return list(out.values())


def _redirects(found: Extract, retrieval: Retrieval, settings: Settings, departments: Departments) -> bool:
    """The knowledge itself says this is another department's business, and the question asks about
    no matter of ours the redirect leaves out ("有退休金的老人能吃低保吗" is not "退休金的问题找民政局吗")."""
    best = found.picked[0]
    text = best.unit.context + best.unit.text
    in_redirect_section = bool(_REDIRECT_SECTION.search(best.chunk.heading))
    says_so = bool(NOT_OURS.search(text))  # the lead says so, not a unit beside it
    left_out = departments.matters_in(retrieval.query) - departments.matters_in(text)
    return (
        (in_redirect_section or says_so)
        and not left_out
        and retrieval.coverage >= settings.retrieval.min_keyword_coverage
    )


def _reworded(
    settings: Settings,
    answer: Answer,
    retrieval: Retrieval,
    used: Sequence[Passage],
    query: str,
    earlier: Sequence[str],
) -> Answer:
    """[llm] enabled: the model's wording, grounded on the passages; on any failure ``answer`` itself."""
    from bot.answering import llm

    try:
        return llm.generate(settings, answer, retrieval, used, query, earlier)
    except Exception as exc:  # endpoint down, timeout, HTTP error, bad JSON, a reply failing the checks
        logger.warning("LLM answer not used, sending the extractive one: %s", llm.describe(exc, settings.llm))
        return answer
