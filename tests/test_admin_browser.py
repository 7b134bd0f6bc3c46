"""The staff console in a real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright):
log in, upload a .docx (dropped on the page), ingest it, see it served, ask it in "try it", answer an
unanswered question with an FAQ entry, log out."""

from __future__ import annotations

import base64
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.channels.admin import strings
from bot.channels.admin.accounts import Accounts
from bot.channels.admin.app import create_app
from bot.state.database import State
from tests.helpers.admin import DOCX_QUESTION, PASSWORD, notice_docx
from tests.helpers.browser import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS, sync_api
from tests.helpers.knowledge import KnowledgeBase, copy_of

UNANSWERED = "宠物丢了民政局能帮忙找吗？"


@pytest.fixture
def console(ingested: KnowledgeBase, tmp_path: Path, model_dir: Path) -> Iterator[tuple[str, KnowledgeBase]]:
    import uvicorn

    from bot.answering.assistant import Assistant

    kb = copy_of(ingested, tmp_path, model_dir)
    Accounts(kb.data).set_password("clerk", PASSWORD)
    state = State(kb.data, history_size=0)
    for _ in range(2):
        state.record_answer(user="r1", chat_type="web", question=UNANSWERED, answered=False, kind="dont_know")
    app = create_app(Assistant(kb.settings), kb.settings, state)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline
        time.sleep(0.05)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}", kb
    server.should_exit = True
    thread.join(timeout=15)
    sock.close()
    state.close()


@pytest.fixture
def page(console: tuple[str, KnowledgeBase]) -> Iterator[Any]:
    base, _ = console
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        context.set_default_timeout(TIMEOUT_MS)
        outside: list[str] = []

        def only_ours(route: Any) -> None:
            if route.request.url.startswith(base) or route.request.url.startswith("data:"):
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        context.route("**/*", only_ours)
        pg = context.new_page()
        problems: list[str] = []
        pg.on("pageerror", lambda e: problems.append(str(e)))
        pg.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        pg.on("dialog", lambda d: d.accept())
        pg.problems = problems
        pg.outside = outside
        try:
            yield pg
        finally:
            context.close()
            browser.close()


def wait_ingest(page: Any) -> None:
    page.wait_for_function(
        "() => document.body.dataset.ingest === 'done' || document.body.dataset.ingest === 'failed'",
        timeout=300_000,
    )
    assert page.evaluate("document.body.dataset.ingest") == "done", page.inner_text("#ingest-status")
    page.evaluate("delete document.body.dataset.ingest")


def drop_file(page: Any, name: str, data: bytes) -> None:
    """Drop a file on the drop zone, as a clerk dragging it from the desktop."""
    page.evaluate(
        """([name, b64]) => {
            const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
            const dt = new DataTransfer();
            dt.items.add(new File([bytes], name));
            const zone = document.querySelector('#drop-zone');
            zone.dispatchEvent(new DragEvent('dragover', {dataTransfer: dt, bubbles: true, cancelable: true}));
            zone.dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));
        }""",
        [name, base64.b64encode(data).decode()],
    )


def test_log_in_upload_ingest_try_it_add_an_faq_entry_and_log_out(
    page: Any, console: tuple[str, KnowledgeBase], tmp_path: Path
) -> None:
    base, kb = console
    response = page.goto(base + "/admin/")
    assert response is not None and response.ok
    assert "default-src 'self'" in response.headers["content-security-policy"]
    page.wait_for_selector("#login-form")
    assert page.title() == strings.TITLE

    page.fill("#login-username", "clerk")
    page.fill("#login-password", "wrong password")
    page.click("#login-form button[type=submit]")
    page.wait_for_function("() => document.querySelector('#login-error').textContent !== ''")
    assert page.inner_text("#login-error") == strings.LOGIN_FAILED
    page.fill("#login-password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#documents tbody tr")
    assert "clerk" in page.inner_text("#whoami")
    cookie = next(c for c in page.context.cookies() if c["name"] == "shanwei_admin")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"

    # Upload: a .docx dropped on the page.
    drop_file(page, "notice.docx", notice_docx(dated=True))
    row = page.locator('#documents tr[data-path="notice.docx"]')
    row.wait_for()
    assert row.get_attribute("data-status") == "pending"

    # Ingest, with the progress and the per-file report.
    page.click('#tabs button[data-tab="ingest"]')
    page.click("#ingest-start")
    wait_ingest(page)
    assert "notice.docx" in page.inner_text("#ingest-report .report-added")
    page.click('#tabs button[data-tab="documents"]')
    page.wait_for_selector('#documents tr[data-path="notice.docx"][data-status="served"]')
    assert "2025-09-01" in row.inner_text()  # the 落款 date

    # Try it: the answer, why, and the ranking.
    page.click('#tabs button[data-tab="try"]')
    page.fill("#try-question", DOCX_QUESTION)
    page.click("#try-form button[type=submit]")
    page.wait_for_selector("#try-result:not([hidden])")
    assert "2025年10月31日" in page.inner_text("#try-answer")
    assert "（2025-09-01）" in page.inner_text("#try-answer")
    assert page.inner_text("#try-why").startswith("已回答")
    assert (
        page.locator("#try-documents tbody tr").count() >= 1
        and page.locator("#try-passages tbody tr").count() >= 1
    )

    # What residents asked: answer the unanswered question with an FAQ entry; it is re-ingested and served.
    page.click('#tabs button[data-tab="asked"]')
    entry = page.locator('#asked tr[data-kind="unanswered"]', has_text=UNANSWERED)
    entry.wait_for()
    entry.locator(".add-faq").click()
    assert page.input_value("#faq-question") == UNANSWERED
    page.fill("#faq-answer", "寻找走失宠物不属于民政业务，可以联系所在社区或在公安机关的服务平台发布信息。")
    page.click("#faq-form button[type=submit]")
    wait_ingest(page)
    assert "faq-staff.md" in page.inner_text("#ingest-report")
    assert "**问：**" + UNANSWERED in (kb.knowledge / "faq-staff.md").read_text(encoding="utf-8")

    page.screenshot(path=str(tmp_path / "console.png"))
    page.click("#logout")
    page.wait_for_selector("#login-form")
    assert page.locator("#app").is_hidden()
    assert page.request.get(base + "/admin/api/documents").status == 401
    assert page.outside == []
    # The refused wrong password and the logged-out request are the only failed loads.
    assert [p for p in page.problems if "status of 401" not in p] == []
