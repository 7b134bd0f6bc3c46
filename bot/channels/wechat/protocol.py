"""The 公众号 server protocol over wechatpy: signatures, 安全模式 AES, parsing messages, rendering replies.

What WeChat does, and what is checked here:

* Every request to the callback URL carries ``signature`` = SHA-1 of the sorted token, ``timestamp``
  and ``nonce``. The URL-verification GET adds ``echostr``, which is echoed back when the signature is
  right. (The 公众号 sends ``echostr`` in plain text in every mode; a GET that carries ``msg_signature``
  instead, as 企业微信 and third-party platforms send it, has ``echostr`` encrypted: it is checked
  and decrypted.)
* A message is an XML POST. In 安全模式 (an EncodingAESKey is set) the XML holds ``<Encrypt>``:
  AES-256-CBC of (16 random bytes, length, XML, AppID), and the query carries ``msg_signature`` =
  SHA-1 of the sorted token, timestamp, nonce and ciphertext. Replies are encrypted and signed the
  same way.
* Replays: a timestamp further than ``max_clock_skew_seconds`` from our clock is refused. In 明文模式
  the signature does not cover the body, so a (timestamp, nonce) seen before with another body is
  refused too; the same body again is WeChat retrying, which the app answers from its cache.

wechatpy (1.8.18) does the hashing (``WeChatSigner``), the AES envelope (``WeChatCrypto``), parsing
(``parse_message``) and rendering (``create_reply``). Signatures are compared here in constant time,
and a reply's CreateTime is set explicitly (wechatpy's default is the time it was imported).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from wechatpy import create_reply, parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.utils import WeChatSigner

from bot.channels.wechat.env import WeChatEnv

logger = logging.getLogger(__name__)

SUCCESS = "success"  # the reply that tells WeChat "received, nothing to show, do not retry"
MAX_NONCES = 50_000


class Refused(Exception):
    """A request that is not (or not provably) from WeChat; ``reason`` is for the log only."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BadMessage(Exception):
    """A signed request whose XML cannot be read as a WeChat message."""


@dataclass(frozen=True)
class Inbound:
    """One message or event from a resident, as the handlers need it."""

    kind: str  # "text" | "voice" | "location" | "image" | ... | "event"
    openid: str  # FromUserName: the resident, per 公众号 (never logged, never stored raw)
    account: str  # ToUserName: the 公众号's original id (gh_…)
    created: int  # CreateTime, epoch seconds
    msg_id: str = ""  # MsgId (messages only)
    text: str = ""  # Content of a text message, Recognition of a voice message
    lat: float | None = None
    lon: float | None = None
    event: str = ""  # for kind == "event": subscribe, unsubscribe, click, …

    @property
    def dedup_key(self) -> str:
        """What identifies WeChat's retries of this message: MsgId, or sender + CreateTime for events."""
        if self.msg_id:
            return f"msg:{self.msg_id}"
        return f"event:{self.openid}:{self.created}:{self.event}"


def sign(*parts: str) -> str:
    """WeChat's signature: SHA-1 of the parts sorted and joined (wechatpy's signer)."""
    signer = WeChatSigner()
    signer.add_data(*parts)
    return str(signer.signature)


def _same(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.strip().lower().encode())


