"""``python -m bot eval FILE``: document-level retrieval and answer quality on an evaluation set.

Format (one JSON object a line): id, type (in_scope | out_of_scope | adversarial | followup),
question, history, expected_docs, must_include (groups of alternatives). ``--compare``
runs the same questions through BM25 only, a plain LangChain + Chroma setup (see
:class:`PlainLangChain`), our pipeline with dense retrieval only, and the full pipeline,
and prints them side by side. ``--calibrate`` and ``--fit-answers`` fit what the bot decides by
(:mod:`bot.calibration`).

A must-include fact counts when the answer states it, quantities compared as written either way
(三十日 = 30天 = 一个月 for "30日"). An answer *quotes an uncited document* when one of its
sentences stands in a document of the folder but in none of those its sources line names.
"""

from __future__ import annotations

import dataclasses
import json
import re
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot import index_store, staff_messages
from bot.answering.assistant import Assistant
from bot.calibration import calibrate, fit_answers, holds
from bot.config import Settings
from bot.embeddings import load_embedder
from bot.errors import IndexMissingError, UserError
from bot.records import Answer, Chunk, Source, body_of

_HTML = re.compile(r"<\s*/?\s*(script|img|iframe|svg|style|a)\b", re.I)
_PIECE = re.compile(r"[^。！？；;\n]+")
_MARKUP = re.compile(r"\*\*|__|`")
EARLY_CHARS = 150  # "the fact asked for, first": within this many characters of the answer
QUOTE_CHARS = 8  # a piece of an answer this long that stands in a document is quoted from it

Ask = Callable[[str, Sequence[str]], Answer]  # (question, earlier questions) -> answer


@dataclass(frozen=True)
class Case:
    id: str
    type: str
    question: str
    history: tuple[str, ...]
    expected_docs: tuple[str, ...]
    must_include: tuple[tuple[str, ...], ...]


@dataclass
class Outcome:
    case: Case
    answer: Answer
    rank: int | None  # 1-based rank of the first expected document among the sources
    uncited: bool = False  # a sentence of the answer comes from a document it does not cite

    @property
    def should_answer(self) -> bool:
        return bool(self.case.expected_docs)

    @property
    def facts_ok(self) -> bool:
        text = self.answer.render()
        return all(holds(text, group) for group in self.case.must_include)

    @property
    def facts_early(self) -> bool:
        text = self.answer.render()[:EARLY_CHARS]
        return all(holds(text, group) for group in self.case.must_include)

    @property
    def echoes_html(self) -> bool:
        return bool(_HTML.search(self.answer.render()))


@dataclass
class Scores:
    n: int = 0
    hit1: float = 0.0
    hit5: float = 0.0
    mrr: float = 0.0
    facts: float = 0.0
    facts_early: float = 0.0
    cites_all: float = 0.0
    refused_out_of_scope: float = 0.0
    false_refusals: float = 0.0
    adversarial_ok: float = 0.0
    median_chars: float = 0.0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    # Figures measured over no question (no adversarial case in the set): shown as "—", null in JSON.
    unmeasured: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out.update(dict.fromkeys(self.unmeasured))
        return out


