"""The 公众号 callback URL ``/wechat``: a FastAPI app run by uvicorn, like the web channel.

* ``GET /wechat``: the URL-verification handshake (echo ``echostr`` when the signature is right).
* ``POST /wechat``: a signed message (encrypted in 安全模式). Refused with 403 when the signature,
  the timestamp or the nonce is wrong; 400 when the XML is not a message; else answered.
* ``GET /healthz``: the channel is up, and in which mode.

Answering within WeChat's 5 seconds. WeChat waits 5 s for the reply to a message, then sends it again
(three tries in all, same MsgId). The answer is computed once per message, whichever try it arrives
by, and each try waits for it up to ``[wechat] reply_budget_seconds`` (4 s):

* ready in time and within one text's byte limit → the passive reply (the HTTP response itself);
* later, or longer → ``success`` at once (WeChat shows nothing and stops retrying), then the answer
  by the customer-service message API, cut on paragraph boundaries into at most ``max_messages``;
* no customer-service API (no AppID/AppSecret): a try that runs out of budget stays open past
  WeChat's 5 s, so WeChat retries and the retry gets the answer when it is ready; the last try gets
  a "please ask again" reply, and a long answer is shortened to one text.

A retry after the reply was sent gets the same reply again (WeChat only retries when it did not
receive it). Nothing here logs an openid, a query string or an access token.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from bot.channels.wechat import format as fmt
from bot.channels.wechat.api import CustomerService, WeChatAPIError
from bot.channels.wechat.deps import Assistant, Settings, State, bind, messages, uvicorn_config
from bot.channels.wechat.env import WeChatEnv
from bot.channels.wechat.handlers import Conversations, Reply
from bot.channels.wechat.protocol import SUCCESS, BadMessage, Inbound, Protocol, Refused

logger = logging.getLogger(__name__)

WECHAT_TIMEOUT = 5.0  # seconds WeChat waits for the reply to one try
WECHAT_TRIES = 3  # tries WeChat makes for one message
DEDUP_SECONDS = 300.0  # how long a message's reply is kept for WeChat's retries
MAX_DELIVERIES = 10_000
HEADERS = {"x-content-type-options": "nosniff", "cache-control": "no-store"}


def _text(body: str, status: int = 200) -> PlainTextResponse:
    return PlainTextResponse(body, status_code=status, headers=HEADERS)


@dataclass
class Delivery:
    """One message from WeChat (all its tries): the answer being computed and how it was sent."""

    inbound: Inbound
    task: asyncio.Task[Reply]
    at: float
    mode: str = ""  # "" undecided | "passive" (the reply text) | "api" (customer-service) | "none"
    passive: str = ""
    tries: int = 0


class Dispatcher:
    """Receives checked messages, computes each one's answer once, and delivers it in time."""

    def __init__(
        self,
        conversations: Conversations,
        protocol: Protocol,
        settings: Settings,
        service: CustomerService | None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.conversations = conversations
        self.protocol = protocol
        self.wx = settings.wechat
        self.service = service
        self.contact = conversations.contact
        self._clock = clock
        self._deliveries: dict[str, Delivery] = {}
        self._background: set[asyncio.Task[None]] = set()

    def _prune(self) -> None:
        """Forget finished messages older than WeChat's retries (the dict is in order of arrival)."""
        now = self._clock()
        while self._deliveries:
            key, oldest = next(iter(self._deliveries.items()))
            old = now - oldest.at > DEDUP_SECONDS or len(self._deliveries) > MAX_DELIVERIES
            if not (old and oldest.task.done()):
                break
            del self._deliveries[key]

    async def receive(self, inbound: Inbound, nonce: str) -> Response:
        """The HTTP response to one try of a message."""
        arrived = self._clock()
        key = inbound.dedup_key
        delivery = self._deliveries.get(key)
        if delivery is None:
            self._prune()
            task = asyncio.create_task(self.conversations.handle(inbound), name="wechat-answer")
            delivery = Delivery(inbound, task, arrived)
            self._deliveries[key] = delivery
        else:
            logger.info(
                "WeChat retried a message (try %d, %s)", delivery.tries + 1, delivery.mode or "pending"
            )
        delivery.tries += 1
        if not delivery.mode:
            await asyncio.wait({delivery.task}, timeout=self.wx.reply_budget_seconds)
        late = not delivery.mode and not delivery.task.done()
        if late and self.service is None and delivery.tries < WECHAT_TRIES:
            # Only WeChat's retry can carry a late answer: stay open past its 5 s.
            hold = WECHAT_TIMEOUT + 1 - (self._clock() - arrived)
            await asyncio.wait({delivery.task}, timeout=max(hold, 0))
        if not delivery.mode:
            self._decide(delivery)
        if delivery.mode == "passive":
            return Response(
                self.protocol.reply(inbound, delivery.passive, nonce),
                media_type="application/xml",
                headers=HEADERS,
            )
        return _text(SUCCESS)

    def _decide(self, delivery: Delivery) -> None:
        """Passive reply, customer-service messages or nothing: decided once per message."""
        if delivery.task.done():
            texts = self._texts(self._result(delivery))
            if not texts:
                delivery.mode = "none"
            elif len(texts) == 1 or self.service is None:
                delivery.mode, delivery.passive = "passive", self._shorten(texts)
            else:
                delivery.mode = "api"
                self._spawn(self._send_later(delivery))
        elif self.service is not None:
            delivery.mode = "api"
            self._spawn(self._send_later(delivery))
        else:  # WeChat's last try, and no other way to reach the resident later
            delivery.mode, delivery.passive = "passive", messages.WX_SLOW.format(**self.contact)
            logger.warning("answer not ready within WeChat's tries and no customer-service API to send it")

    def _result(self, delivery: Delivery) -> Reply:
        task = delivery.task
        if task.cancelled():
            return Reply.of(messages.ERROR_APOLOGY.format(**self.contact))
        exc = task.exception()
        if exc is not None:
            logger.error("answering a WeChat %s message failed", delivery.inbound.kind, exc_info=exc)
            return Reply.of(messages.ERROR_APOLOGY.format(**self.contact))
        return task.result()

    def _texts(self, reply: Reply) -> list[str]:
        """The reply's texts cut to WeChat's byte limit, at most ``max_messages`` of them."""
        texts = [t for text in reply.texts for t in fmt.split_text(text, self.wx.text_max_bytes)]
        note = messages.WX_TRUNCATED.format(**self.contact)
        return fmt.limit_texts(texts, self.wx.max_messages, self.wx.text_max_bytes, note)

    def _shorten(self, texts: list[str]) -> str:
        note = messages.WX_TRUNCATED.format(**self.contact)
        return fmt.limit_texts(texts, 1, self.wx.text_max_bytes, note)[0]

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro, name="wechat-send")
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _send_later(self, delivery: Delivery) -> None:
        """Wait for the answer, then send it as customer-service messages, in order."""
        assert self.service is not None
        await asyncio.wait({delivery.task})
        texts = self._texts(self._result(delivery))
        who = self.conversations.who(delivery.inbound)[:12]
        for n, text in enumerate(texts, 1):
            try:
                await self.service.send_text(delivery.inbound.openid, text)
            except WeChatAPIError as exc:
                # Out of quota (45047), of the 48-hour window (45015) or anything else: the rest would
                # fail too, or arrive with a gap.
                logger.warning(
                    "customer-service message %d/%d to user=%s not sent: errcode %d %s",
                    n,
                    len(texts),
                    who,
                    exc.errcode,
                    exc.errmsg,
                )
                return
        logger.info("answer sent by %d customer-service message(s) to user=%s", len(texts), who)

    async def aclose(self) -> None:
        """Let deliveries under way finish briefly, then stop them; close the API client."""
        if self._background:
            _, pending = await asyncio.wait(set(self._background), timeout=5)
            for task in pending:
                task.cancel()
        if self.service is not None:
            await self.service.aclose()


