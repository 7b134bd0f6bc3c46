"""The self-check wizards (低保, 助餐补贴) as step cards for the web page, over JSON.

* ``POST /api/wizard/start`` ``{"kind": "dibao" | "meal" | ""}`` → the first card.
* ``POST /api/wizard/step`` ``{"token": str, "step": str, "answer": str}`` → the next card, the same
  card with the ``problem`` of the answer, or the result (``done``).

A card: ``{"done": false, "kind", "title", "progress", "step", "prompt", "problem", "input":
"choice" | "number", "choices": [label], "quick": [{"label", "answer"}], "token"}``; the result:
``{"done": true, "kind", "title", "result", "parts"}`` (``parts``: the text with its phone numbers
cut out, see :mod:`bot.channels.web.phones`). The steps, their checks and the result are
:mod:`bot.services.wizard`'s; this module only carries them.

Stateless: the wizard's state travels in the card's ``token``, signed with HMAC-SHA256 under a key
derived from the data folder's secret salt (so every worker over that folder reads every token, and
nothing is stored per visitor). A token that does not verify (forged, damaged, from another data
folder) is refused with 400, one older than :data:`MAX_AGE_SECONDS` with 410; an answer to a step
other than the token's (a second tap, an old card) gets 409 with the token's own card again. None of
these change anything: there is nothing server-side to change, and the page keeps the card it had.
The token holds what the resident answered (area, household size, income, age…), which only their
own browser sees; it never reaches a log.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from bot import messages
from bot.answering.assistant import Assistant
from bot.channels.web import phones
from bot.config import Settings
from bot.errors import IndexMissingError, StoreUnavailableError
from bot.services import wizard
from bot.state.database import State

logger = logging.getLogger(__name__)

TOKEN_VERSION = 1
MAX_AGE_SECONDS = 24 * 3600  # as long as Telegram keeps an unfinished wizard
CLOCK_SKEW_SECONDS = 300  # a token "issued" further in the future than this is not ours
STEPS_PER_ASK = 3  # wizard steps may come faster than questions
QUICK_SIZES = range(1, 7)  # household sizes offered as buttons; more are typed
_KEY_ID = "\x00web-wizard-token"  # no channel's user id contains a NUL, so no user hash is this key


class StartRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    kind: Literal["", "dibao", "meal"] = ""


class StepRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    token: str = Field(min_length=1, max_length=2000)
    step: str = Field(min_length=1, max_length=20)
    answer: str = Field(max_length=200)


class TokenError(Exception):
    """A token that cannot be used: ``forged`` (it does not verify) or ``expired``."""

    def __init__(self, reason: Literal["forged", "expired"]) -> None:
        super().__init__(reason)
        self.reason = reason


# --- tokens --------------------------------------------------------------------------------------


def token_key(state: State) -> bytes:
    """The signing key: secret (from the data folder's salt), the same for every worker over it."""
    return bytes.fromhex(state.user_hash(_KEY_ID))


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, body: str) -> str:
    return _b64(hmac.new(key, f"wizard.{body}".encode("ascii"), hashlib.sha256).digest())


