"""Privacy of what channels store: salted hashes instead of ids, phone-like numbers redacted.

No Telegram user id, chat id, name or phone number is ever stored. Ids are replaced by a salted
SHA-256; the salt is random, created once in ``<data>/salt`` (mode 0600).
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

SALT_FILE = "salt"

# Runs of 7+ digits (optionally split by spaces or dashes) look like phone, id or account numbers.
_NUMBER = re.compile(r"(?<![\dA-Za-z])\+?\d[\d\- ]{5,}\d[xX]?(?!\d)")
_DATE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}")
REDACTED = "［号码已隐去］"


def redact(text: str) -> str:
    """``text`` with phone-, id- and account-like digit runs replaced (12345 and dates stay)."""

    def sub(m: re.Match[str]) -> str:
        found = m.group(0)
        if sum(ch.isdigit() for ch in found) < 7 or _DATE.fullmatch(found):
            return found
        return REDACTED

    return _NUMBER.sub(sub, text)


def load_salt(data_dir: Path) -> bytes:
    """The installation's random salt, created on first use with owner-only permissions."""
    path = data_dir / SALT_FILE
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)
    salt = path.read_text().strip()
    if len(salt) < 32:  # an empty or truncated file (a crash mid-write): never hash with a weak salt
        raise RuntimeError(
            f"{path} is damaged; delete it to create a new salt (older hashes will no longer match)"
        )
    return salt.encode()
