"""Logins of the console: server-side sessions, their CSRF tokens, and the limit on failed logins.

A session is a random token in an HttpOnly, SameSite=Strict cookie; the server keeps only its
SHA-256, with the user, a CSRF token and two clocks (it ends ``[admin] idle_minutes`` after the
last request and ``session_minutes`` after the login at most). Every request that changes
something carries the CSRF token in ``X-CSRF-Token``. Failed logins are counted per user name and
per client; past ``login_attempts`` in ``login_window_minutes`` a login is refused without
checking the password. Sessions live in memory: restarting the console logs everyone out.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from bot.config import AdminSettings

COOKIE = "shanwei_admin"
CSRF_HEADER = "x-csrf-token"


@dataclass
class Session:
    user: str
    csrf: str
    started: float
    seen: float


class Sessions:
    def __init__(self, settings: AdminSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self._clock = clock
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self.failures = Failures(settings.login_attempts, settings.login_window_minutes * 60.0, clock)

    @staticmethod
    def _key(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def start(self, user: str) -> tuple[str, Session]:
        """A new session for ``user``: (the cookie's token, the session with its CSRF token)."""
        token = secrets.token_urlsafe(32)
        now = self._clock()
        session = Session(user, secrets.token_urlsafe(32), now, now)
        with self._lock:
            self._sweep(now)
            self._sessions[self._key(token)] = session
        return token, session

    def get(self, token: str | None) -> Session | None:
        """The live session of a cookie token (and it counts as a request), or None."""
        if not token:
            return None
        now = self._clock()
        with self._lock:
            key = self._key(token)
            session = self._sessions.get(key)
            if session is None:
                return None
            if self._expired(session, now):
                del self._sessions[key]
                return None
            session.seen = now
            return session

    def end(self, token: str | None) -> None:
        if token:
            with self._lock:
                self._sessions.pop(self._key(token), None)

    def end_user(self, user: str) -> None:
        """Log ``user`` out everywhere (their password was changed)."""
        with self._lock:
            for key in [k for k, s in self._sessions.items() if s.user == user]:
                del self._sessions[key]

    @staticmethod
    def csrf_ok(session: Session, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(session.csrf.encode(), str(given).encode())

    def _expired(self, session: Session, now: float) -> bool:
        return (
            now - session.seen > self.settings.idle_minutes * 60
            or now - session.started > self.settings.session_minutes * 60
        )

    def _sweep(self, now: float) -> None:
        for key in [k for k, s in self._sessions.items() if self._expired(s, now)]:
            del self._sessions[key]


class Failures:
    """Failed logins per user name (``limit`` in ``window`` seconds) and per client (four times that)."""

    CLIENT_FACTOR = 4

    def __init__(self, limit: int, window: float, clock: Callable[[], float]) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _count(self, key: str, now: float) -> int:
        events = self._seen.get(key)
        if events is None:
            return 0
        while events and now - events[0] >= self.window:
            events.popleft()
        if not events:
            del self._seen[key]
            return 0
        return len(events)

    def locked(self, name: str, client: str) -> bool:
        """True when either the name or the client has used up its failed attempts."""
        if self.limit <= 0:
            return False
        now = self._clock()
        with self._lock:
            return (
                self._count("name:" + name, now) >= self.limit
                or self._count("client:" + client, now) >= self.limit * self.CLIENT_FACTOR
            )

    def add(self, name: str, client: str) -> None:
        now = self._clock()
        with self._lock:
            if len(self._seen) > 10_000:
                for key in list(self._seen):
                    self._count(key, now)
            for key in ("name:" + name, "client:" + client):
                self._seen.setdefault(key, deque()).append(now)
