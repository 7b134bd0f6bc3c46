"""Fitting what the bot decides by, on the evaluation sets: ``eval --calibrate`` and ``--fit-answers``.

* :func:`calibrate`: the answer/refuse model (a logistic regression over what retrieval found),
  its threshold chosen so that false refusals stay under a bound, estimated leave-one-out.
* :func:`fit_answers`: the weights of the signals that score answer units
  (:data:`bot.answering.signals.FEATURES`). For every answerable question, the candidates are the
  units extraction considers; a unit is a good answer in the measure the answer it leads (the unit
  with its list, or its whole short article) holds the question's must-include facts (and comes
  from an expected document). The weights maximise the likelihood of
  the good units under a softmax over each question's candidates (a listwise ranking model, with a
  small L2 penalty), so what counts is ranking the right unit first, not scoring it absolutely.
  Then ``support_margin`` is chosen as the one whose answers hold the most facts.

Both print the lines to paste into config.toml, and a cross-validated estimate of what they give.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from bot.answering.extract import lead_block, render
from bot.answering.signals import FEATURES, candidates
from bot.chinese import segment
from bot.config import AnswerWeights
from bot.errors import UserError

if TYPE_CHECKING:
    from bot.answering.assistant import Assistant


class Case(Protocol):
    """An evaluation question, as :class:`bot.evaluation.Case` holds it."""

    @property
    def type(self) -> str: ...
    @property
    def question(self) -> str: ...
    @property
    def history(self) -> tuple[str, ...]: ...
    @property
    def expected_docs(self) -> tuple[str, ...]: ...
    @property
    def must_include(self) -> tuple[tuple[str, ...], ...]: ...


MARGINS = (0.5, 1.0, 1.5, 2.0, 3.0, 4.0)
# Signals whose weight is a policy, not a fit: a superseded text yields to the one in force whatever
# the evaluation sets say (their expected documents include superseded texts).
POLICY = frozenset({"superseded"})
L2 = 3.0  # penalty on the standardised weights (5-fold, sample sets: 1 → 68 %, 3 → 70 %)


def calibrate(assistant: Assistant, cases: Sequence[Case], max_false_refusals: float = 0.05) -> str:
    """Fit the answer/refuse model on the evaluation set; return the config lines to paste.

    Answerable questions are positives, out-of-scope ones negatives; the threshold is the highest
    that keeps false refusals (estimated leave-one-out) at or under ``max_false_refusals``.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import LeaveOneOut, cross_val_predict

    rows, labels = [], []
    for case in cases:
        if case.type not in ("in_scope", "followup", "out_of_scope"):
            continue
        retrieval = assistant.retrieve(case.question, case.history)
        if retrieval is None or assistant.referral(retrieval) is not None:
            continue  # the guard or the list of other departments answers these before the model
        rows.append(retrieval.features())
        labels.append(1 if case.expected_docs else 0)
    if len(set(labels)) < 2:
        raise UserError("校准需要同时包含可回答的问题和 out_of_scope 问题")
    x, y = np.array(rows), np.array(labels)
    model = LogisticRegression(C=1.0, max_iter=5000)
    p = cross_val_predict(model, x, y, cv=LeaveOneOut(), method="predict_proba")[:, 1]
    best = (0.5, 0.0)
    for t in np.arange(0.05, 0.95, 0.01):
        false_refusals = float(((p < t) & (y == 1)).sum() / max(1, (y == 1).sum()))
        refused = float(((p < t) & (y == 0)).sum() / max(1, (y == 0).sum()))
        if false_refusals <= max_false_refusals and refused > best[1]:
            best = (float(t), refused)
    model.fit(x, y)
    weights = ", ".join(f"{w:.3f}" for w in model.coef_[0])
    return (
        f"# {len(y)} questions; leave-one-out: {best[1]:.0%} of out-of-scope refused at "
        f"<= {max_false_refusals:.0%} false refusals\n"
        f"[retrieval]\nconfidence_weights = [{weights}]\nconfidence_bias = {model.intercept_[0]:.3f}\n"
        f"min_confidence = {best[0]:.2f}"
    )


@dataclasses.dataclass
class _Question:
    case: Case
    x: np.ndarray  # candidates × features
    # per candidate: share of the must-include groups the answer it leads holds (0 outside expected docs)
    good: np.ndarray


def holds(text: str, alternatives: Sequence[str]) -> bool:
    """``text`` states one of ``alternatives``, quantities compared as written either way (30天 = 三十日)."""
    canonical = segment.keyword_text(text)
    return any(a in text or segment.keyword_text(a) in canonical for a in alternatives)


