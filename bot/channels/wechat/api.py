"""The two WeChat endpoints the channel calls: the access token and the customer-service message.

* ``GET /cgi-bin/token?grant_type=client_credential&appid=…&secret=…`` →
  ``{"access_token": …, "expires_in": 7200}``. The token is cached until shortly before it expires
  and fetched once however many sends are waiting for it.
* ``POST /cgi-bin/message/custom/send?access_token=…`` with
  ``{"touser": openid, "msgtype": "text", "text": {"content": …}}`` → ``{"errcode": 0}``. The body
  is UTF-8 JSON with the characters themselves (WeChat shows ``\\uXXXX`` escapes literally).
  On 40001 / 40014 / 42001 (the token was invalidated or expired early) the token is fetched again
  and the message sent once more.

Written on httpx rather than wechatpy's ``WeChatClient``: that client is synchronous (requests),
has WeChat's token URL built in, and retries token errors without bound. The access token is in
every URL, so httpx's request log must stay off (see ``app.serve``) and errors never name the URL.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx

from bot.channels.wechat.env import WeChatEnv

logger = logging.getLogger(__name__)

TOKEN_ERRORS = frozenset({40001, 40014, 42001})  # invalid credential, invalid token, token expired
TOKEN_MARGIN_SECONDS = 300.0  # fetch a new token this long before WeChat says the old one expires
# Errors after which the remaining parts of an answer are not sent either.
OUT_OF_QUOTA = 45047  # out of response count limit (5 messages per user message, 3 per subscribe)
OUT_OF_TIME = 45015  # response out of time limit (48 hours after the resident's last message)


class WeChatAPIError(Exception):
    """WeChat answered with a non-zero errcode (or not with JSON at all)."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"errcode {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class CustomerService:
    """Sends text messages to a resident outside a passive reply. One per app; close it with ``aclose``."""

    def __init__(
        self,
        env: WeChatEnv,
        *,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        if not env.has_api:
            raise ValueError("the customer-service API needs WECHAT_APP_ID and WECHAT_APP_SECRET")
        self.env = env
        self._clock = clock
        self._http = client or httpx.AsyncClient(timeout=timeout, trust_env=False)
        self._token = ""
        self._expires = 0.0
        self._lock = asyncio.Lock()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = await self._http.request(method, self.env.api_base_url + path, **kwargs)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:  # its message may hold the URL and the token
            raise WeChatAPIError(-1, f"{type(exc).__name__} calling {path}") from None
        try:
            data = response.json()
        except ValueError:
            raise WeChatAPIError(-1, f"HTTP {response.status_code} from {path}, not JSON") from None
        if not isinstance(data, dict):
            raise WeChatAPIError(-1, f"unexpected reply from {path}")
        errcode = int(data.get("errcode") or 0)
        if errcode:
            raise WeChatAPIError(errcode, str(data.get("errmsg", "")))
        return data

    async def access_token(self, *, stale: str = "") -> str:
        """A valid access token; ``stale`` is one WeChat just refused (fetched anew unless already replaced)."""
        async with self._lock:
            if self._token and self._token != stale and self._clock() < self._expires:
                return self._token
            data = await self._call(
                "GET",
                "/cgi-bin/token",
                params={
                    "grant_type": "client_credential",
                    "appid": self.env.app_id,
                    "secret": self.env.app_secret,
                },
            )
            token = str(data.get("access_token") or "")
            if not token:
                raise WeChatAPIError(-1, "no access_token in the token reply")
            lifetime = float(data.get("expires_in") or 7200)
            self._token = token
            self._expires = self._clock() + max(lifetime - TOKEN_MARGIN_SECONDS, lifetime / 2)
            logger.info("fetched a WeChat access token valid for %.0f s", lifetime)
            return token

    async def send_text(self, openid: str, content: str) -> None:
        """Send one text message (already within WeChat's byte limit); WeChatAPIError when refused."""
        body = json.dumps(
            {"touser": openid, "msgtype": "text", "text": {"content": content}}, ensure_ascii=False
        ).encode("utf-8")
        headers = {"content-type": "application/json; charset=utf-8"}
        token = await self.access_token()
        for attempt in (1, 2):
            try:
                await self._call(
                    "POST",
                    "/cgi-bin/message/custom/send",
                    params={"access_token": token},
                    content=body,
                    headers=headers,
                )
                return
            except WeChatAPIError as exc:
                if exc.errcode not in TOKEN_ERRORS or attempt == 2:
                    raise
                logger.info("WeChat refused the access token (errcode %d); fetching a new one", exc.errcode)
                token = await self.access_token(stale=token)
