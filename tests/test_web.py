"""The web channel's API and page, over HTTP against the real app and the real ingested index."""

from __future__ import annotations

import dataclasses
import json
import re
import socket
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from bot import messages
from bot.channels.web.app import CSP, create_app, render_page
from bot.config import Settings
from bot.errors import UserError
from bot.state.database import STATE_FILE, State
from bot.testing.ports import free_port
from tests.helpers.knowledge import PYTHON, REPO, KnowledgeBase

MARRIAGE = "结婚登记要带什么材料？"


def web_settings(kb: KnowledgeBase, **web: Any) -> Settings:
    return dataclasses.replace(kb.settings, web=dataclasses.replace(kb.settings.web, **web))


@pytest.fixture
def state(tmp_path: Path) -> Iterator[State]:
    # The ingested data folder is shared and read-only: the web state lives in the test's folder.
    s = State(tmp_path / "web-state", history_size=0)
    yield s
    s.close()


def client_for(kb: KnowledgeBase, state: State, *, ip: str = "203.0.113.7", **web: Any) -> TestClient:
    app = create_app(kb.assistant, web_settings(kb, **web), state)
    return TestClient(app, client=(ip, 50000), raise_server_exceptions=False)


@pytest.fixture
def client(ingested: KnowledgeBase, state: State) -> Iterator[TestClient]:
    with client_for(ingested, state, requests_per_minute=100) as c:
        yield c


def test_marriage_question_names_the_id_card_and_cites_the_guide(client: TestClient) -> None:
    r = client.post("/api/ask", json={"question": MARRIAGE, "history": []})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    data = r.json()
    assert {"question", "answer", "answered", "sources", "latency_ms", "answer_id"} <= set(data)
    assert data["question"] == MARRIAGE
    assert data["answered"] is True
    assert "身份证" in data["answer"]
    paths = [s["path"] for s in data["sources"]]
    assert "marriage-registration.md" in paths
    for s in data["sources"]:
        assert set(s) == {"path", "title", "issued", "score"}
    # What the page shows: the text without the 来源 line, and the cited sources with title and date.
    assert "身份证" in data["text"]
    assert any(c["path"] == "marriage-registration.md" and c["title"] for c in data["cited"])
    assert isinstance(data["answer_id"], str) and data["answer_id"]


def test_answer_is_the_same_as_a_line_of_ask_jsonl(client: TestClient, ingested: KnowledgeBase) -> None:
    data = client.post("/api/ask", json={"question": MARRIAGE}).json()
    expected = ingested.assistant.ask(MARRIAGE, []).as_json()
    for key in ("question", "answer", "answered", "sources"):
        assert data[key] == expected[key]
    assert isinstance(data["latency_ms"], float)


def test_history_makes_a_follow_up_about_the_earlier_topic(client: TestClient) -> None:
    data = client.post(
        "/api/ask", json={"question": "那要不要预约？", "history": ["结婚登记去哪里办？"]}
    ).json()
    assert data["answered"] is True
    assert any("marriage" in s["path"] for s in data["sources"][:3])


def test_script_in_the_question_never_comes_back_as_markup(client: TestClient) -> None:
    for question in ("<script>alert(1)</script>", "结婚登记<script>alert(1)</script>要带什么？"):
        r = client.post("/api/ask", json={"question": question, "history": ["<img src=x onerror=alert(1)>"]})
        assert r.status_code == 200
        data = r.json()
        assert "<script" not in data["answer"].lower()
        assert "<script" not in data["text"].lower()
        assert "onerror" not in data["answer"]


def test_empty_question_gets_the_polite_reply(client: TestClient) -> None:
    for question in ("", "   "):
        data = client.post("/api/ask", json={"question": question, "history": []}).json()
        assert data["answered"] is False
        assert data["answer"] == messages.EMPTY_QUESTION
        assert data["sources"] == []
        assert data["answer_id"] is None  # nothing to rate


def test_every_response_has_the_security_headers(client: TestClient) -> None:
    for r in (
        client.get("/"),
        client.get("/healthz"),
        client.get("/static/app.js"),
        client.post("/api/ask", json={"question": MARRIAGE}),
        client.post("/api/ask", content=b"{not json", headers={"content-type": "application/json"}),
        client.get("/no-such-page"),
    ):
        assert r.headers["content-security-policy"] == CSP
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"
    assert "script-src 'self'" in CSP and "unsafe-inline" not in CSP


