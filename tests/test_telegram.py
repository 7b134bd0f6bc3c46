"""The Telegram channel: the real python-telegram-bot ``Application`` against a fake Bot API server.

Every test talks HTTP to :mod:`bot.testing.bot_api` on 127.0.0.1 through the base URL, with the
real model and a real Chroma index (the session's ``ingested`` knowledge base). Most tests hand updates to
``Application.process_update``; the polling tests run ``Updater.start_polling`` (and one runs
``python -m bot run`` as a process and stops it with SIGTERM). Handler logic that needs no
Telegram is tested directly at the top.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from telegram import Message

from bot import messages
from bot.channels.telegram import context as telegram_context
from bot.channels.telegram import format as fmt
from bot.channels.telegram.app import build_application, webhook_options
from bot.channels.telegram.handlers import addressed_text
from bot.records import Answer
from bot.state.database import State
from bot.testing.bot_api import FakeBotAPI
from tests.helpers.knowledge import PYTHON, REPO, KnowledgeBase
from tests.helpers.telegram import (
    ADMIN,
    GROUP,
    OTHER,
    RESIDENT,
    assert_all_accepted,
    channel_settings,
    drive,
    feed,
    visible,
)

CONTACT = messages.TG_CONTACT.split("\n", 1)[0]

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


@pytest.fixture
def kb(ingested: KnowledgeBase) -> KnowledgeBase:
    """The session's ingested sample knowledge (read-only here)."""
    return ingested


@pytest.fixture
def api() -> Iterator[FakeBotAPI]:
    with FakeBotAPI() as server:
        yield server


# --- handler logic without Telegram ---------------------------------------------------------------


def test_group_messages_count_only_when_they_mention_or_reply_to_the_bot() -> None:
    api = FakeBotAPI()
    try:

        def msg(**kw: Any) -> Message:
            return Message.de_json(api.message(chat_id=GROUP, **kw), None)

        mention = "@Shanwei_Test_Bot"
        ok, text = addressed_text(
            msg(
                text=f"{mention} 低保怎么申请？",
                entities=[{"type": "mention", "offset": 0, "length": len(mention)}],
            ),
            "shanwei_test_bot",
            123456,
        )
        assert ok and text == "低保怎么申请？"
        assert addressed_text(msg(text="低保怎么申请？"), "shanwei_test_bot", 123456) == (
            False,
            "低保怎么申请？",
        )
        assert not addressed_text(msg(text="@shanwei_test_bot2 你好"), "shanwei_test_bot", 123456)[0]
        reply = msg(text="那要带什么材料？", reply_to=api.bot_message(GROUP))
        assert addressed_text(reply, "shanwei_test_bot", 123456) == (True, "那要带什么材料？")
        other = msg(text="同意", reply_to=api.message("你好", user_id=OTHER, chat_id=GROUP))
        assert not addressed_text(other, "shanwei_test_bot", 123456)[0]
    finally:
        api._server.server_close()


# --- through the fake Bot API -------------------------------------------------------------------------


def test_start_shows_topics_whose_questions_answer_when_pressed(
    kb: KnowledgeBase, api: FakeBotAPI, tmp_path: Path
) -> None:
    async def scenario(app: Any) -> None:
        await feed(app, api.text_update("/start"))
        greeting = api.wait_for("sendMessage")
        assert "汕尾市民政问答助手" in visible(greeting)
        assert [b["text"] for b in greeting.buttons] == [
            "老年助餐",
            "婚姻登记",
            "社会救助",
            "联系我们",
            "📝 资格自测",
        ]

        await feed(app, api.callback_update(greeting.button("婚姻登记")["callback_data"]))
        menu = api.wait_for("editMessageText")
        assert "「婚姻登记」常见问题" in visible(menu)
        labels = [b["text"] for b in menu.buttons]
        assert "法定结婚年龄是多少？" in labels and labels[-1] == messages.TG_BACK
        assert api.calls_of("answerCallbackQuery")

        await feed(app, api.callback_update(menu.button("法定结婚年龄是多少？")["callback_data"]))
        answer = api.wait_for("sendMessage", count=2)
        shown = visible(answer)
        assert "问：法定结婚年龄是多少？" in shown and "22周岁" in shown
        assert "来源" in shown and "《民政业务常见问题解答》" in shown
        assert {"👍", "👎", "查看原文", "转人工"} <= {b["text"] for b in answer.buttons}

        await feed(app, api.callback_update("tp:contact"))
        assert "12345" in visible(api.wait_for("editMessageText", count=2))
        await feed(app, api.callback_update("q:marriage:999:0"))  # a keyboard from an older index version
        toast = api.wait_for("answerCallbackQuery", lambda c: c.get("text") == messages.TG_TOPIC_STALE)
        assert toast

    drive(kb, api, tmp_path, scenario)
    assert_all_accepted(api)


