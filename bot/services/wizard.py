"""Eligibility self-check wizards (资格自测), independent of any channel.

A small state machine: :func:`start` gives the first :class:`Step`; :func:`answer` takes the
state and what the resident typed (or the button they pressed, as its label) and returns a
:class:`Turn` ``(state, reply, done)``; :func:`take` gives the same as an :class:`Outcome` with the
problem apart, for a page that shows each step as a card. Invalid
input keeps the state and re-asks politely; an implausibly small income ("3元" a month for the whole
household) is asked again and accepted when the resident gives the same figure a second time; a
command typed in the middle ("/help") is not taken for an answer: the wizard says how to leave it.
"取消" or ``/cancel`` ends the wizard at any step. The results come from :mod:`bot.services.calculators`
with the standards the caller passes (the served index's, so a re-ingest changes them too).

States are plain data (:meth:`WizardState.to_json`), so a channel can keep them across restarts.
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from bot import messages
from bot.chinese.numerals import cn_number
from bot.services import calculators
from bot.services.standards import Standards

logger = logging.getLogger(__name__)

MENU = ""  # the kind of a wizard that is still choosing what to calculate
KINDS = ("dibao", "meal")
STEPS: dict[str, tuple[str, ...]] = {
    MENU: ("kind",),
    "dibao": ("area", "size", "income"),
    "meal": ("age", "status", "local"),
}
PROMPTS = {
    "kind": messages.WIZ_ASK_KIND,
    "area": messages.WIZ_ASK_AREA,
    "size": messages.WIZ_ASK_SIZE,
    "income": messages.WIZ_ASK_INCOME,
    "age": messages.WIZ_ASK_AGE,
    "status": messages.WIZ_ASK_STATUS,
    "local": messages.WIZ_ASK_LOCAL,
}
STATUS_CHOICES = ("低保", "特困", "低保边缘", "计划生育特殊家庭", messages.WIZ_STATUS_NONE)
CHOICES: dict[str, tuple[str, ...]] = {
    "kind": (messages.WIZ_KIND_DIBAO, messages.WIZ_KIND_MEAL),
    "area": (messages.WIZ_AREA_URBAN, messages.WIZ_AREA_RURAL),
    "status": STATUS_CHOICES,
    "local": (messages.WIZ_LOCAL_YES, messages.WIZ_LOCAL_NO),
}
CANCEL_WORDS = frozenset({"取消", "/cancel", "cancel", "退出", "算了", "不算了", "不测了", "唔计了"})
MAX_HOUSEHOLD = calculators.MAX_HOUSEHOLD
MAX_AGE = calculators.MAX_AGE
MAX_MONTHLY_INCOME = calculators.MAX_MONTHLY_INCOME
# A household income above 0 but below this a month is asked once more ("3元" is more likely 3千 or a slip).
MIN_PLAUSIBLE_INCOME = 100.0
_UNSURE = "income_unsure"  # the implausible income waiting for the resident to confirm it

_DIGITS = re.compile(r"([-−－负])?\s*(\d+(?:\.\d+)?)\s*([万千kK])?")
_CN_NUMBER = re.compile(r"([-−－负])?\s*([零〇一二两俩三四五六七八九十百千万]+)")
_FILLER = re.compile(r"一共|一家|全家|一个月|每个月|每月|一月|月收入|总收入|总共|大概|大约|左右")


@dataclass(frozen=True)
class WizardState:
    kind: str  # MENU | "dibao" | "meal"
    step: str  # one of STEPS[kind]
    answers: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps({"kind": self.kind, "step": self.step, "answers": self.answers}, ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: str) -> WizardState | None:
        """The state saved by :meth:`to_json`; None when it is damaged or from an unknown wizard."""
        try:
            data = json.loads(raw)
            kind, step, answers = str(data["kind"]), str(data["step"]), dict(data["answers"])
        except (ValueError, KeyError, TypeError):
            return None
        if kind not in STEPS or step not in STEPS[kind]:
            return None
        return cls(kind, step, answers)


class Step(NamedTuple):
    state: WizardState
    prompt: str
    choices: tuple[str, ...]  # button labels for this step (empty: the resident types a number)


class Turn(NamedTuple):
    state: WizardState | None  # None once the wizard is over (result or cancelled)
    reply: str
    done: bool

    @property
    def choices(self) -> tuple[str, ...]:
        return choices(self.state) if self.state is not None else ()


@dataclass(frozen=True)
class Outcome:
    """One answer taken apart, for a channel that shows steps as cards rather than as chat lines."""

    state: WizardState | None  # the step to ask now; None once the wizard is over
    problem: str = ""  # why the answer was not taken (then ``state`` asks the same step again)
    result: str = ""  # the result, or the cancellation notice, once the wizard is over

    @property
    def done(self) -> bool:
        return self.state is None

    def turn(self) -> Turn:
        """The chat reply: the problem and the question again with how to leave, the next question, or the end."""
        if self.state is None:
            return Turn(None, self.result, True)
        if self.problem:
            return Turn(
                self.state, f"{self.problem}\n{prompt(self.state)}\n{messages.WIZ_CANCEL_HINT}", False
            )
        return Turn(self.state, prompt(self.state), False)


def start(kind: str = MENU) -> Step:
    """The first step of a wizard: "dibao", "meal", or MENU to choose between them."""
    if kind not in STEPS:
        raise ValueError(f"unknown wizard {kind!r}")
    state = WizardState(kind, STEPS[kind][0])
    return Step(state, prompt(state), choices(state))


def prompt(state: WizardState) -> str:
    """The question asked at the state's step."""
    return PROMPTS[state.step]