async def _read_body(request: Request, limit: int) -> bytes | None:
    """The request body, or None when it is larger than ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(
    assistant: Assistant,
    settings: Settings,
    state: State,
    env: WeChatEnv,
    *,
    service: CustomerService | None = None,
    clock: Callable[[], float] = time.time,
) -> FastAPI:
    """The callback app; nothing here starts a server. ``clock`` is the one timestamps are checked by."""
    wx = settings.wechat
    if service is None and env.has_api:
        service = CustomerService(env, timeout=wx.api_timeout_seconds)
    protocol = Protocol(env, max_skew=wx.max_clock_skew_seconds, clock=clock)
    dispatcher = Dispatcher(Conversations(assistant, settings, state), protocol, settings, service)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await dispatcher.aclose()

    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.dispatcher = dispatcher

    def refused(request: Request, exc: Refused) -> PlainTextResponse:
        logger.warning("refused a %s to /wechat: %s", request.method, exc.reason)
        return _text("forbidden", 403)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> PlainTextResponse:
        return _text("not found" if exc.status_code == 404 else "error", exc.status_code)

    @app.exception_handler(Exception)
    async def on_crash(request: Request, exc: Exception) -> PlainTextResponse:
        logger.error("WeChat request failed: %s %s", request.method, request.url.path, exc_info=exc)
        return _text("error", 500)

    @app.get("/wechat")
    async def verify(request: Request) -> PlainTextResponse:
        try:
            echo = protocol.verify_url(_query(request))
        except Refused as exc:
            return refused(request, exc)
        logger.info("URL verification succeeded")
        return _text(echo)

    @app.post("/wechat")
    async def receive(request: Request) -> Response:
        body = await _read_body(request, wx.max_body_bytes)
        if body is None:
            logger.warning("refused a message over %d bytes", wx.max_body_bytes)
            return _text("too large", 413)
        query = _query(request)
        try:
            inbound = protocol.parse(protocol.open(query, body))
        except Refused as exc:
            return refused(request, exc)
        except BadMessage as exc:
            logger.warning("unreadable WeChat message: %s", exc)
            return _text("bad request", 400)
        return await dispatcher.receive(inbound, query.get("nonce", ""))

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        return JSONResponse(
            {"status": "ok", "safe_mode": env.safe_mode, "customer_service": service is not None},
            headers=HEADERS,
        )

    return app


def _query(request: Request) -> Mapping[str, str]:
    return dict(request.query_params)


def _private_logging() -> None:
    """httpx logs every URL it calls, and WeChat's URLs carry the access token."""
    for name in ("httpx", "httpcore"):
        log = logging.getLogger(name)
        if log.getEffectiveLevel() < logging.WARNING:
            log.setLevel(logging.WARNING)


