"""Writes to the channel state that must never cost a resident an answer.

Logging an answer, remembering a question for follow-ups, a vote: when the state database cannot be
written (a full data disk, a read-only mount, a damaged or locked file), the resident still gets
the answer. :class:`StateWrites` runs such a call, logs a failure (its kind only: no question text,
no id), and remembers it, so ``/healthz`` can report the state as degraded until a write succeeds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")


class StateWrites:
    """Runs state calls whose failure is logged and survived; knows whether the last one failed."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.failed_at: float | None = None  # when the last call failed; None once one succeeds
        self.error = ""  # what the last failure was (an exception type)

    def attempt(self, default: T, call: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """``call(*args, **kwargs)``, or ``default`` when it raises."""
        try:
            result = call(*args, **kwargs)
        except Exception as exc:
            with self._lock:
                first = self.failed_at is None
                self.failed_at = self._clock()
                self.error = type(exc).__name__
            name = getattr(call, "__name__", "state call")
            # The message of a database error names no resident data (statements are parameterised).
            logger.log(
                logging.ERROR if first else logging.WARNING, "state %s failed: %s: %s", name, self.error, exc
            )
            return default
        with self._lock:
            if self.failed_at is not None:
                logger.warning("state writes work again")
            self.failed_at = None
            self.error = ""
        return result

    @property
    def degraded(self) -> bool:
        return self.failed_at is not None
