""" "Try it": what a resident would get for a question, and why — the ranking behind the answer.

:func:`ranking` is the one place that reads the retrieval's internals (passages with their dense,
keyword and fused scores; documents by their best passage; the calibrated confidence against
``[retrieval] min_confidence``), so when answering exposes scored answer units this is the only
function to extend.
"""

from __future__ import annotations

from typing import Any

from bot.channels.admin import strings
from bot.config import Settings
from bot.records import Answer, Retrieval

PASSAGES_SHOWN = 8
DOCUMENTS_SHOWN = 6
EXCERPT_CHARS = 160


def ranking(settings: Settings, retrieval: Retrieval | None, answer: Answer) -> dict[str, Any]:
    """The ranking as JSON: passages, documents, the confidence, and why the bot answered or refused."""
    cfg = settings.retrieval
    cited = {s.path for s in answer.cited} if answer.answered else set()
    out: dict[str, Any] = {
        "kind": answer.kind,
        "answered": answer.answered,
        "confidence": None,
        "min_confidence": cfg.min_confidence,
        "features": {},
        "coverage": None,
        "passages": [],
        "documents": [],
        "units": [],  # scored answer units, once answering exposes them
    }
    if retrieval is not None:
        confidence = retrieval.confidence(cfg.confidence_weights, cfg.confidence_bias)
        out |= {
            "confidence": round(confidence, 4),
            "features": {
                "dense_top": round(retrieval.dense_top, 4),
                "dense_margin": round(retrieval.dense_margin, 4),
                "sparse_top": round(retrieval.sparse_top, 4),
            },
            "coverage": round(retrieval.coverage, 4),
            "passages": [
                {
                    "rank": n,
                    "path": p.path,
                    "title": p.chunk.title,
                    "heading": p.chunk.heading,
                    "kind": p.chunk.kind,
                    "dense": round(p.dense, 4),
                    "sparse": round(p.sparse, 4),
                    "score": round(p.score, 5),
                    "text": p.body[:EXCERPT_CHARS],
                }
                for n, p in enumerate(retrieval.passages[:PASSAGES_SHOWN], 1)
            ],
            "documents": [
                {
                    "rank": n,
                    "path": d.path,
                    "title": d.title,
                    "issued": d.issued,
                    "score": round(d.score, 5),
                    "cited": d.path in cited,
                    "ocr": any(p.chunk.ocr for p in d.passages),
                }
                for n, d in enumerate(retrieval.docs[:DOCUMENTS_SHOWN], 1)
            ],
        }
    out["why"] = why(answer, out["confidence"], cfg.min_confidence)
    return out


def why(answer: Answer, confidence: float | None, threshold: float) -> str:
    """One sentence for staff: why the bot answered, refused or referred."""
    if answer.kind in strings.WHY_FIXED:
        return strings.WHY_FIXED[answer.kind]
    shown = "—" if confidence is None else f"{confidence:.2f}"
    if answer.kind == "answer":
        titles = "、".join(f"《{s.title}》" for s in answer.cited) or "—"
        return strings.WHY_ANSWERED.format(confidence=shown, threshold=f"{threshold:.2f}", titles=titles)
    if answer.kind == "dont_know":
        if confidence is None:
            return strings.WHY_NOTHING_FOUND
        if confidence < threshold:
            return strings.WHY_LOW_CONFIDENCE.format(confidence=shown, threshold=f"{threshold:.2f}")
        return strings.WHY_NO_SENTENCE.format(confidence=shown)
    return strings.WHY_OTHER.format(kind=answer.kind)
