"""An ASGI app served by uvicorn in a thread, configured as ``python -m bot web`` configures it."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import uvicorn

from bot.channels.web.server import uvicorn_config
from bot.config import WebSettings


@contextlib.contextmanager
def serving(app: Any, web: WebSettings) -> Iterator[str]:
    """``app`` on a free port of 127.0.0.1 with :func:`uvicorn_config`; yields the base URL."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(4096)
    server = uvicorn.Server(uvicorn_config(app, web))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()
