"""The 公众号's token, keys and endpoints, read from the environment only (never config.toml).

* ``WECHAT_TOKEN``: the 令牌 (Token) of 基本配置 → 服务器配置; every request WeChat sends is signed with it.
* ``WECHAT_ENCODING_AES_KEY``: the 43-character EncodingAESKey. Set means 安全模式: messages arrive
  AES-encrypted and replies are encrypted and signed. Unset means 明文模式.
* ``WECHAT_APP_ID`` / ``WECHAT_APP_SECRET``: the account's AppID and AppSecret. The AppID is part of
  every 安全模式 message; both are needed for the customer-service message API (answers that miss
  WeChat's 5-second reply window, and answers too long for one reply).
* ``WECHAT_API_BASE_URL``: where the access-token and customer-service endpoints live (WeChat's own
  by default; a test's fake WeChat server otherwise).
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from dataclasses import dataclass

from bot.channels.wechat.deps import UserError

DEFAULT_API_BASE = "https://api.weixin.qq.com"
TOKEN_ENV = "WECHAT_TOKEN"
AES_KEY_ENV = "WECHAT_ENCODING_AES_KEY"
APP_ID_ENV = "WECHAT_APP_ID"
APP_SECRET_ENV = "WECHAT_APP_SECRET"
API_BASE_ENV = "WECHAT_API_BASE_URL"
AES_KEY_CHARS = 43  # base64 of 32 bytes without its trailing "="


@dataclass(frozen=True)
class WeChatEnv:
    token: str
    aes_key: str = ""  # empty: 明文模式
    app_id: str = ""
    app_secret: str = ""
    api_base_url: str = DEFAULT_API_BASE

    def __repr__(self) -> str:  # never print the secrets
        return f"WeChatEnv(safe_mode={self.safe_mode}, app_id={self.app_id!r}, api={self.api_base_url!r})"

    @property
    def safe_mode(self) -> bool:
        return bool(self.aes_key)

    @property
    def has_api(self) -> bool:
        """Whether the customer-service message API can be called (AppID and AppSecret are known)."""
        return bool(self.app_id and self.app_secret)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> WeChatEnv:
        """The settings from the environment, or a UserError naming what is missing or malformed."""
        env = os.environ if environ is None else environ
        token = env.get(TOKEN_ENV, "").strip()
        if not token:
            raise UserError(f"没有设置 {TOKEN_ENV}（公众号后台“基本配置 → 服务器配置”里填写的令牌 Token）")
        aes_key = env.get(AES_KEY_ENV, "").strip()
        app_id = env.get(APP_ID_ENV, "").strip()
        if aes_key:
            check_aes_key(aes_key)
            if not app_id:
                raise UserError(f"安全模式（设置了 {AES_KEY_ENV}）还需要 {APP_ID_ENV}（公众号的 AppID）")
        base = (env.get(API_BASE_ENV) or DEFAULT_API_BASE).strip().rstrip("/")
        if not base.startswith(("http://", "https://")):
            raise UserError(f"{API_BASE_ENV} 应以 http:// 或 https:// 开头")
        return cls(token, aes_key, app_id, env.get(APP_SECRET_ENV, "").strip(), base)


def check_aes_key(key: str) -> None:
    """An EncodingAESKey is 43 base64 characters that decode (with "=") to a 32-byte AES key."""
    try:
        raw = base64.b64decode(key + "=", validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(key) != AES_KEY_CHARS or len(raw) != 32:
        raise UserError(f"{AES_KEY_ENV} 应为 {AES_KEY_CHARS} 位字符（公众号后台生成的 EncodingAESKey）")
