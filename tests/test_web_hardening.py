"""The web channel as an attacker meets it (issue 14, items 4, 5, 6 and 8), over real uvicorn.

* ``X-Forwarded-For`` is believed only from ``[web] trusted_proxies``: spoofed values from 127.0.0.1
  (uvicorn's default trust) no longer reset the rate limit or vote fifty times;
* a connection that trickles its headers or body is closed at the deadline; idle connections past
  ``max_connections`` are closed oldest first, so ``/healthz`` stays reachable;
* no redirect names the host a client sent;
* an answer is sent when the state database cannot be written (a full disk), and ``/healthz`` says
  ``degraded``. The full disk is a small tmpfs when this machine lets us mount one (root), otherwise
  SQLite's ``PRAGMA max_page_count`` on the state database, which fails writes the same way
  (``SQLITE_FULL``: "database or disk is full").

The quick tests serve the real app over an empty data folder (no index: questions get 503, which
is all a rate limit or a connection test needs); those that need answers use the ingested index.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot import messages
from bot.answering.assistant import Assistant
from bot.channels.web.app import create_app
from bot.config import Settings
from bot.state.database import State
from tests.helpers.disks import fill, room_for, state_on_small_disk, tmpfs
from tests.helpers.knowledge import PYTHON, REPO, KnowledgeBase, settings_for
from tests.helpers.serving import serving

MARRIAGE = "结婚登记要带什么材料？"


def with_web(settings: Settings, **web: Any) -> Settings:
    return dataclasses.replace(settings, web=dataclasses.replace(settings.web, **web))


@pytest.fixture
def empty(tmp_path: Path) -> Iterator[tuple[Settings, State]]:
    """Settings over an empty data folder (no index) and a state database of their own."""
    settings = settings_for(REPO / "knowledge", tmp_path / "data")
    state = State(tmp_path / "state", history_size=0)
    yield settings, state
    state.close()


def serving_app(app: Any, settings: Settings) -> Any:
    return serving(app, settings.web)


def port_of(base: str) -> int:
    return int(base.rsplit(":", 1)[1])


# --- item 4: forwarded headers ---------------------------------------------------------------------------


def test_spoofed_forwarded_for_does_not_reset_the_rate_limit(empty: tuple[Settings, State]) -> None:
    settings, state = empty
    settings = with_web(settings, requests_per_minute=3)
    with (
        serving_app(create_app(Assistant(settings), settings, state), settings) as base,
        httpx.Client() as http,
    ):
        codes = [
            http.post(
                f"{base}/api/ask", json={"question": MARRIAGE}, headers={"x-forwarded-for": f"10.0.0.{i}"}
            ).status_code
            for i in range(8)
        ]
    assert codes[:3] == [503] * 3  # no index here: answered (with "unavailable"), not limited
    assert codes[3:] == [429] * 5  # five new spoofed addresses, all still the same client


def test_forwarded_for_is_believed_from_a_configured_proxy(empty: tuple[Settings, State]) -> None:
    settings, state = empty
    settings = with_web(settings, requests_per_minute=3, trusted_proxies=("127.0.0.1",))
    with (
        serving_app(create_app(Assistant(settings), settings, state), settings) as base,
        httpx.Client() as http,
    ):
        codes = [
            http.post(
                f"{base}/api/ask", json={"question": MARRIAGE}, headers={"x-forwarded-for": f"10.0.0.{i}"}
            ).status_code
            for i in range(5)
        ]
        same = [
            http.post(
                f"{base}/api/ask", json={"question": MARRIAGE}, headers={"x-forwarded-for": "10.0.9.9"}
            ).status_code
            for _ in range(4)
        ]
    assert codes == [503] * 5  # five residents behind the proxy
    assert same == [503, 503, 503, 429]  # one resident behind it is limited as usual


def test_fifty_spoofed_votes_count_once(empty: tuple[Settings, State]) -> None:
    settings, state = empty
    answer_id = state.record_answer(
        user="u", chat_type="web", question=MARRIAGE, answered=True, kind="answer"
    )
    settings = with_web(settings, requests_per_minute=100)
    with (
        serving_app(create_app(Assistant(settings), settings, state), settings) as base,
        httpx.Client() as http,
    ):
        results = [
            http.post(
                f"{base}/api/feedback",
                json={"answer_id": answer_id, "vote": "down"},
                headers={"x-forwarded-for": f"198.51.100.{i}"},
            ).json()["status"]
            for i in range(50)
        ]
    assert results.count("recorded") == 1 and results.count("duplicate") == 49
    assert state.stats().down == 1


def test_a_trusted_proxy_must_be_an_address(tmp_path: Path) -> None:
    from bot.config import load_settings
    from bot.errors import UserError

    config = tmp_path / "config.toml"
    config.write_text('[web]\ntrusted_proxies = ["nginx.local"]\n', encoding="utf-8")
    with pytest.raises(UserError, match=r"web\.trusted_proxies"):
        load_settings(config, environ={})


# --- item 5: slow and idle connections ---------------------------------------------------------------------


def trickle_until_closed(port: int, first: bytes, drip: bytes, every: float, limit: float) -> float:
    """Send ``first``, then one byte of ``drip`` every ``every`` seconds; seconds until the server closed."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(first)
        sock.settimeout(every)
        for i in range(10**6):
            try:
                if sock.recv(4096) == b"":
                    return time.monotonic() - started
            except TimeoutError:
                pass
            except ConnectionError:
                return time.monotonic() - started
            try:
                sock.sendall(drip[i % len(drip) : i % len(drip) + 1])
            except (BrokenPipeError, ConnectionResetError):
                return time.monotonic() - started
            if time.monotonic() - started > limit:
                break
    pytest.fail(f"the connection was still open after {limit} s")


