"""Web channel: a small FastAPI app around :class:`bot.answering.assistant.Assistant`, run by uvicorn.

* ``POST /api/ask`` ``{"question": str, "history": [str]}`` → one line of ``ask --jsonl``
  (question, answer, answered, sources, latency_ms) plus ``answer_id`` (for feedback; null when
  the message was not logged), ``text`` (the answer without its 来源 line) and ``cited`` (the
  sources the answer was taken from), which the page shows as a list.
* ``POST /api/feedback`` ``{"answer_id": str, "vote": "up" | "down"}``: one vote per answer and person.
* ``GET /healthz``: whether the index is loaded, its document count and last ingest time.
* ``/api/wizard/*``: the self-check cards (:mod:`bot.channels.web.wizard_api`); ``GET /api/topics/{key}``:
  a topic chip's common questions (:mod:`bot.channels.web.topics_api`). Phone numbers in any text
  come with ``parts`` to make tap-to-call links of (:mod:`bot.channels.web.phones`).
* ``GET /``: one page (``static/index.html``, ``app.js``, ``style.css``), no build step, nothing
  fetched from other hosts.

Safety: the page sets every piece of data with ``textContent``; every response carries a strict
Content-Security-Policy (no inline script or style); questions are rate-limited per client, bodies
are size-limited, and every error is JSON with a message a person can read. Clients are known only
by a salted hash of their address (see :mod:`bot.state.database`); raw addresses are never stored or logged.

A client's address is the connecting one: ``X-Forwarded-For`` is believed only from the proxies of
``[web] trusted_proxies`` (so a spoofed header cannot reset the rate limit or vote fifty times). No
redirect names a host the client sent (``Host`` is the client's to forge). An answer is sent even
when the state database cannot be written (:class:`~bot.channels.state_writes.StateWrites`); then
``/healthz`` says ``degraded``. Slow and idle connections are bounded in :mod:`bot.channels.web.server`.
"""

from __future__ import annotations

import asyncio
import errno
import html
import json
import logging
import re
import socket
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from bot import messages
from bot.answering.assistant import Assistant
from bot.channels.state_writes import StateWrites
from bot.channels.web import phones, topics_api, wizard_api
from bot.config import Settings
from bot.errors import UserError
from bot.records import Answer
from bot.state.database import State

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
# Request limits of the API (like [web] max_body_bytes): a longer question is refused with 422; within
# it, [question] max_chars decides how much is answered (a longer one by its gist, with a notice).
MAX_QUESTION_CHARS = 2000
MAX_HISTORY_ITEMS = 10
MAX_HISTORY_CHARS = 600
FEEDBACK_PER_ASK = 3  # feedback may come a little faster than questions

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


# --- request bodies ----------------------------------------------------------------------------------


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    question: str = Field(max_length=MAX_QUESTION_CHARS)
    history: list[Annotated[str, Field(max_length=MAX_HISTORY_CHARS)]] = Field(
        default_factory=list, max_length=MAX_HISTORY_ITEMS
    )


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    answer_id: str = Field(min_length=1, max_length=64)
    vote: Literal["up", "down"]


# --- responses -------------------------------------------------------------------------------------


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """Every error the API returns: ``{"error": code, "message": "<a sentence a person can read>"}``."""
    return JSONResponse({"error": code, "message": message}, status_code=status, headers=headers)


def _field_error(errors: list[Any]) -> str:
    """One readable reason for the first thing wrong with a request body."""
    if not errors:
        return messages.WEB_FIELD_ERRORS["value"].format(field="body")
    first = errors[0]
    loc = [str(p) for p in first.get("loc", ()) if p != "body"]
    field = ".".join(loc) or "body"
    kind = str(first.get("type", ""))
    if kind == "missing":
        reason = "missing"
    elif kind.endswith("too_long"):
        reason = "too_long"
    elif kind.endswith("_type") or kind == "model_attributes_type":
        reason = "type"
    else:
        reason = "value"
    return messages.WEB_FIELD_ERRORS[reason].format(field=field)


