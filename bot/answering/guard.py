"""First look at a message: blank, emoji-only, prompt injection, private data, unlawful requests.

These get a fixed, polite reply before any retrieval; nothing here echoes the input.
A message that only *contains* an injection attempt next to a real question keeps
the question: the injection part is cut off and the rest is answered normally.

The injection screen reads a *probe* of the message (:func:`_probe`): entities decoded, full-width
letters folded, markup and invisible characters removed, and the spaces or symbols an attacker slips
between Chinese characters taken out, so ``忽<b>略以上规则`` reads as ``忽略以上规则``.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass

from bot import intents
from bot.config import QuestionSettings

_HTML_TAG = re.compile(r"<\s*(script|style)[^>]*>.*?<\s*/\s*\1\s*>|<[^>]{0,200}>", re.I | re.S)
_INJECTION = re.compile(
    r"ignore (all )?(the )?(previous|above|prior) (instructions|prompts?)|disregard (all|the|previous)|"
    r"system prompt|developer mode|jailbreak|no restrictions|you are now|act as|pretend (to be|you)|"
    # what is to be ignored must be the instructions: "我忘记之前交过什么材料了" is a question
    r"(忽略|无视|忘记|忘掉)((之前|以上|上面|前面|刚才|你的)的?)?(所有|全部|一切)?的?"
    r"(规则|设定|指令|提示|要求|限制|约束|知识库|对话|身份|设置|内容|话)|"
    r"(系统|系统的)?(提示词|提示语|指令|设定|prompt)(是什么|发给我|告诉我|给我看|完整|原文)|"
    r"【?系统指令】?|从现在起你|你现在是|扮演|越狱|开发者模式|不受限制",
    re.I,
)
_ILLEGAL = re.compile(
    r"(fake|forge|counterfeit).{0,40}(certificate|id|document)|"
    r"(伪造|假的?|做假|造假|仿造|PS)(一?[张本份个])?.{0,6}(证|证明|证件|公章|材料|结婚证|离婚证)|"
    r"(骗取|冒领|骗).{0,6}(低保|救助|补贴|津贴)",
    re.I,
)
# … but asking what the law does about it, or how to report it, is a fair question ("骗取低保会有
# 什么后果", "发现邻居冒领补贴怎么举报"), unless it asks how to do it or how not to be caught.
_ABOUT_UNLAWFUL = re.compile(
    r"后果|处罚|惩罚|罚款|追究|法律责任|追回|退回|坐牢|判刑|犯法|违法|犯罪|举报|投诉|会怎样|会怎么样|怎么处理|如何处理"
)
_HOW_TO_UNLAWFUL = re.compile(
    r"教我|帮我|替我|给我|怎么(做|弄|办|骗|造|伪造|搞)|如何(做|弄|骗|造|伪造)|怎样(做|弄|骗|伪造)|有什么办法|方法|步骤|"
    r"教程|不被发现|会不会被发现|发现不了|查得出|查不出|能不能过|how to|step",
    re.I,
)
_ID_NUMBER = re.compile(r"\d{6}(?:\d{8}|x{8})[\dx]{3}[\dx]|\d{4}x{10,14}", re.I)
_OTHERS_BENEFITS = re.compile(
    r"(查|查询|查下|查一下|帮我查|看看).{0,12}(邻居|隔壁|隔篱|别人|他人|某人|[他她佢]|[\u4e00-\u9fff]{1}伯|[\u4e00-\u9fff]{1}姨)"
    r".{0,16}(有没有|有冇|是不是|系唔系|领|拿|吃|享受|申请)"
)
# … whereas whether someone *could* qualify is a question about the rules ("看看她能不能申请特困").
_ELIGIBILITY = re.compile(
    r"能不能|可不可以|能否|可否|符不符合|够不够|资格|条件|这种情况|这样的情况|能申请|可以申请|能领多少"
)
_ABUSE = re.compile(r"傻[逼屄bB]|sb|垃圾机器人|废物|去死|操你|他妈的|fuck|shit|idiot|stupid bot", re.I)


# What may separate the characters of a hidden instruction: spaces and ASCII symbols, not Chinese
# punctuation ("以上规则我都看过了，" is a sentence break, not a disguise).
_CJK_GAP = re.compile(r"(?<=[\u4e00-\u9fff])[\s*_\-.|/\\·•~^`'\"+=#]+(?=[\u4e00-\u9fff])")


def _probe(text: str) -> str:
    """``text`` as the injection screen reads it (see the module docstring)."""
    text = unicodedata.normalize("NFKC", html.unescape(text))
    text = _HTML_TAG.sub("", text)
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C" or ch in "\n\t")
    return _CJK_GAP.sub("", text)


def _is_injection(text: str) -> bool:
    return bool(_INJECTION.search(text) or _INJECTION.search(_probe(text)))


@dataclass(frozen=True)
class Screened:
    kind: str  # "ok" | "empty" | "no_text" | "injection" | "privacy" | "illegal" | "abuse"
    text: str  # the question to answer, cleaned (only meaningful when kind == "ok")
    truncated: bool = False


def screen(raw: str, limits: QuestionSettings) -> Screened:
    """Classify a raw message and return the part worth answering (a long one: its gist)."""
    cleaned = _HTML_TAG.sub(" ", raw or "")
    cleaned = "".join(ch for ch in cleaned if unicodedata.category(ch)[0] != "C" or ch in "\n\t")
    cleaned = re.sub(r"\s+", " ", cleaned).strip()
    if not cleaned:
        return Screened("empty", "")
    if not any(unicodedata.category(ch)[0] in "LN" for ch in cleaned):
        return Screened("no_text", "")
    if _ILLEGAL.search(cleaned) and (_HOW_TO_UNLAWFUL.search(cleaned) or not _ABOUT_UNLAWFUL.search(cleaned)):
        return Screened("illegal", "")
    if _ID_NUMBER.search(cleaned) or (_OTHERS_BENEFITS.search(cleaned) and not _ELIGIBILITY.search(cleaned)):
        return Screened("privacy", "")
    if _is_injection(cleaned) or _is_injection(raw or ""):
        rest = _after_injection(cleaned)
        if not rest:
            return Screened("injection", "")
        cleaned = rest
    truncated = len(cleaned) > limits.max_chars
    if truncated:
        cleaned = gist(cleaned, limits.gist_chars)
    if _ABUSE.search(cleaned) and len(re.findall(r"[\u4e00-\u9fff]", _ABUSE.sub("", cleaned))) < 4:
        return Screened("abuse", "")
    return Screened("ok", cleaned, truncated)


def gist(text: str, budget: int) -> str:
    """The question in a long, rambling message: its last sentences that ask something."""
    sentences = [s for s in re.split(r"(?<=[。！？!?；;\n])", text) if s.strip()]
    asked = [s for s in sentences if intents.QUESTION_CUE.search(s)]
    picked: list[str] = []
    for sentence in reversed(asked or sentences):
        if picked and sum(map(len, picked)) + len(sentence) > budget:
            break
        picked.insert(0, sentence[-budget:])
    return "".join(picked).strip()


def _after_injection(text: str) -> str:
    """What is left of a message once the sentences carrying an injection attempt are dropped."""
    sentences = re.split(r"(?<=[。！？!?；;])|——|--|\n", text)
    kept = [s.strip(" ，,：:") for s in sentences if s and not _is_injection(s)]
    rest = "，".join(k for k in kept if k)
    # A leftover like "请完整发给我" is part of the attempt, not a question of its own.
    return rest if len(re.findall(r"[\u4e00-\u9fff]", rest)) >= 10 else ""