class Protocol:
    """Checks and opens what WeChat sends; seals what we send back. Safe to share between requests."""

    def __init__(
        self, env: WeChatEnv, *, max_skew: float = 300.0, clock: Callable[[], float] = time.time
    ) -> None:
        self.env = env
        self.max_skew = max_skew
        self._clock = clock
        self._crypto: Any = WeChatCrypto(env.token, env.aes_key, env.app_id) if env.safe_mode else None
        self._nonces: dict[tuple[str, str], tuple[float, str]] = {}
        self._lock = threading.Lock()

    # --- checking requests -----------------------------------------------------------------------

    def _fresh(self, query: Mapping[str, str]) -> tuple[str, str]:
        timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
        if not timestamp.isdigit() or not nonce:
            raise Refused("no timestamp or nonce")
        if abs(self._clock() - int(timestamp)) > self.max_skew:
            raise Refused("stale timestamp")
        return timestamp, nonce

    def _check_signature(self, query: Mapping[str, str], timestamp: str, nonce: str) -> None:
        if not _same(sign(self.env.token, timestamp, nonce), query.get("signature", "")):
            raise Refused("bad signature")

    def _check_nonce(self, timestamp: str, nonce: str, body: bytes) -> None:
        """A (timestamp, nonce) seen with another body is a forgery: the signature did not cover the body."""
        digest = hashlib.sha256(body).hexdigest()
        now = self._clock()
        with self._lock:
            if len(self._nonces) > MAX_NONCES:
                cutoff = now - 2 * self.max_skew
                self._nonces = {k: v for k, v in self._nonces.items() if v[0] >= cutoff}
            seen = self._nonces.setdefault((timestamp, nonce), (now, digest))
        if seen[1] != digest:
            raise Refused("nonce reused with another body")

    def verify_url(self, query: Mapping[str, str]) -> str:
        """The echostr to send back to the URL-verification GET, or Refused."""
        timestamp, nonce = self._fresh(query)
        echostr = query.get("echostr", "")
        if not echostr:
            raise Refused("no echostr")
        if "msg_signature" in query and self._crypto is not None:
            if not _same(sign(self.env.token, timestamp, nonce, echostr), query["msg_signature"]):
                raise Refused("bad msg_signature")
            try:
                return str(
                    self._crypto.decrypt_message(
                        {"Encrypt": echostr}, query["msg_signature"], timestamp, nonce
                    )
                )
            except (InvalidSignatureException, InvalidAppIdException, ValueError) as exc:
                raise Refused(f"echostr does not decrypt: {type(exc).__name__}") from None
        self._check_signature(query, timestamp, nonce)
        return echostr

    def open(self, query: Mapping[str, str], body: bytes) -> str:
        """The message XML of a signed POST (decrypted in 安全模式), or Refused / BadMessage."""
        timestamp, nonce = self._fresh(query)
        self._check_signature(query, timestamp, nonce)
        if self._crypto is None:
            self._check_nonce(timestamp, nonce, body)
            return body.decode("utf-8", errors="replace")
        msg_signature = query.get("msg_signature", "")
        if not msg_signature:
            raise Refused("安全模式 message without msg_signature")
        try:
            import xmltodict

            envelope = xmltodict.parse(body)["xml"]
            encrypted = envelope["Encrypt"]
        except Exception:
            raise BadMessage("no <Encrypt> in a 安全模式 message") from None
        if not isinstance(encrypted, str) or not _same(
            sign(self.env.token, timestamp, nonce, encrypted), msg_signature
        ):
            raise Refused("bad msg_signature")
        try:
            return str(self._crypto.decrypt_message({"Encrypt": encrypted}, msg_signature, timestamp, nonce))
        except InvalidAppIdException:
            raise Refused("encrypted for another AppID") from None
        except InvalidSignatureException:
            raise Refused("bad msg_signature") from None
        except Exception:
            raise BadMessage("Encrypt does not decrypt") from None

    # --- reading messages ------------------------------------------------------------------------

    @staticmethod
    def parse(xml: str) -> Inbound:
        """The message or event in ``xml``, or BadMessage."""
        try:
            message = parse_message(xml)
            # The raw fields: wechatpy maps types and events it does not know to one "unknown".
            raw: dict[str, Any] = message._data
            kind = str(raw.get("MsgType") or "").lower()
            openid, account = str(message.source or ""), str(message.target or "")
            created = int(message.time or 0)
            msg_id = str(raw.get("MsgId") or "").strip()
        except Exception:
            raise BadMessage("not a WeChat message") from None
        if not openid or not kind:
            raise BadMessage("no FromUserName or MsgType")
        base = Inbound(kind, openid, account, created, msg_id)
        if kind in ("text", "voice"):  # a voice message's text is WeChat's recognition of it
            return replace(base, text=str((message.content if kind == "text" else message.recognition) or ""))
        if kind == "location":
            try:
                lat, lon = float(message.location_x), float(message.location_y)
            except (TypeError, ValueError):
                raise BadMessage("location without coordinates") from None
            return replace(base, lat=lat, lon=lon)
        if kind == "event":
            return replace(base, event=str(raw.get("Event") or "").lower())
        return base

    # --- replying --------------------------------------------------------------------------------

    def reply(self, inbound: Inbound, text: str, nonce: str) -> str:
        """A passive text reply to ``inbound``: XML, encrypted and signed in 安全模式."""
        # CDATA cannot hold "]]>": split it across two sections so the text arrives unchanged.
        content = text.replace("]]>", "]]]]><![CDATA[>")
        reply = create_reply(content, None)
        reply.source, reply.target, reply.time = inbound.account, inbound.openid, int(self._clock())
        xml = str(reply.render())
        if self._crypto is None:
            return xml
        return str(self._crypto.encrypt_message(xml, nonce, str(int(self._clock()))))