def test_page_is_chinese_self_contained_and_has_no_inline_code(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    page = r.text
    assert '<html lang="zh-CN">' in page
    for label in (
        *messages.WEB_TOPIC_LABELS.values(),
        *messages.WEB_WIZARD_CHIPS.values(),
        messages.WEB_ELDER_ON,
    ):
        assert label in page
    # The phone's browser makes no links of its own (addresses to maps, digits to the dialler).
    assert '<meta name="format-detection" content="telephone=no, address=no, email=no, date=no">' in page
    assert "{{" not in page
    # Nothing from other hosts, no inline script or style (the CSP would block them anyway).
    assert "http://" not in page and "https://" not in page and "//" not in page.replace("://", "")
    assert " style=" not in page and "<style" not in page and " on" + "click=" not in page
    scripts = [chunk.split(">", 1)[0] for chunk in page.split("<script")[1:]]
    assert all('src="/static/' in s or 'type="application/json"' in s for s in scripts)
    for asset, kind in (("/static/app.js", "javascript"), ("/static/style.css", "text/css")):
        got = client.get(asset)
        assert got.status_code == 200 and kind in got.headers["content-type"]
    js = client.get("/static/app.js").text
    assert "innerHTML" not in js and "outerHTML" not in js and "insertAdjacentHTML" not in js
    assert "eval(" not in js


def test_the_page_script_is_plain_es5_for_old_in_app_browsers() -> None:
    """WeChat's in-app browser on older Android phones (X5, a Chrome 57-66 era engine) stops at the
    first modern construct: the whole page would be dead. So none in app.js (comments aside)."""
    from bot.channels.web.app import STATIC_DIR

    code = (STATIC_DIR / "app.js").read_text(encoding="utf-8")
    code = re.sub(r"/\*.*?\*/", "", code, flags=re.S)
    code = re.sub(r"^\s*//.*$", "", code, flags=re.M)
    forbidden = {
        "arrow function": r"=>",
        "template string": r"`",
        "optional chaining": r"\?\.",
        "nullish coalescing": r"\?\?",
        "let/const": r"\b(?:let|const)\s",
        "class": r"\bclass\s+\w",
        "async/await": r"\b(?:async|await)\b",
        "fetch": r"\bfetch\s*\(",
        "form.requestSubmit": r"requestSubmit",
        "NodeList.forEach": r"querySelectorAll\([^)]*\)\.forEach",
        "Element.remove": r"\.remove\(\)",
        "Element.closest": r"\.closest\(",
    }
    found = {
        name: re.findall(pattern, code)[:3] for name, pattern in forbidden.items() if re.search(pattern, code)
    }
    assert not found, found


def test_page_strings_cannot_break_out_of_their_elements(ingested: KnowledgeBase) -> None:
    hotline = "</script><script>alert(1)</script>"
    contact = dataclasses.replace(ingested.settings.contact, hotline=hotline)
    page = render_page(dataclasses.replace(ingested.settings, contact=contact))
    assert "<script>alert(1)" not in page
    ui = page.split('type="application/json">', 1)[1].split("</script>", 1)[0]
    assert hotline in json.loads(ui)["network_error"]  # the data survives, escaped


def test_healthz_reports_the_index(client: TestClient, ingested: KnowledgeBase) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    data = r.json()
    info = ingested.assistant.info()
    assert data["status"] == "ok"
    assert data["index_loaded"] is True
    assert data["documents"] == info.documents > 0
    assert data["ingested_at"] == info.ingested_at and data["ingested_at"]
    assert data["version"] == info.version


def test_healthz_without_an_index_is_503_json(tmp_path: Path, make_data_dir: Any, state: State) -> None:
    from bot.answering.assistant import Assistant
    from tests.helpers.knowledge import settings_for

    settings = settings_for(REPO / "knowledge", make_data_dir())
    with TestClient(create_app(Assistant(settings), settings, state)) as c:
        r = c.get("/healthz")
        assert r.status_code == 503
        assert r.json()["index_loaded"] is False
        ask = c.post("/api/ask", json={"question": MARRIAGE})
        assert ask.status_code == 503
        assert ask.json()["error"] == "unavailable"
        assert "12345" in ask.json()["message"]


def test_feedback_is_stored_once_per_answer_and_client(client: TestClient, state: State) -> None:
    answer_id = client.post("/api/ask", json={"question": MARRIAGE}).json()["answer_id"]
    r = client.post("/api/feedback", json={"answer_id": answer_id, "vote": "up"})
    assert r.status_code == 200
    assert r.json() == {"status": "recorded", "message": messages.WEB_FEEDBACK_THANKS}
    again = client.post("/api/feedback", json={"answer_id": answer_id, "vote": "down"})
    assert again.json()["status"] == "duplicate"
    assert again.json()["message"] == messages.WEB_FEEDBACK_DUPLICATE
    stats = state.stats()
    assert (stats.up, stats.down) == (1, 0)
    # Another person may rate the same answer.
    with TestClient(client.app, client=("198.51.100.9", 1)) as other:
        other_vote = other.post("/api/feedback", json={"answer_id": answer_id, "vote": "down"})
        assert other_vote.json()["status"] == "recorded"
    assert (state.stats().up, state.stats().down) == (1, 1)
    unknown = client.post("/api/feedback", json={"answer_id": "nope", "vote": "up"})
    assert unknown.status_code == 404
    assert unknown.json()["message"] == messages.WEB_FEEDBACK_UNKNOWN
    bad = client.post("/api/feedback", json={"answer_id": answer_id, "vote": "meh"})
    assert bad.status_code == 422 and "vote" in bad.json()["message"]


def test_no_raw_ip_is_stored(client: TestClient, state: State) -> None:
    answer_id = client.post("/api/ask", json={"question": MARRIAGE}).json()["answer_id"]
    client.post("/api/feedback", json={"answer_id": answer_id, "vote": "up"})
    dump = "\n".join(sqlite3.connect(state.path).iterdump())
    assert "203.0.113.7" not in dump
    assert state.user_hash("web:203.0.113.7") in dump
    assert (state.path.parent / STATE_FILE).exists()


def test_rate_limit_per_client_with_a_friendly_message(ingested: KnowledgeBase, state: State) -> None:
    app = create_app(ingested.assistant, web_settings(ingested, requests_per_minute=2), state)
    with TestClient(app, client=("192.0.2.1", 1)) as one, TestClient(app, client=("192.0.2.2", 1)) as two:
        for _ in range(2):
            assert one.post("/api/ask", json={"question": ""}).status_code == 200
        r = one.post("/api/ask", json={"question": MARRIAGE})
        assert r.status_code == 429
        assert r.json()["error"] == "rate_limited"
        assert r.json()["message"] == messages.WEB_RATE_LIMITED.format(hotline="12345")
        assert int(r.headers["retry-after"]) >= 1
        assert two.post("/api/ask", json={"question": ""}).status_code == 200  # someone else is not limited


def test_oversized_body_is_413_json(ingested: KnowledgeBase, state: State) -> None:
    with client_for(ingested, state, max_body_bytes=1024) as c:
        big = json.dumps({"question": "结婚" * 2000}, ensure_ascii=False).encode()
        r = c.post("/api/ask", content=big, headers={"content-type": "application/json"})
        assert r.status_code == 413
        assert r.json() == {"error": "too_large", "message": messages.WEB_TOO_LARGE}

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted while it arrives
            yield b'{"question": "'
            for _ in range(100):
                yield "结婚".encode() * 20
            yield b'"}'

        streamed = c.post("/api/ask", content=chunks(), headers={"content-type": "application/json"})
        assert streamed.status_code == 413


def test_invalid_requests_get_json_errors_in_chinese(client: TestClient) -> None:
    bad_json = client.post("/api/ask", content=b'{"question": ', headers={"content-type": "application/json"})
    assert bad_json.status_code == 400
    assert bad_json.json() == {"error": "bad_json", "message": messages.WEB_BAD_JSON}
    cases = [
        ({"history": []}, "缺少 question"),
        ({"question": 42}, "question 的类型不对"),
        ({"question": "x" * 5000}, "question 太长"),
        ({"question": "低保", "history": ["a"] * 11}, "history 太长"),
        ({"question": "低保", "history": "结婚"}, "history 的类型不对"),
    ]
    for body, reason in cases:
        r = client.post("/api/ask", json=body)
        assert r.status_code == 422, body
        assert r.json()["error"] == "bad_request"
        assert reason in r.json()["message"]
    not_found = client.get("/api/nothing")
    assert not_found.status_code == 404 and not_found.json()["message"] == messages.WEB_NOT_FOUND
    wrong_method = client.get("/api/ask")
    assert wrong_method.status_code == 405 and wrong_method.json()["message"]


def test_a_crash_is_an_apology_in_json(ingested: KnowledgeBase, state: State) -> None:
    class Broken:
        def ask(self, question: str, history: Any) -> Any:
            raise RuntimeError("boom: internal detail")

        def info(self) -> Any:
            raise RuntimeError("boom")

    app = create_app(Broken(), web_settings(ingested), state)  # type: ignore[arg-type]
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.post("/api/ask", json={"question": MARRIAGE})
        assert r.status_code == 500
        assert r.json()["message"] == messages.ERROR_APOLOGY.format(hotline="12345")
        assert "boom" not in r.text
        assert r.headers["content-security-policy"] == CSP


def test_topic_chip_questions_are_answered(client: TestClient) -> None:
    for label, question in messages.WEB_TOPICS:
        data = client.post("/api/ask", json={"question": question}).json()
        assert data["answered"] is True, label
    contact = client.post("/api/ask", json={"question": messages.WEB_TOPICS[-1][1]}).json()
    assert "0660" in contact["answer"] or "12345" in contact["answer"]


def test_phone_numbers_in_an_answer_come_as_parts_to_dial(client: TestClient) -> None:
    data = client.post("/api/ask", json={"question": "凤山街道的长者饭堂在哪"}).json()
    assert "".join(p["text"] for p in data["parts"]) == data["text"]
    dialled = [p["tel"] for p in data["parts"] if "tel" in p]
    assert "06603301101" in dialled
    assert all("地址" not in p["text"] for p in data["parts"] if "tel" in p)  # an address is never a link


def test_topic_chips_get_the_common_questions_of_the_served_index(
    client: TestClient, ingested: KnowledgeBase
) -> None:
    from bot.services import topics

    common = topics.common_questions(ingested.assistant.index())
    for key in topics.TOPICS:
        r = client.get(f"/api/topics/{key}")
        assert r.status_code == 200
        data = r.json()
        assert data["label"] == messages.WEB_TOPIC_LABELS[key]
        assert data["questions"] == common[key] and data["questions"]
        assert data["header"] == messages.WEB_TOPIC_HEADER.format(topic=data["label"])
    first = client.get("/api/topics/marriage").json()["questions"][0]
    assert client.post("/api/ask", json={"question": first}).json()["answered"] is True
    contact = client.get("/api/topics/contact").json()
    assert contact["questions"] == [] and "12345" in contact["text"]
    assert {"12345", "06603300000"} <= {p["tel"] for p in contact["parts"] if "tel" in p}
    missing = client.get("/api/topics/nosuch")
    assert missing.status_code == 404 and missing.json()["message"] == messages.WEB_NOT_FOUND


# --- the command line --------------------------------------------------------------------------------


def test_cli_web_serves_until_stopped(ingested_copy: KnowledgeBase) -> None:
    """What an independent check does: start it, wait for /healthz, ask, load the page."""
    kb = ingested_copy  # the server writes its state (votes, salt) into the data folder
    port = free_port()
    proc = subprocess.Popen(
        [PYTHON, "-m", "bot", "web", "--knowledge", str(kb.knowledge), "--data", str(kb.data),
         "--port", str(port)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.communicate()[1]
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "web server did not come up"
            time.sleep(0.3)
        data = httpx.post(f"{base}/api/ask", json={"question": MARRIAGE, "history": []}, timeout=60).json()
        assert "身份证" in data["answer"]
        assert "marriage-registration.md" in [s["path"] for s in data["sources"]]
        xss = httpx.post(f"{base}/api/ask", json={"question": "<script>alert(1)</script>"}, timeout=60).json()
        assert "<script" not in xss["answer"]
        page = httpx.get(f"{base}/", timeout=10)
        assert page.status_code == 200 and page.headers["content-security-policy"] == CSP
        assert "server" not in page.headers

        # The same port again: one clear line, exit 1.
        again = subprocess.run(
            [PYTHON, "-m", "bot", "web", "--knowledge", str(kb.knowledge), "--data",
             str(kb.data), "--port", str(port)],
            cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert again.returncode == 1
        assert again.stderr.strip().startswith("错误:") and str(port) in again.stderr
        assert "Traceback" not in again.stderr
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode in (0, -15)


def test_bind_refuses_a_port_in_use_with_a_user_error() -> None:
    from bot.channels.web.app import bind

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(UserError, match=str(port)):
            bind("127.0.0.1", port)
