"""A real ``chroma run`` server on 127.0.0.1 for tests and benchmarks (the index behind ``CHROMA_URL``).

The ``chroma`` command is the one installed beside this interpreter (``.venv/bin/chroma``); the
server can be killed (``kill -9``) and started again on the same port and folder, as the fault
tests need.
"""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bot.testing.ports import free_port

CHROMA = Path(sys.executable).parent / "chroma"


class ChromaServer:
    """``chroma run --path PATH --host 127.0.0.1 --port PORT`` as a subprocess that can be killed and restarted."""

    def __init__(self, path: Path, port: int | None = None) -> None:
        self.path = path
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/api/v2/heartbeat", timeout=1) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def start(self, timeout: float = 60.0) -> ChromaServer:
        log = (self.path.parent / f"chroma-{self.port}.log").open("ab")
        self.proc = subprocess.Popen(
            [str(CHROMA), "run", "--path", str(self.path), "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while not self.alive():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"chroma run did not come up on {self.url}")
            time.sleep(0.2)
        return self

    def kill(self) -> None:
        """``kill -9``: the server vanishes mid-run."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