def _questions(assistant: Assistant, cases: Sequence[Case]) -> list[_Question]:
    out = []
    index = assistant.index()
    t, answer = assistant.settings.tuning, assistant.settings.answer
    for case in cases:
        if case.type not in ("in_scope", "followup") or not case.expected_docs or not case.must_include:
            continue
        searched = assistant.search(case.question, case.history)
        if searched is None:
            continue
        asked, retrieval = searched
        context_words = [w for c in asked.earlier for w in segment.words(c)]
        found = candidates(index, retrieval, asked.query, t, context_words, asked.asking)
        if not found.rows:
            continue
        good = np.zeros(len(found.rows))
        unscored = np.zeros(len(found.rows))
        for k, i in enumerate(found.rows):
            if index.units.units[i].path.rsplit("/", 1)[-1] in case.expected_docs:
                # What the resident would read if this unit led: with its list, or its whole article.
                text = render(lead_block(index, found, k, asked.asking, answer, unscored))
                good[k] = sum(holds(text, g) for g in case.must_include) / len(case.must_include)
        if good.sum() > 0:
            out.append(_Question(case, found.x, good))
    return out


def _fit(questions: Sequence[_Question]) -> np.ndarray:
    """Listwise softmax weights (raw feature scale) for ``questions``."""
    from scipy.optimize import minimize

    fitted = np.array([name not in POLICY for name in FEATURES])
    stacked = np.vstack([q.x for q in questions])
    mean, scale = stacked.mean(axis=0), stacked.std(axis=0) + 1e-9
    xs = [((q.x - mean) / scale) * fitted for q in questions]
    ys = [q.good / q.good.sum() for q in questions]

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        total, grad = 0.5 * L2 * float(w @ w), L2 * w
        for x, y in zip(xs, ys, strict=True):
            s = x @ w
            p = np.exp(s - s.max())
            p /= p.sum()
            total -= float(y @ np.log(p + 1e-12))
            grad = grad - x.T @ (y - p)
        return total, grad

    w = minimize(loss, np.zeros(len(FEATURES)), jac=True, method="L-BFGS-B").x
    return np.asarray(w / scale)


def _lead_ok(questions: Sequence[_Question], weights: np.ndarray) -> float:
    """Share of questions whose best-scored unit holds a must-include fact."""
    return (
        float(np.mean([q.good[int(np.argmax(q.x @ weights))] > 0 for q in questions])) if questions else 0.0
    )


def fit_answers(
    sets: Sequence[tuple[Assistant, Sequence[Case]]], facts: Callable[[Assistant, Any], float]
) -> str:
    """Fit ``[answer.weights]`` and ``support_margin`` on one or more (folder, questions) sets;
    return the config lines to paste.

    ``facts(assistant, cases)`` measures answers (the share holding every must-include fact) with
    the assistant's current settings; the margin with the best total over the sets is chosen.
    """
    questions = [q for assistant, cases in sets for q in _questions(assistant, cases)]
    if len(questions) < 10:
        raise UserError("拟合需要至少 10 道带 must_include 的可回答题目")
    rng = np.random.default_rng(0)
    order = rng.permutation(len(questions))
    folds = np.array_split(order, 5)
    held_out = []
    for fold in folds:
        train = [questions[i] for i in order if i not in set(fold.tolist())]
        held_out.append(_lead_ok([questions[i] for i in fold], _fit(train)) * len(fold))
    weights = _fit(questions)
    policy = sets[0][0].settings.answer.weights
    for j, name in enumerate(FEATURES):
        if name in POLICY:
            weights[j] = getattr(policy, name)
    fitted = AnswerWeights(**dict(zip(FEATURES, map(float, weights), strict=True)))
    scores = {}
    for margin in MARGINS:
        scores[margin] = 0.0
        for assistant, cases in sets:
            answer = dataclasses.replace(assistant.settings.answer, weights=fitted, support_margin=margin)
            assistant.settings = dataclasses.replace(assistant.settings, answer=answer)
            scores[margin] += facts(assistant, cases) / len(sets)
    margin = max(MARGINS, key=lambda m: (scores[m], -m))
    lines = "\n".join(f"{name} = {w:.3f}" for name, w in zip(FEATURES, weights, strict=True))
    tried = ", ".join(f"{m:g}: {scores[m]:.3f}" for m in MARGINS)
    return (
        f"# {len(questions)} questions; the best unit holds a must-include fact in "
        f"{sum(held_out) / len(questions):.0%} (5-fold) / {_lead_ok(questions, weights):.0%} (all)\n"
        f"# answers holding every fact by support_margin: {tried}\n"
        f"[answer]\nsupport_margin = {margin:g}\n\n[answer.weights]\n{lines}"
    )
