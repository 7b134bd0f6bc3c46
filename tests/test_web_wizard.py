"""The web page's self-check cards over the JSON API (POST /api/wizard/start, /api/wizard/step):
full runs, answers asked again, and forged, stale and expired tokens refused without changing
anything. The real app over HTTP (TestClient); the assistant is a stand-in that serves only the
published standards, since no question is asked here."""

from __future__ import annotations

import base64
import dataclasses
import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bot import messages
from bot.channels.web import wizard_api
from bot.channels.web.app import create_app
from bot.config import Settings, load_settings
from bot.errors import IndexMissingError
from bot.services import wizard
from bot.services.standards import Standards, parse
from bot.state.database import State
from tests.helpers.knowledge import STANDARDS_BLOCK

STD = Standards(parse(STANDARDS_BLOCK).values, "assistance-standards-shanwei.md", "标准一览", "2025-01-01")
IP = "203.0.113.7"


class StandardsOnly:
    """What the wizard routes use of the Assistant: ``index()`` with the standards (or no index)."""

    def __init__(self, missing: bool = False) -> None:
        self.missing = missing

    def index(self) -> Any:
        if self.missing:
            raise IndexMissingError("no index yet")
        return SimpleNamespace(standards=STD, chunks=[], texts=[])


def settings_at(tmp_path: Path, per_minute: int = 100) -> Settings:
    (tmp_path / "knowledge").mkdir(parents=True, exist_ok=True)
    settings = load_settings(None, knowledge=tmp_path / "knowledge", data=tmp_path / "data")
    return dataclasses.replace(
        settings, web=dataclasses.replace(settings.web, requests_per_minute=per_minute)
    )


@pytest.fixture
def state(tmp_path: Path) -> Iterator[State]:
    s = State(tmp_path / "state", history_size=0)
    yield s
    s.close()


def client_for(tmp_path: Path, state: State, *, missing: bool = False, per_minute: int = 100) -> TestClient:
    app = create_app(StandardsOnly(missing), settings_at(tmp_path, per_minute), state)  # type: ignore[arg-type]
    return TestClient(app, client=(IP, 50000), raise_server_exceptions=False)


@pytest.fixture
def client(tmp_path: Path, state: State) -> Iterator[TestClient]:
    with client_for(tmp_path, state) as c:
        yield c


def start(client: TestClient, kind: str) -> dict[str, Any]:
    r = client.post("/api/wizard/start", json={"kind": kind})
    assert r.status_code == 200, r.text
    return dict(r.json())


def step(client: TestClient, card: dict[str, Any], answer: str, status: int = 200) -> dict[str, Any]:
    r = client.post("/api/wizard/step", json={"token": card["token"], "step": card["step"], "answer": answer})
    assert r.status_code == status, r.text
    return dict(r.json())


# --- full runs -------------------------------------------------------------------------------------


def test_dibao_cards_step_through_area_size_and_income_to_the_calculators_result(client: TestClient) -> None:
    card = start(client, "dibao")
    assert card["done"] is False and card["step"] == "area" and card["input"] == "choice"
    assert card["choices"] == [messages.WIZ_AREA_URBAN, messages.WIZ_AREA_RURAL]
    assert card["title"] == messages.WEB_WIZARD_TITLES["dibao"] and card["prompt"] == messages.WIZ_ASK_AREA
    assert card["progress"] == messages.WEB_WIZARD_PROGRESS.format(n=1, total=3) and card["problem"] == ""

    card = step(client, card, messages.WIZ_AREA_RURAL)
    assert card["step"] == "size" and card["input"] == "number" and card["choices"] == []
    assert [q["answer"] for q in card["quick"]] == [
        "1",
        "2",
        "3",
        "4",
        "5",
        "6",
    ]  # big buttons for 1–6 people
    assert card["progress"] == messages.WEB_WIZARD_PROGRESS.format(n=2, total=3)

    card = step(client, card, "3")
    assert card["step"] == "income" and card["quick"] == []
    done = step(client, card, "1200")
    assert done["done"] is True and "token" not in done
    assert "人均400元" in done["result"] and "农村低保标准840" in done["result"]
    assert "/check" not in done["result"]  # the page has its own 再算一次 button
    assert "".join(p["text"] for p in done["parts"]) == done["result"]


