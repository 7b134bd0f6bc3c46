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