def choices(state: WizardState) -> tuple[str, ...]:
    """Button labels at the state's step (empty for steps that take a number)."""
    return CHOICES.get(state.step, ())


def progress(state: WizardState) -> tuple[int, int]:
    """(this step's number from 1, the number of steps) of the state's wizard."""
    steps = STEPS[state.kind]
    return steps.index(state.step) + 1, len(steps)


def is_cancel(text: str) -> bool:
    return text.strip().lower() in CANCEL_WORDS


def is_command(text: str) -> bool:
    """A chat command such as /help or /near (typed while a wizard waits for an answer)."""
    return bool(re.match(r"/[A-Za-z]", text.strip()))


def answer(state: WizardState, text: str, standards: Standards | None, *, sample: bool = False) -> Turn:
    """One answer: the next step's question, the same question again, the result, or cancelled."""
    return take(state, text, standards, sample=sample).turn()


def take(
    state: WizardState,
    text: str,
    standards: Standards | None,
    *,
    sample: bool = False,
    again: str = messages.WIZ_AGAIN,
) -> Outcome:
    """:func:`answer`, taken apart; ``again`` closes the result (how to start once more: "/check" in
    a chat, while a page has a button for it)."""
    if is_cancel(text):
        return Outcome(None, result=messages.WIZ_CANCELLED)
    if is_command(text):
        return Outcome(state, messages.WIZ_COMMAND_DURING)
    value, problem = _read(state.step, text)
    if problem:
        return Outcome(state, problem)
    if state.step == "kind":
        return Outcome(start(str(value)).state)
    if state.step == "income" and 0 < value < MIN_PLAUSIBLE_INCOME and state.answers.get(_UNSURE) != value:
        unsure = WizardState(state.kind, state.step, {**state.answers, _UNSURE: value})
        return Outcome(unsure, messages.WIZ_INCOME_CONFIRM.format(income=f"{value:g}"))
    answers = {k: v for k, v in state.answers.items() if k != _UNSURE}
    answers[state.step] = value
    steps = STEPS[state.kind]
    position = steps.index(state.step)
    if position + 1 < len(steps):
        return Outcome(WizardState(state.kind, steps[position + 1], answers))
    return Outcome(None, result=_result(state.kind, answers, standards, sample, again))


