"""Errors whose message is safe and useful to show a person as it is.

:func:`data_fault` recognises what goes wrong with the data folder itself (a full disk, a
read-only mount, a damaged database) in whatever form it surfaces — ``OSError``,
``sqlite3.OperationalError``, SQLAlchemy's wrapper, Chroma's ``InternalError`` text — and turns it
into one UserError naming the folder and the fix, instead of a traceback.
"""

from __future__ import annotations

import errno
from pathlib import Path

from bot import staff_messages


class UserError(Exception):
    """Something the user can fix (a missing folder, a bad config key, no index yet).

    The CLI prints the message as one line and exits non-zero; no traceback.
    """


class IndexMissingError(UserError):
    """No usable index has been built in the data folder yet."""


class IngestBusyError(UserError):
    """Another ingest holds the lock on the data folder."""


class StoreUnavailableError(UserError):
    """The Chroma store (usually a `chroma run` server) cannot be reached."""


class SkipFile(Exception):
    """This file cannot be ingested. ``reason`` is a staff-readable Chinese sentence (from bot.messages).

    Ingest reports it next to the file's name and goes on with the others (the file's previous
    version, if any, keeps being served).
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
_FULL_TEXTS = ("database or disk is full", "no space left on device", "disk quota exceeded", "(code: 13)")
_READ_ONLY_TEXTS = ("attempt to write a readonly database", "read-only file system", "(code: 8)")
_DAMAGED_TEXTS = ("database disk image is malformed", "file is not a database", "(code: 11)", "(code: 26)")


def data_fault(exc: BaseException, data_dir: Path) -> UserError | None:
    """The one-line error for a fault of the data folder behind ``exc`` (or its causes), else None."""

    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        text = str(link).lower()
        number = link.errno if isinstance(link, OSError) else None
        if number in _FULL_ERRNOS or any(t in text for t in _FULL_TEXTS):
            return UserError(staff_messages.DATA_DISK_FULL.format(path=data_dir))
        if number == errno.EROFS or any(t in text for t in _READ_ONLY_TEXTS):
            return UserError(staff_messages.DATA_READ_ONLY.format(path=data_dir))
        if any(t in text for t in _DAMAGED_TEXTS):
            return UserError(staff_messages.DATA_DAMAGED.format(path=data_dir))
        link = link.__cause__ or link.__context__ or getattr(link, "orig", None)
    return None
