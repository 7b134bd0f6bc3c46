"""WeChat's message envelope as the fake WeChat writes and reads it: signatures, the AES 安全模式
envelope and the XML fields, implemented from WeChat's description (AES-256-CBC, IV = the first 16
key bytes, PKCS#7 to 32-byte blocks, 16 random bytes + 4-byte network-order length + XML + AppID),
not with wechatpy, so a mistake in how the bot uses wechatpy is not mirrored on this side.
"""

from __future__ import annotations

import base64
import hashlib
import os
import struct
import xml.etree.ElementTree as ET
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def sign(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def new_aes_key() -> str:
    """A random EncodingAESKey: 43 characters of base64."""
    return base64.b64encode(os.urandom(32)).decode().rstrip("=")


# --- the AES envelope, from WeChat's description -----------------------------------------------------


class Envelope:
    def __init__(self, aes_key: str, app_id: str) -> None:
        self.key = base64.b64decode(aes_key + "=")
        assert len(self.key) == 32
        self.app_id = app_id

    def _cipher(self) -> Cipher[modes.CBC]:
        return Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16]))

    def encrypt(self, text: str, app_id: str | None = None) -> str:
        raw = text.encode()
        plain = os.urandom(16) + struct.pack(">I", len(raw)) + raw + (app_id or self.app_id).encode()
        pad = 32 - len(plain) % 32
        plain += bytes([pad]) * pad
        enc = self._cipher().encryptor()
        return base64.b64encode(enc.update(plain) + enc.finalize()).decode()

    def decrypt(self, b64: str) -> tuple[str, str]:
        """(text, app id) of an envelope."""
        dec = self._cipher().decryptor()
        plain = dec.update(base64.b64decode(b64)) + dec.finalize()
        pad = plain[-1]
        if not 1 <= pad <= 32 or plain[-pad:] != bytes([pad]) * pad:
            raise ValueError("bad PKCS#7 padding")
        body = plain[16:-pad]
        (length,) = struct.unpack(">I", body[:4])
        return body[4 : 4 + length].decode(), body[4 + length :].decode()


def _xml(fields: dict[str, Any]) -> str:
    parts = []
    for name, value in fields.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            parts.append(f"<{name}>{value}</{name}>")
        else:
            parts.append(f"<{name}><![CDATA[{value}]]></{name}>")
    return "<xml>" + "".join(parts) + "</xml>"


def _fields(xml: str) -> dict[str, str]:
    root = ET.fromstring(xml)
    if root.tag != "xml":
        raise ValueError(f"root element is <{root.tag}>, not <xml>")
    return {child.tag: (child.text or "") for child in root}


# --- records -------------------------------------------------------------------------------------------