def answer_payload(answer: Answer, answer_id: str | None) -> dict[str, Any]:
    """The ``ask --jsonl`` line plus what the page needs to show it."""
    payload = answer.as_json()
    payload["answer_id"] = answer_id
    payload["text"] = "\n".join(p for p in (answer.text, *answer.notes) if p)
    payload["parts"] = phones.parts(payload["text"])
    payload["cited"] = [
        {"path": s.path, "title": s.title, "issued": s.issued}
        for s in (answer.cited if answer.answered else ())
    ]
    return payload


# --- middleware ------------------------------------------------------------------------------------


class SecurityHeaders:
    """Adds the CSP and the other security headers to every response (pure ASGI, no body buffering)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    h for h in message.get("headers", []) if h[0].lower() not in dict(SECURITY_HEADERS)
                ]
                headers.extend(SECURITY_HEADERS)
                headers = [(k, _same_host(v) if k.lower() == b"location" else v) for k, v in headers]
                if scope.get("path", "").startswith("/api/") or scope.get("path") == "/healthz":
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _same_host(location: bytes) -> bytes:
    """A redirect target without scheme and host: Starlette builds them from the client's Host header."""
    if not location.lower().startswith((b"http:", b"https:", b"//")):
        return location
    parts = urlsplit(location.decode("latin-1"))
    return ((parts.path or "/") + (f"?{parts.query}" if parts.query else "")).encode("latin-1")


class BodyLimit:
    """Reads a request body up to ``max_bytes`` before the app sees it; a larger one gets 413 JSON."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._too_large(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body = message.get("body", b"")
            size += len(body)
            if size > self.max_bytes:
                await self._too_large(scope, receive, send)
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        whole = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": whole, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _too_large(scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(413, "too_large", messages.WEB_TOO_LARGE, {"connection": "close"})
        await response(scope, receive, send)


# --- the page --------------------------------------------------------------------------------------


def _ui_strings(settings: Settings) -> dict[str, str]:
    """The strings app.js shows, filled in with the bureau's contact details."""
    contact = {
        "hotline": settings.contact.hotline,
        "bureau_phone": settings.contact.bureau_phone,
        "office_hours": settings.contact.office_hours,
    }
    names = (
        "WEB_WELCOME", "WEB_YOU", "WEB_BOT", "WEB_THINKING", "WEB_SOURCES", "WEB_DATE_UNKNOWN",
        "WEB_VOTE_UP", "WEB_VOTE_DOWN", "WEB_FEEDBACK_THANKS", "WEB_FEEDBACK_SORRY",
        "WEB_FEEDBACK_DUPLICATE", "WEB_FEEDBACK_UNKNOWN", "WEB_NETWORK_ERROR", "WEB_ELDER_ON",
        "WEB_ELDER_OFF", "WEB_NEW_TOPIC_DONE", "WEB_READ_ALOUD", "WEB_READ_STOP", "WEB_WIZARD_NEXT",
        "WEB_WIZARD_CANCEL", "WEB_WIZARD_AGAIN", "WEB_WIZARD_EMPTY", "WEB_WIZARD_CANCELLED",
        "WEB_WIZARD_NUMBER_LABEL",
    )  # fmt: skip
    return {
        name.removeprefix("WEB_").lower(): str(getattr(messages, name)).format(**contact) for name in names
    }