def read_cases(paths: Sequence[Path]) -> list[Case]:
    cases = []
    for path in paths:
        if not path.is_file():
            raise UserError(f"评测文件不存在: {path}")
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                d = json.loads(line)
                cases.append(
                    Case(
                        id=str(d.get("id", f"{path.name}:{n}")),
                        type=str(d.get("type", "in_scope")),
                        question=str(d["question"]),
                        history=tuple(d.get("history") or ()),
                        expected_docs=tuple(d.get("expected_docs") or ()),
                        must_include=tuple(tuple(g) for g in d.get("must_include") or ()),
                    )
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise UserError(f"{path}:{n}: 无法解析评测题: {exc}") from None
    return cases


def evaluate(
    cases: Sequence[Case], ask: Ask, documents: dict[str, str] | None = None
) -> tuple[Scores, list[Outcome]]:
    """Ask every case; ``documents`` (path → text) lets answers be checked for uncited quotes."""
    outcomes = []
    for case in cases:
        answer = ask(case.question, case.history)
        paths = [Path(s.path).name for s in answer.sources]
        rank = next((i + 1 for i, p in enumerate(paths) if p in case.expected_docs), None)
        uncited = answer.answered and documents is not None and quotes_uncited(answer, documents)
        outcomes.append(Outcome(case, answer, rank, uncited))
    return score(outcomes), outcomes


def quotes_uncited(answer: Answer, documents: dict[str, str]) -> bool:
    """A sentence of ``answer`` stands in some document of the folder but in none it cites."""
    cited = [documents.get(s.path, "") for s in answer.cited]
    for piece in _PIECE.findall(answer.text):
        piece = piece.strip(" ·：:，,")
        if len(piece) < QUOTE_CHARS or any(piece in text for text in cited):
            continue
        if any(piece in text for text in documents.values()):
            return True
    return False


def documents_of(assistant: Assistant) -> dict[str, str]:
    """Every served document's text (its chunks joined, without Markdown emphasis), by path."""
    index = assistant.index()
    out: dict[str, list[str]] = {}
    for chunk, text in zip(index.chunks, index.texts, strict=True):
        out.setdefault(chunk.path, []).append(_MARKUP.sub("", body_of(text)))
    return {path: "\n".join(parts) for path, parts in out.items()}


def score(outcomes: Sequence[Outcome]) -> Scores:
    s = Scores(n=len(outcomes))
    answerable = [o for o in outcomes if o.should_answer]
    in_scope = [o for o in outcomes if o.case.type in ("in_scope", "followup")]
    out_scope = [o for o in outcomes if o.case.type == "out_of_scope"]
    adversarial = [o for o in outcomes if o.case.type == "adversarial"]
    answered_in = [o for o in in_scope if o.answer.answered]
    s.counts = {
        "answerable": len(answerable),
        "in_scope": len(in_scope),
        "out_of_scope": len(out_scope),
        "adversarial": len(adversarial),
    }
    s.hit1 = _share(answerable, lambda o: o.rank == 1)
    s.hit5 = _share(answerable, lambda o: o.rank is not None and o.rank <= 5)
    s.mrr = _mean([1.0 / o.rank if o.rank else 0.0 for o in answerable])
    s.facts = _share(answered_in, lambda o: o.facts_ok)
    s.facts_early = _share(answered_in, lambda o: o.facts_early)
    s.cites_all = _share([o for o in outcomes if o.answer.answered], lambda o: not o.uncited)
    s.refused_out_of_scope = _share(out_scope, lambda o: not o.answer.answered)
    s.false_refusals = _share(in_scope, lambda o: not o.answer.answered)
    s.adversarial_ok = _share(
        adversarial,
        lambda o: (
            not o.echoes_html
            and (o.answer.answered and o.rank is not None if o.should_answer else not o.answer.answered)
        ),
    )
    over = {
        "hit1": answerable,
        "hit5": answerable,
        "mrr": answerable,
        "facts": answered_in,
        "facts_early": answered_in,
        "cites_all": [o for o in outcomes if o.answer.answered],
        "refused_out_of_scope": out_scope,
        "false_refusals": in_scope,
        "adversarial_ok": adversarial,
    }
    s.unmeasured = tuple(attr for attr, items in over.items() if not items)
    lengths = [len(o.answer.render()) for o in outcomes if o.answer.answered]
    s.median_chars = statistics.median(lengths) if lengths else 0.0
    latencies = sorted(o.answer.latency_ms for o in outcomes)
    if latencies:
        s.p50_ms = statistics.median(latencies)
        s.p95_ms = latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))]
    return s


def _share(items: Sequence[Outcome], pred: Callable[[Outcome], bool]) -> float:
    return sum(1 for o in items if pred(o)) / len(items) if items else 0.0


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


ROWS = [
    ("hit@1", "hit1", "{:.3f}"),
    ("hit@5", "hit5", "{:.3f}"),
    ("MRR", "mrr", "{:.3f}"),
    ("must-include coverage (answered in-scope)", "facts", "{:.3f}"),
    (f"… within the first {EARLY_CHARS} characters", "facts_early", "{:.3f}"),
    ("answers quoting no uncited document", "cites_all", "{:.3f}"),
    ("out-of-scope refused", "refused_out_of_scope", "{:.3f}"),
    ("in-scope wrongly refused", "false_refusals", "{:.3f}"),
    ("adversarial handled", "adversarial_ok", "{:.3f}"),
    ("median answer length (chars)", "median_chars", "{:.0f}"),
    ("latency p50 (ms)", "p50_ms", "{:.1f}"),
    ("latency p95 (ms)", "p95_ms", "{:.1f}"),
]


def table(columns: dict[str, Scores]) -> str:
    names = list(columns)
    lines = ["| figure | " + " | ".join(names) + " |", "| --- |" + " ---: |" * len(names)]
    for label, attr, fmt in ROWS:
        lines.append(
            f"| {label} | "
            + " | ".join(
                "—" if attr in columns[n].unmeasured else fmt.format(getattr(columns[n], attr)) for n in names
            )
            + " |"
        )
    return "\n".join(lines)


