"""Errors whose message is safe and useful to show a person as it is."""

from __future__ import annotations


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