def render_page(settings: Settings) -> str:
    """index.html with every ``{{NAME}}`` replaced by the HTML-escaped string from bot.messages."""
    template = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    contact = {"hotline": settings.contact.hotline, "bureau_phone": settings.contact.bureau_phone}
    # Topic chips (their questions come from GET /api/topics/{key}), then the self-check chips.
    chips = "\n".join(
        [
            f'  <button type="button" class="chip" data-topic="{key}">{html.escape(messages.WEB_TOPIC_LABELS[key])}</button>'
            for key in topics_api.KEYS
        ]
        + [
            f'  <button type="button" class="chip chip-wizard" data-wizard="{kind}">{html.escape(label)}</button>'
            for kind, label in messages.WEB_WIZARD_CHIPS.items()
        ]
    )
    # A data block, never executed; "<" is escaped so no string can close the element.
    ui = json.dumps(_ui_strings(settings), ensure_ascii=False)
    ui = ui.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")

    def fill(m: re.Match[str]) -> str:
        name = m.group(1)
        if name == "TOPIC_CHIPS":
            return chips
        if name == "UI_STRINGS":
            return ui
        value = getattr(messages, f"WEB_{name}")
        return html.escape(str(value).format(**contact))

    return re.sub(r"\{\{([A-Z_]+)\}\}", fill, template)


# --- the app ---------------------------------------------------------------------------------------


