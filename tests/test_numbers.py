"""Numbers a resident types, or staff publish, never crash a calculation (issue 14, item 2).

"城镇3口人每月收入" + 309 × "九" + "元，能吃低保吗？" made the numeral reader return infinity: an
``OverflowError``, a 500 from the web and a traceback that stopped ``ask --jsonl``. Staff could do the
same with ``dibao: {urban: .nan}``. Now every number is range-checked before arithmetic, the resident
is told politely what the calculator takes, and a standards block must be finite and positive.
"""

from __future__ import annotations

import copy
import io
import json
import math
from typing import Any

import pytest

from bot import messages
from bot.answering import llm
from bot.chinese.numerals import MAX_NUMBER, cn_number
from bot.services import calculators, wizard
from bot.services.calculators import MAX_MONTHLY_INCOME, OutOfRange, read_diner, read_household
from bot.services.standards import Standards, StandardsError, parse
from tests.helpers.knowledge import STANDARDS_BLOCK, KnowledgeBase, run_cli

NINES = "城镇3口人每月收入" + "九" * 309 + "元，能吃低保吗？"
INCOME_REPLY = messages.CALC_INCOME_OUT_OF_RANGE.format(max_income=f"{MAX_MONTHLY_INCOME:.0f}")
HUGE_QUESTIONS = [
    NINES,
    "城镇3口人每月收入" + "9" * 400 + "元，能吃低保吗？",
    "城镇3口人每月收入九千九百九十九亿元，能吃低保吗？",
    "农村3口人年收入" + "9" * 20 + "元，能申请低保吗",
]


@pytest.fixture
def std() -> Standards:
    return Standards(
        parse(STANDARDS_BLOCK).values, "assistance-standards-shanwei.md", "标准一览", "2025-01-01"
    )


# --- the numeral reader and the calculators ---------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        "九" * 309,
        "9" * 309,
        "9" * 25,
        "1" + "0" * 13,
        "九" * 13,
        "一二三四五六七八九〇一二三四五六七八九〇一二三四五",
    ],
)
def test_the_numeral_reader_never_returns_infinity(token: str) -> None:
    assert cn_number(token) is None


def test_the_numeral_reader_still_reads_what_residents_write() -> None:
    for token, value in [
        ("两千五", 2500),
        ("1.5万", 15000),
        ("二〇二五", 2025),
        ("九千九百九十九亿", 999_900_000_000),
    ]:
        got = cn_number(token)
        assert got == value and got is not None and math.isfinite(got) and got <= MAX_NUMBER


@pytest.mark.parametrize("question", HUGE_QUESTIONS)
def test_a_huge_income_gets_a_polite_reply_from_the_calculator(question: str, std: Standards) -> None:
    result = calculators.answer_free_text(question, std)
    assert result is not None and result.text == INCOME_REPLY
    assert result.figures == {}


def test_household_and_age_out_of_range_are_explained(std: Standards) -> None:
    assert read_household("我家300口人每月收入2000元") == OutOfRange(
        messages.CALC_SIZE_OUT_OF_RANGE.format(max_size=calculators.MAX_HOUSEHOLD)
    )
    assert read_household("城镇3口人每月收入2000元") == calculators.Household(3, 2000.0, "urban")
    assert read_diner("我妈" + "九" * 50 + "岁，助餐补贴多少") == OutOfRange(
        messages.CALC_AGE_OUT_OF_RANGE.format(max_age=calculators.MAX_AGE)
    )
    assert read_diner("我妈300岁，助餐补贴多少") == read_diner("我妈0岁，助餐补贴多少")
    result = calculators.answer_free_text("我妈300岁，长者饭堂吃饭补贴多少", std)
    assert result is not None and "1 到 120" in result.text


def test_the_wizard_says_a_number_is_too_large() -> None:
    assert wizard.read_number("九" * 309) == (None, messages.WIZ_NUMBER_TOO_LARGE)
    assert wizard.read_number("9" * 400 + "元") == (None, messages.WIZ_NUMBER_TOO_LARGE)
    assert wizard.read_number("两千") == (2000.0, "")


def test_the_llm_check_reads_a_huge_numeral_without_overflow() -> None:
    source = "城镇低保标准为每人每月1030元。"
    assert "九" * 309 in llm.unsupported_figures("每月" + "九" * 309 + "元", source)


# --- standards published by staff ---------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), -1, 0, 1e300, True, "1030"])
def test_standards_must_be_finite_and_positive(bad: Any) -> None:
    block = copy.deepcopy(STANDARDS_BLOCK)
    block["dibao"]["urban"] = bad
    with pytest.raises(StandardsError) as caught:
        parse(block)
    assert "standards.dibao.urban" in str(caught.value)


def test_standards_read_back_from_the_index_with_nan_are_refused() -> None:
    """json.loads accepts NaN: a block stored by an older version must not reach a calculator either."""
    raw = json.dumps({**STANDARDS_BLOCK, "dibao": {"urban": float("nan"), "rural": 840}})
    with pytest.raises(StandardsError):
        Standards.from_json(raw)


# --- every way in: the assistant, ask --jsonl, the web, Telegram; and staff's ingest -------------------------


