"""The per-user sliding window on incoming questions (every channel limits its residents with it)."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    warn: bool = False  # the first refusal of a burst: tell the person once, then stay quiet
    retry_after: float = 0.0


class RateLimiter:
    """Per-key sliding window: at most ``limit`` events in any ``window`` seconds (limit <= 0: off)."""

    def __init__(self, limit: int, window: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._events: dict[str, deque[float]] = {}
        self._warned: set[str] = set()
        self._lock = threading.Lock()

    def check(self, key: str) -> Verdict:
        """Count one event for ``key`` if it is within the limit."""
        if self.limit <= 0:
            return Verdict(True)
        now = self._clock()
        with self._lock:
            events = self._events.setdefault(key, deque())
            while events and now - events[0] >= self.window:
                events.popleft()
            if len(events) < self.limit:
                events.append(now)
                self._warned.discard(key)
                if len(self._events) > 10_000:
                    self._sweep(now)
                return Verdict(True)
            warn = key not in self._warned
            self._warned.add(key)
            return Verdict(False, warn, self.window - (now - events[0]))

    def _sweep(self, now: float) -> None:
        for key in [k for k, ev in self._events.items() if not ev or now - ev[-1] >= self.window]:
            del self._events[key]
            self._warned.discard(key)