def test_polling_end_to_end_answers_with_sources_and_typing(
    kb: KnowledgeBase, api: FakeBotAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(telegram_context, "TYPING_AFTER", 0.0)  # "typing…" at once, however fast the answer
    stop_seconds: list[float] = []

    async def scenario(app: Any) -> None:
        await app.updater.start_polling(timeout=1, poll_interval=0.0)
        await app.start()
        try:
            api.push_update(api.text_update("结婚登记要带什么材料？"))
            reply = await asyncio.to_thread(api.wait_for, "sendMessage", lambda c: c.chat_id == RESIDENT)
        finally:
            started = time.monotonic()
            await app.updater.stop()
            await app.stop()
            stop_seconds.append(time.monotonic() - started)
        shown = visible(reply)
        assert reply["parse_mode"] == "HTML"
        assert "身份证" in shown and "来源" in shown and "《结婚登记办事指南（2025年新条例）》" in shown
        assert [b["text"] for b in reply.buttons] == ["👍", "👎", "查看原文", "转人工"]
        typing = api.calls_of("sendChatAction", lambda c: c.chat_id == RESIDENT and c["action"] == "typing")
        assert typing and typing[0].at <= reply.at

    drive(kb, api, tmp_path, scenario)
    assert stop_seconds[0] < 3.0
    assert_all_accepted(api)


def test_typing_shows_only_when_the_answer_takes_noticeable_time(
    kb: KnowledgeBase, api: FakeBotAPI, tmp_path: Path
) -> None:
    async def scenario(app: Any) -> None:
        context = SimpleNamespace(bot=app.bot)
        async with telegram_context.typing(
            context, RESIDENT, after=60.0
        ):  # a quick answer: no chat action at all
            await asyncio.sleep(0)
        assert not api.calls_of("sendChatAction")
        async with telegram_context.typing(
            context, OTHER, after=0.0
        ):  # a slow one: "typing…" while it is computed
            await asyncio.to_thread(api.wait_for, "sendChatAction", lambda c: c.chat_id == OTHER)
        assert [c["action"] for c in api.calls_of("sendChatAction")] == ["typing"]

    drive(kb, api, tmp_path, scenario)
    assert telegram_context.TYPING_AFTER <= 1.0  # residents wait at most a second without a sign


def test_follow_up_uses_history_that_survives_a_restart(
    kb: KnowledgeBase, api: FakeBotAPI, tmp_path: Path
) -> None:
    async def first(app: Any) -> None:
        await feed(app, api.text_update("低保怎么申请？"))

    async def after_restart(app: Any) -> None:
        await feed(app, api.text_update("那要带什么材料？"))
        follow_up = visible(api.sent(RESIDENT)[-1])
        assert "材料" in follow_up and "《最低生活保障（低保）申请指南》" in follow_up
        state = app.bot_data.state
        assert state.history(state.chat_key(RESIDENT)) == ["低保怎么申请？", "那要带什么材料？"]
        await feed(app, api.text_update("/new"))
        assert visible(api.sent(RESIDENT)[-1]) == messages.TG_NEW_TOPIC
        assert state.history(state.chat_key(RESIDENT)) == []

    drive(kb, api, tmp_path / "state", first).close()
    drive(kb, api, tmp_path / "state", after_restart)  # a new Application and State: a restart


def test_out_of_scope_question_points_to_12345(kb: KnowledgeBase, api: FakeBotAPI, tmp_path: Path) -> None:
    async def scenario(app: Any) -> None:
        await feed(app, api.text_update("今天汕尾天气怎么样？"))

    drive(kb, api, tmp_path, scenario)
    (reply,) = api.sent(RESIDENT)
    shown = visible(reply)
    assert "12345" in shown and "来源" not in shown
    assert [b["text"] for b in reply.buttons] == ["👍", "👎", "转人工"]  # nothing to show as 原文


def test_html_in_questions_is_escaped_everywhere(kb: KnowledgeBase, api: FakeBotAPI, tmp_path: Path) -> None:
    async def scenario(app: Any) -> None:
        await feed(app, api.text_update("<b>低保</b><script>alert(1)</script>怎么申请？"))
        await feed(app, api.text_update("<script>alert('x')</script>火星移民补贴 & <i>怎么领</i>？"))
        await feed(app, api.text_update("/unanswered", user_id=ADMIN))

    drive(kb, api, tmp_path, scenario)
    assert_all_accepted(api)  # the fake rejects tags Telegram does not know, like <script>
    answered, refused = api.sent(RESIDENT)
    assert "<script" not in answered.text and "《最低生活保障（低保）申请指南》" in visible(answered)
    assert "12345" in visible(refused)
    (report,) = api.sent(ADMIN)
    assert (
        "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;火星移民补贴 &amp; &lt;i&gt;怎么领&lt;/i&gt;"
        in report.text
    )
    assert "<script>alert('x')</script>火星移民补贴 & <i>怎么领</i>" in visible(report)
    assert not api.calls_of("sendMessage", lambda c: "parse_mode" not in c.params)  # no plain-text fallback


def test_blank_emoji_non_text_and_very_long_messages(
    kb: KnowledgeBase, api: FakeBotAPI, tmp_path: Path
) -> None:
    long_question = ("我家的情况比较复杂，老人身体也不好，家里收入不稳定，" * 200)[:4993] + "低保怎么申请？"
    assert len(long_question) >= 5000

    async def scenario(app: Any) -> None:
        await feed(app, api.text_update("   "))
        await feed(app, api.text_update("😀😀👍"))
        await feed(app, {"message": api.message("", extra={"sticker": {
            "file_id": "s1", "file_unique_id": "u1", "type": "regular", "width": 512, "height": 512,
            "is_animated": False, "is_video": False}})})  # fmt: skip
        await feed(app, api.text_update(long_question))

    state = drive(kb, api, tmp_path, scenario)
    assert_all_accepted(api)
    blank, emoji, sticker, long_reply = (visible(c) for c in api.sent(RESIDENT))
    assert blank == messages.EMPTY_QUESTION
    assert emoji == sticker == messages.NOT_A_QUESTION
    assert messages.TOO_LONG in long_reply or messages.TG_TOO_LONG_UNANSWERED in long_reply
    assert "家里收入不稳定" not in long_reply  # the message is not echoed back
    assert state.history(state.chat_key(RESIDENT)) == []  # a rambling message is no follow-up context


def test_feedback_source_and_human_buttons(kb: KnowledgeBase, api: FakeBotAPI, tmp_path: Path) -> None:
    async def scenario(app: Any) -> None:
        await feed(app, api.text_update("高龄津贴多少岁可以领？"))
        answer = api.sent(RESIDENT)[-1]
        up, down = answer.button("👍")["callback_data"], answer.button("👎")["callback_data"]
        assert len(up.encode()) <= 64 and "高龄" not in up  # an opaque id, not the question
        for data, user in ((up, RESIDENT), (up, RESIDENT), (down, RESIDENT), (up, OTHER)):
            await feed(app, api.callback_update(data, user_id=user, chat_id=RESIDENT))
        await feed(app, api.callback_update("up:nosuchid"))

        await feed(app, api.callback_update(answer.button("查看原文")["callback_data"], message_id=4242))
        await feed(app, api.callback_update(answer.button("转人工")["callback_data"]))
        await feed(app, api.callback_update("src:nosuchid"))

    state = drive(kb, api, tmp_path, scenario)
    assert_all_accepted(api)
    toasts = [c.get("text") for c in api.calls_of("answerCallbackQuery")]
    assert toasts[:5] == [
        messages.TG_FEEDBACK_THANKS,
        messages.TG_FEEDBACK_DUPLICATE,
        messages.TG_FEEDBACK_DUPLICATE,  # one vote per answer and person: no switching to 👎
        messages.TG_FEEDBACK_THANKS,
        messages.TG_FEEDBACK_UNKNOWN,
    ]
    assert toasts[-1] == messages.TG_SOURCE_NONE
    stats = state.stats()
    assert (stats.up, stats.down, stats.handoffs) == (2, 0, 1)

    _, section, human = api.sent(RESIDENT)
    shown = visible(section)
    assert shown.startswith(f"{messages.TG_SOURCE_HEADING}：《")
    assert "80周岁" in shown
    assert section["reply_parameters"]["message_id"] == 4242  # under the answer it explains
    assert "12345" in visible(human) and CONTACT in visible(human)


def test_groups_answer_only_mentions_and_replies(kb: KnowledgeBase, api: FakeBotAPI, tmp_path: Path) -> None:
    mention = "@shanwei_test_bot"

    async def scenario(app: Any) -> None:
        await feed(app, api.text_update("低保怎么申请？", chat_id=GROUP))
        await feed(
            app,
            api.text_update(
                "同意", chat_id=GROUP, reply_to=api.message("你好", user_id=OTHER, chat_id=GROUP)
            ),
        )
        assert not api.calls_of("sendMessage") and not api.calls_of("sendChatAction")
        update = api.text_update(
            f"{mention} 低保怎么申请？",
            chat_id=GROUP,
            entities=[{"type": "mention", "offset": 0, "length": len(mention)}],
        )
        await feed(app, update)
        answer = api.wait_for("sendMessage")
        assert answer.chat_id == GROUP
        assert answer["reply_parameters"]["message_id"] == update["message"]["message_id"]
        assert "《最低生活保障（低保）申请指南》" in visible(answer)
        await feed(app, api.text_update("🙂🙂", chat_id=GROUP, reply_to=api.bot_message(GROUP)))
        assert visible(api.wait_for("sendMessage", count=2)) == messages.NOT_A_QUESTION

    drive(kb, api, tmp_path, scenario)
    assert len(api.sent(GROUP)) == 2


def test_rate_limit_per_user_with_one_friendly_notice(
    kb: KnowledgeBase, api: FakeBotAPI, tmp_path: Path
) -> None:
    async def scenario(app: Any) -> None:
        for _ in range(4):
            await feed(app, api.text_update("👍👍"))
        await feed(app, api.text_update("👍👍", user_id=OTHER))

    drive(kb, api, tmp_path, scenario, questions_per_minute=2)
    replies = [visible(c) for c in api.sent(RESIDENT)]
    notice = messages.TG_RATE_LIMITED.format(hotline="12345")
    assert replies == [messages.NOT_A_QUESTION, messages.NOT_A_QUESTION, notice]  # the 4th: silence
    assert [visible(c) for c in api.sent(OTHER)] == [messages.NOT_A_QUESTION]


def test_help_contact_and_about(kb: KnowledgeBase, api: FakeBotAPI, tmp_path: Path) -> None:
    async def scenario(app: Any) -> None:
        for command in ("/help", "/contact", "/about", "/nosuchcommand"):
            await feed(app, api.text_update(command))

    drive(kb, api, tmp_path, scenario)
    assert_all_accepted(api)
    help_text, contact_text, about_text, unknown = (visible(c) for c in api.sent(RESIDENT))
    assert "/contact" in help_text and "@我" in help_text and unknown == help_text
    assert "12345" in contact_text and "0660-3300000" in contact_text
    assert (
        f"{kb.assistant.info().documents} 份民政文件" in about_text
        and "婚姻登记" in about_text
        and "最近更新于" in about_text
    )


def test_staff_commands_are_refused_to_residents(kb: KnowledgeBase, api: FakeBotAPI, tmp_path: Path) -> None:
    async def scenario(app: Any) -> None:
        for command in ("/stats", "/unanswered", "/reload"):
            await feed(app, api.text_update(command))
        await feed(app, api.text_update("/stats", user_id=ADMIN))
        await feed(app, api.text_update("/reload", user_id=ADMIN))

    drive(kb, api, tmp_path, scenario)
    assert [visible(c) for c in api.sent(RESIDENT)] == [messages.TG_ADMIN_ONLY] * 3
    stats, reload = (visible(c) for c in api.sent(ADMIN))
    assert stats.startswith("使用统计") and "提问：0 次" in stats
    assert "第 " in reload and "版" in reload


def test_errors_are_logged_and_apologised_for_without_details(
    kb: KnowledgeBase,
    api: FakeBotAPI,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(question: str, history: Any = ()) -> Any:
        raise RuntimeError("internal detail: /srv/secret/path")

    monkeypatch.setattr(kb.assistant, "ask", broken)
    caplog.set_level(logging.INFO)

    async def scenario(app: Any) -> None:
        await feed(app, api.text_update("低保怎么申请？"))

    drive(kb, api, tmp_path, scenario)
    (reply,) = api.sent(RESIDENT)
    assert visible(reply) == messages.ERROR_APOLOGY.format(hotline="12345")
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR and r.name.startswith("bot.")]
    assert errors and errors[0].exc_info is not None and "user=" in errors[0].getMessage()
    assert str(RESIDENT) not in caplog.text


def test_rejected_html_is_resent_as_plain_text(kb: KnowledgeBase, api: FakeBotAPI, tmp_path: Path) -> None:
    api.reject_html_next("sendMessage")

    async def scenario(app: Any) -> None:
        await feed(app, api.text_update("/contact"))

    drive(kb, api, tmp_path, scenario)
    rejected, plain = api.calls_of("sendMessage")
    assert rejected.status == 400 and rejected["parse_mode"] == "HTML"
    assert plain.status == 200 and "parse_mode" not in plain.params
    assert plain.text == visible(rejected) or plain.text == fmt.html_to_plain(rejected.text)
    assert "12345" in plain.text


def test_telegram_429_is_retried_by_the_rate_limiter(
    kb: KnowledgeBase, api: FakeBotAPI, tmp_path: Path
) -> None:
    api.fail_next("sendMessage", 429, retry_after=1)

    async def scenario(app: Any) -> None:
        await feed(app, api.text_update("/help"))

    drive(kb, api, tmp_path, scenario)
    first, retried = api.calls_of("sendMessage")
    assert first.status == 429 and retried.status == 200
    assert retried.at - first.at >= 1.0


def test_no_raw_ids_names_or_phone_numbers_are_stored_or_logged(
    kb: KnowledgeBase, api: FakeBotAPI, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="bot")

    async def scenario(app: Any) -> None:
        await feed(app, api.text_update("我电话13812345678，低保怎么申请？"))
        await feed(app, api.callback_update(api.sent(RESIDENT)[-1].button("👍")["callback_data"]))
        await feed(app, api.text_update("/stats"))  # refused: logged with the hash only

    state = drive(kb, api, tmp_path, scenario)
    state.close()
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("bot_state"))
    for secret in (str(RESIDENT), "张三丰", f"resident_{RESIDENT}", "13812345678"):
        assert secret.encode() not in stored
        assert secret not in caplog.text
    assert "低保怎么申请".encode() in stored  # the question itself is kept, with the number redacted
    assert (tmp_path / "salt").stat().st_mode & 0o777 == 0o600