def test_meal_cards_give_class_a_for_a_family_planning_special_family(client: TestClient) -> None:
    card = start(client, "meal")
    assert card["step"] == "age" and card["input"] == "number"
    card = step(client, card, "68")
    assert card["choices"] == list(wizard.STATUS_CHOICES)
    card = step(client, card, "计划生育特殊家庭")
    card = step(client, card, messages.WIZ_LOCAL_YES)
    assert card["done"] and "助餐补贴A类" in card["result"] and "每餐补贴8元" in card["result"]


def test_the_menu_card_leads_to_either_wizard(client: TestClient) -> None:
    menu = start(client, "")
    assert menu["step"] == "kind" and menu["progress"] == ""
    assert step(client, menu, messages.WIZ_KIND_MEAL)["step"] == "age"


def test_a_wizard_start_is_counted_for_stats_without_the_address(client: TestClient, state: State) -> None:
    start(client, "dibao")
    dump = "\n".join(sqlite3.connect(state.path).iterdump())
    assert IP not in dump and state.user_hash(f"web:{IP}") in dump and "'wizard'" in dump


# --- answers asked again -----------------------------------------------------------------------------


def test_a_wrong_answer_gets_the_same_card_with_the_problem(client: TestClient) -> None:
    card = step(client, start(client, "dibao"), "城镇")
    again = step(client, card, "abc")
    assert again["step"] == "size" and again["problem"] == messages.WIZ_NOT_A_NUMBER.format(text="abc")
    assert messages.WIZ_CANCEL_HINT not in again["prompt"]  # a card has its own cancel button
    assert step(client, again, "21")["problem"] == messages.WIZ_SIZE_RANGE
    assert step(client, again, "4")["step"] == "income"
    # The card before the wrong answer still works: the wrong answer recorded nothing.
    assert step(client, card, "4")["step"] == "income"


def test_an_income_of_3_yuan_is_asked_again_and_taken_when_repeated(client: TestClient) -> None:
    card = step(client, step(client, start(client, "dibao"), "城镇"), "2")
    unsure = step(client, card, "3元")
    assert unsure["step"] == "income" and unsure["problem"] == messages.WIZ_INCOME_CONFIRM.format(income="3")
    corrected = step(client, unsure, "3000")
    assert corrected["done"] and "每月总收入3000元" in corrected["result"]
    confirmed = step(client, unsure, "3")
    assert confirmed["done"] and "每月总收入3元" in confirmed["result"]


def test_cancel_ends_it_with_the_pages_words(client: TestClient) -> None:
    done = step(client, start(client, "meal"), "取消")
    assert done["done"] and done["result"] == messages.WEB_WIZARD_CANCELLED


def test_without_an_index_the_result_says_so(tmp_path: Path, state: State) -> None:
    with client_for(tmp_path, state, missing=True) as c:
        card = step(c, step(c, start(c, "dibao"), "城镇"), "2")
        done = step(c, card, "2000")
        assert done["done"] and done["result"] == messages.WIZ_NO_STANDARDS
        assert any(p.get("tel") == "12345" for p in done["parts"])  # tap-to-call in the result too


# --- forged, stale and expired tokens ------------------------------------------------------------------