def serve(
    assistant: Assistant,
    settings: Settings,
    host: str | None = None,
    port: int | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    """Serve ``/wechat`` with uvicorn until Ctrl+C or SIGTERM (settings from the environment)."""
    import uvicorn

    env = WeChatEnv.from_environ(environ)
    wx = settings.wechat
    host = host or wx.host
    port = wx.port if port is None else port
    _private_logging()
    sock = bind(host, port)
    state = State(settings.data_dir, history_size=wx.history_size, url=settings.database_url)
    try:
        assistant.warm_up()  # load the model now: the first resident has only 5 seconds
        app = create_app(assistant, settings, state, env)
        # No access log: WeChat puts the resident's openid in the query string.
        # The [web] connection limits: header/body deadlines, a connection cap, no proxy headers.
        server = uvicorn.Server(uvicorn_config(app, settings.web))
        mode = messages.WX_MODE_SAFE if env.safe_mode else messages.WX_MODE_PLAIN
        actual = sock.getsockname()[1]
        print(messages.WX_SERVING.format(host=host, port=actual, mode=mode), file=sys.stderr, flush=True)
        if not env.has_api:
            print(messages.WX_NO_API.format(seconds=wx.reply_budget_seconds), file=sys.stderr, flush=True)
        server.run(sockets=[sock])
    finally:
        sock.close()
        state.close()
    return 0
