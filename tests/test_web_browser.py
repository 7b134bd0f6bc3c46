"""The web page in a real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright), on a
390×844 phone screen, in both modes: answers whose end stays above the input box, tap-to-call
numbers, the self-check cards, reading aloud, and the APIs old in-app browsers lack.

`make test` installs the ``chromium``, ``fonts-noto-cjk`` and ``fonts-noto-color-emoji`` packages
when they are missing; Playwright's own browser download is never used. Screenshots of each mode
are saved to ``tests/artifacts/`` (git-ignored; ``BOT_TEST_ARTIFACTS`` names another folder).
"""

from __future__ import annotations

import json
import os
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
from tests.helpers.browser import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS, sync_api
from tests.helpers.knowledge import REPO, KnowledgeBase

ARTIFACTS = Path(os.environ.get("BOT_TEST_ARTIFACTS") or REPO / "tests" / "artifacts")
PHONE = {"width": 390, "height": 844}
MARRIAGE = "结婚登记要带什么材料？"


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
            viewport=PHONE, device_scale_factor=1, locale="zh-CN", is_mobile=True, has_touch=True
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


def open_page(page: Any, server: str, *, elder: bool = False) -> None:
    response = page.goto(server + "/")
    assert response is not None and response.ok
    page.wait_for_selector(".msg-bot.welcome")
    if elder:
        page.locator("#elder-toggle").click()
        assert page.evaluate("document.documentElement.classList.contains('elder')")


def rect(locator: Any) -> dict[str, float]:
    """The element's box in the viewport (CSS pixels), as the page sees it."""
    return dict(
        locator.evaluate(
            "e => { const r = e.getBoundingClientRect(); return {top: r.top, bottom: r.bottom, height: r.height}; }"
        )
    )


def assert_above_the_input_box(page: Any, *locators: Any) -> None:
    """Each element is wholly on screen, between the top of the viewport and the top of the input box."""
    box_top = rect(page.locator("#ask-form"))["top"]
    assert box_top <= PHONE["height"]
    for locator in locators:
        r = rect(locator)
        assert r["top"] >= 0 and r["bottom"] <= box_top, (locator, r, box_top)


def save_screenshot(page: Any, name: str) -> Path:
    """A PNG of what the phone shows, kept in ARTIFACTS."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path))
    data = path.read_bytes()
    assert len(data) > 1000 and data.startswith(b"\x89PNG\r\n\x1a\n")
    return path


def rendered_fonts(page: Any, selector: str) -> dict[str, int]:
    """The fonts Chromium drew the element's text with (family → glyphs), from the DevTools protocol."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    return {f["familyName"]: int(f["glyphCount"]) for f in fonts}


def test_ask_see_sources_vote_and_switch_to_elder_mode(
    page: Any, server: str, ingested: KnowledgeBase
) -> None:
    response = page.goto(server + "/")
    assert response is not None and response.ok
    assert "default-src 'self'" in response.headers["content-security-policy"]
    page.wait_for_selector(".msg-bot.welcome")
    assert page.title() == messages.WEB_TITLE
    for label in (*messages.WEB_TOPIC_LABELS.values(), *messages.WEB_WIZARD_CHIPS.values()):
        assert page.get_by_role("button", name=label, exact=True).is_visible()
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
    assert_above_the_input_box(page, sources.last, answer.locator(".vote-up"))
    # The Chinese text is drawn with a CJK font a phone has (here Noto Sans CJK), not a fallback.
    fonts = rendered_fonts(page, ".msg-bot.answered .msg-text")
    assert any(name.startswith("Noto Sans CJK") for name in fonts), fonts
    save_screenshot(page, "web-phone-normal.png")

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

    page.reload()
    page.wait_for_selector(".msg-bot.welcome")
    assert page.evaluate("document.documentElement.classList.contains('elder')")
    assert font_size(page, ".msg-text") == elder_size
    page.locator("#elder-toggle").click()
    assert font_size(page, ".msg-text") == normal_size

    assert page.outside == []  # works offline: nothing fetched from other hosts
    assert not [p for p in page.problems if "Content Security Policy" in p], page.problems
    assert page.problems == []