def test_answers_run_in_bounded_concurrency_and_in_order_per_chat(
    kb: KnowledgeBase, api: FakeBotAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lock = threading.Lock()
    active = peak = 0
    order: list[str] = []

    def slow(question: str, history: Any = ()) -> Answer:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.25)
        with lock:
            active -= 1
            order.append(question)
        return Answer(question, f"回答：{question}", True, "answer")

    monkeypatch.setattr(kb.assistant, "ask", slow)

    async def scenario(app: Any) -> None:
        nonlocal peak
        await asyncio.gather(
            *(feed(app, api.text_update(f"问题{i}", user_id=RESIDENT + i)) for i in range(1, 6))
        )
        assert peak == 2  # max_concurrent_answers
        peak = 0
        order.clear()
        await asyncio.gather(*(feed(app, api.text_update(q)) for q in ("第一问", "第二问", "第三问")))
        assert peak == 1 and order == ["第一问", "第二问", "第三问"]  # one chat: one at a time, in order

    drive(kb, api, tmp_path, scenario, max_concurrent_answers=2)
    assert len(api.sent()) == 8
    assert [visible(c).split("\n")[0] for c in api.sent(RESIDENT)] == [
        "回答：第一问",
        "回答：第二问",
        "回答：第三问",
    ]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_webhook_mode_behind_a_reverse_proxy_checks_the_secret(
    kb: KnowledgeBase, api: FakeBotAPI, tmp_path: Path
) -> None:
    port = _free_port()
    settings = channel_settings(
        kb, webhook_url="https://bot.example.org/tg/hook", webhook_listen="127.0.0.1", webhook_port=port
    )
    options = webhook_options(settings, {"TELEGRAM_WEBHOOK_SECRET": "s3cret-Token_1"})
    assert (options["listen"], options["port"], options["url_path"]) == ("127.0.0.1", port, "tg/hook")
    assert len(webhook_options(settings, {})["secret_token"]) >= 32  # never a webhook without a secret
    app = build_application(kb.assistant, settings, api.token, api.base_url, state=State(tmp_path))

    async def main() -> None:
        async with app:
            await app.updater.start_webhook(**options)
            await app.start()
            try:
                hook = api.wait_for("setWebhook", timeout=5)
                assert (
                    hook["url"] == "https://bot.example.org/tg/hook"
                    and hook["secret_token"] == "s3cret-Token_1"
                )
                url = f"http://127.0.0.1:{port}/tg/hook"
                async with httpx.AsyncClient() as client:
                    forged = await client.post(
                        url,
                        json={**api.text_update("/start"), "update_id": 1},
                        headers={"X-Telegram-Bot-Api-Secret-Token": "guessed"},
                    )
                    real = await client.post(
                        url,
                        json={**api.text_update("/start"), "update_id": 2},
                        headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-Token_1"},
                    )
                assert forged.status_code == 403 and real.status_code == 200
                greeting = await asyncio.to_thread(api.wait_for, "sendMessage", timeout=10)
                assert "汕尾市民政问答助手" in visible(greeting)
            finally:
                await app.updater.stop()
                await app.stop()

    asyncio.run(main())
    assert len(api.sent()) == 1