def create_app(
    assistant: Assistant,
    settings: Settings,
    state: State,
) -> FastAPI:
    """The web app, computing at most ``[web] max_concurrent_answers`` answers at once; nothing here
    starts a server or a thread."""
    web = settings.web
    contact = {
        "hotline": settings.contact.hotline,
        "bureau_phone": settings.contact.bureau_phone,
        "office_hours": settings.contact.office_hours,
    }
    ask_limiter = state.rate_limiter("web-ask", web.requests_per_minute)
    feedback_limiter = state.rate_limiter("web-feedback", web.requests_per_minute * FEEDBACK_PER_ASK)
    answering = asyncio.Semaphore(max(1, web.max_concurrent_answers))
    page = render_page(settings)

    writes = StateWrites()

    app = FastAPI(title=messages.WEB_TITLE, docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(BodyLimit, max_bytes=web.max_body_bytes)
    app.add_middleware(SecurityHeaders)
    # Outermost: the client's address, from X-Forwarded-For only when a trusted proxy connects.
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(web.trusted_proxies))
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    def client_hash(request: Request) -> str:
        host = request.client.host if request.client else "unknown"
        return state.user_hash(f"web:{host}")

    app.include_router(wizard_api.router(assistant, settings, state, client_hash))
    app.include_router(topics_api.router(assistant, settings))

    def limited(verdict_retry: float) -> JSONResponse:
        retry = max(1, round(verdict_retry))
        return error_response(
            429, "rate_limited", messages.WEB_RATE_LIMITED.format(**contact), {"retry-after": str(retry)}
        )

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        if any(e.get("type") == "json_invalid" for e in errors):
            return error_response(400, "bad_json", messages.WEB_BAD_JSON)
        detail = _field_error(errors)
        return error_response(422, "bad_request", messages.WEB_BAD_REQUEST.format(detail=detail))

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            return error_response(404, "not_found", messages.WEB_NOT_FOUND)
        if exc.status_code == 405:
            return error_response(405, "method_not_allowed", messages.WEB_METHOD_NOT_ALLOWED)
        return error_response(exc.status_code, "error", messages.ERROR_APOLOGY.format(**contact))

    @app.exception_handler(Exception)
    async def on_crash(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("web request failed: %s %s", request.method, request.url.path)
        response = error_response(500, "internal", messages.ERROR_APOLOGY.format(**contact))
        # This handler runs outside the header middleware: add them here.
        for name, value in SECURITY_HEADERS:
            response.headers[name.decode()] = value.decode()
        return response

    @app.api_route("/", methods=["GET", "HEAD"], response_class=HTMLResponse)
    async def index() -> HTMLResponse:
        return HTMLResponse(page, headers={"cache-control": "no-cache"})

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        try:
            info = await asyncio.to_thread(assistant.info)
        except Exception as exc:
            logger.warning("healthz: index not available: %s", exc)
            return JSONResponse(
                {
                    "status": "unavailable",
                    "index_loaded": False,
                    "documents": 0,
                    "chunks": 0,
                    "version": None,
                    "ingested_at": None,
                    "message": messages.WEB_UNAVAILABLE.format(**contact),
                },
                status_code=503,
            )
        return JSONResponse(
            {
                # degraded: answering works, but the last write to the state database failed
                "status": "degraded" if writes.degraded else "ok",
                "index_loaded": True,
                "documents": info.documents,
                "chunks": info.chunks,
                "version": info.version,
                "ingested_at": info.ingested_at,
                "state": {"writable": not writes.degraded, "error": writes.error},
            }
        )

    @app.post("/api/ask")
    async def ask(body: AskRequest, request: Request) -> JSONResponse:
        who = client_hash(request)
        verdict = ask_limiter.check(who)
        if not verdict.allowed:
            logger.info("rate limited client=%s", who[:12])
            return limited(verdict.retry_after)
        try:
            async with answering:
                answer = await asyncio.to_thread(assistant.ask, body.question, list(body.history))
        except UserError as exc:  # no index yet, or the store went away
            logger.warning("ask failed: %s", exc)
            return error_response(503, "unavailable", messages.WEB_UNAVAILABLE.format(**contact))
        logged = await asyncio.to_thread(  # the answer goes out even when this cannot be stored
            writes.attempt, "", state.log_answer, answer, user=who, chat_type="web", question=body.question
        )
        answer_id = logged or None
        logger.info(
            "question client=%s kind=%s answered=%s latency=%.0fms",
            who[:12],
            answer.kind,
            answer.answered,
            answer.latency_ms,
        )
        return JSONResponse(answer_payload(answer, answer_id))

    @app.post("/api/feedback")
    async def feedback(body: FeedbackRequest, request: Request) -> JSONResponse:
        who = client_hash(request)
        verdict = feedback_limiter.check(who)
        if not verdict.allowed:
            return limited(verdict.retry_after)
        vote = 1 if body.vote == "up" else -1
        result = await asyncio.to_thread(writes.attempt, "unavailable", state.vote, body.answer_id, who, vote)
        if result == "unavailable":
            return error_response(503, "unavailable", messages.WEB_FEEDBACK_UNAVAILABLE.format(**contact))
        if result == "unknown":
            return error_response(404, "unknown_answer", messages.WEB_FEEDBACK_UNKNOWN)
        if result == "duplicate":
            text = messages.WEB_FEEDBACK_DUPLICATE
        elif body.vote == "up":
            text = messages.WEB_FEEDBACK_THANKS
        else:
            text = messages.WEB_FEEDBACK_SORRY.format(**contact)
        return JSONResponse({"status": result, "message": text})

    return app


# --- running it ------------------------------------------------------------------------------------


def bind(host: str, port: int) -> socket.socket:
    """A listening socket, or a UserError saying why not (port in use, bad address)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise UserError(messages.WEB_PORT_IN_USE.format(host=host, port=port, error=exc.strerror)) from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        reason = "端口已被占用" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
        raise UserError(messages.WEB_PORT_IN_USE.format(host=host, port=port, error=reason)) from None
    sock.set_inheritable(True)
    return sock


def serve(assistant: Assistant, settings: Settings, host: str | None = None, port: int | None = None) -> int:
    """Serve the web app with uvicorn until Ctrl+C or SIGTERM."""
    import uvicorn

    from bot.channels.web.server import uvicorn_config

    host = host or settings.web.host
    port = settings.web.port if port is None else port
    sock = bind(host, port)
    state = State(settings.data_dir, history_size=0, url=settings.database_url)
    try:
        assistant.warm_up()  # load the model now, so the first resident does not wait for it
        app = create_app(assistant, settings, state)
        server = uvicorn.Server(uvicorn_config(app, settings.web))
        actual = sock.getsockname()[1]
        print(messages.WEB_SERVING.format(host=host, port=actual), file=sys.stderr, flush=True)
        server.run(sockets=[sock])
    finally:
        sock.close()
        state.close()
    return 0