def sign(wizard_state: wizard.WizardState, key: bytes, now: float) -> str:
    """``<body>.<mac>``: the state and when it was issued, base64url JSON, and its HMAC."""
    data = {"v": TOKEN_VERSION, "t": int(now), "w": json.loads(wizard_state.to_json())}
    body = _b64(json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    return f"{body}.{_mac(key, body)}"


def read(token: str, key: bytes, now: float) -> wizard.WizardState:
    """The state a token carries, or :class:`TokenError`."""
    body, _, mac = token.partition(".")
    try:
        genuine = hmac.compare_digest(mac.encode("ascii"), _mac(key, body).encode("ascii"))
    except (UnicodeEncodeError, ValueError):
        genuine = False
    if not genuine:
        raise TokenError("forged")
    try:
        data = json.loads(_unb64(body))
        version, issued = data["v"], float(data["t"])
        restored = wizard.WizardState.from_json(json.dumps(data["w"]))
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise TokenError("forged") from None
    if version != TOKEN_VERSION or restored is None or issued > now + CLOCK_SKEW_SECONDS:
        raise TokenError("forged")
    if now - issued > MAX_AGE_SECONDS:
        raise TokenError("expired")
    return restored


# --- cards ---------------------------------------------------------------------------------------


def card(state: wizard.WizardState, token: str, problem: str = "") -> dict[str, Any]:
    """The card that asks the state's step."""
    n, total = wizard.progress(state)
    options = wizard.choices(state)
    quick = [{"label": messages.WEB_WIZARD_PEOPLE.format(n=i), "answer": str(i)} for i in QUICK_SIZES]
    return {
        "done": False,
        "kind": state.kind,
        "title": messages.WEB_WIZARD_TITLES[state.kind],
        "progress": messages.WEB_WIZARD_PROGRESS.format(n=n, total=total) if state.kind else "",
        "step": state.step,
        "prompt": wizard.prompt(state),
        "problem": problem,
        "input": "choice" if options else "number",
        "choices": list(options),
        "quick": quick if state.step == "size" else [],
        "token": token,
    }


def result_card(kind: str, text: str) -> dict[str, Any]:
    """The last card: the calculator's result (or why there is none)."""
    return {
        "done": True,
        "kind": kind,
        "title": messages.WEB_WIZARD_TITLES.get(kind, messages.WEB_WIZARD_TITLES[""]),
        "result": text,
        "parts": phones.parts(text),
    }


def _error(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": code, "message": message, **extra}, status_code=status)


# --- the routes ----------------------------------------------------------------------------------


def router(
    assistant: Assistant, settings: Settings, state: State, client_hash: Callable[[Request], str]
) -> APIRouter:
    """The wizard's two routes; ``client_hash`` is the web app's (for the rate limit and /stats)."""
    routes = APIRouter()
    limiter = state.rate_limiter("web-wizard", settings.web.requests_per_minute * STEPS_PER_ASK)
    key = token_key(state)
    contact = {"hotline": settings.contact.hotline, "bureau_phone": settings.contact.bureau_phone}

    def limited(who: str) -> JSONResponse | None:
        verdict = limiter.check(who)
        if verdict.allowed:
            return None
        retry = str(max(1, round(verdict.retry_after)))
        response = _error(429, "rate_limited", messages.WEB_RATE_LIMITED.format(**contact))
        response.headers["retry-after"] = retry
        return response

    @routes.post("/api/wizard/start")
    async def wizard_start(body: StartRequest, request: Request) -> JSONResponse:
        who = client_hash(request)
        refused = limited(who)
        if refused is not None:
            return refused
        first = wizard.start(body.kind)
        await asyncio.to_thread(state.log_event, "wizard", who)
        logger.info("web wizard started client=%s kind=%s", who[:12], body.kind or "menu")
        return JSONResponse(card(first.state, sign(first.state, key, time.time())))

    @routes.post("/api/wizard/step")
    async def wizard_step(body: StepRequest, request: Request) -> JSONResponse:
        who = client_hash(request)
        refused = limited(who)
        if refused is not None:
            return refused
        try:
            current = read(body.token, key, time.time())
        except TokenError as exc:
            logger.info("web wizard token refused client=%s reason=%s", who[:12], exc.reason)
            if exc.reason == "expired":
                return _error(410, "wizard_expired", messages.WEB_WIZARD_EXPIRED, restart=True)
            return _error(400, "wizard_forged", messages.WEB_WIZARD_FORGED, restart=True)
        if body.step != current.step:
            again = card(current, body.token, messages.WEB_WIZARD_STALE)
            return _error(409, "wizard_stale", messages.WEB_WIZARD_STALE, card=again)
        if wizard.is_cancel(body.answer):
            return JSONResponse(result_card(current.kind, messages.WEB_WIZARD_CANCELLED))
        standards, sample = None, False
        try:
            standards, sample = wizard.standards_of(await asyncio.to_thread(assistant.index))
        except (IndexMissingError, StoreUnavailableError) as exc:
            logger.warning("standards unavailable for the web wizard: %s", exc)
        outcome = wizard.take(current, body.answer, standards, sample=sample, again="")
        if outcome.state is None:
            logger.info("web wizard finished client=%s kind=%s", who[:12], current.kind)
            return JSONResponse(result_card(current.kind, outcome.result))
        return JSONResponse(card(outcome.state, sign(outcome.state, key, time.time()), outcome.problem))

    return routes