def reforge(token: str, change: Any) -> str:
    """The token with its body changed and the old signature kept (what a tamperer can do)."""
    body, mac = token.split(".")
    data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    change(data)
    raw = json.dumps(data, ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode() + "." + mac


def refused(client: TestClient, token: str, step_name: str, status: int, code: str) -> dict[str, Any]:
    r = client.post("/api/wizard/step", json={"token": token, "step": step_name, "answer": "2000"})
    assert r.status_code == status, r.text
    data = dict(r.json())
    assert data["error"] == code and data["message"]
    return data


def test_forged_tokens_are_refused_and_change_nothing(client: TestClient, tmp_path: Path) -> None:
    card = step(client, step(client, start(client, "dibao"), "农村"), "3")  # at income, size 3

    def bigger_household(data: dict[str, Any]) -> None:
        data["w"]["answers"]["size"] = 20

    def jump_ahead(data: dict[str, Any]) -> None:
        data["w"]["step"] = "income"
        data["w"]["answers"] = {"area": "rural", "size": 20}

    for token in (
        reforge(card["token"], bigger_household),
        reforge(start(client, "dibao")["token"], jump_ahead),
        "not-a-token",
        card["token"][:-2] + "AA",
        "." + card["token"].split(".")[1],
        card["token"] + "é",
    ):
        data = refused(client, token, "income", 400, "wizard_forged")
        assert data["message"] == messages.WEB_WIZARD_FORGED and data["restart"] is True
    # A token of another data folder (another salt) is not ours either.
    with closing(State(tmp_path / "other", history_size=0)) as other:
        app = create_app(StandardsOnly(), settings_at(tmp_path / "o"), other)  # type: ignore[arg-type]
        with TestClient(app, client=(IP, 1)) as elsewhere:
            foreign = start(elsewhere, "dibao")
    refused(client, foreign["token"], "area", 400, "wizard_forged")
    # The genuine card still gives the household of 3 it recorded.
    assert "家庭3口人" in step(client, card, "1200")["result"]


def test_an_answer_to_another_step_is_stale_and_gets_the_tokens_card(client: TestClient) -> None:
    card = step(client, start(client, "dibao"), "城镇")  # at size
    r = client.post("/api/wizard/step", json={"token": card["token"], "step": "area", "answer": "农村"})
    assert r.status_code == 409
    data = r.json()
    assert data["error"] == "wizard_stale" and data["message"] == messages.WEB_WIZARD_STALE
    assert data["card"]["step"] == "size" and data["card"]["problem"] == messages.WEB_WIZARD_STALE
    assert data["card"]["token"] == card["token"]  # unchanged: the same step, the same answers
    assert "城镇" in step(client, step(client, data["card"], "2"), "500")["result"]


def test_an_old_token_is_expired_and_a_future_one_forged(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    card = start(client, "dibao")
    issued = wizard_api.time.time()
    monkeypatch.setattr(wizard_api.time, "time", lambda: issued + wizard_api.MAX_AGE_SECONDS + 60)
    data = refused(client, card["token"], "area", 410, "wizard_expired")
    assert data["message"] == messages.WEB_WIZARD_EXPIRED and data["restart"] is True
    future = start(client, "dibao")  # issued "now", which is a day ahead of the real clock
    monkeypatch.setattr(wizard_api.time, "time", lambda: issued)
    refused(client, future["token"], "area", 400, "wizard_forged")


def test_every_worker_over_the_same_data_folder_reads_the_token(tmp_path: Path, state: State) -> None:
    with client_for(tmp_path, state) as one, closing(State(state.path.parent, history_size=0)) as same_folder:
        app = create_app(StandardsOnly(), settings_at(tmp_path), same_folder)  # type: ignore[arg-type]
        with TestClient(app, client=(IP, 2)) as two:
            card = step(one, start(one, "dibao"), "城镇")
            assert step(two, card, "2")["step"] == "income"


def test_the_token_is_signed_state_and_never_an_address(client: TestClient) -> None:
    card = step(client, start(client, "dibao"), "农村")
    body = card["token"].split(".")[0]
    data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    assert data["w"] == {"kind": "dibao", "step": "size", "answers": {"area": "rural"}}
    assert IP not in json.dumps(data)


# --- bad requests and the rate limit -------------------------------------------------------------------


def test_bad_requests_get_readable_json_errors(client: TestClient) -> None:
    cases = [
        ("/api/wizard/start", {"kind": "tekun"}, "kind 的取值不对"),
        ("/api/wizard/step", {"step": "area", "answer": "城镇"}, "缺少 token"),
        ("/api/wizard/step", {"token": "x", "step": "area", "answer": "城" * 500}, "answer 太长"),
        ("/api/wizard/step", {"token": "x", "step": "area", "answer": 4}, "answer 的类型不对"),
    ]
    for url, body, reason in cases:
        r = client.post(url, json=body)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["error"] == "bad_request" and reason in r.json()["message"]
    assert client.get("/api/wizard/start").status_code == 405


def test_wizard_steps_are_rate_limited_per_client(tmp_path: Path, state: State) -> None:
    with client_for(tmp_path, state, per_minute=1) as c:
        card = start(c, "dibao")
        for _ in range(wizard_api.STEPS_PER_ASK - 1):
            step(c, card, "城镇")
        r = c.post("/api/wizard/step", json={"token": card["token"], "step": "area", "answer": "城镇"})
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        assert r.json()["message"] == messages.WEB_RATE_LIMITED.format(hotline="12345")
