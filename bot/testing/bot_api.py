"""A fake Telegram Bot API server on 127.0.0.1 for tests and benchmarks (stdlib ``ThreadingHTTPServer``).

It serves ``/bot<token>/<method>`` with the real JSON shapes (``{"ok": true, "result": ...}``),
records every call, feeds pushed updates to ``getUpdates`` (long polling included), and checks
what Telegram checks: the token, message length (4096 UTF-16 units after entity parsing),
callback data (64 bytes) and, in HTML parse mode, that the markup uses only Telegram's tags and
is well formed. Tests can make the next calls fail with 429 (``retry_after``) or with the 400
"can't parse entities" error.

    with FakeBotAPI() as api:
        app = build_application(assistant, settings, api.token, api.base_url)
        api.push_update(api.text_update("低保怎么申请？"))
        call = api.wait_for("sendMessage")
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlparse

from bot.testing.telegram_html import parse_html, utf16_len

JSON_FIELDS = {
    "reply_markup",
    "allowed_updates",
    "entities",
    "caption_entities",
    "reply_parameters",
    "link_preview_options",
    "commands",
    "scope",
}
MESSAGE_METHODS = {"sendMessage", "editMessageText", "editMessageReplyMarkup"}


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)
    status: int = 200

    def __getitem__(self, key: str) -> Any:
        return self.params[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.params.get(key, default)

    @property
    def chat_id(self) -> int | None:
        value = self.params.get("chat_id")
        return int(value) if value is not None else None

    @property
    def text(self) -> str:
        return str(self.params.get("text", ""))

    @property
    def buttons(self) -> list[dict[str, Any]]:
        """Inline keyboard buttons, row by row, flattened."""
        markup = self.params.get("reply_markup") or {}
        return [b for row in markup.get("inline_keyboard", []) for b in row]

    def button(self, label: str) -> dict[str, Any]:
        for b in self.buttons:
            if b.get("text") == label:
                return b
        raise KeyError(f"no button {label!r} in {[b.get('text') for b in self.buttons]}")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up mid-request (a cancelled long poll) is no error worth printing."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class FakeBotAPI:
    """The fake server. Use as a context manager; ``base_url`` goes to ``build_application``."""

    def __init__(
        self, token: str = "123456:TEST-token", bot_id: int = 123456, username: str = "shanwei_test_bot"
    ):
        self.token = token
        self.bot_id = bot_id
        self.username = username
        self.calls: list[Call] = []
        self._updates: list[dict[str, Any]] = []
        self._chats: dict[int, dict[str, Any]] = {}
        self._failures: list[tuple[str, int, dict[str, Any]]] = []
        self._delays: list[tuple[str, float]] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._cond = threading.Condition()
        self._closing = False
        self._listeners: list[Callable[[Call], None]] = []
        self._server = _Server(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-bot-api",
            daemon=True,
        )

    # --- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> FakeBotAPI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._server.shutdown()
        self._server.server_close()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def bot_user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "汕尾民政问答助手",
            "username": self.username,
        }

    # --- what tests use --------------------------------------------------------------------------

    def push_update(self, update: dict[str, Any]) -> int:
        """Queue an update for getUpdates; returns its update_id."""
        with self._cond:
            update = {**update, "update_id": next(self._update_ids)}
            self._updates.append(update)
            self._cond.notify_all()
            return int(update["update_id"])

    def fail_next(
        self, method: str, status: int = 429, *, retry_after: int = 1, description: str = ""
    ) -> None:
        """Make the next call of ``method`` fail (429 Too Many Requests by default)."""
        if status == 429:
            body = {
                "ok": False,
                "error_code": 429,
                "description": description or f"Too Many Requests: retry after {retry_after}",
                "parameters": {"retry_after": retry_after},
            }
        else:
            body = {"ok": False, "error_code": status, "description": description or "Bad Request"}
        with self._cond:
            self._failures.append((method, status, body))

    def delay_next(self, method: str, seconds: float) -> None:
        """Make the next call of ``method`` take ``seconds``; as Telegram does, it is still carried out
        (the message delivered) when the client has stopped waiting for the response."""
        with self._cond:
            self._delays.append((method, seconds))

    def reject_html_next(self, method: str = "sendMessage") -> None:
        """Make the next HTML-mode call of ``method`` fail as if its markup were invalid."""
        with self._cond:
            body = {
                "ok": False,
                "error_code": 400,
                "description": 'Bad Request: can\'t parse entities: Unsupported start tag "x" at byte offset 0',
            }
            self._failures.append((method + "#HTML", 400, body))

    def on_call(self, listener: Callable[[Call], None]) -> None:
        """Call ``listener(call)`` (in the server's thread) for every call from now on, once it is answered.

        For load tests: waiting with :meth:`wait_for` rescans every recorded call on every wake-up,
        which costs the waiting side more CPU than the bot under test once there are thousands.
        """
        with self._cond:
            self._listeners.append(listener)

    def calls_of(self, method: str, predicate: Callable[[Call], bool] | None = None) -> list[Call]:
        with self._cond:
            return [c for c in self.calls if c.method == method and (predicate is None or predicate(c))]

    def sent(self, chat_id: int | None = None) -> list[Call]:
        """Successful sendMessage calls (to one chat)."""
        return self.calls_of(
            "sendMessage", lambda c: c.status == 200 and (chat_id is None or c.chat_id == chat_id)
        )

    def wait_for(
        self,
        method: str,
        predicate: Callable[[Call], bool] | None = None,
        *,
        timeout: float = 20.0,
        count: int = 1,
    ) -> Call:
        """Block until ``count`` successful calls of ``method`` match; return the last of them."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [
                    c
                    for c in self.calls
                    if c.method == method and c.status == 200 and (predicate is None or predicate(c))
                ]
                if len(found) >= count:
                    return found[count - 1]
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(c.method, c.status, c.text[:60]) for c in self.calls]
                    raise TimeoutError(f"no {method} call matched within {timeout}s; calls: {seen}")
                self._cond.wait(left)

    def clear(self) -> None:
        with self._cond:
            self.calls.clear()

    # --- building updates ------------------------------------------------------------------------

    def chat(self, chat_id: int, chat_type: str = "") -> dict[str, Any]:
        kind = chat_type or ("private" if chat_id > 0 else "supergroup")
        chat: dict[str, Any] = {"id": chat_id, "type": kind}
        if kind == "private":
            chat["first_name"] = "张三丰"
        else:
            chat["title"] = "汕尾街坊群"
        self._chats[chat_id] = chat
        return chat

    @staticmethod
    def user(user_id: int) -> dict[str, Any]:
        return {"id": user_id, "is_bot": False, "first_name": "张三丰", "username": f"resident_{user_id}"}

    def message(
        self,
        text: str,
        *,
        user_id: int = 777123456,
        chat_id: int | None = None,
        chat_type: str = "",
        entities: list[dict[str, Any]] | None = None,
        reply_to: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        chat_id = user_id if chat_id is None else chat_id
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": self.chat(chat_id, chat_type),
            "from": self.user(user_id),
        }
        if text:
            message["text"] = text
        if entities is None and text.startswith("/"):
            command = text.split()[0]
            entities = [{"type": "bot_command", "offset": 0, "length": utf16_len(command)}]
        if entities:
            message["entities"] = entities
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        message.update(extra or {})
        return message

    def text_update(self, text: str, **kwargs: Any) -> dict[str, Any]:
        """An update carrying a new text message (a /command gets its bot_command entity)."""
        return {"message": self.message(text, **kwargs)}

    def bot_message(self, chat_id: int, text: str = "之前的回答") -> dict[str, Any]:
        """A message the bot sent earlier, for replies to it."""
        return {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": self.chat(chat_id),
            "from": self.bot_user,
            "text": text,
        }

    def callback_update(
        self, data: str, *, user_id: int = 777123456, chat_id: int | None = None, message_id: int = 1
    ) -> dict[str, Any]:
        """A press of an inline button with ``data`` under the bot's message ``message_id``."""
        chat_id = user_id if chat_id is None else chat_id
        return {
            "callback_query": {
                "id": str(next(self._message_ids)),
                "from": self.user(user_id),
                "chat_instance": "ci-1",
                "data": data,
                "message": {
                    "message_id": message_id,
                    "date": int(time.time()),
                    "chat": self.chat(chat_id),
                    "from": self.bot_user,
                    "text": "…",
                },
            }
        }

    # --- serving ---------------------------------------------------------------------------------

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                self._serve()

            def do_POST(self) -> None:
                self._serve()

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, payload = api._dispatch(self.path, self.headers.get("Content-Type", ""), body)
                data = json.dumps(payload, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler

    @staticmethod
    def _params(content_type: str, body: bytes) -> dict[str, Any]:
        raw: dict[str, Any]
        if content_type.startswith("application/json"):
            raw = json.loads(body or b"{}")
        elif content_type.startswith("multipart/form-data"):
            msg = BytesParser(policy=HTTP).parsebytes(
                b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
            )
            raw = {}
            for part in msg.iter_parts():
                name = part.get_param("name", header="content-disposition")
                if name:
                    raw[str(name)] = part.get_content() if part.get_filename() is None else "<file>"
        else:
            raw = dict(parse_qsl(body.decode(), keep_blank_values=True))
        out: dict[str, Any] = {}
        for key, value in raw.items():
            if key in JSON_FIELDS and isinstance(value, str):
                with contextlib.suppress(json.JSONDecodeError):
                    value = json.loads(value)
            out[key] = value
        return out

    def _dispatch(self, path: str, content_type: str, body: bytes) -> tuple[int, dict[str, Any]]:
        match = re.fullmatch(r"/bot([^/]+)/([A-Za-z]+)", urlparse(path).path)
        if not match:
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        token, method = match.groups()
        if token != self.token:
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        try:
            params = self._params(content_type, body)
        except Exception as exc:  # a malformed request is the bot's bug: say so
            return 400, {"ok": False, "error_code": 400, "description": f"Bad Request: {exc}"}
        call = Call(method, params)
        if method == "getUpdates":
            self._record(call)
            return 200, {"ok": True, "result": self._get_updates(params)}
        delay = self._take_delay(method)
        if delay:
            time.sleep(delay)
        status, payload = self._answer(call)
        call.status = status
        self._record(call)
        return status, payload

    def _record(self, call: Call) -> None:
        """Keep the call, wake :meth:`wait_for`, tell the listeners."""
        with self._cond:
            self.calls.append(call)
            self._cond.notify_all()
            listeners = list(self._listeners)
        for listener in listeners:
            listener(call)

    def _take_delay(self, method: str) -> float:
        with self._cond:
            for i, (delayed, seconds) in enumerate(self._delays):
                if delayed == method:
                    del self._delays[i]
                    return seconds
        return 0.0

    def _take_failure(self, call: Call) -> tuple[int, dict[str, Any]] | None:
        keys = [call.method]
        if str(call.get("parse_mode", "")).upper() == "HTML":
            keys.append(call.method + "#HTML")
        with self._cond:
            for i, (method, status, body) in enumerate(self._failures):
                if method in keys:
                    del self._failures[i]
                    return status, body
        return None

    def _answer(self, call: Call) -> tuple[int, dict[str, Any]]:
        failure = self._take_failure(call)
        if failure is not None:
            return failure
        method, p = call.method, call.params
        if method in MESSAGE_METHODS:
            problem = self._check_message(p, method)
            if problem:
                return 400, {"ok": False, "error_code": 400, "description": f"Bad Request: {problem}"}
        if method == "getMe":
            return 200, {"ok": True, "result": {**self.bot_user, "can_join_groups": True,
                                                 "can_read_all_group_messages": False,
                                                 "supports_inline_queries": False}}  # fmt: skip
        if method in ("sendMessage", "editMessageText"):
            chat_id = int(p["chat_id"])
            visible = (
                parse_html(str(p.get("text", "")))[0] if p.get("parse_mode") == "HTML" else p.get("text", "")
            )
            result = {
                "message_id": int(p["message_id"])
                if method == "editMessageText"
                else next(self._message_ids),
                "date": int(time.time()),
                "chat": self._chats.get(chat_id) or self.chat(chat_id),
                "from": self.bot_user,
                "text": visible,
            }
            if p.get("reply_markup"):
                result["reply_markup"] = p["reply_markup"]
            return 200, {"ok": True, "result": result}
        if method == "getWebhookInfo":
            return 200, {
                "ok": True,
                "result": {"url": "", "has_custom_certificate": False, "pending_update_count": 0},
            }
        # sendChatAction, answerCallbackQuery, setMyCommands, deleteWebhook, editMessageReplyMarkup, …
        return 200, {"ok": True, "result": True}

    @staticmethod
    def _check_message(p: dict[str, Any], method: str) -> str:
        text = str(p.get("text", ""))
        if method != "editMessageReplyMarkup":
            if p.get("parse_mode") == "HTML":
                text, error = parse_html(text)
                if error:
                    return error
            if not text.strip():
                return "message text is empty"
            if utf16_len(text) > 4096:
                return "message is too long"
        for row in (p.get("reply_markup") or {}).get("inline_keyboard", []):
            for button in row:
                if len(str(button.get("callback_data", "")).encode()) > 64:
                    return "BUTTON_DATA_INVALID"
        return ""

    def _get_updates(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(p.get("offset") or 0)
        timeout = min(float(p.get("timeout") or 0), 5.0)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                if offset:  # confirming earlier updates drops them, as Telegram does
                    self._updates = [u for u in self._updates if u["update_id"] >= offset]
                pending = [u for u in self._updates if u["update_id"] >= offset]
                left = deadline - time.monotonic()
                if pending or left <= 0 or self._closing:
                    return pending[: int(p.get("limit") or 100)]
                self._cond.wait(left)

    def iter_calls(self) -> Iterator[Call]:
        with self._cond:
            yield from list(self.calls)