def test_cli_bot_polls_and_stops_on_sigterm(kb: KnowledgeBase, api: FakeBotAPI, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(
        kb.data, data, symlinks=True, ignore=shutil.ignore_patterns("models", "*.lock", "bot_state*", "salt")
    )
    (data / "models").symlink_to((kb.data / "models").resolve(), target_is_directory=True)
    config = tmp_path / "config.toml"
    config.write_text("[telegram]\npoll_timeout_seconds = 5\nquestions_per_minute = 5\n", encoding="utf-8")
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": api.token, "TELEGRAM_API_BASE_URL": api.base_url + "/"}
    command = [PYTHON, "-m", "bot", "run", "-v", "--no-ingest", "--config", str(config)]
    command += ["--knowledge", str(kb.knowledge), "--data", str(data)]
    proc = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        api.wait_for("getUpdates", timeout=60)
        api.push_update(api.text_update("/start"))
        greeting = api.wait_for("sendMessage", timeout=20)
        assert "汕尾市民政问答助手" in visible(greeting)
        assert api.calls_of("setMyCommands")
        api.push_update(api.text_update("/stats"))  # refused, and logged with a hashed user id
        assert visible(api.wait_for("sendMessage", count=2, timeout=20)) == messages.TG_ADMIN_ONLY
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=10)
        assert time.monotonic() - started < 5
    finally:
        if proc.poll() is None:
            proc.kill()
        _, stderr = proc.communicate(timeout=10)
    assert code == 0, stderr[-3000:]
    assert "Traceback" not in stderr and api.token not in stderr
    assert str(RESIDENT) not in stderr and "张三丰" not in stderr  # even with -v (debug logging)
    assert "refused a staff command from user=" in stderr  # people are named by hash only


