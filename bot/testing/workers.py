"""Several ``python -m bot run`` workers in Telegram webhook mode behind nginx, for tests and benchmarks.

:class:`WebhookWorkers` writes one config per worker (its own webhook port, the shared webhook URL on
nginx), starts each worker as a real process against the fake Bot API with the same
``TELEGRAM_WEBHOOK_SECRET``, ``CHROMA_URL`` and ``DATABASE_URL``, and puts :class:`bot.testing.nginx.Nginx`
in front. :meth:`WebhookWorkers.deliver` posts an update the way Telegram does (JSON, the secret
header) to nginx, or straight to one worker.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bot.testing.nginx import Nginx
from bot.testing.ports import free_port

REPO = Path(__file__).resolve().parents[2]
SECRET = "webhook-secret-for-tests_1"
HOOK_PATH = "tg/hook"


class WebhookWorkers:
    """``len(data_dirs)`` webhook workers (each its own data folder) and nginx in front of them."""

    def __init__(
        self,
        *,
        knowledge: Path,
        data_dirs: Sequence[Path],
        api_base: str,
        token: str,
        env: Mapping[str, str],
        telegram: Mapping[str, Any] | None = None,
        python: str = "",
    ) -> None:
        self.ports = [free_port() for _ in data_dirs]
        self.nginx = Nginx(self.ports)
        self.logs: list[Path] = []
        self.procs: list[subprocess.Popen[bytes] | None] = []
        options = {**(telegram or {}), "webhook_url": f"{self.nginx.url}/{HOOK_PATH}"}
        for data, port in zip(data_dirs, self.ports, strict=True):
            data.mkdir(parents=True, exist_ok=True)
            config = data / "worker.toml"
            lines = ["[telegram]"] + [
                f"{k} = {_toml(v)}" for k, v in {**options, "webhook_port": port}.items()
            ]
            config.write_text("\n".join(lines) + "\n", encoding="utf-8")
            log = data / "worker.log"
            self.logs.append(log)
            command = [python or sys.executable, "-m", "bot", "run", "--no-ingest", "--config", str(config)]
            command += ["--knowledge", str(knowledge), "--data", str(data)]
            worker_env = {
                **os.environ,
                **env,
                "TELEGRAM_BOT_TOKEN": token,
                "TELEGRAM_API_BASE_URL": api_base,
                "TELEGRAM_WEBHOOK_SECRET": SECRET,
                "PYTHONIOENCODING": "utf-8",
            }
            with log.open("ab") as out:
                self.procs.append(
                    subprocess.Popen(command, cwd=REPO, env=worker_env, stdout=out, stderr=subprocess.STDOUT)
                )

    def wait_ready(self, timeout: float = 180.0) -> None:
        """Until every worker listens on its webhook port."""
        deadline = time.monotonic() + timeout
        for i, port in enumerate(self.ports):
            while True:
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
                    break
                proc = self.procs[i]
                if (proc is not None and proc.poll() is not None) or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"worker {i} did not start: {self.logs[i].read_text(errors='replace')[-3000:]}"
                    )
                time.sleep(0.1)

    def url(self, worker: int | None = None) -> str:
        """The webhook URL through nginx, or of one worker directly."""
        base = self.nginx.url if worker is None else f"http://127.0.0.1:{self.ports[worker]}"
        return f"{base}/{HOOK_PATH}"

    def deliver(self, update: dict[str, Any], worker: int | None = None, timeout: float = 30.0) -> int:
        """POST ``update`` as Telegram does; returns the HTTP status."""
        request = urllib.request.Request(
            self.url(worker),
            data=json.dumps(update, ensure_ascii=False).encode(),
            headers={"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)

    def kill(self, worker: int) -> None:
        """``kill -9`` one worker: it vanishes mid-run."""
        proc = self.procs[worker]
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)

    def close(self) -> None:
        for proc in self.procs:
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for i, proc in enumerate(self.procs):
            if proc is None:
                continue
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill(i)
        self.nginx.close()

    def __enter__(self) -> WebhookWorkers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)