class PlainLangChain:
    """What a plain LangChain + Chroma setup answers: the baseline ``--compare`` measures us against.

    The raw question (no normalisation, synonyms, typo correction or guard, no history) goes to
    ``Chroma.similarity_search(k=5)`` over the served collection, embedded by our model. The answer
    is the top chunk's body cut to ``answer.max_chars``; there is no refusal. Sources are the
    distinct documents of the hits, in order; only the first (where the text came from) is cited.
    """

    K = 5

    def __init__(self, settings: Settings) -> None:
        from langchain_chroma import Chroma

        client = index_store.open_client(settings)
        pointer = index_store.read_pointer(client, settings)
        if pointer is None:
            raise IndexMissingError(
                staff_messages.NO_INDEX.format(knowledge=settings.knowledge_dir, data=settings.data_dir)
            )
        self.max_chars = settings.answer.max_chars
        # Our embedder, always: without one Chroma would embed queries with its own default model.
        self.chroma = Chroma(
            client=client,
            collection_name=pointer.active,
            embedding_function=load_embedder(settings.embedding, settings.data_dir),
        )
        self.chroma.similarity_search("预热", k=1)  # warm up, as the other columns are

    def ask(self, question: str, history: Sequence[str] = ()) -> Answer:
        start = time.perf_counter()
        hits = self.chroma.similarity_search(question, k=self.K)
        sources: dict[str, Source] = {}
        for hit in hits:
            chunk = Chunk.from_meta(hit.metadata)
            sources.setdefault(
                chunk.path,
                Source(
                    path=chunk.path,
                    title=chunk.title,
                    issued=chunk.issued,
                    score=0.0,  # similarity_search returns no scores
                    sample=chunk.sample,
                    heading=chunk.heading if not sources else "",
                    cited=not sources,
                ),
            )
        text = body_of(hits[0].page_content)[: self.max_chars] if hits else ""
        latency = (time.perf_counter() - start) * 1000
        return Answer(question, text, bool(hits), "answer", tuple(sources.values()), latency_ms=latency)


def run_eval(
    settings: Settings,
    files: Sequence[Path],
    *,
    as_json: bool,
    compare: bool,
    failures: bool,
    calibrate_only: bool = False,
    fit_only: bool = False,
    also: Sequence[tuple[Path, Path, Path]] = (),
) -> int:
    cases = read_cases(files)
    assistant = Assistant(settings)
    assistant.warm_up()
    if calibrate_only:
        print(calibrate(assistant, cases))
        return 0
    documents = documents_of(assistant)
    if fit_only:
        sets: list[tuple[Assistant, Sequence[Case]]] = [(assistant, cases)]
        for knowledge, data, file in also:
            other = Assistant(
                dataclasses.replace(
                    settings,
                    knowledge=dataclasses.replace(settings.knowledge, dir=knowledge.resolve()),
                    data=dataclasses.replace(settings.data, dir=data.resolve()),
                )
            )
            other.warm_up()
            sets.append((other, read_cases([file])))

        def measured(a: Assistant, cs: Sequence[Case]) -> float:
            scores = evaluate(cs, a.ask)[0]
            return scores.facts + scores.facts_early

        print(fit_answers(sets, measured))
        return 0
    variants: dict[str, Ask] = {"full pipeline": assistant.ask}
    if compare:
        variants = {
            "BM25 only": _variant(settings, dense_weight=0.0, sparse_weight=1.0),
            "plain LangChain + Chroma": PlainLangChain(settings).ask,
            "ours, dense only": _variant(settings, dense_weight=1.0, sparse_weight=0.0),
            **variants,
        }
    results: dict[str, Scores] = {}
    details: dict[str, list[Outcome]] = {}
    for name, ask in variants.items():
        results[name], details[name] = evaluate(cases, ask, documents)
    if as_json:
        out: dict[str, Any] = {name: s.as_json() for name, s in results.items()}
        print(json.dumps(out, ensure_ascii=False, indent=1))
    else:
        print(f"{len(cases)} questions from {', '.join(str(f) for f in files)}")
        print(table(results))
    if failures:
        _print_failures(details["full pipeline"])
    return 0


def _variant(settings: Settings, *, dense_weight: float, sparse_weight: float) -> Ask:
    """Our pipeline with other retrieval weights, warmed up."""
    weights = dataclasses.replace(settings.retrieval, dense_weight=dense_weight, sparse_weight=sparse_weight)
    variant = Assistant(dataclasses.replace(settings, retrieval=weights))
    variant.warm_up()
    return variant.ask


def _print_failures(outcomes: Sequence[Outcome]) -> None:
    for o in outcomes:
        c = o.case
        problems = []
        if o.should_answer and o.rank != 1:
            problems.append(f"rank={o.rank}")
        if c.type in ("in_scope", "followup") and not o.answer.answered:
            problems.append("refused")
        if c.type in ("in_scope", "followup") and o.answer.answered and not o.facts_ok:
            problems.append("facts")
        elif c.type in ("in_scope", "followup") and o.answer.answered and not o.facts_early:
            problems.append("late")
        if o.uncited:
            problems.append("uncited")
        if not o.should_answer and o.answer.answered:
            problems.append("answered out-of-scope")
        if problems:
            got = [s.path for s in o.answer.sources][:3]
            print(f"\n[{c.id}] {' '.join(problems)}  {c.question[:60]}", file=sys.stderr)
            print(
                f"  expected {list(c.expected_docs)} got {got}; must {list(c.must_include)}", file=sys.stderr
            )
            print("  " + o.answer.text.replace("\n", " / ")[:240], file=sys.stderr)
