"""A fake WeChat (微信公众平台) for tests: both sides of what WeChat does with a 公众号 server.

* As WeChat's push service it calls our callback URL as WeChat does: the URL-verification GET
  (``signature``, ``timestamp``, ``nonce``, ``echostr``), and each resident's message as an XML
  POST, signed and, in 安全模式, AES-encrypted with ``msg_signature`` and ``encrypt_type=aes``. It
  waits 5 s for each try, then tries again with the same MsgId (three tries in all), and checks
  the reply as WeChat would: ``success`` or an empty body means "nothing to show"; XML must be
  (in 安全模式) a correctly signed envelope that decrypts for this AppID, addressed to the resident
  from the account, a text of at most 2048 bytes. Anything else is what a resident sees as
  "该公众号暂时无法提供服务" and is recorded in ``Push.problems``.
* As WeChat's API it serves ``/cgi-bin/token`` and ``/cgi-bin/message/custom/send`` on 127.0.0.1
  (stdlib ``ThreadingHTTPServer``) with WeChat's JSON and error codes: 40013 wrong AppID, 40001
  wrong secret or unknown token, 42001 expired token, 47001 bad JSON, 40003 unknown openid,
  45002 content over 2048 bytes, 45015 outside the 48-hour window, 45047 past the 5 messages a
  resident's message allows (3 within a minute after subscribing). Tests can expire or invalidate
  the tokens and make the next sends fail with a chosen errcode.

The AES envelope is implemented here from WeChat's description (AES-256-CBC, IV = first 16 key bytes,
PKCS#7 to 32-byte blocks, 16 random bytes + 4-byte network-order length + XML + AppID), not with
wechatpy, so a mistake in how the bot uses wechatpy is not mirrored on this side.

    with FakeWeChat(token="tok", aes_key=key, app_id="wx123") as wx:
        wx.callback_url = "http://127.0.0.1:8082/wechat"
        push = wx.send_text("结婚登记要带什么材料？")
        assert "身份证" in push.reply
"""

from __future__ import annotations

import itertools
import json
import re
import secrets
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx

from bot.testing.wechat_envelope import Envelope, _fields, _xml, sign

REPLY_TIMEOUT = 5.0  # WeChat waits this long for each try
TRIES = 3  # tries per message
TEXT_MAX_BYTES = 2048  # one text: a passive reply's Content or a customer-service message
TOKEN_LIFETIME = 7200
QUOTA_AFTER_MESSAGE = (5, 48 * 3600.0)  # customer-service messages allowed, and for how long
QUOTA_AFTER_SUBSCRIBE = (3, 60.0)
DEFAULT_OPENID = "oResident-0001-abcdefghijk"
ACCOUNT = "gh_shanwei_mz"


@dataclass
class Attempt:
    status: int | None  # None: no response within 5 s
    seconds: float
    body: str = ""


@dataclass
class Push:
    """One message WeChat delivered to the bot (all its tries) and what the resident saw in reply."""

    fields: dict[str, Any]
    attempts: list[Attempt] = field(default_factory=list)
    reply: str = ""  # the passive reply's text, "" when there was none
    reply_fields: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def answered_passively(self) -> bool:
        return bool(self.reply)

    @property
    def seconds(self) -> float:
        return self.attempts[-1].seconds if self.attempts else 0.0


@dataclass
class Sent:
    """One call to the customer-service API."""

    openid: str
    content: str  # as the resident sees it
    raw: bytes
    errcode: int
    at: float = field(default_factory=time.monotonic)


class _Server(ThreadingHTTPServer):
    daemon_threads = True


