"""The per-user sliding window on incoming questions (every channel limits its residents with it).

:class:`RateLimiter` counts in memory (one worker); :class:`SharedRateLimiter` counts in the shared
database, so several workers behind a proxy enforce one limit per resident.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError

logger = logging.getLogger(__name__)


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


class SharedRateLimiter:
    """The same window counted in the shared database (``rate_hits``), so a resident who reaches another
    worker behind the proxy is still within one limit.

    Keys are stored as a salted hash (a web client's key is its address). When the database cannot be
    reached, this worker's own in-memory window decides, so residents are still answered.
    """

    def __init__(
        self,
        url: str,
        salt: bytes,
        scope: str,
        limit: int,
        window: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.limit = limit
        self.window = window
        self._url = url
        self._prefix = salt + b":rate:" + scope.encode() + b":"
        self._clock = clock
        self._local = RateLimiter(limit, window, clock)
        self._warned: set[str] = set()
        self._checks = 0

    def check(self, key: str) -> Verdict:
        if self.limit <= 0:
            return Verdict(True)
        try:
            allowed, retry_after = self._count(hashlib.sha256(self._prefix + key.encode()).hexdigest())
        except SQLAlchemyError as exc:
            logger.warning(
                "shared rate limit unavailable (%s); this worker's own window decides", type(exc).__name__
            )
            return self._local.check(key)
        if allowed:
            self._warned.discard(key)
            return Verdict(True)
        warn = key not in self._warned
        self._warned.add(key)
        if len(self._warned) > 10_000:
            self._warned.clear()
        return Verdict(False, warn, retry_after)

    def _count(self, hashed: str) -> tuple[bool, float]:
        from sqlalchemy import delete, func, insert, select, text

        from bot.state.schema import engine, is_postgres, rate_hits

        now = self._clock()
        hits = rate_hits.c
        self._checks += 1
        with engine(self._url).begin() as conn:
            if is_postgres(self._url):  # one check per key at a time across workers
                lock = int.from_bytes(bytes.fromhex(hashed[:16]), "big", signed=True)
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock})
            gone = hits.at <= now - self.window
            conn.execute(
                delete(rate_hits).where(gone if self._checks % 1000 == 0 else (hits.key == hashed) & gone)
            )
            count, first = conn.execute(
                select(func.count(), func.min(hits.at)).where(hits.key == hashed)
            ).one()
            if count < self.limit:
                conn.execute(insert(rate_hits).values(key=hashed, at=now))
                return True, 0.0
        return False, self.window - (now - float(first))


Limiter = RateLimiter | SharedRateLimiter
