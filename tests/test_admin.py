"""The staff console's JSON API over HTTP, against the real app, index, ingest and OCR.

``test_an_independent_check`` drives ``python -m bot admin`` as an outside check would: an account
made with ``admin add-user``, a login over HTTP, a .docx and a scanned PDF uploaded, an ingest,
both served. The others use an HTTP client on the app itself.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from bot import messages
from bot.channels.admin import strings
from bot.channels.admin.accounts import Accounts
from bot.channels.admin.app import create_app
from bot.state.database import State
from tests.helpers.admin import DOCX_QUESTION, PASSWORD, notice_docx
from tests.helpers.knowledge import PYTHON, REPO, KnowledgeBase, copy_of, run_cli
from tests.helpers.scans import STATION_NOTICE, scanned_pdf_bytes

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def wait_job(client: Any, job: str, timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = client.get(f"/admin/api/ingest/{job}").json()
        if state["state"] != "running":
            return dict(state)
        time.sleep(0.3)
    raise AssertionError("the ingest did not finish")


def folder_state(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# --- an independent check, over a real listener ---------------------------------------------------------


@pytest.fixture
def console_process(
    ingested: KnowledgeBase, tmp_path: Path, model_dir: Path
) -> Iterator[tuple[str, KnowledgeBase]]:
    kb = copy_of(ingested, tmp_path, model_dir)
    made = run_cli(
        "-m",
        "bot",
        "admin",
        "add-user",
        "clerk",
        "--knowledge",
        kb.knowledge,
        "--data",
        kb.data,
        stdin=PASSWORD + "\n",
    )
    assert made.returncode == 0, made.stderr
    assert "clerk" in made.stdout
    proc = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "bot",
            "admin",
            "--knowledge",
            str(kb.knowledge),
            "--data",
            str(kb.data),
            "--port",
            "0",
        ],
        cwd=REPO,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=dict(os.environ),
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/admin/", line)
        assert match, line + (proc.stderr.read() if proc.poll() is not None else "")
        yield f"http://127.0.0.1:{match.group(1)}", kb
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_an_independent_check(console_process: tuple[str, KnowledgeBase]) -> None:
    base, kb = console_process
    with httpx.Client(base_url=base, timeout=120) as http:
        # Nothing without a login, and a wrong password gets nothing.
        assert http.get("/admin/api/documents").status_code == 401
        assert (
            http.post(
                "/admin/api/login", json={"username": "clerk", "password": "wrong password"}
            ).status_code
            == 401
        )
        r = http.post("/admin/api/login", json={"username": "clerk", "password": PASSWORD})
        assert r.status_code == 200, r.text
        cookie = r.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
        token = {"X-CSRF-Token": r.json()["csrf"]}

        # Without the CSRF token an upload changes nothing.
        before = folder_state(kb.knowledge)
        r = http.post("/admin/api/documents", files={"file": ("notice.docx", notice_docx(), DOCX)})
        assert r.status_code == 403 and before == folder_state(kb.knowledge)

        # A .docx and a scanned PDF (a picture of the page, no text layer), then the date in a sidecar.
        r = http.post(
            "/admin/api/documents",
            files=[
                ("file", ("notice.docx", notice_docx(), DOCX)),
                ("file", ("station-scan.pdf", scanned_pdf_bytes(STATION_NOTICE), "application/pdf")),
            ],
            headers=token,
        )
        assert r.status_code == 200, r.text
        assert sorted(s["path"] for s in r.json()["saved"]) == ["notice.docx", "station-scan.pdf"]
        r = http.patch("/admin/api/documents/notice.docx", json={"issued": "2025-09-20"}, headers=token)
        assert r.status_code == 200 and r.json()["where"] == "sidecar"
        assert (kb.knowledge / "notice.docx.meta.yaml").exists()

        job = http.post("/admin/api/ingest", headers=token).json()["job"]
        state = wait_job(http, job)
        assert state["state"] == "done", state
        report = state["report"]
        assert {"notice.docx", "station-scan.pdf"} <= set(report["added"])
        assert "新增 notice.docx" in report["summary"] and "新增 station-scan.pdf" in report["summary"]

        rows = {d["path"]: d for d in http.get("/admin/api/documents").json()}
        for path in ("notice.docx", "station-scan.pdf"):
            assert {"path", "title", "issued", "category", "status", "reason"} <= set(rows[path])
            assert rows[path]["status"] == "served", rows[path]
        assert rows["notice.docx"]["issued"] == "2025-09-20"
        assert rows["station-scan.pdf"]["ocr"] is True
        assert rows["station-scan.pdf"]["issued"] == "2025-09-20"  # from the recognised 落款

        # The .docx answers with its sidecar date in the source line.
        r = http.post("/admin/api/try", json={"question": DOCX_QUESTION})
        data = r.json()
        assert data["answered"], data
        assert "2025年10月31日" in data["answer"]
        assert "（2025-09-20）" in data["answer"], data["answer"]
        assert any(d["path"] == "notice.docx" and d["cited"] for d in data["ranking"]["documents"])
        # The scan answers from its OCR text, and says so.
        data = http.post("/admin/api/try", json={"question": "海陆丰助老驿站什么时候开放？"}).json()
        assert data["answered"], data
        assert "station-scan.pdf" in [s["path"] for s in data["sources"]]
        assert "周二至周六" in data["answer"]
        assert messages.SOURCE_OCR in data["answer"]

        # Without a session nothing changes.
        anonymous = httpx.delete(f"{base}/admin/api/documents/notice.docx", headers=token)
        assert anonymous.status_code == 401 and (kb.knowledge / "notice.docx").exists()
        assert http.post("/admin/api/logout", headers=token).status_code == 200
        assert http.get("/admin/api/documents").status_code == 401


# --- the API on the app itself --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kb_admin(
    ingested: KnowledgeBase, tmp_path_factory: pytest.TempPathFactory, model_dir: Path
) -> KnowledgeBase:
    kb = copy_of(ingested, tmp_path_factory.mktemp("admin-api"), model_dir)
    Accounts(kb.data).set_password("clerk", PASSWORD)
    return kb


@pytest.fixture
def client(kb_admin: KnowledgeBase, tmp_path: Path) -> Iterator[TestClient]:
    from bot.answering.assistant import Assistant

    state = State(kb_admin.data, history_size=0)
    app = create_app(Assistant(kb_admin.settings), kb_admin.settings, state)
    with TestClient(
        app, base_url="http://127.0.0.1", client=("127.0.0.1", 5000), raise_server_exceptions=False
    ) as c:
        yield c
    state.close()


def login(client: TestClient) -> dict[str, str]:
    r = client.post("/admin/api/login", json={"username": "clerk", "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"X-CSRF-Token": r.json()["csrf"]}


CHANGES: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", "/admin/api/documents", {"files": {"file": ("x.md", b"# x\n\nnew", "text/markdown")}}),
    ("DELETE", "/admin/api/documents/faq.md", {}),
    ("PATCH", "/admin/api/documents/faq.md", {"json": {"title": "改掉"}}),
    ("POST", "/admin/api/ingest", {}),
    ("POST", "/admin/api/faq", {"json": {"question": "问", "answer": "答"}}),
    ("PUT", "/admin/api/standards", {"json": {"standards": {}}}),
    ("POST", "/admin/api/trash/20250101-000000-abcdef/restore", {}),
]


@pytest.mark.parametrize(("method", "url", "kwargs"), CHANGES)
def test_unauthenticated_and_csrf_less_requests_change_nothing(
    client: TestClient, kb_admin: KnowledgeBase, method: str, url: str, kwargs: dict[str, Any]
) -> None:
    before = folder_state(kb_admin.knowledge)
    r = client.request(method, url, **kwargs)
    assert r.status_code == 401 and r.json()["message"] == strings.LOGIN_REQUIRED
    token = login(client)
    r = client.request(method, url, **kwargs)  # logged in, but no X-CSRF-Token
    assert r.status_code == 403 and r.json()["error"] == "csrf"
    r = client.request(method, url, headers={"X-CSRF-Token": token["X-CSRF-Token"] + "x"}, **kwargs)
    assert r.status_code == 403
    assert folder_state(kb_admin.knowledge) == before
    assert client.get("/admin/api/audit").json()[0]["action"] == "login"  # nothing else happened


@pytest.mark.parametrize(
    ("filename", "path"),
    [
        ("../../outside.md", ""),
        ("notes.md", "../outside.md"),
        ("notes.md", "/etc/passwd.md"),
        ("notes.md", "a/../../outside.md"),
        ("..\\outside.md", ""),
        ("~$notice.docx", ""),
        ("_synonyms.txt", ""),
        ("notes.exe", ""),
        ("notes.md", "sub/../../x/"),
    ],
)
def test_path_traversal_and_unusable_names_are_refused(
    client: TestClient, kb_admin: KnowledgeBase, filename: str, path: str
) -> None:
    token = login(client)
    before = folder_state(kb_admin.knowledge)
    data = {"path": path} if path else {}
    r = client.post(
        "/admin/api/documents",
        files={"file": (filename, b"# x\n\ntext", "text/plain")},
        data=data,
        headers=token,
    )
    assert r.status_code == 400, r.text
    assert r.json()["message"]
    assert folder_state(kb_admin.knowledge) == before
    assert not [p for p in kb_admin.knowledge.parent.parent.rglob("outside.md")]
    assert client.get("/admin/api/audit").json()[0]["detail"].startswith("refused")


def test_failed_logins_are_limited(client: TestClient) -> None:
    for _ in range(5):
        assert (
            client.post("/admin/api/login", json={"username": "clerk", "password": "nope nope"}).status_code
            == 401
        )
    r = client.post("/admin/api/login", json={"username": "clerk", "password": PASSWORD})
    assert r.status_code == 429 and "retry-after" in r.headers
    assert (
        client.post("/admin/api/login", data={"username": "clerk", "password": PASSWORD}).status_code == 415
    )


def test_replace_delete_and_restore_lose_nothing(client: TestClient, kb_admin: KnowledgeBase) -> None:
    token = login(client)
    target = kb_admin.knowledge / "drafts" / "note.md"
    assert (
        client.post(
            "/admin/api/documents",
            files={"file": ("note.md", b"# v1\n\none", "text/markdown")},
            data={"path": "drafts/"},
            headers=token,
        ).json()["saved"][0]["replaced"]
        is False
    )
    r = client.post(
        "/admin/api/documents",
        files={"file": ("other-name.md", b"# v2\n\ntwo", "text/markdown")},
        data={"path": "drafts/note.md"},
        headers=token,
    )
    assert r.json()["saved"] == [{"path": "drafts/note.md", "replaced": True, "bytes": 9}]
    assert target.read_bytes() == b"# v2\n\ntwo"
    assert client.delete("/admin/api/documents/drafts/note.md", headers=token).status_code == 200
    assert not target.exists()
    trash = client.get("/admin/api/trash").json()
    assert [t["why"] for t in trash if t["path"] == "drafts/note.md"] == ["delete", "replace"]
    restored = client.post(f"/admin/api/trash/{trash[1]['id']}/restore", headers=token)  # the first version
    assert restored.json() == {"restored": "drafts/note.md"}
    assert target.read_bytes() == b"# v1\n\none"
    rows = {d["path"]: d for d in client.get("/admin/api/documents").json()}
    assert rows["drafts/note.md"]["status"] == "pending"
    actions = [e["action"] for e in client.get("/admin/api/audit").json()]
    assert actions[:5] == ["restore", "delete", "replace", "upload", "login"]
    client.delete("/admin/api/documents/drafts/note.md", headers=token)


def test_standards_are_validated_saved_and_the_old_figure_found(
    client: TestClient, kb_admin: KnowledgeBase
) -> None:
    token = login(client)
    doc = kb_admin.knowledge / "assistance-standards-shanwei.md"
    original = doc.read_text(encoding="utf-8")
    current = client.get("/admin/api/standards").json()
    assert current["path"] == doc.name and current["standards"]["dibao"]["urban"] == 1030
    bad = dict(current["standards"], dibao={"urban": "一千", "rural": 840})
    r = client.put("/admin/api/standards", json={"standards": bad}, headers=token)
    assert r.status_code == 422 and "standards.dibao.urban" in r.json()["message"]
    assert doc.read_text(encoding="utf-8") == original
    new = dict(current["standards"], dibao={"urban": 1050, "rural": 840})
    r = client.put("/admin/api/standards", json={"standards": new}, headers=token)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["changes"] == [{"section": "dibao", "key": "urban", "old": 1030.0, "new": 1050.0}]
    assert any("城镇低保标准" in w and "1050" in w for w in body["warnings"])  # the table still says 1030
    assert doc.name in [s["path"] for s in body["stale"]]
    text = doc.read_text(encoding="utf-8")
    assert "dibao: {urban: 1050, rural: 840}" in text
    assert "# The figures the bot's calculators use" in text  # the comments stay
    doc.write_text(original, encoding="utf-8")


def test_what_residents_asked_csv_and_an_faq_entry_that_is_served(
    client: TestClient, kb_admin: KnowledgeBase
) -> None:
    state = State(kb_admin.data, history_size=0)
    question = "殡葬补贴可以委托别人代领吗？"
    try:
        for _ in range(3):
            state.record_answer(
                user="u1", chat_type="web", question=question, answered=False, kind="dont_know"
            )
        state.record_answer(
            user="u2", chat_type="web", question="一次问过的问题", answered=False, kind="dont_know"
        )
        bad = state.record_answer(
            user="u3",
            chat_type="web",
            question="低保多少钱",
            answered=True,
            kind="answer",
            source_path="minimum-living-allowance.md",
            source_heading="最低生活保障 › 保障标准",
            source_title="最低生活保障",
        )
        state.vote(bad, "u3", -1)
    finally:
        state.close()
    token = login(client)
    rows = client.get("/admin/api/asked").json()["rows"]
    unanswered = [r for r in rows if r["kind"] == "unanswered"]
    assert unanswered[0]["question"] == question and unanswered[0]["count"] == 3
    down = [r for r in rows if r["kind"] == "downvoted"]
    assert down[0]["question"] == "低保多少钱" and down[0]["source"] == "《最低生活保障》 › 保障标准"
    assert client.get("/admin/api/asked", params={"since": "2099-01-01"}).status_code == 422
    csv = client.get("/admin/api/asked.csv")
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.content.startswith("\ufeff".encode()) and question in csv.content.decode("utf-8-sig")

    answer = "可以。委托他人代领的，代领人带上双方身份证和委托书到镇（街道）民政办办理。"
    r = client.post("/admin/api/faq", json={"question": question, "answer": answer}, headers=token)
    assert r.status_code == 200, r.text
    faq = kb_admin.knowledge / "faq-staff.md"
    assert f"**问：**{question}\n**答：**{answer}" in faq.read_text(encoding="utf-8")
    state_ = wait_job(client, r.json()["job"])
    assert state_["state"] == "done" and "faq-staff.md" in state_["report"]["added"], state_
    data = client.post("/admin/api/try", json={"question": question}).json()
    assert data["answered"] and "委托书" in data["answer"], data
    assert "faq-staff.md" in [s["path"] for s in data["sources"]]
