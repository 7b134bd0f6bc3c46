"""The WeChat channel end to end: our real app under uvicorn, the real model and ingested index, and
bot/testing/wechat_api.py playing WeChat (pushing signed, encrypted messages; checking the replies; serving
the access-token and customer-service endpoints with WeChat's limits)."""

from __future__ import annotations

import dataclasses
import logging
import os
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot import messages
from bot.channels.wechat import format as fmt
from bot.channels.wechat.app import create_app
from bot.channels.wechat.env import WeChatEnv
from bot.services import meal_sites
from bot.state.database import STATE_FILE, State
from bot.testing.ports import free_port
from bot.testing.wechat_api import DEFAULT_OPENID, TEXT_MAX_BYTES, FakeWeChat
from bot.testing.wechat_envelope import new_aes_key
from tests.helpers.knowledge import PYTHON, REPO, KnowledgeBase
from tests.helpers.serving import serving

MARRIAGE = "结婚登记要带什么材料？"
HOTLINE = "12345"


@dataclasses.dataclass
class Channel:
    wx: FakeWeChat
    state: State
    settings: Any

    def stats_rows(self) -> list[tuple[str, str, int]]:
        db = sqlite3.connect(self.state.path)
        try:
            return [(r[0], r[1], r[2]) for r in db.execute("SELECT user, chat_type, answered FROM questions")]
        finally:
            db.close()