def test_the_assistant_answers_the_309_nines_politely(ingested: KnowledgeBase) -> None:
    answer = ingested.assistant.ask(NINES)
    assert answer.kind == "calculator" and INCOME_REPLY in answer.text


def test_ask_jsonl_answers_the_309_nines_and_goes_on(ingested: KnowledgeBase) -> None:
    lines = [{"question": NINES}, {"question": "离婚冷静期有多长？"}]
    stdin = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines) + "\n"
    done = run_cli(
        "-m", "bot", "ask", "--jsonl", "--knowledge", ingested.knowledge, "--data", ingested.data, stdin=stdin
    )
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    out = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(out) == 2
    assert INCOME_REPLY in out[0]["answer"] and "30日" in out[1]["answer"]


def test_ask_jsonl_writes_an_error_line_for_a_question_that_fails_and_goes_on(
    ingested: KnowledgeBase, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Whatever goes wrong with one question (a bug not found yet), the remaining lines are answered."""
    from bot import cli
    from bot.answering.assistant import Assistant

    real = Assistant.ask

    def flaky(self: Assistant, question: str, history: Any = ()) -> Any:
        if question == "坏问题":
            raise OverflowError("cannot convert float infinity to integer")
        return real(self, question, history)

    monkeypatch.setattr(Assistant, "ask", flaky)
    monkeypatch.setattr(Assistant, "warm_up", lambda self: None)
    stdin = "\n".join(
        json.dumps({"question": q}, ensure_ascii=False) for q in ["坏问题", "离婚冷静期有多长？"]
    )
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin + "\n"))
    code = cli.main(["ask", "--jsonl", "--knowledge", str(ingested.knowledge), "--data", str(ingested.data)])
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0 and len(out) == 2
    assert out[0] == {"line": 1, "error": messages.ASK_LINE_FAILED.format(error="OverflowError")}
    assert "30日" in out[1]["answer"]


def test_the_web_answers_the_309_nines_politely(ingested: KnowledgeBase, tmp_path: Any) -> None:
    from fastapi.testclient import TestClient

    from bot.channels.web.app import create_app
    from bot.state.database import State

    state = State(tmp_path / "state", history_size=0)
    try:
        with TestClient(create_app(ingested.assistant, ingested.settings, state)) as client:
            r = client.post("/api/ask", json={"question": NINES})
        assert r.status_code == 200
        assert INCOME_REPLY in r.json()["answer"]
    finally:
        state.close()


def test_telegram_answers_the_309_nines_politely(ingested: KnowledgeBase, tmp_path: Any) -> None:
    from bot.testing.bot_api import FakeBotAPI
    from tests.helpers.telegram import RESIDENT, drive, feed, visible

    with FakeBotAPI() as api:

        async def scenario(app: Any) -> None:
            await feed(app, api.text_update(NINES, user_id=RESIDENT))

        drive(ingested, api, tmp_path / "state", scenario)
        replies = [visible(call) for call in api.sent(RESIDENT)]
    assert replies and INCOME_REPLY in replies[-1]
    assert messages.ERROR_APOLOGY.split("，")[0] not in "".join(replies)


def test_a_nan_standard_is_refused_by_ingest_and_the_previous_one_keeps_serving(
    ingested_copy: KnowledgeBase,
) -> None:
    kb = ingested_copy
    path = kb.knowledge / "assistance-standards-shanwei.md"
    text = path.read_text(encoding="utf-8")
    assert "dibao: {urban: 1030, rural: 840}" in text
    path.write_text(
        text.replace("dibao: {urban: 1030, rural: 840}", "dibao: {urban: .nan, rural: .inf}"),
        encoding="utf-8",
    )
    report = kb.ingest()
    reasons = dict(report.skipped)
    assert "standards.dibao.urban" in reasons[path.name] and "standards.dibao.rural" in reasons[path.name]
    assert path.name in report.kept_previous
    answer = kb.fresh_assistant().ask("农村4口人每月总收入2000元能申请低保吗")
    assert answer.kind == "calculator" and "1360" in answer.text


def test_wechat_answers_the_309_nines_politely(ingested: KnowledgeBase, tmp_path: Any) -> None:
    from bot.channels.wechat.app import create_app
    from bot.channels.wechat.env import WeChatEnv
    from bot.state.database import State
    from bot.testing.wechat_api import FakeWeChat
    from tests.helpers.serving import serving

    state = State(tmp_path / "state")
    try:
        with FakeWeChat() as wx:
            app = create_app(ingested.assistant, ingested.settings, state, WeChatEnv.from_environ(wx.environ))
            with serving(app, ingested.settings.web) as base:
                wx.callback_url = f"{base}/wechat"
                push = wx.send_text(NINES)
        assert push.problems == [] and INCOME_REPLY in push.reply
    finally:
        state.close()


def test_the_console_answers_the_309_nines_politely(ingested: KnowledgeBase) -> None:
    done = run_cli(
        "-m", "bot", "chat", "--knowledge", ingested.knowledge, "--data", ingested.data, stdin=NINES + "\n"
    )
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert INCOME_REPLY in done.stdout