def test_reingest_is_picked_up_by_the_running_bot(
    ingested_copy: KnowledgeBase, api: FakeBotAPI, tmp_path: Path
) -> None:
    kb = ingested_copy
    from bot.ingest.indexing import ingest

    question = "海豚关爱计划什么时候申请？"
    new_doc = """---
title: 汕尾市海豚关爱计划申请指南
category: welfare
issued: 2026-01-01
source: test
---

# 汕尾市海豚关爱计划申请指南

## 一、申请时间

海豚关爱计划每年3月15日至4月30日接受申请，申请人到户籍所在镇（街道）社会事务办提交申请表。
"""

    async def scenario(app: Any) -> None:
        await app.updater.start_polling(timeout=1, poll_interval=0.0)
        await app.start()
        try:
            api.push_update(api.text_update(question))
            before = await asyncio.to_thread(api.wait_for, "sendMessage", lambda c: c.chat_id == RESIDENT)
            assert "3月15日" not in visible(before) and "12345" in visible(before)

            (kb.knowledge / "dolphin-care.md").write_text(new_doc, encoding="utf-8")
            report = await asyncio.to_thread(ingest, kb.settings, progress=False)
            assert report.usable
            await asyncio.sleep(2.2)  # the Assistant re-checks the served version every 2 s

            api.push_update(api.text_update(question))
            after = await asyncio.to_thread(
                api.wait_for, "sendMessage", lambda c: c.chat_id == RESIDENT, count=2
            )
            assert "3月15日" in visible(after) and "《汕尾市海豚关爱计划申请指南》" in visible(after)

            api.push_update(api.text_update("/reload", user_id=ADMIN))
            reload = await asyncio.to_thread(api.wait_for, "sendMessage", lambda c: c.chat_id == ADMIN)
            version = kb.assistant.index().pointer.version
            assert f"第 {version} 版" in visible(reload) and version >= 2
        finally:
            await app.updater.stop()
            await app.stop()

    drive(kb, api, tmp_path, scenario)
    assert_all_accepted(api)