def _result(kind: str, answers: dict[str, Any], standards: Standards | None, sample: bool, again: str) -> str:
    if standards is None:
        return messages.WIZ_NO_STANDARDS
    if kind == "dibao":
        household = calculators.Household(
            int(answers["size"]), float(answers["income"]), str(answers["area"])
        )
        text = calculators.dibao(household, standards).text
    else:
        status = str(answers["status"])
        statuses = frozenset() if status == messages.WIZ_STATUS_NONE else frozenset({status})
        diner = calculators.Diner(int(answers["age"]), statuses, bool(answers["local"]))
        text = calculators.meal_subsidy(diner, standards).text
    logger.info("wizard %s finished", kind)
    parts = [text, messages.SAMPLE_NOTICE if sample else "", again]
    return "\n".join(p for p in parts if p)


# --- reading answers -------------------------------------------------------------------------------


def _read(step: str, text: str) -> tuple[Any, str]:
    """(value, "") for a valid answer at ``step``, else (None, what is wrong)."""
    text = unicodedata.normalize("NFKC", text).strip()
    if step == "kind":
        return _choice(text, {"dibao": r"低保", "meal": r"助餐|饭堂|吃饭|餐"})
    if step == "area":
        return _choice(text, {"rural": r"农村|乡|村|农", "urban": r"城|市区|街道|社区|居委"})
    if step == "status":
        return _status(text)
    if step == "local":
        if re.search(r"不是|否|外地|外省|非本市|没有|不在|唔系", text):
            return False, ""
        return _choice(text, {"yes": r"是|本市|汕尾|对|有|系"}, True)
    number, problem = read_number(text)
    if problem:
        return None, problem
    assert number is not None
    if step == "size":
        if number != int(number):
            return None, messages.WIZ_SIZE_WHOLE
        if not 1 <= number <= MAX_HOUSEHOLD:
            return None, messages.WIZ_SIZE_RANGE
        return int(number), ""
    if step == "income":
        if number > MAX_MONTHLY_INCOME:
            return None, messages.WIZ_INCOME_RANGE
        return number, ""
    if step == "age":
        if not 1 <= number <= MAX_AGE:
            return None, messages.WIZ_AGE_RANGE
        return int(number), ""
    raise ValueError(f"unknown step {step!r}")


def _choice(text: str, patterns: dict[str, str], value: Any = None) -> tuple[Any, str]:
    for key, pattern in patterns.items():
        if text and re.search(pattern, text):
            return (key if value is None else value), ""
    return None, messages.WIZ_CHOOSE


def _status(text: str) -> tuple[Any, str]:
    if re.search(r"都不是|都没有|不是|没有|无|普通|一般", text):
        return messages.WIZ_STATUS_NONE, ""
    if re.search(r"计划生育|计生|失独|独生子女", text):
        return "计划生育特殊家庭", ""
    for status in ("低保边缘", "特困", "低保"):
        if status in text:
            return status, ""
    return None, messages.WIZ_CHOOSE


def read_number(text: str) -> tuple[float | None, str]:
    """A non-negative number from an answer such as '4', '4口人', '2000元', '两千', '1.5万'."""
    shown = text.strip()[:20]
    cleaned = _FILLER.sub(" ", unicodedata.normalize("NFKC", text)).replace(",", "").replace("，", "")
    match = _DIGITS.search(cleaned) or _CN_NUMBER.search(cleaned)
    if match is None:
        return None, messages.WIZ_NOT_A_NUMBER.format(text=shown)
    if match.group(1):
        return None, messages.WIZ_NEGATIVE
    token = match.group(2) + (match.group(3) or "") if match.re is _DIGITS else match.group(2)
    value = cn_number(token)
    if value is None:  # digits the reader refuses: too long or too large for any calculation
        return None, messages.WIZ_NUMBER_TOO_LARGE
    return value, ""


def standards_of(index: Any) -> tuple[Standards | None, bool]:
    """The served index's standards and whether their document is marked ``sample: true``."""
    std = getattr(index, "standards", None)
    if std is None:
        return None, False
    sample = any(c.sample for c in index.chunks if c.path == std.path)
    return std, sample
