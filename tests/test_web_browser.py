"""The web page in a real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright).

`make test` installs the ``chromium`` package when it is missing; Playwright's own browser
download is never used.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot import messages
from bot.channels.web.app import create_app
from bot.state.database import State
from tests.helpers.knowledge import KnowledgeBase

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MARRIAGE = "结婚登记要带什么材料？"
TIMEOUT_MS = 60_000

# Not skipped when missing: this test belongs in CI, so a missing piece is a failure that says what to do.
try:
    from playwright import sync_api
except ImportError:  # pragma: no cover
    pytest.fail(
        "Playwright is missing: pip install -r requirements.lock (no browser download needed)", pytrace=False
    )
if not CHROMIUM.exists():  # pragma: no cover - `make test` installs it
    pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (make test does this)", pytrace=False)


@pytest.fixture(scope="module")
def server(ingested: KnowledgeBase, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real app with the real index, served by uvicorn in a background thread on a free port."""
    import uvicorn

    state = State(tmp_path_factory.mktemp("web-browser-state"), history_size=0)
    app = create_app(ingested.assistant, ingested.settings, state)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not srv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    assert httpx.get(f"{base}/healthz", timeout=10).status_code == 200
    yield base
    srv.should_exit = True
    thread.join(timeout=15)
    sock.close()
    state.close()


@pytest.fixture
def page(server: str) -> Iterator[Any]:
    """A phone-sized page; any request to another host is blocked and recorded."""
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(
            viewport={"width": 390, "height": 844}, device_scale_factor=1, locale="zh-CN", is_mobile=True
        )
        context.set_default_timeout(TIMEOUT_MS)
        outside: list[str] = []

        def only_ours(route: Any) -> None:
            url = route.request.url
            if url.startswith(server) or url.startswith("data:"):
                route.continue_()
            else:
                outside.append(url)
                route.abort()

        context.route("**/*", only_ours)
        pg = context.new_page()
        problems: list[str] = []
        pg.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        pg.on("pageerror", lambda e: problems.append(str(e)))
        dialogs: list[str] = []

        def on_dialog(dialog: Any) -> None:
            dialogs.append(dialog.message)
            dialog.dismiss()

        pg.on("dialog", on_dialog)
        pg.problems = problems
        pg.dialogs = dialogs
        pg.outside = outside
        try:
            yield pg
        finally:
            context.close()
            browser.close()


def font_size(page: Any, selector: str) -> float:
    return float(page.eval_on_selector(selector, "el => parseFloat(getComputedStyle(el).fontSize)"))


def ask(page: Any, question: str) -> Any:
    """Type a question, press Enter, and return the new answer bubble once it is there."""
    before = page.locator(".msg-bot:not(.pending)").count()
    page.fill("#question", question)
    page.press("#question", "Enter")
    page.wait_for_function(
        "n => document.querySelectorAll('.msg-bot:not(.pending)').length > n && !document.querySelector('.pending')",
        arg=before,
    )
    return page.locator(".msg-bot:not(.pending)").last


def test_ask_see_sources_vote_and_switch_to_elder_mode(
    page: Any, server: str, ingested: KnowledgeBase, tmp_path: Path
) -> None:
    response = page.goto(server + "/")
    assert response is not None and response.ok
    assert "default-src 'self'" in response.headers["content-security-policy"]
    page.wait_for_selector(".msg-bot.welcome")
    assert page.title() == messages.WEB_TITLE
    for label, _ in messages.WEB_TOPICS:
        assert page.get_by_role("button", name=label).is_visible()
    normal_size = font_size(page, ".msg-text")

    # Type a question: the answer and its source (title, date) appear.
    answer = ask(page, MARRIAGE)
    assert "answered" in (answer.get_attribute("class") or "")
    assert "身份证" in answer.locator(".msg-text").inner_text()
    title = ingested.assistant.info().titles["marriage-registration.md"]
    sources = answer.locator(".sources li")
    assert sources.count() >= 1
    shown = [sources.nth(i).inner_text() for i in range(sources.count())]
    assert any(title in s for s in shown), shown
    assert all(any(ch.isdigit() for ch in s) or messages.WEB_DATE_UNKNOWN in s for s in shown)

    # 👍 is recorded once.
    answer.locator(".vote-up").click()
    page.wait_for_function(
        "() => document.querySelector('.msg-bot.answered .vote-status').textContent !== ''"
    )
    assert answer.locator(".vote-status").inner_text() == messages.WEB_FEEDBACK_THANKS
    assert answer.locator(".vote-down").is_disabled()

    # A script in the question is shown as text and never runs.
    hostile = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    ask(page, hostile)
    assert page.locator(".msg-user .msg-text").last.inner_text() == hostile
    assert page.locator("#log script, #log img").count() == 0
    assert page.dialogs == []

    # Elder-friendly mode: larger text, remembered across a reload.
    toggle = page.locator("#elder-toggle")
    assert toggle.get_attribute("aria-pressed") == "false"
    toggle.click()
    assert toggle.get_attribute("aria-pressed") == "true"
    assert toggle.inner_text() == messages.WEB_ELDER_OFF
    assert page.evaluate("document.documentElement.classList.contains('elder')")
    elder_size = font_size(page, ".msg-text")
    assert elder_size >= normal_size * 1.25, (normal_size, elder_size)
    assert page.evaluate("localStorage.getItem('shanwei-elder-mode')") == "1"
    page.evaluate("window.scrollTo(0, 0)")
    shot = tmp_path / "web-elder.png"
    page.screenshot(path=str(shot))  # what a phone shows
    data = shot.read_bytes()
    assert len(data) > 1000 and data.startswith(b"\x89PNG\r\n\x1a\n")

    page.reload()
    page.wait_for_selector(".msg-bot.welcome")
    assert page.evaluate("document.documentElement.classList.contains('elder')")
    assert font_size(page, ".msg-text") == elder_size
    page.locator("#elder-toggle").click()
    assert font_size(page, ".msg-text") == normal_size

    assert page.outside == []  # works offline: nothing fetched from other hosts
    assert not [p for p in page.problems if "Content Security Policy" in p], page.problems
    assert page.problems == []


def test_topic_chips_and_the_eligibility_wizard(page: Any, server: str) -> None:
    page.goto(server + "/")
    page.wait_for_selector(".msg-bot.welcome")

    page.get_by_role("button", name="婚姻登记").click()
    page.wait_for_selector(".msg-bot.answered")
    assert "身份证" in page.locator(".msg-bot.answered .msg-text").last.inner_text()

    before = page.locator(".msg-bot.answered").count()
    page.get_by_role("button", name="联系我们").click()
    page.wait_for_function("n => document.querySelectorAll('.msg-bot.answered').length > n", arg=before)
    contact = page.locator(".msg-bot.answered .msg-text").last.inner_text()
    assert "0660" in contact or "12345" in contact

    page.locator("#wizard summary").click()
    page.check("input[name=area][value=rural]")
    page.fill("#wizard-size", "")
    page.click("#wizard-form button[type=submit]")
    assert page.locator("#wizard-error").inner_text() == messages.WEB_WIZARD_INVALID
    page.fill("#wizard-size", "3")
    page.fill("#wizard-income", "1200")
    before = page.locator(".msg-bot.answered").count()
    page.click("#wizard-form button[type=submit]")
    page.wait_for_function("n => document.querySelectorAll('.msg-bot.answered').length > n", arg=before)
    result = page.locator(".msg-bot.answered .msg-text").last.inner_text()
    assert "人均400" in result and "低保" in result
    assert page.problems == []