def test_a_connection_trickling_its_headers_is_closed_at_the_deadline(empty: tuple[Settings, State]) -> None:
    settings, state = empty
    settings = with_web(settings, header_timeout_seconds=1.0)
    with serving_app(create_app(Assistant(settings), settings, state), settings) as base:
        took = trickle_until_closed(
            port_of(base), b"GET /healthz HTTP/1.1\r\n", b"X-Slow: aaaaaaaa\r\n", 0.2, 15
        )
        assert 0.8 < took < 3.5, took
        assert httpx.get(f"{base}/healthz").status_code == 503  # the server itself is fine (no index)


def test_a_connection_trickling_its_body_is_closed_at_the_deadline(empty: tuple[Settings, State]) -> None:
    settings, state = empty
    settings = with_web(settings, body_timeout_seconds=1.0)
    head = (
        b"POST /api/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n"
    )
    with serving_app(create_app(Assistant(settings), settings, state), settings) as base:
        took = trickle_until_closed(port_of(base), head + b'{"question": "', "低保".encode(), 0.2, 15)
    assert 0.8 < took < 3.5, took


def read_response(sock: socket.socket) -> bytes:
    """One whole HTTP/1.1 response (headers, then Content-Length bytes of body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(
        next(
            line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
        )
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def test_a_kept_alive_connection_gets_a_new_deadline_per_request(empty: tuple[Settings, State]) -> None:
    settings, state = empty
    settings = with_web(settings, header_timeout_seconds=1.0, keep_alive_seconds=30)
    with (
        serving_app(create_app(Assistant(settings), settings, state), settings) as base,
        socket.create_connection(("127.0.0.1", port_of(base))) as sock,
    ):
        for _ in range(3):  # three requests, 0.7 s apart (2.1 s in all): none is cut off
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert read_response(sock).startswith(b"HTTP/1.1 503")
            time.sleep(0.7)
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")  # then one that never finishes
        sock.settimeout(5)
        started = time.monotonic()
        assert sock.recv(4096) == b""
        assert time.monotonic() - started < 2.0


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_idle_connections_cannot_exhaust_the_server(empty: tuple[Settings, State]) -> None:
    """1,500 idle connections against a cap of 100: the server holds at most ~100, /healthz answers."""
    settings, state = empty
    settings = with_web(settings, max_connections=100)
    idle: list[socket.socket] = []
    with serving_app(create_app(Assistant(settings), settings, state), settings) as base:
        before = open_fds()
        try:
            for _ in range(1500):
                idle.append(socket.create_connection(("127.0.0.1", port_of(base))))
            time.sleep(0.5)
            started = time.monotonic()
            health = httpx.get(f"{base}/healthz", timeout=10)
            assert health.status_code == 503 and "index_loaded" in health.json()  # answered, promptly
            assert time.monotonic() - started < 3
            server_side = open_fds() - before - len(idle)
            assert server_side <= 110, server_side
        finally:
            for sock in idle:
                sock.close()


def test_oversized_headers_are_refused(empty: tuple[Settings, State]) -> None:
    """h11 buffers at most max_header_bytes of an unfinished request head (one that arrives in pieces)."""
    settings, state = empty
    settings = with_web(settings, max_header_bytes=4096)
    with (
        serving_app(create_app(Assistant(settings), settings, state), settings) as base,
        socket.create_connection(("127.0.0.1", port_of(base))) as sock,
    ):
        sock.settimeout(5)
        reply = b""
        try:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            for _ in range(10):
                sock.sendall(b"X-Big: " + b"a" * 1000 + b"\r\n")
                time.sleep(0.05)
            reply = sock.recv(4096)
        except (BrokenPipeError, ConnectionResetError):  # refused while we were still sending
            with contextlib.suppress(OSError):
                reply = sock.recv(4096)
        assert reply == b"" or reply.startswith(b"HTTP/1.1 400"), reply[:80]
        assert not reply.startswith(b"HTTP/1.1 503")  # never handed to the app


@pytest.mark.slow
def test_with_the_shipped_settings_a_slow_header_connection_is_closed_within_30_s(
    empty: tuple[Settings, State],
) -> None:
    settings, state = empty
    with serving_app(create_app(Assistant(settings), settings, state), settings) as base:
        took = trickle_until_closed(port_of(base), b"GET / HTTP/1.1\r\n", b"X-Slow: 1\r\n", 1.0, 40)
    assert took < 30, took
    assert took >= settings.web.header_timeout_seconds - 0.5


# --- item 8: redirects ---------------------------------------------------------------------------------------


def test_no_redirect_names_the_host_a_client_sent(empty: tuple[Settings, State]) -> None:
    settings, state = empty
    with (
        serving_app(create_app(Assistant(settings), settings, state), settings) as base,
        httpx.Client() as http,
    ):
        for path in ("/static", "/api/ask/"):
            r = http.request(
                "GET" if path == "/static" else "POST", f"{base}{path}", headers={"host": "evil.example"}
            )
            if r.is_redirect:
                location = r.headers["location"]
                assert "evil" not in location and location.startswith("/"), location


# --- item 6: a data disk that cannot be written --------------------------------------------------------------


def test_answers_go_out_when_the_state_disk_is_full(ingested: KnowledgeBase, tmp_path: Path) -> None:
    settings = with_web(ingested.settings, requests_per_minute=100)
    with (
        state_on_small_disk(tmp_path / "state") as (state, make_full),
        serving_app(create_app(ingested.assistant, settings, state), settings) as base,
        httpx.Client(timeout=60) as http,
    ):
        earlier = http.post(f"{base}/api/ask", json={"question": MARRIAGE}).json()["answer_id"]
        assert earlier and http.get(f"{base}/healthz").json()["status"] == "ok"
        how = make_full()
        answers = [http.post(f"{base}/api/ask", json={"question": MARRIAGE}) for _ in range(5)]
        health = http.get(f"{base}/healthz")
        vote = http.post(f"{base}/api/feedback", json={"answer_id": earlier, "vote": "up"})
    print(f"full disk simulated with {how}")
    for r in answers:
        assert r.status_code == 200
        assert "身份证" in r.json()["answer"]
        assert r.json()["answer_id"] is None  # not logged, and the page shows no buttons to rate it
    assert health.status_code == 200 and health.json()["status"] == "degraded"
    assert health.json()["state"]["writable"] is False and health.json()["state"]["error"]
    if how == "tmpfs" or vote.status_code != 200:  # (max_page_count: a vote's small row may still fit)
        assert vote.status_code == 503
        assert vote.json()["message"] == messages.WEB_FEEDBACK_UNAVAILABLE.format(
            hotline=settings.contact.hotline
        )


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("mount") is None, reason="needs root to mount a tmpfs")
def test_cli_web_keeps_answering_when_its_data_disk_fills_up(
    ingested_copy: KnowledgeBase, tmp_path: Path
) -> None:
    """What the independent check does: `python -m bot web` on a small data disk, which then fills up."""
    disk = tmp_path / "disk"
    with tmpfs(disk, room_for(ingested_copy.data)) as mounted:
        if not mounted:
            pytest.skip("cannot mount a tmpfs here")
        run_web_until_the_disk_fills(ingested_copy, disk)


def run_web_until_the_disk_fills(ingested_copy: KnowledgeBase, disk: Path) -> None:
    proc = None
    try:
        data = disk / "data"
        shutil.copytree(ingested_copy.data, data, symlinks=True, ignore=shutil.ignore_patterns("*.lock"))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        proc = subprocess.Popen(
            [
                PYTHON,
                "-m",
                "bot",
                "web",
                "--knowledge",
                str(ingested_copy.knowledge),
                "--data",
                str(data),
                "--port",
                str(port),
            ],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.communicate()[1]
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, "the web server did not come up"
            time.sleep(0.3)
        assert httpx.post(f"{base}/api/ask", json={"question": MARRIAGE}, timeout=60).json()["answer_id"]
        fill(disk / "filler")
        answers = [httpx.post(f"{base}/api/ask", json={"question": MARRIAGE}, timeout=60) for _ in range(3)]
        assert all(r.status_code == 200 and "身份证" in r.json()["answer"] for r in answers)
        assert httpx.get(f"{base}/healthz", timeout=10).json()["status"] == "degraded"
        (disk / "filler").unlink()  # space again: the next answer is logged, and the state is ok again
        assert httpx.post(f"{base}/api/ask", json={"question": MARRIAGE}, timeout=60).json()["answer_id"]
        assert httpx.get(f"{base}/healthz", timeout=10).json()["status"] == "ok"
    finally:
        if proc is not None:
            proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=20)
            if proc.poll() is None:
                proc.kill()
                proc.wait()