@pytest.fixture
def channel(ingested: KnowledgeBase, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """``with channel(safe=True, api=True, **wechat_settings) as ch:`` the app against a fake WeChat."""
    states: list[State] = []

    @contextmanager
    def start(*, safe: bool = True, api: bool = True, **wechat: Any) -> Iterator[Channel]:
        with FakeWeChat(aes_key=new_aes_key() if safe else None) as wx:
            environ = wx.environ
            if not api:
                del environ["WECHAT_APP_SECRET"]
            env = WeChatEnv.from_environ(environ)
            settings = dataclasses.replace(
                ingested.settings, wechat=dataclasses.replace(ingested.settings.wechat, **wechat)
            )
            # The ingested data folder is shared and read-only: the channel's state lives in the test's.
            state = State(tmp_path / f"wechat-state-{len(states)}", history_size=5)
            states.append(state)
            with serving(create_app(ingested.assistant, settings, state, env), settings.web) as base:
                url = f"{base}/wechat"
                wx.callback_url = url
                yield Channel(wx, state, settings)

    yield start
    for s in states:
        s.close()


def counting_asks(monkeypatch: pytest.MonkeyPatch, kb: KnowledgeBase, delay: float = 0.0) -> list[str]:
    """Wrap the assistant's ``ask`` to count calls (and, with ``delay``, to be slow)."""
    calls: list[str] = []
    real = kb.assistant.ask

    def ask(question: str, history: Any = ()) -> Any:
        calls.append(question)
        answer = real(question, history)
        time.sleep(delay)
        return answer

    monkeypatch.setattr(kb.assistant, "ask", ask)
    return calls


# --- the handshake -------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("safe", [False, True], ids=["plain", "safe-mode"])
def test_url_verification_handshake(channel: Callable[..., Any], safe: bool) -> None:
    with channel(safe=safe) as ch:
        r = ch.wx.verify_url()
        assert r.status_code == 200 and r.text == r.expected_echo  # type: ignore[attr-defined]
        bad = ch.wx.verify_url(signature="0" * 40)
        assert bad.status_code == 403 and bad.expected_echo not in bad.text  # type: ignore[attr-defined]
        if safe:  # the encrypted echostr of 企业微信 / third-party platforms is decrypted
            enc = ch.wx.verify_url(encrypted=True)
            assert enc.status_code == 200 and enc.text == enc.expected_echo  # type: ignore[attr-defined]


# --- answering ---------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("safe", [True, False], ids=["safe-mode", "plain"])
def test_marriage_question_gets_a_signed_reply_naming_the_id_card_within_5s(
    channel: Callable[..., Any], safe: bool
) -> None:
    with channel(safe=safe) as ch:
        push = ch.wx.send_text(MARRIAGE)
        assert push.problems == []
        assert len(push.attempts) == 1 and push.seconds < 5
        assert "身份证" in push.reply
        assert "来源" in push.reply and messages.WX_FEEDBACK_HINT in push.reply
        assert ch.wx.inbox() == [push.reply]
        assert ch.wx.sent == []  # nothing needed the customer-service API
        # Logged for /stats as the wechat channel, under a hash of the openid.
        rows = ch.stats_rows()
        assert [(r[1], r[2]) for r in rows] == [("wechat", 1)]
        assert rows[0][0] != DEFAULT_OPENID and DEFAULT_OPENID not in rows[0][0]
        assert ch.state.stats().total == 1


@pytest.mark.slow
def test_bad_signature_stale_timestamp_and_forged_nonce_are_refused(
    channel: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, ingested: KnowledgeBase
) -> None:
    calls = counting_asks(monkeypatch, ingested)
    with channel(safe=True) as ch:
        forged = ch.wx.send_text(MARRIAGE, token="not-the-token")
        stale = ch.wx.send_text(MARRIAGE, timestamp=int(time.time()) - 3600)
        for push in (forged, stale):
            assert [a.status for a in push.attempts] == [403]
            assert push.reply == "" and "身份证" not in push.attempts[0].body
    with channel(safe=False) as ch:
        # 明文模式: a captured (timestamp, nonce, signature) reused with another body is a forgery.
        nonce, ts = "31415926", int(time.time())
        first = ch.wx.send_text("低保怎么申请？", nonce=nonce, timestamp=ts)
        assert first.problems == [] and first.reply
        replayed = ch.wx.send_text(MARRIAGE, nonce=nonce, timestamp=ts)
        assert [a.status for a in replayed.attempts] == [403] and replayed.reply == ""
        assert calls == ["低保怎么申请？"]  # nothing refused reached the assistant
        assert ch.state.stats().total == 1
        assert ch.wx.inbox() == [first.reply]


@pytest.mark.slow
def test_the_same_msgid_three_times_is_answered_once(
    channel: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, ingested: KnowledgeBase
) -> None:
    calls = counting_asks(monkeypatch, ingested)
    with channel(safe=True) as ch:
        msg = ch.wx.message("text", Content=MARRIAGE)
        push = ch.wx.push(msg, tries=3)  # WeChat retrying: it did not get the first two replies
        assert push.problems == []
        assert [a.status for a in push.attempts] == [200, 200, 200]
        assert calls == [MARRIAGE]
        assert ch.state.stats().total == 1
        assert ch.wx.inbox() == [push.reply] and "身份证" in push.reply
        assert ch.wx.sent == []


@pytest.mark.slow
def test_a_location_gets_the_nearest_meal_sites(channel: Callable[..., Any], ingested: KnowledgeBase) -> None:
    site = next(s for s in meal_sites.sites(ingested.assistant.index()) if s.lat is not None)
    assert site.lat is not None and site.lon is not None
    with channel(safe=True) as ch:
        push = ch.wx.send_location(site.lat + 0.001, site.lon - 0.001, label="汕尾市城区")
        assert push.problems == []
        assert push.reply.startswith(messages.MS_NEAREST_HEADER)
        assert site.name in push.reply.split("\n")[1]  # the closest first
        assert "公里" in push.reply and "电话" in push.reply
        assert ch.state.stats().total == 0  # a location is not a question


@pytest.mark.slow
def test_a_follow_up_uses_the_residents_earlier_question(channel: Callable[..., Any]) -> None:
    with channel(safe=True) as ch:
        ch.wx.send_text("结婚登记去哪里办？")
        follow = ch.wx.send_text("那要不要预约？")
        assert follow.problems == [] and "婚" in follow.reply
        # Another resident asking the same thing has no such history.
        other = ch.wx.send_text("那要不要预约？", openid="oAnother-resident-0002")
        assert other.reply != follow.reply


# --- WeChat's time and size limits ------------------------------------------------------------------


@pytest.mark.slow
def test_a_slow_answer_goes_by_the_customer_service_api(
    channel: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, ingested: KnowledgeBase
) -> None:
    calls = counting_asks(monkeypatch, ingested, delay=1.5)
    with channel(safe=True, reply_budget_seconds=1.0) as ch:
        push = ch.wx.send_text(MARRIAGE)
        assert push.problems == [] and push.reply == ""  # "success" at once: WeChat will not retry
        assert [a.status for a in push.attempts] == [200] and push.seconds < 1.5
        sent = ch.wx.wait_for_sent(1)
        assert [s.errcode for s in sent] == [0]
        assert "身份证" in sent[0].content and sent[0].openid == DEFAULT_OPENID
        assert ch.wx.inbox() == [sent[0].content]
        assert ch.wx.token_fetches == 1
        # The token expired early: the next slow answer fetches a new one and still arrives.
        ch.wx.expire_tokens()
        other = "oAnother-resident-0002"
        ch.wx.send_text("低保怎么申请？", openid=other)
        sent = ch.wx.wait_for_sent(3)
        assert [s.errcode for s in sent] == [0, 42001, 0]
        assert ch.wx.token_fetches == 2
        assert len(ch.wx.inbox(other)) == 1 and "低保" in ch.wx.inbox(other)[0]
        assert calls == [MARRIAGE, "低保怎么申请？"]


@pytest.mark.slow
def test_a_slow_answer_without_the_api_arrives_by_wechats_retry(
    channel: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, ingested: KnowledgeBase
) -> None:
    calls = counting_asks(monkeypatch, ingested, delay=5.5)
    with channel(safe=True, api=False, reply_budget_seconds=1.0) as ch:
        push = ch.wx.send_text(MARRIAGE)
        assert push.problems == []
        assert [a.status for a in push.attempts] == [None, 200]  # the first try timed out at 5 s
        assert "身份证" in push.reply and push.attempts[1].seconds < 5
        assert calls == [MARRIAGE] and ch.state.stats().total == 1


def _long_limit(ingested: KnowledgeBase) -> tuple[str, int]:
    """The marriage answer as WeChat shows it, and a byte limit its paragraphs fit but the whole does not."""
    text = fmt.answer_text(ingested.assistant.ask(MARRIAGE), hotline=HOTLINE, feedback=True)
    limit = max(200, *(fmt.utf8_len(p) for p in text.split("\n")))
    assert fmt.utf8_len(text) > limit
    return text, limit


@pytest.mark.slow
def test_a_long_answer_is_split_on_paragraphs_under_the_byte_limit(
    channel: Callable[..., Any], ingested: KnowledgeBase
) -> None:
    text, limit = _long_limit(ingested)
    with channel(safe=True, text_max_bytes=limit) as ch:
        push = ch.wx.send_text(MARRIAGE)
        assert push.problems == [] and push.reply == ""  # too long for one passive reply
        expected = fmt.split_text(text, limit)
        sent = ch.wx.wait_for_sent(len(expected))
        assert [s.errcode for s in sent] == [0] * len(expected) and len(expected) >= 2
        assert all(fmt.utf8_len(s.content) <= limit <= TEXT_MAX_BYTES for s in sent)
        assert "\n".join(s.content for s in sent) == text  # in order, cut only at line breaks
        assert sent[-1].content.endswith(messages.WX_FEEDBACK_HINT)


@pytest.mark.slow
def test_when_wechat_refuses_a_part_the_rest_is_not_sent(
    channel: Callable[..., Any], ingested: KnowledgeBase
) -> None:
    _, limit = _long_limit(ingested)
    with channel(safe=True, text_max_bytes=limit) as ch:
        ch.wx.fail_next(45047, "out of response count limit", after=1)
        ch.wx.send_text(MARRIAGE)
        sent = ch.wx.wait_for_sent(2)
        time.sleep(0.5)
        assert [s.errcode for s in ch.wx.sent] == [0, 45047]  # stopped: no gap in what the resident reads
        assert len(ch.wx.inbox()) == 1 and sent[0].content in ch.wx.inbox()


@pytest.mark.slow
def test_a_long_answer_without_the_api_is_shortened_to_one_reply(
    channel: Callable[..., Any], ingested: KnowledgeBase
) -> None:
    text, limit = _long_limit(ingested)
    with channel(safe=False, api=False, text_max_bytes=limit) as ch:
        push = ch.wx.send_text(MARRIAGE)
        assert push.problems == []
        assert fmt.utf8_len(push.reply) <= limit
        assert push.reply.endswith(messages.WX_TRUNCATED.format(hotline=HOTLINE, bureau_phone="0660-3300000"))
        assert text.startswith(push.reply.rsplit("\n", 1)[0])


# --- the other messages --------------------------------------------------------------------------------


@pytest.mark.slow
def test_feedback_1_and_2_rate_the_last_answer(channel: Callable[..., Any]) -> None:
    with channel(safe=True) as ch:
        assert ch.wx.send_text("1").reply == messages.WX_FEEDBACK_NONE  # nothing to rate yet
        ch.wx.send_text(MARRIAGE)
        assert ch.wx.send_text("1").reply == messages.WX_FEEDBACK_THANKS
        assert ch.wx.send_text(" 2 ").reply == messages.WX_FEEDBACK_DUPLICATE  # one vote per answer
        ch.wx.send_text("低保怎么申请？")
        assert ch.wx.send_text("２").reply.startswith("谢谢反馈，我们会改进")
        stats = ch.state.stats()
        assert (stats.up, stats.down, stats.total) == (1, 1, 2)  # votes are not questions


@pytest.mark.slow
def test_subscribe_greets_with_the_topics_and_unsubscribe_says_nothing(channel: Callable[..., Any]) -> None:
    with channel(safe=True) as ch:
        hello = ch.wx.send_event("subscribe")
        assert hello.problems == []
        for label, question in messages.WEB_TOPICS:
            assert label in hello.reply and question in hello.reply
        assert HOTLINE in hello.reply and "位置" in hello.reply
        bye = ch.wx.send_event("unsubscribe")
        assert bye.problems == [] and bye.reply == "" and bye.attempts[0].body == "success"
        assert ch.wx.send_event("CLICK").reply == ""
        assert ch.state.stats().total == 0


@pytest.mark.slow
def test_voice_is_answered_from_wechats_recognition(channel: Callable[..., Any]) -> None:
    with channel(safe=True) as ch:
        push = ch.wx.send_voice("结婚登记要带什么材料。")
        assert push.problems == [] and "身份证" in push.reply
        assert ch.wx.send_voice(None).reply == messages.WX_VOICE_UNRECOGNISED
        assert ch.state.stats().total == 1


@pytest.mark.slow
def test_an_image_gets_the_polite_reply(channel: Callable[..., Any]) -> None:
    with channel(safe=True) as ch:
        push = ch.wx.send_image()
        assert push.problems == [] and push.reply == messages.WX_NOT_TEXT
        assert ch.state.stats().total == 0


@pytest.mark.slow
def test_questions_are_rate_limited_per_resident_with_one_notice(channel: Callable[..., Any]) -> None:
    with channel(safe=True, questions_per_minute=2) as ch:
        replies = [
            ch.wx.send_text(q).reply for q in ("低保怎么申请？", MARRIAGE, "特困怎么申请？", "临时救助")
        ]
        assert "身份证" in replies[1]
        assert replies[2] == messages.WX_RATE_LIMITED.format(hotline=HOTLINE)
        assert replies[3] == ""  # told once, then quiet
        assert "身份证" in ch.wx.send_text(MARRIAGE, openid="oAnother-resident-0002").reply
        assert ch.state.stats().total == 3


@pytest.mark.slow
def test_no_openid_is_logged_or_stored(
    channel: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, ingested: KnowledgeBase, caplog: Any
) -> None:
    counting_asks(monkeypatch, ingested, delay=1.2)
    caplog.set_level(logging.DEBUG)
    with channel(safe=True, reply_budget_seconds=1.0) as ch:
        ch.wx.send_text(MARRIAGE)
        ch.wx.wait_for_sent(1)
        ch.wx.send_text("2")
        ch.wx.send_location(22.78, 115.37)
        ch.wx.send_text(MARRIAGE, token="wrong")
        state_bytes = b"".join(p.read_bytes() for p in ch.state.path.parent.iterdir() if p.is_file())
    # The bot's own logs and uvicorn's (the fake WeChat's HTTP client logs its URLs too).
    ours = "\n".join(
        f"{r.getMessage()} {r.exc_text or ''}"
        for r in caplog.records
        if r.name.startswith(("bot", "uvicorn"))
    )
    assert "question user=" in ours and "feedback user=" in ours and "refused" in ours
    assert DEFAULT_OPENID not in ours and "ACCESS_TOKEN_" not in ours
    assert DEFAULT_OPENID.encode() not in state_bytes


# --- the command line --------------------------------------------------------------------------------


def test_cli_without_a_token_says_which_variable_is_missing(tmp_path: Path) -> None:
    env_keep = {k: v for k, v in os.environ.items() if not k.startswith("WECHAT_")}
    result = subprocess.run(
        [PYTHON, "-m", "bot", "wechat", "--data", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**env_keep, "PYTHONIOENCODING": "utf-8"},
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert "WECHAT_TOKEN" in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_cli_serves_the_callback_in_safe_mode(ingested_copy: KnowledgeBase) -> None:
    port = free_port()
    with FakeWeChat(aes_key=new_aes_key()) as wx:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WECHAT_")}
        env.update(wx.environ, PYTHONIOENCODING="utf-8")
        args = ["-m", "bot", "wechat", "--knowledge", ingested_copy.knowledge, "--data", ingested_copy.data]
        proc = subprocess.Popen(
            [PYTHON, *map(str, args), "--port", str(port)],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 120
            while True:
                assert proc.poll() is None, proc.communicate()[1]
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "the channel did not start"
                time.sleep(0.2)
            wx.callback_url = f"http://127.0.0.1:{port}/wechat"
            assert wx.verify_url().status_code == 200
            push = wx.send_text(MARRIAGE)
            assert push.problems == [] and "身份证" in push.reply and push.seconds < 5
        finally:
            proc.terminate()
            _, err = proc.communicate(timeout=30)
        assert "安全模式" in err and f":{port}/wechat" in err
        assert DEFAULT_OPENID not in err
    assert (ingested_copy.data / STATE_FILE).exists()
