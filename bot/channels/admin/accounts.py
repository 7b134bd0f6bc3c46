"""Staff accounts of the console: ``<data>/admin/users.json``, passwords hashed with Argon2id (argon2-cffi).

``python -m bot admin add-user NAME`` creates an account or sets its password, reading the password
from standard input (asked twice, unechoed, at a terminal). The file holds names and hashes only
and is readable by its owner alone.
"""

from __future__ import annotations

import getpass
import json
import logging
import re
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from bot import folder
from bot.channels.admin import strings
from bot.config import Settings
from bot.errors import UserError

logger = logging.getLogger(__name__)

ADMIN_DIR = "admin"
USERS_FILE = "users.json"
NAME = re.compile(r"^[\w.-]{1,32}$")
MIN_PASSWORD = 8
MAX_PASSWORD = 256

_hasher = PasswordHasher()  # Argon2id with the library's recommended cost
# A hash to verify against when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY = _hasher.hash("not a password of anyone")


def admin_dir(data_dir: Path) -> Path:
    path = data_dir / ADMIN_DIR
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


class Accounts:
    """The users file; reads it at each login so an add-user takes effect without a restart."""

    def __init__(self, data_dir: Path) -> None:
        self.path = admin_dir(data_dir) / USERS_FILE
        self._lock = threading.Lock()

    def _read(self) -> dict[str, Any]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise UserError(strings.USERS_FILE_BROKEN.format(path=self.path, error=exc)) from None
        users = raw.get("users", {}) if isinstance(raw, dict) else {}
        return users if isinstance(users, dict) else {}

    def names(self) -> list[str]:
        return sorted(self._read())

    def set_password(self, name: str, password: str) -> bool:
        """Create ``name`` or replace its password; True when the account is new."""
        check_name(name)
        check_password(password)
        with self._lock:
            users = self._read()
            new = name not in users
            entry = users.get(name, {"created": _now()})
            entry["hash"] = _hasher.hash(password)
            entry["changed"] = _now()
            users[name] = entry
            text = json.dumps({"users": users}, ensure_ascii=False, indent=1)
            folder.write_atomic(self.path, text.encode())
            self.path.chmod(0o600)
        return new

    def verify(self, name: str, password: str) -> bool:
        """True when ``password`` is ``name``'s; the same work is done for an unknown name."""
        entry = self._read().get(name) if isinstance(name, str) else None
        stored = entry.get("hash") if isinstance(entry, dict) else None
        try:
            _hasher.verify(stored if isinstance(stored, str) else _DUMMY, password)
        except (VerificationError, InvalidHashError):
            return False
        return isinstance(stored, str)


def check_name(name: str) -> None:
    if not NAME.fullmatch(name):
        raise UserError(strings.BAD_USER_NAME)


def check_password(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise UserError(strings.BAD_PASSWORD.format(min=MIN_PASSWORD, max=MAX_PASSWORD))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def add_user_from_stdin(settings: Settings, name: str) -> int:
    """``admin add-user NAME``: the password from stdin (a terminal asks twice without echo)."""
    check_name(name)
    if sys.stdin.isatty():
        password = getpass.getpass(strings.PASSWORD_PROMPT)
        if getpass.getpass(strings.PASSWORD_AGAIN) != password:
            raise UserError(strings.PASSWORDS_DIFFER)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    new = Accounts(settings.data_dir).set_password(name, password)
    print((strings.USER_ADDED if new else strings.USER_UPDATED).format(name=name))
    return 0
