"""Debian's nginx in front of several workers, for tests and benchmarks: a generated config, free ports.

:class:`Nginx` writes a config into a temporary folder (pid, logs and temp files there too, nothing
under /etc or /var), proxies ``127.0.0.1:<port>`` round-robin to the given upstream ports, and, when
an upstream refuses or resets the connection, passes the request on to the next one — which is what
keeps residents answered while one worker is down. It runs as root or as any other user.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bot.testing.ports import free_port

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

CONFIG = """\
{user}worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    upstream workers {{
{servers}
        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://workers;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_next_upstream error timeout http_502 http_503 non_idempotent;
            proxy_connect_timeout 2s;
            proxy_read_timeout 60s;
        }}
    }}
}}
"""


def installed() -> bool:
    return Path(NGINX).exists()


class Nginx:
    """``nginx`` proxying ``url`` to ``upstreams`` (ports on 127.0.0.1); stop it with :meth:`close`."""

    def __init__(self, upstreams: Sequence[int], port: int | None = None) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="bot-nginx-"))
        self.port = port or free_port()
        servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=3s;" for p in upstreams)
        user = "user root;\n" if os.geteuid() == 0 else ""
        self.config = self.root / "nginx.conf"
        self.config.write_text(
            CONFIG.format(user=user, root=self.root, servers=servers, port=self.port), encoding="utf-8"
        )
        self.proc = subprocess.Popen(
            [NGINX, "-c", str(self.config), "-p", str(self.root), "-e", str(self.root / "error.log")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 15
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.5):
                break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                self.close()
                raise RuntimeError(f"nginx did not start: {err}")
            time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Nginx:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
