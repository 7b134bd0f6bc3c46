"""A free TCP port on 127.0.0.1 for the local servers tests and benchmarks start (PostgreSQL, nginx,
``chroma run``, the fake WeChat and Bot API servers, the web channel)."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port the kernel just handed out on 127.0.0.1 and nothing holds now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
