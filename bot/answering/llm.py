"""Optional grounded generation: an OpenAI-compatible chat model words a confident answer.

Only questions the extractive pipeline has already decided to answer get here (never
refusals, calculators or the meal-site directory). The model sees the passages that
answer used and the next few retrieved ones, numbered [1]..[n], and the resident's
question as data. Its reply is used only when it passes :func:`check_reply`: not
empty, no HTML, every cited number exists, and every figure (digits, amounts, dates,
phone numbers, web addresses) occurs in the passages. Otherwise, or when the endpoint
fails, :func:`generate` raises and the caller keeps the extractive answer.

Off by default (``[llm] enabled``); the API key comes from ``$LLM_API_KEY`` only.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bot import messages
from bot.chinese import numerals
from bot.config import AnswerSettings, LLMSettings, Settings
from bot.records import Answer, Passage, Retrieval, Source

logger = logging.getLogger(__name__)

_FULL_WIDTH = str.maketrans("０１２３４５６７８９［］【】", "0123456789[][]")
_CITATION = re.compile(r"\s*\[(\d{1,3}(?:\s*[,，、]\s*\d{1,3})*)\]")
_HTML = re.compile(r"<\s*/?\s*[A-Za-z!?][^>]*>|&(?:lt|gt|amp|#\d+|#x[0-9a-f]+);|javascript:", re.I)
_URL = re.compile(r"(?:https?://|www\.)[A-Za-z0-9.\-/_?=&%#:~+]+", re.I)
_NUMBER = re.compile(r"([0-9]+(?:\.[0-9]+)?)(万)?")
_THOUSANDS = re.compile(r"(?<![0-9])([0-9]{1,3})((?:,[0-9]{3})+)(?![0-9])")
_PHONE = re.compile(r"(?<![0-9])[0-9]{3,4}[-\s]?[0-9]{7,8}(?![0-9])")
# A Chinese numeral that counts something (三十日, 两个工作日, 五千元): a figure like any other.
_CN_NUMBER = re.compile(
    r"(?<![0-9.])[零〇一二两三四五六七八九十百千][零〇一二两三四五六七八九十百千万亿]*"
    r"(?=个?(?:工作日|周岁|小时|分钟|元|块|天|日|月|年|岁|倍|人|户|口|次|周|张|份|餐|%))"
)
_MARKDOWN = re.compile(r"\*\*|__|`+")
_HEADING_MARK = re.compile(r"^\s*#{1,6}\s*", re.M)
_BULLET = re.compile(r"^\s*(?:[-*•]\s+|[0-9]{1,2}[.、)）](?![0-9])\s*|[（(][0-9]{1,2}[)）]\s*)", re.M)
_CJK = re.compile(r"[\u4e00-\u9fff]")


class Rejected(ValueError):
    """The model's reply is not used (the reason says why); the extractive answer stands."""


@dataclass(frozen=True)
class Reply:
    text: str  # what residents read: citation markers and Markdown removed
    cited: tuple[int, ...]  # 1-based passage numbers, in order of first citation


# --- the answer --------------------------------------------------------------------------------


def generate(
    settings: Settings,
    answer: Answer,
    retrieval: Retrieval,
    used: Sequence[Passage],
    question: str,
    earlier: Sequence[str] = (),
) -> Answer:
    """The model's grounded wording of ``answer``; raises on any failure so the caller keeps ``answer``."""
    passages = passages_for(used, retrieval, settings.llm.max_passages)
    prompt = build_prompt(question, passages, earlier, settings.llm)
    reply, finish = _invoke(settings.llm, prompt)
    if finish == "length":
        raise Rejected("the reply was cut off at max_tokens")
    if cannot_answer(reply):
        # Keep the extractive answer rather than switch to "don't know": the calibrated answer/refuse
        # decision (measured on the evaluation sets) already judged that the documents answer this, and
        # the extractive text is quoted from them with its sources, so at worst it is imprecise, never
        # invented. Letting an unmeasured model veto it would lower the answer rate behind our backs.
        logger.info("the model found no answer in the passages; keeping the extractive answer")
        return answer
    checked = check_reply(reply, passages, settings.llm.max_chars)
    return _answer_from(answer, checked, passages, retrieval, settings.answer)


def passages_for(used: Sequence[Passage], retrieval: Retrieval, limit: int) -> list[Passage]:
    """The passages the extractive answer used, then the next retrieved ones, at most ``limit``."""
    seen: set[str] = set()
    out: list[Passage] = []
    for p in [*used, *retrieval.passages]:
        if p.id not in seen and len(out) < limit:
            seen.add(p.id)
            out.append(p)
    return out