def test_in_elder_mode_the_end_of_each_answer_is_above_the_input_box(page: Any, server: str) -> None:
    """What a resident in 大字模式 sees after asking: the last source line and 👍, not the box over them."""
    open_page(page, server, elder=True)
    box = rect(page.locator("#ask-form"))
    assert box["height"] <= 0.15 * PHONE["height"], box  # the input area: at most ~15% of the screen
    for question in (MARRIAGE, "低保怎么申请？", "凤山街道的长者饭堂在哪"):
        answer = ask(page, question)
        assert "answered" in (answer.get_attribute("class") or ""), question
        assert_above_the_input_box(page, answer.locator(".sources li").last, answer.locator(".vote-up"))
        assert_above_the_input_box(page, answer.locator(".vote-down"), answer.locator(".read-aloud"))
        assert rect(page.locator("#ask-form"))["height"] <= 0.15 * PHONE["height"]
    assert_above_the_input_box(page, answer.locator("a.tel").last)  # the meal site's phone number
    for target in ("vote-up", "vote-down", "read-aloud"):
        assert rect(answer.locator(f".{target}"))["height"] >= 60  # a finger-sized target at 22px text
    save_screenshot(page, "web-phone-elder.png")
    assert page.problems == [] and page.outside == []


def test_phone_numbers_are_tap_to_call_and_addresses_open_nothing(page: Any, server: str) -> None:
    open_page(page, server)
    assert page.locator('meta[name="format-detection"]').get_attribute("content") == (
        "telephone=no, address=no, email=no, date=no"
    )  # the browser adds no links of its own (an address to a map app)
    page.get_by_role("button", name=messages.WEB_TOPIC_LABELS["contact"], exact=True).click()
    contact = page.locator(".topic-contact").last
    contact.wait_for()
    hrefs = contact.locator("a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert "tel:12345" in hrefs and "tel:06603300000" in hrefs, hrefs
    assert contact.locator('a[href="tel:12345"]').inner_text() == "12345"

    answer = ask(page, "凤山街道的长者饭堂在哪")
    site_phone = answer.locator('a[href="tel:06603301101"]')
    assert site_phone.is_visible() and site_phone.inner_text() == "0660-3301101"
    assert "凤山街道党群服务中心一楼" in answer.locator(".msg-text").inner_text()
    # Every link on the page dials a number; no address, map or other site is one tap away.
    every = page.locator("a").evaluate_all("links => links.map(a => [a.getAttribute('href'), a.textContent])")
    assert every and all(href.startswith("tel:") and href[4:].isdigit() for href, _ in every), every
    assert not any("地址" in text or "街道" in text for _, text in every)
    assert page.problems == [] and page.outside == []


def test_topic_chips_show_the_common_questions_of_the_served_index(
    page: Any, server: str, ingested: KnowledgeBase
) -> None:
    from bot.services import topics

    open_page(page, server)
    page.get_by_role("button", name=messages.WEB_TOPIC_LABELS["marriage"], exact=True).click()
    listed = page.locator(".topic-marriage .question-choice")
    listed.first.wait_for()
    expected = topics.common_questions(ingested.assistant.index())["marriage"]
    assert listed.all_inner_texts() == expected
    before = page.locator(".msg-bot.answered").count()
    listed.first.click()
    page.wait_for_function("n => document.querySelectorAll('.msg-bot.answered').length > n", arg=before)
    assert page.locator(".msg-user .msg-text").last.inner_text() == expected[0]
    assert page.problems == []


def test_the_self_check_cards_step_through_to_a_result(page: Any, server: str) -> None:
    """大字模式: 低保 by buttons and one typed figure (a 3元 slip asked again), then 助餐补贴."""
    open_page(page, server, elder=True)
    page.get_by_role("button", name=messages.WEB_WIZARD_CHIPS["dibao"], exact=True).click()
    card = page.locator(".wizard-card").last
    card.locator(".card-choice").first.wait_for()
    assert card.locator(".card-title").inner_text() == messages.WEB_WIZARD_TITLES["dibao"]
    assert card.locator(".card-progress").inner_text() == messages.WEB_WIZARD_PROGRESS.format(n=1, total=3)
    assert card.locator(".card-prompt").inner_text() == messages.WIZ_ASK_AREA
    choices = card.locator(".card-choice")
    assert choices.all_inner_texts() == [messages.WIZ_AREA_URBAN, messages.WIZ_AREA_RURAL]
    for i in range(choices.count()):
        assert rect(choices.nth(i))["height"] >= 60  # large touch targets
    assert_above_the_input_box(page, card.locator(".card-cancel"))

    card.get_by_role("button", name=messages.WIZ_AREA_RURAL, exact=True).click()
    page.wait_for_selector(".wizard-card[data-step=size]")
    assert card.locator(".card-progress").inner_text() == messages.WEB_WIZARD_PROGRESS.format(n=2, total=3)
    save_screenshot(page, "web-phone-elder-wizard.png")
    card.get_by_role("button", name=messages.WEB_WIZARD_PEOPLE.format(n=3), exact=True).click()
    page.wait_for_selector(".wizard-card[data-step=income]")

    card.locator(".card-next").click()  # nothing typed: said on the page, nothing sent
    assert card.locator(".card-problem").inner_text() == messages.WEB_WIZARD_EMPTY
    card.locator(".card-input").fill("3")
    card.locator(".card-next").click()
    page.wait_for_function(
        "t => (document.querySelector('.wizard-card .card-problem') || {}).textContent === t",
        arg=messages.WIZ_INCOME_CONFIRM.format(income="3"),
    )
    assert (
        rect(card.locator(".card-input"))["height"] >= 60 and rect(card.locator(".card-next"))["height"] >= 60
    )
    card.locator(".card-input").fill("1200")
    card.locator(".card-next").click()
    page.wait_for_selector(".wizard-card.wizard-done")
    result = card.locator(".card-result").inner_text()
    assert "人均400元" in result and "低保" in result and "/check" not in result
    assert_above_the_input_box(page, card.locator(".card-again"))

    # 再算一次, then cancel it.
    card.locator(".card-again").click()
    again = page.locator(".wizard-card").last
    again.locator(".card-cancel").wait_for()
    again.locator(".card-cancel").click()
    assert again.locator(".card-result").inner_text() == messages.WEB_WIZARD_CANCELLED

    page.get_by_role("button", name=messages.WEB_WIZARD_CHIPS["meal"], exact=True).click()
    meal = page.locator(".wizard-card").last
    meal.locator(".card-input").wait_for()
    meal.locator(".card-input").fill("68")
    meal.locator(".card-input").press("Enter")
    meal.get_by_role("button", name="计划生育特殊家庭", exact=True).click()
    meal.get_by_role("button", name=messages.WIZ_LOCAL_YES, exact=True).click()
    page.wait_for_function("() => document.querySelectorAll('.wizard-card.wizard-done').length === 3")
    assert "助餐补贴A类" in meal.locator(".card-result").inner_text()
    assert page.problems == [] and page.outside == []


def test_a_tampered_or_stale_card_says_so_and_the_page_goes_on(page: Any, server: str) -> None:
    """The page's side of the API's refusals: a stale step shows the card the token is at, a
    forged token says so and offers to start again."""
    open_page(page, server)
    page.get_by_role("button", name=messages.WEB_WIZARD_CHIPS["dibao"], exact=True).click()
    card = page.locator(".wizard-card").last
    card.locator(".card-choice").first.wait_for()

    def as_if_answering(field: str, value: str) -> Any:
        def handle(route: Any) -> None:
            body = json.loads(route.request.post_data or "{}")
            body[field] = value
            route.continue_(post_data=json.dumps(body, ensure_ascii=False))

        return handle

    stale = as_if_answering("step", "income")  # an answer to another step than the card's
    page.route("**/api/wizard/step", stale)
    card.get_by_role("button", name=messages.WIZ_AREA_URBAN, exact=True).click()
    page.wait_for_function(
        "t => (document.querySelector('.wizard-card .card-problem') || {}).textContent === t",
        arg=messages.WEB_WIZARD_STALE,
    )
    assert card.get_attribute("data-step") == "area"  # the same step: nothing was taken
    page.unroute("**/api/wizard/step", stale)

    forged = as_if_answering("token", "eyJ2IjoxfQ.forged")
    page.route("**/api/wizard/step", forged)
    card.get_by_role("button", name=messages.WIZ_AREA_URBAN, exact=True).click()
    page.wait_for_selector(".wizard-card.wizard-done")
    assert card.locator(".card-result").inner_text() == messages.WEB_WIZARD_FORGED
    page.unroute("**/api/wizard/step", forged)
    card.locator(".card-again").click()  # and a new check starts
    page.locator(".wizard-card").last.get_by_role("button", name=messages.WIZ_AREA_RURAL, exact=True).click()
    page.wait_for_selector(".wizard-card[data-step=size]")


SPEECH_STUB = """
window.__spoken = [];
window.__cancels = 0;
Object.defineProperty(window, "speechSynthesis", {
  configurable: true,
  value: {
    speak: function (u) { window.__spoken.push({ text: u.text, lang: u.lang, rate: u.rate }); },
    cancel: function () { window.__cancels += 1; },
    getVoices: function () { return []; },
    speaking: false,
    pending: false,
  },
});
"""


def test_read_aloud_speaks_the_answer_in_mandarin_with_the_browsers_own_voice(page: Any, server: str) -> None:
    page.add_init_script(SPEECH_STUB)
    open_page(page, server, elder=True)
    answer = ask(page, MARRIAGE)
    read = answer.locator(".read-aloud")
    assert read.inner_text() == messages.WEB_READ_ALOUD
    read.click()
    spoken = page.evaluate("window.__spoken")
    assert len(spoken) == 1 and spoken[0]["lang"] == "zh-CN" and spoken[0]["rate"] < 1
    assert "身份证" in spoken[0]["text"] and "来源" not in spoken[0]["text"]
    assert read.inner_text() == messages.WEB_READ_STOP and read.get_attribute("aria-pressed") == "true"
    cancels = page.evaluate("window.__cancels")
    read.click()  # a second press stops it
    assert page.evaluate("window.__cancels") > cancels and len(page.evaluate("window.__spoken")) == 1
    assert read.inner_text() == messages.WEB_READ_ALOUD

    # Phone numbers are read digit by digit ("一二三四五", not "一万两千三百四十五").
    page.get_by_role("button", name=messages.WEB_TOPIC_LABELS["contact"], exact=True).click()
    page.locator(".topic-contact .read-aloud").click()
    assert "1 2 3 4 5" in page.evaluate("window.__spoken")[-1]["text"]
    assert page.outside == [] and page.problems == []  # nothing fetched to speak


OLD_ENGINE = """
// What WeChat's in-app browser lacks on older Android phones (X5 / Chrome 57-66 era), removed.
delete window.fetch;
delete HTMLFormElement.prototype.requestSubmit;
delete NodeList.prototype.forEach;
delete Element.prototype.remove;
delete Element.prototype.closest;
Object.defineProperty(window, "speechSynthesis", { configurable: true, value: undefined });
window.SpeechSynthesisUtterance = undefined;
"""


def test_the_page_works_without_the_apis_old_in_app_browsers_lack(page: Any, server: str) -> None:
    page.add_init_script(OLD_ENGINE)
    open_page(page, server, elder=True)
    assert page.evaluate("typeof window.fetch") == "undefined"
    answer = ask(page, MARRIAGE)  # Enter sends it without requestSubmit, XMLHttpRequest without fetch
    assert "身份证" in answer.locator(".msg-text").inner_text()
    assert answer.locator(".read-aloud").count() == 0  # no speech synthesis: no button that does nothing
    assert_above_the_input_box(page, answer.locator(".vote-up"))
    page.get_by_role("button", name=messages.WEB_WIZARD_CHIPS["dibao"], exact=True).click()
    card = page.locator(".wizard-card").last
    card.get_by_role("button", name=messages.WIZ_AREA_URBAN, exact=True).click()
    page.wait_for_selector(".wizard-card[data-step=size]")
    assert page.problems == []
