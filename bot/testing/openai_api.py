"""A fake OpenAI-compatible chat API on 127.0.0.1 for tests (stdlib ``ThreadingHTTPServer``).

It serves ``POST /v1/chat/completions`` with the real response shape, records every request
(headers and JSON body), and can be told what to answer (a fixed text or a function of the
request), to fail with an HTTP status, to send a body that is not JSON, to hang (past the
client's timeout), or be stopped (the port then refuses connections).

    with FakeOpenAI() as api:
        api.answer = "离婚冷静期为30日[1]。"
        settings = LLMSettings(enabled=True, base_url=api.base_url, model=api.model)
        ...
        assert api.requests[0].user_text.endswith("…")
"""

from __future__ import annotations

import contextlib
import itertools
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    at: float = field(default_factory=time.monotonic)

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages", []))

    @property
    def system_text(self) -> str:
        return "\n".join(str(m.get("content", "")) for m in self.messages if m.get("role") == "system")

    @property
    def user_text(self) -> str:
        return "\n".join(str(m.get("content", "")) for m in self.messages if m.get("role") == "user")

    @property
    def authorization(self) -> str:
        return self.headers.get("authorization", "")


Responder = Callable[[Request], str]


class FakeOpenAI:
    """The fake server; ``answer`` / ``status`` / ``hang_seconds`` / ``not_json`` steer the next replies."""

    model = "fake-model"

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.answer: str | Responder = "好的[1]"
        self.finish_reason = "stop"
        self.status = 200  # anything else: an OpenAI-style error body with this status
        self.hang_seconds = 0.0  # wait this long before answering (released early by stop())
        self.not_json = False
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._connections: set[socket.socket] = set()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # --- control ------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> FakeOpenAI:
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-openai", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Shut down, close the socket and every kept-alive connection: new requests are refused."""
        self._released.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()
        with self._lock:
            for conn in self._connections:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
            self._connections.clear()

    def reset(self) -> None:
        """Forget recorded requests and answer normally again."""
        with self._lock:
            self.requests.clear()
        self.answer = "好的[1]"
        self.finish_reason = "stop"
        self.status = 200
        self.hang_seconds = 0.0
        self.not_json = False

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- serving ------------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

            def setup(self) -> None:
                super().setup()
                with fake._lock:
                    fake._connections.add(self.connection)

            def finish(self) -> None:
                with fake._lock:
                    fake._connections.discard(self.connection)
                with contextlib.suppress(OSError):
                    super().finish()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    self._send(400, _error("could not parse the JSON body", "invalid_request_error"))
                    return
                request = Request(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                with fake._lock:
                    fake.requests.append(request)
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._send(404, _error(f"Unknown request URL: POST {self.path}", "invalid_request_error"))
                    return
                if fake.hang_seconds:
                    fake._released.wait(fake.hang_seconds)
                if fake.status == 401:  # like many providers, name the key that was refused
                    key = request.authorization.removeprefix("Bearer ")
                    self._send(401, _error(f"Incorrect API key provided: {key}", "invalid_request_error"))
                    return
                if fake.status != 200:
                    self._send(
                        fake.status,
                        _error("The server had an error processing your request.", "server_error"),
                    )
                    return
                if fake.not_json:
                    self._send_raw(200, b"<html>upstream proxy error</html>", "application/json")
                    return
                answer = fake.answer(request) if callable(fake.answer) else fake.answer
                self._send(200, fake._completion(request, answer))

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                self._send_raw(status, json.dumps(payload, ensure_ascii=False).encode(), "application/json")

            def _send_raw(self, status: int, data: bytes, content_type: str) -> None:
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)

        return Handler

    def _completion(self, request: Request, answer: str) -> dict[str, Any]:
        """A chat.completion object as the OpenAI API returns it."""
        prompt_tokens = sum(len(str(m.get("content", ""))) for m in request.messages)
        return {
            "id": f"chatcmpl-fake{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": str(request.body.get("model", self.model)),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": answer, "refusal": None},
                    "logprobs": None,
                    "finish_reason": self.finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": len(answer),
                "total_tokens": prompt_tokens + len(answer),
            },
            "system_fingerprint": "fp_fake",
        }


def _error(message: str, kind: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}