def build_prompt(
    question: str, passages: Sequence[Passage], earlier: Sequence[str], cfg: LLMSettings
) -> list[tuple[str, str]]:
    """(role, text) messages: the rules, then the numbered passages and the question as data."""
    numbered = "\n\n".join(
        messages.LLM_PASSAGE.format(
            n=n,
            heading=p.chunk.heading or p.chunk.title or p.path,
            issued=p.chunk.issued or "日期不详",
            body=p.body.strip(),
        )
        for n, p in enumerate(passages, 1)
    )
    limit = cfg.max_question_chars
    before = messages.LLM_EARLIER.format(earlier=_as_data(earlier[-1], limit)) if earlier else ""
    system = messages.LLM_SYSTEM.format(max_chars=cfg.max_chars, cannot=messages.LLM_CANNOT_ANSWER)
    user = messages.LLM_USER.format(passages=numbered, earlier=before, question=_as_data(question, limit))
    return [("system", system), ("human", user)]


def _as_data(text_: str, limit: int) -> str:
    """The resident's words on one line, unable to close the question's 【…】 frame."""
    flat = re.sub(r"\s+", " ", re.sub(r"[【】\[\]]", "", text_)).strip()
    return flat[:limit]


# --- checking the reply -------------------------------------------------------------------------


def cannot_answer(reply: str) -> bool:
    """The model said the passages do not answer the question."""
    return messages.LLM_CANNOT_ANSWER in reply.replace(" ", "")


def check_reply(reply: str, passages: Sequence[Passage], max_chars: int) -> Reply:
    """The reply as residents will read it, or :class:`Rejected` when it is not grounded in ``passages``."""
    raw = reply.translate(_FULL_WIDTH).strip()
    if not raw:
        raise Rejected("empty reply")
    if _HTML.search(raw):
        raise Rejected("the reply contains HTML or script")
    cited = _citations(raw)
    if not cited:
        raise Rejected("the reply cites no passage")
    missing = [n for n in cited if not 1 <= n <= len(passages)]
    if missing:
        raise Rejected(f"the reply cites passage {missing[0]}, which does not exist (1-{len(passages)})")
    text_ = _display(_CITATION.sub("", raw))
    if not _CJK.search(text_):
        raise Rejected("the reply has no Chinese text")
    if len(text_) > 2 * max_chars:
        raise Rejected(f"the reply is {len(text_)} characters long")
    source = "\n".join(p.text for p in passages).translate(_FULL_WIDTH)
    invented = unsupported_figures(text_, source)
    if invented:
        raise Rejected(f"the reply has figures the passages do not: {', '.join(invented[:5])}")
    return Reply(text_, cited)


def unsupported_figures(reply: str, source: str) -> list[str]:
    """Numbers, phone numbers and web addresses in ``reply`` that ``source`` does not contain."""
    known = {form for _, forms in _figures(source) for form in forms}
    out = [said for said, forms in _figures(reply) if not forms & known]
    phones = {_digits(p) for p in _PHONE.findall(source)}
    out += [p for p in _PHONE.findall(reply) if _digits(p) not in phones]
    lowered = source.lower()
    out += [u for u in _URL.findall(reply) if u.lower().rstrip("./") not in lowered]
    return list(dict.fromkeys(out))


def _figures(text_: str) -> list[tuple[str, frozenset[str]]]:
    """Every number in ``text_`` as written, with the values it may stand for (1.5万 is 1.5 and 15000)."""
    plain = _THOUSANDS.sub(lambda m: m.group(0).replace(",", ""), text_)
    out: list[tuple[str, frozenset[str]]] = []
    for m in _NUMBER.finditer(plain):
        forms = {_norm(m.group(1))}
        if m.group(2):
            forms.add(_norm(str(Decimal(m.group(1)) * 10000)))
        out.append((m.group(0), frozenset(forms)))
    for m in _CN_NUMBER.finditer(text_):
        number = numerals.cn_number(m.group(0))
        if number is None:  # too long or too large to read: known only as written
            out.append((m.group(0), frozenset({m.group(0)})))
            continue
        value = int(number)
        forms = {str(value)} | ({_norm(str(Decimal(value) / 10000))} if m.group(0).endswith("万") else set())
        out.append((m.group(0), frozenset(forms)))
    return out


def _norm(number: str) -> str:
    """'04' → '4', '2.50' → '2.5', '3.0' → '3'."""
    whole, _, frac = number.partition(".")
    frac = frac.rstrip("0")
    return (whole.lstrip("0") or "0") + (f".{frac}" if frac else "")