class FakeWeChat:
    """The fake. Set ``callback_url`` to the bot's /wechat; ``api_base_url`` is WECHAT_API_BASE_URL."""

    def __init__(
        self,
        *,
        token: str = "shanwei-test-token",
        aes_key: str | None = None,
        app_id: str = "wx5ca1ab1e00000001",
        app_secret: str = "test-app-secret-0123456789abcdef",
        account: str = ACCOUNT,
    ) -> None:
        self.token = token
        self.aes_key = aes_key
        self.app_id = app_id
        self.app_secret = app_secret
        self.account = account
        self.envelope = Envelope(aes_key, app_id) if aes_key else None
        self.callback_url = ""
        self.pushes: list[Push] = []
        self.sent: list[Sent] = []
        self.token_fetches = 0
        self._tokens: dict[str, float] = {}  # token → expiry (monotonic)
        self._quota: dict[str, tuple[int, float]] = {}  # openid → (messages left, until)
        self._inbox: dict[str, list[str]] = {}
        self._failures: list[tuple[int, str]] = []
        self._fail_after = 0
        self._msg_ids = itertools.count(24_000_000_000_000_001)
        self._cond = threading.Condition()
        self._server = _Server(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-wechat", daemon=True)
        self._http = httpx.Client(timeout=REPLY_TIMEOUT, trust_env=False)

    def __enter__(self) -> FakeWeChat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._http.close()

    @property
    def api_base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def environ(self) -> dict[str, str]:
        """The bot's environment for this account."""
        env = {
            "WECHAT_TOKEN": self.token,
            "WECHAT_APP_ID": self.app_id,
            "WECHAT_APP_SECRET": self.app_secret,
            "WECHAT_API_BASE_URL": self.api_base_url,
        }
        if self.aes_key:
            env["WECHAT_ENCODING_AES_KEY"] = self.aes_key
        return env

    # --- the handshake -------------------------------------------------------------------------------

    def signed_query(
        self, *, timestamp: int | None = None, nonce: str | None = None, token: str | None = None
    ) -> dict[str, str]:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        nonce = nonce or str(secrets.randbelow(10**10))
        return {"signature": sign(token or self.token, ts, nonce), "timestamp": ts, "nonce": nonce}

    def verify_url(self, *, encrypted: bool = False, **query: Any) -> httpx.Response:
        """The GET the 公众号 console sends when the URL is saved. ``encrypted``: echostr encrypted and
        signed with msg_signature (企业微信 / third-party platform style)."""
        params = self.signed_query()
        echostr = str(secrets.randbelow(10**18))
        if encrypted:
            assert self.envelope is not None
            cipher = self.envelope.encrypt(echostr)
            params = {
                "msg_signature": sign(self.token, params["timestamp"], params["nonce"], cipher),
                "timestamp": params["timestamp"],
                "nonce": params["nonce"],
                "echostr": cipher,
            }
        else:
            params["echostr"] = echostr
        params.update({k: str(v) for k, v in query.items()})
        response = self._http.get(self.callback_url, params=params)
        response.expected_echo = echostr  # type: ignore[attr-defined]
        return response

    # --- pushing messages ----------------------------------------------------------------------------

    def message(self, msg_type: str, *, openid: str = DEFAULT_OPENID, **extra: Any) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "ToUserName": self.account,
            "FromUserName": openid,
            "CreateTime": int(time.time()),
            "MsgType": msg_type,
        }
        fields.update(extra)
        if msg_type != "event" and "MsgId" not in fields:
            fields["MsgId"] = next(self._msg_ids)
        return fields

    def send_text(self, content: str, **kw: Any) -> Push:
        openid = kw.pop("openid", DEFAULT_OPENID)
        return self.push(self.message("text", openid=openid, Content=content), **kw)

    def send_voice(self, recognition: str | None, **kw: Any) -> Push:
        openid = kw.pop("openid", DEFAULT_OPENID)
        extra = {"MediaId": "media-" + secrets.token_hex(8), "Format": "amr"}
        if recognition is not None:
            extra["Recognition"] = recognition
        return self.push(self.message("voice", openid=openid, **extra), **kw)

    def send_location(self, lat: float, lon: float, label: str = "", **kw: Any) -> Push:
        openid = kw.pop("openid", DEFAULT_OPENID)
        msg = self.message("location", openid=openid, Location_X=lat, Location_Y=lon, Scale=15, Label=label)
        return self.push(msg, **kw)

    def send_image(self, **kw: Any) -> Push:
        openid = kw.pop("openid", DEFAULT_OPENID)
        msg = self.message(
            "image",
            openid=openid,
            PicUrl="http://mmbiz.qpic.cn/x.jpg",
            MediaId="media-" + secrets.token_hex(8),
        )
        return self.push(msg, **kw)

    def send_event(self, event: str, **kw: Any) -> Push:
        openid = kw.pop("openid", DEFAULT_OPENID)
        return self.push(self.message("event", openid=openid, Event=event, EventKey=""), **kw)

    def push(
        self,
        fields: dict[str, Any],
        *,
        retries: bool = True,
        tries: int | None = None,
        timestamp: int | None = None,
        nonce: str | None = None,
        token: str | None = None,
        body: bytes | None = None,
    ) -> Push:
        """Deliver one message as WeChat does: up to three tries (or ``tries`` in a row regardless of
        the replies, as when WeChat did not get them), each waiting 5 s; check the reply."""
        record = Push(fields)
        openid = str(fields["FromUserName"])
        self._grant(openid, fields)
        plain = _xml(fields)
        count = tries if tries is not None else (TRIES if retries else 1)
        for _ in range(count):
            query = self.signed_query(timestamp=timestamp, nonce=nonce, token=token)
            payload = body if body is not None else self._seal(plain)
            if self.envelope is not None:
                try:
                    encrypted = _fields(payload.decode()).get("Encrypt", "")
                except (ET.ParseError, UnicodeDecodeError):
                    encrypted = ""
                query["encrypt_type"] = "aes"
                query["msg_signature"] = sign(
                    token or self.token, query["timestamp"], query["nonce"], encrypted
                )
            query["openid"] = openid
            started = time.monotonic()
            try:
                response = self._http.post(
                    self.callback_url, params=query, content=payload, headers={"content-type": "text/xml"}
                )
            except httpx.TimeoutException:
                record.attempts.append(Attempt(None, time.monotonic() - started))
                continue
            seconds = time.monotonic() - started
            record.attempts.append(Attempt(response.status_code, seconds, response.text))
            if response.status_code != 200:
                record.problems.append(f"HTTP {response.status_code}: {response.text[:100]}")
                break
            self._check_reply(record, response.text, openid)
            if tries is None:
                break
        else:
            if tries is None and all(a.status is None for a in record.attempts):
                record.problems.append("no reply within 5 s in any of the tries")
        self.pushes.append(record)
        return record

    def _seal(self, plain: str) -> bytes:
        if self.envelope is None:
            return plain.encode()
        to_user = _fields(plain)["ToUserName"]
        return _xml({"ToUserName": to_user, "Encrypt": self.envelope.encrypt(plain)}).encode()

    def _check_reply(self, record: Push, text: str, openid: str) -> None:
        """What WeChat makes of a reply: nothing, a text for the resident, or an error."""
        if text in ("", "success"):
            return
        try:
            fields = _fields(text)
            if self.envelope is not None:
                signature = sign(self.token, fields["TimeStamp"], fields["Nonce"], fields["Encrypt"])
                if signature != fields.get("MsgSignature"):
                    record.problems.append("reply MsgSignature is wrong")
                    return
                inner, app_id = self.envelope.decrypt(fields["Encrypt"])
                if app_id != self.app_id:
                    record.problems.append(f"reply encrypted for AppID {app_id!r}")
                    return
                fields = _fields(inner)
        except (ET.ParseError, KeyError, ValueError) as exc:
            record.problems.append(f"reply is not a valid message: {exc}")
            return
        if fields.get("ToUserName") != openid or fields.get("FromUserName") != self.account:
            record.problems.append("reply is not addressed from the account to the resident")
            return
        if fields.get("MsgType") != "text":
            record.problems.append(f"reply MsgType {fields.get('MsgType')!r}")
            return
        if not fields.get("CreateTime", "").isdigit() or abs(int(fields["CreateTime"]) - time.time()) > 60:
            record.problems.append("reply CreateTime is not now")
        content = fields.get("Content", "")
        if len(content.encode()) > TEXT_MAX_BYTES:
            record.problems.append(f"reply Content is {len(content.encode())} bytes")
            return
        if record.reply and record.reply != content:
            record.problems.append("two tries of one message got different replies")
        if not record.reply:
            self._deliver(openid, content)
        record.reply, record.reply_fields = content, fields

    # --- what the resident sees ----------------------------------------------------------------------

    def _deliver(self, openid: str, content: str) -> None:
        with self._cond:
            self._inbox.setdefault(openid, []).append(content)
            self._cond.notify_all()

    def inbox(self, openid: str = DEFAULT_OPENID) -> list[str]:
        with self._cond:
            return list(self._inbox.get(openid, []))

    def wait_for_sent(self, count: int, timeout: float = 20.0) -> list[Sent]:
        """Wait until ``count`` customer-service calls have been made (whatever their errcode)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.sent) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(self.sent)} customer-service calls, expected {count}")
                self._cond.wait(left)
            return list(self.sent)

    # --- controlling the API -------------------------------------------------------------------------

    def expire_tokens(self) -> None:
        """Every token issued so far expires now (the next use gets 42001)."""
        with self._cond:
            for t in self._tokens:
                self._tokens[t] = 0.0

    def invalidate_tokens(self) -> None:
        """Every token issued so far becomes unknown (as when another server fetched a new one: 40001)."""
        with self._cond:
            self._tokens.clear()

    def fail_next(self, errcode: int, errmsg: str, times: int = 1, after: int = 0) -> None:
        """The next ``times`` customer-service sends fail with ``errcode`` (after ``after`` that succeed)."""
        with self._cond:
            self._failures += [(errcode, errmsg)] * times
            self._fail_after = after

    def open_window(self, openid: str) -> None:
        """As if ``openid`` had just sent a message: 5 customer-service messages within 48 hours."""
        self._grant(openid, {"MsgType": "text"})

    def _grant(self, openid: str, fields: dict[str, Any]) -> None:
        """A resident's message opens the customer-service window (5 messages, 48 h); subscribing, 3 in 1 min."""
        if fields.get("MsgType") == "event":
            if fields.get("Event") not in ("subscribe",):
                return
            count, seconds = QUOTA_AFTER_SUBSCRIBE
        else:
            count, seconds = QUOTA_AFTER_MESSAGE
        with self._cond:
            self._quota[openid] = (count, time.monotonic() + seconds)

    def _api(self, method: str, path: str, query: dict[str, str], raw: bytes) -> dict[str, Any]:
        with self._cond:
            if path == "/cgi-bin/token" and method == "GET":
                self.token_fetches += 1
                if query.get("grant_type") != "client_credential":
                    return {"errcode": 40002, "errmsg": "invalid grant_type"}
                if query.get("appid") != self.app_id:
                    return {"errcode": 40013, "errmsg": "invalid appid"}
                if query.get("secret") != self.app_secret:
                    return {
                        "errcode": 40001,
                        "errmsg": "invalid credential, access_token is invalid or not latest",
                    }
                token = "ACCESS_TOKEN_" + secrets.token_urlsafe(24)
                self._tokens[token] = time.monotonic() + TOKEN_LIFETIME
                return {"access_token": token, "expires_in": TOKEN_LIFETIME}
            if path == "/cgi-bin/message/custom/send" and method == "POST":
                return self._custom_send(query, raw)
            return {"errcode": 404, "errmsg": f"no such API {method} {path}"}

    def _custom_send(self, query: dict[str, str], raw: bytes) -> dict[str, Any]:
        token = query.get("access_token", "")
        try:
            data = json.loads(raw.decode("utf-8"))
            openid = str(data["touser"])
            kind = data["msgtype"]
            content = str(data["text"]["content"]) if kind == "text" else ""
        except (ValueError, KeyError, TypeError):
            openid, content, kind, data = "", "", "", None
        # WeChat shows \uXXXX escapes as they are: the body must carry the characters themselves.
        shown = json.dumps(content)[1:-1] if re.search(rb"\\u[0-9a-fA-F]{4}", raw) else content
        errcode, errmsg = self._check_send(token, data, openid, kind, content)
        self.sent.append(Sent(openid, shown, raw, errcode))
        if errcode == 0:
            self._inbox.setdefault(openid, []).append(shown)
        self._cond.notify_all()
        return {"errcode": errcode, "errmsg": errmsg}

    def _check_send(self, token: str, data: Any, openid: str, kind: str, content: str) -> tuple[int, str]:
        if token not in self._tokens:
            return 40001, "invalid credential, access_token is invalid or not latest"
        if self._tokens[token] <= time.monotonic():
            return 42001, "access_token expired"
        if data is None:
            return 47001, "data format error"
        if self._failures:
            if self._fail_after <= 0:
                return self._failures.pop(0)
            self._fail_after -= 1
        if openid not in self._quota:
            return 40003, "invalid openid"
        if kind != "text":
            return 40008, "invalid message type"
        if len(content.encode()) > TEXT_MAX_BYTES:
            return 45002, "content size out of limit"
        left, until = self._quota[openid]
        if time.monotonic() > until:
            return 45015, "response out of time limit or subscription is canceled"
        if left <= 0:
            return 45047, "out of response count limit"
        self._quota[openid] = (left - 1, until)
        return 0, "ok"

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _serve(self, method: str) -> None:
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.dumps(fake._api(method, url.path, query, raw), ensure_ascii=False).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json; charset=utf-8")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

        return Handler


def iter_texts(pushes: list[Push]) -> Iterator[str]:
    for p in pushes:
        if p.reply:
            yield p.reply
