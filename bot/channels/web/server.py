"""Serving an ASGI app with uvicorn, hardened against slow and idle connections.

uvicorn closes a kept-alive connection that stays idle after a response (``timeout_keep_alive``) and
bounds the size of a request's headers (h11's ``h11_max_incomplete_event_size``), but it has no
deadline for the headers or the body of a request: a client that trickles one byte every few
seconds holds its connection — and a file descriptor — for as long as it likes, and 20,000 idle
connections exhaust the process's descriptors until ``/healthz`` itself cannot be reached.
(``limit_concurrency`` does not help: it answers 503 to new *requests*, it never closes a connection.)

:func:`guarded_protocol` adds what is missing below ASGI, on uvicorn's own h11 protocol class:

* the headers of each request must arrive within ``[web] header_timeout_seconds`` of the
  connection opening or of the previous response (counted from there, however slowly bytes come);
* its body within ``body_timeout_seconds`` of the headers;
* at most ``max_connections`` connections are open: past it the one that has waited longest for a
  request is closed to make room (the new one, when every connection has a request in progress).

:func:`uvicorn_config` sets the rest: the keep-alive and header-size limits, and no proxy headers
(the app's own middleware believes ``X-Forwarded-For`` only from ``[web] trusted_proxies``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from uvicorn import Config
from uvicorn.protocols.http.h11_impl import H11Protocol

from bot.config import WebSettings

logger = logging.getLogger(__name__)


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with header/body deadlines and a connection cap (see the module docstring)."""

    header_timeout = 10.0
    body_timeout = 20.0
    max_connections = 1000

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._waiting_since: float | None = None  # when it began to wait for a request's headers
        self._seen_cycle: object = None

    # --- asyncio.Protocol ---------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_headers()
        if len(self.connections) > self.max_connections:
            self._make_room()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        cycle = self.cycle
        if cycle is not None and cycle is not self._seen_cycle:  # a new request's headers are in
            self._seen_cycle = cycle
            self._waiting_since = None
            self._cancel()
            if cycle.more_body:
                self._arm(self.body_timeout, "body")
        elif cycle is not None and not cycle.more_body and self._waiting_since is None:
            self._cancel()  # the body is complete: the app has the request now

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._await_headers()  # the next request on this connection starts its own clock

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel()
        super().connection_lost(exc)

    # --- the guard -------------------------------------------------------------------------------------

    def _await_headers(self) -> None:
        self._waiting_since = time.monotonic()
        self._arm(self.header_timeout, "headers")

    def _arm(self, seconds: float, what: str) -> None:
        self._cancel()
        self._deadline = self.loop.call_later(seconds, self._expire, what)

    def _cancel(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self, what: str) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            logger.info("closing a connection whose request %s did not arrive in time", what)
            self.transport.close()

    def _make_room(self) -> None:
        """Close the connection that has waited longest for a request (this one, if no other waits)."""
        open_ = [
            c for c in self.connections if isinstance(c, GuardedH11Protocol) and not c.transport.is_closing()
        ]
        if len(open_) <= self.max_connections:
            return
        waiting = [c for c in open_ if c._waiting_since is not None]
        victim = min(waiting, key=lambda c: c._waiting_since or 0.0, default=self)
        victim.transport.close()
        _note_eviction(self.max_connections)


_evicted = {"count": 0, "logged_at": -1e9}


def _note_eviction(limit: int) -> None:
    """Log connections closed to make room at most once a minute (a flood would log each one)."""
    _evicted["count"] += 1
    now = time.monotonic()
    if now - _evicted["logged_at"] >= 60:
        logger.warning(
            "over %d open connections: closed %d idle ones to make room", limit, int(_evicted["count"])
        )
        _evicted.update(count=0, logged_at=now)


def guarded_protocol(web: WebSettings) -> type[GuardedH11Protocol]:
    """GuardedH11Protocol with the deadlines and cap of ``[web]``."""
    return type(
        "WebH11Protocol",
        (GuardedH11Protocol,),
        {
            "header_timeout": web.header_timeout_seconds,
            "body_timeout": web.body_timeout_seconds,
            "max_connections": web.max_connections,
        },
    )


def uvicorn_config(app: Any, web: WebSettings) -> Config:
    """uvicorn's settings for a public-facing app: guarded connections, no proxy headers, no access log."""
    return Config(
        app,
        http=guarded_protocol(web),
        log_level="warning",
        access_log=False,
        server_header=False,
        proxy_headers=False,  # uvicorn would trust X-Forwarded-For from 127.0.0.1 (and $FORWARDED_ALLOW_IPS)
        timeout_keep_alive=web.keep_alive_seconds,
        h11_max_incomplete_event_size=web.max_header_bytes,
        # A backstop only: uvicorn answers 503 to a request while it counts this many connections or
        # requests, and it counts closed connections until asyncio reports them lost, so during a
        # flood a limit of max_connections would refuse the very request the guard made room for.
        limit_concurrency=2 * web.max_connections,
    )