def _digits(text_: str) -> str:
    return re.sub(r"[^0-9]", "", text_)


def _citations(text_: str) -> tuple[int, ...]:
    """Passage numbers cited as [n] or [n, m], in order of first citation."""
    found = [int(n) for group in _CITATION.findall(text_) for n in re.split(r"[,，、\s]+", group) if n]
    return tuple(dict.fromkeys(found))


def _display(text_: str) -> str:
    """Plain text in the extractive answers' style: no Markdown, list items as '· '."""
    out = _BULLET.sub("· ", _HEADING_MARK.sub("", _MARKDOWN.sub("", text_)))
    lines = [line.strip() for line in out.splitlines()]
    return "\n".join(line for line in lines if line)


# --- sources ----------------------------------------------------------------------------------------


def _answer_from(
    answer: Answer, reply: Reply, passages: Sequence[Passage], retrieval: Retrieval, cfg: AnswerSettings
) -> Answer:
    """``answer`` with the model's text, citing the documents of the passages the model cited."""
    cited: list[Passage] = []
    for n in reply.cited:
        p = passages[n - 1]
        if p.path not in {c.path for c in cited}:
            cited.append(p)
    cited = cited[: cfg.max_sources]
    known = {s.path: s for s in answer.sources}
    docs = {d.path: d for d in retrieval.docs}
    first = [_source_of(p, known, docs) for p in cited]
    cited_paths = {p.path for p in cited}
    rest = [
        dataclasses.replace(s, cited=False, heading="") for s in answer.sources if s.path not in cited_paths
    ]
    sources = tuple([*first, *rest][: max(cfg.listed_sources, len(first))])
    sample = any(s.sample for s in first)
    notes = tuple(n for n in answer.notes if n not in (messages.SAMPLE_NOTICE, messages.LLM_NOTICE))
    notes += ((messages.SAMPLE_NOTICE,) if sample else ()) + (messages.LLM_NOTICE,)
    return dataclasses.replace(answer, text=reply.text, sources=sources, notes=notes)


def _source_of(passage: Passage, known: dict[str, Source], docs: dict[str, Any]) -> Source:
    """The cited Source for ``passage``'s document, its heading the cited section."""
    heading = passage.chunk.heading
    if passage.path in known:
        return dataclasses.replace(known[passage.path], cited=True, heading=heading)
    doc = docs.get(passage.path)
    chunk = passage.chunk
    return Source(
        path=passage.path,
        title=doc.title if doc else chunk.title,
        issued=doc.issued if doc else chunk.issued,
        score=doc.score if doc else passage.score,
        sample=doc.sample if doc else chunk.sample,
        heading=heading,
        cited=True,
    )


# --- the model ----------------------------------------------------------------------------------


def _invoke(cfg: LLMSettings, prompt: list[tuple[str, str]]) -> tuple[str, str]:
    """(the reply text, the finish reason) from one chat completion."""
    message = chat_model(cfg, _api_key(cfg)).invoke(prompt)
    content = message.content
    if not isinstance(content, str):  # a list of content blocks
        content = "".join(b.get("text", "") if isinstance(b, dict) else str(b) for b in content)
    return content, str(message.response_metadata.get("finish_reason") or "")


def _api_key(cfg: LLMSettings) -> str:
    return os.environ.get(cfg.api_key_env, "")


@functools.lru_cache(maxsize=4)
def chat_model(cfg: LLMSettings, api_key: str) -> Any:
    """A LangChain ``ChatOpenAI`` for ``cfg`` (one per configuration and key, reused across questions)."""
    from langchain_openai import ChatOpenAI
    from pydantic import SecretStr

    if not api_key:
        logger.warning("$%s is not set: calling %s without an API key", cfg.api_key_env, cfg.base_url)
    options: dict[str, Any] = {
        "model": cfg.model,
        "base_url": cfg.base_url,
        # A local server may need no key, but the client insists on one: send a placeholder.
        "api_key": SecretStr(api_key or "not-set"),
        "timeout": cfg.timeout_seconds,
        "max_retries": cfg.max_retries,
        "temperature": cfg.temperature,
        "max_tokens": cfg.max_tokens,
    }
    return ChatOpenAI(**options)


def describe(exc: BaseException, cfg: LLMSettings) -> str:
    """One line about a failure, for the log: the exception's type and message, the key masked."""
    text_ = f"{type(exc).__name__}: {exc}".replace("\n", " ")
    key = _api_key(cfg)
    return (text_.replace(key, "***") if len(key) >= 4 else text_)[:300]
