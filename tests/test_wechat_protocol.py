"""The WeChat channel's pure parts: signatures, the 安全模式 envelope, parsing, splitting, settings, the API client.

The other side of every check is bot/testing/wechat_api.py, which implements WeChat's envelope itself
(not with wechatpy), so these tests compare two implementations of the protocol.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from bot.channels.wechat import format as fmt
from bot.channels.wechat.api import CustomerService, WeChatAPIError
from bot.channels.wechat.env import WeChatEnv
from bot.channels.wechat.protocol import BadMessage, Inbound, Protocol, Refused
from bot.config import WechatSettings, load_settings
from bot.errors import UserError
from bot.testing.wechat_api import DEFAULT_OPENID, FakeWeChat
from bot.testing.wechat_envelope import Envelope, _fields, _xml, new_aes_key, sign

TOKEN = "shanwei-test-token"
APP_ID = "wx5ca1ab1e00000001"


def query(*, token: str = TOKEN, timestamp: int | None = None, nonce: str = "1357924680") -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {"signature": sign(token, ts, nonce), "timestamp": ts, "nonce": nonce}


def plain() -> Protocol:
    return Protocol(WeChatEnv(TOKEN))


def safe(key: str) -> Protocol:
    return Protocol(WeChatEnv(TOKEN, key, APP_ID))


def text_xml(content: str = "结婚登记要带什么材料？", msg_id: int = 1001) -> str:
    return _xml(
        {
            "ToUserName": "gh_shanwei",
            "FromUserName": DEFAULT_OPENID,
            "CreateTime": int(time.time()),
            "MsgType": "text",
            "Content": content,
            "MsgId": msg_id,
        }
    )


# --- the handshake and signatures ----------------------------------------------------------------------


def test_url_verification_echoes_echostr_when_the_signature_is_right() -> None:
    q = query() | {"echostr": "8843317761029571234"}
    assert plain().verify_url(q) == "8843317761029571234"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"signature": "0" * 40}, "bad signature"),
        ({"echostr": ""}, "no echostr"),
        ({"timestamp": "abc"}, "no timestamp"),
    ],
)
def test_url_verification_refuses_a_wrong_request(change: dict[str, str], reason: str) -> None:
    q = query() | {"echostr": "123"} | change
    with pytest.raises(Refused, match=reason):
        plain().verify_url(q)


def test_a_signature_made_with_another_token_is_refused() -> None:
    with pytest.raises(Refused, match="bad signature"):
        plain().verify_url(query(token="someone-else") | {"echostr": "1"})


def test_a_stale_or_future_timestamp_is_refused_even_when_signed() -> None:
    for skew in (-301, 301):
        q = query(timestamp=int(time.time()) + skew) | {"echostr": "1"}
        with pytest.raises(Refused, match="stale"):
            plain().verify_url(q)
    # Within the allowed skew (clocks differ a little) it is accepted.
    assert plain().verify_url(query(timestamp=int(time.time()) - 120) | {"echostr": "1"}) == "1"


def test_encrypted_echostr_with_msg_signature_is_decrypted() -> None:
    key = new_aes_key()
    cipher = Envelope(key, APP_ID).encrypt("5931188765")
    ts, nonce = str(int(time.time())), "24680"
    q = {"msg_signature": sign(TOKEN, ts, nonce, cipher), "timestamp": ts, "nonce": nonce, "echostr": cipher}
    assert safe(key).verify_url(q) == "5931188765"
    q["msg_signature"] = sign(TOKEN, ts, nonce, "other")
    with pytest.raises(Refused):
        safe(key).verify_url(q)


# --- 明文模式 messages ------------------------------------------------------------------------------------


def test_a_plain_message_is_parsed() -> None:
    xml = plain().open(query(), text_xml().encode())
    msg = Protocol.parse(xml)
    assert msg == Inbound(
        "text", DEFAULT_OPENID, "gh_shanwei", msg.created, "1001", text="结婚登记要带什么材料？"
    )
    assert msg.dedup_key == "msg:1001"


def test_a_nonce_reused_with_another_body_is_refused_but_a_retry_is_not() -> None:
    p = plain()
    q = query(nonce="777")
    p.open(q, text_xml().encode())
    p.open(q, text_xml().encode())  # WeChat retrying the same request
    with pytest.raises(Refused, match="nonce"):
        p.open(q, text_xml("低保怎么申请？", 1002).encode())


# --- 安全模式 --------------------------------------------------------------------------------------------


def sealed(key: str, xml: str, *, app_id: str = APP_ID, token: str = TOKEN) -> tuple[dict[str, str], bytes]:
    encrypted = Envelope(key, app_id).encrypt(xml)
    q = query()
    q["msg_signature"] = sign(token, q["timestamp"], q["nonce"], encrypted)
    q["encrypt_type"] = "aes"
    return q, _xml({"ToUserName": "gh_shanwei", "Encrypt": encrypted}).encode()


def test_an_encrypted_message_decrypts_to_what_was_sent() -> None:
    key = new_aes_key()
    q, body = sealed(key, text_xml())
    msg = Protocol.parse(safe(key).open(q, body))
    assert msg.text == "结婚登记要带什么材料？" and msg.openid == DEFAULT_OPENID


def test_encrypted_messages_with_a_wrong_signature_appid_or_cipher_are_refused() -> None:
    key = new_aes_key()
    q, body = sealed(key, text_xml())
    with pytest.raises(Refused, match="msg_signature"):
        safe(key).open(q | {"msg_signature": "0" * 40}, body)
    q2, body2 = sealed(key, text_xml(), app_id="wx-another-account")
    with pytest.raises(Refused, match="AppID"):
        safe(key).open(q2, body2)
    with pytest.raises(Refused, match="msg_signature"):
        safe(key).open({k: v for k, v in q.items() if k != "msg_signature"}, body)
    # A plaintext body in 安全模式 has no <Encrypt>: not a message we can trust.
    with pytest.raises(BadMessage):
        safe(key).open(query() | {"msg_signature": "x"}, text_xml().encode())


def test_an_encrypted_reply_is_signed_and_decrypts_for_the_appid() -> None:
    key = new_aes_key()
    msg = Inbound("text", DEFAULT_OPENID, "gh_shanwei", int(time.time()), "1")
    text = "请带上身份证和户口簿。]]> 不会截断 <b>&"
    envelope = _fields(safe(key).reply(msg, text, "99887766"))
    assert envelope["Nonce"] == "99887766"
    assert envelope["MsgSignature"] == sign(TOKEN, envelope["TimeStamp"], "99887766", envelope["Encrypt"])
    inner, app_id = Envelope(key, APP_ID).decrypt(envelope["Encrypt"])
    assert app_id == APP_ID
    fields = _fields(inner)
    assert fields["Content"] == text
    assert (fields["ToUserName"], fields["FromUserName"], fields["MsgType"]) == (
        DEFAULT_OPENID,
        "gh_shanwei",
        "text",
    )
    assert abs(int(fields["CreateTime"]) - time.time()) < 5  # not wechatpy's import-time default


def test_a_plain_reply_keeps_the_text_intact() -> None:
    msg = Inbound("text", DEFAULT_OPENID, "gh_shanwei", 1, "1")
    assert _fields(plain().reply(msg, "a ]]> b", "1"))["Content"] == "a ]]> b"


# --- parsing every kind of message -----------------------------------------------------------------


def fields_of(msg_type: str, **extra: object) -> str:
    return _xml(
        {"ToUserName": "gh", "FromUserName": "oX", "CreateTime": 1700000000, "MsgType": msg_type, **extra}
    )


def test_voice_location_image_and_events_are_parsed() -> None:
    voice = Protocol.parse(fields_of("voice", MediaId="m", Format="amr", Recognition="低保怎么申请", MsgId=5))
    assert (voice.kind, voice.text) == ("voice", "低保怎么申请")
    loc = Protocol.parse(fields_of("location", Location_X=22.7865, Location_Y=115.3751, Scale=15, MsgId=6))
    assert (loc.kind, loc.lat, loc.lon) == ("location", 22.7865, 115.3751)
    assert Protocol.parse(fields_of("image", PicUrl="u", MediaId="m", MsgId=7)).kind == "image"
    assert Protocol.parse(fields_of("file", Title="t", MsgId=8)).kind == "file"
    sub = Protocol.parse(fields_of("event", Event="subscribe", EventKey="qrscene_123"))
    assert (sub.kind, sub.event) == ("event", "subscribe_scan")
    unsub = Protocol.parse(fields_of("event", Event="unsubscribe"))
    assert unsub.event == "unsubscribe" and unsub.dedup_key == "event:oX:1700000000:unsubscribe"
    assert Protocol.parse(fields_of("event", Event="TEMPLATESENDJOBFINISH")).event == "templatesendjobfinish"


@pytest.mark.parametrize(
    "xml",
    [
        "not xml at all",
        "<xml><MsgType>text</MsgType></xml>",
        "<xml><FromUserName>o</FromUserName></xml>",
        fields_of("location", Location_X="north", Location_Y="east", MsgId=1),
        '<!DOCTYPE x [<!ENTITY a "aaaa">]><xml><FromUserName>&a;</FromUserName></xml>',
    ],
)
def test_what_is_not_a_message_is_a_bad_message(xml: str) -> None:
    with pytest.raises(BadMessage):
        Protocol.parse(xml)


# --- WeChat's byte limit ----------------------------------------------------------------------------


def test_short_text_is_one_piece() -> None:
    assert fmt.split_text("您好\n请带身份证", 2000) == ["您好\n请带身份证"]


def test_long_text_is_cut_between_paragraphs_and_nothing_is_lost() -> None:
    paragraphs = [f"第{i}段：" + "婚姻登记需要双方本人到场，携带身份证和户口簿。" * 8 for i in range(12)]
    text = "\n".join(paragraphs)
    parts = fmt.split_text(text, 2000)
    assert len(parts) > 1
    assert all(fmt.utf8_len(p) <= 2000 for p in parts)
    assert "\n".join(parts) == text  # cut only where a line break was
    assert all(p.split("\n")[0].startswith("第") for p in parts)  # every part starts with a paragraph


def test_a_paragraph_too_long_for_one_text_is_cut_between_sentences_then_characters() -> None:
    sentence = "低保申请由户籍所在地乡镇人民政府受理。"
    parts = fmt.split_text(sentence * 200, 2000)
    assert all(fmt.utf8_len(p) <= 2000 for p in parts)
    assert all(p.endswith("。") for p in parts)
    assert "".join(parts) == sentence * 200
    runon = "长" * 3000 + "🙂" * 10
    cut = fmt.split_text(runon, 2000)
    assert "".join(cut) == runon and all(fmt.utf8_len(p) <= 2000 for p in cut)


def test_more_texts_than_allowed_end_with_a_note_that_still_fits() -> None:
    texts = [("段落" * 300 + "\n") * 3 for _ in range(7)]
    parts = [p for t in texts for p in fmt.split_text(t, 2000)]
    limited = fmt.limit_texts(parts, 5, 2000, "（内容较长，未能全部显示）")
    assert len(limited) == 5
    assert limited[-1].endswith("（内容较长，未能全部显示）")
    assert all(fmt.utf8_len(p) <= 2000 for p in limited)
    assert fmt.limit_texts(["a", "b"], 5, 2000, "note") == ["a", "b"]


# --- settings ---------------------------------------------------------------------------------------


def test_wechat_defaults_are_the_config_file() -> None:
    assert load_settings(None, environ={}).wechat == WechatSettings()


def test_budget_and_byte_limit_must_fit_inside_wechats(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "c.toml"
    for text, named in (
        ("[wechat]\nreply_budget_seconds = 5.0\n", "reply_budget_seconds"),
        ("[wechat]\ntext_max_bytes = 4096\n", "text_max_bytes"),
    ):
        path.write_text(text, encoding="utf-8")
        with pytest.raises(UserError, match=named):
            load_settings(path, environ={})


def test_environment_gives_the_mode_and_names_what_is_missing() -> None:
    key = new_aes_key()
    env = WeChatEnv.from_environ(
        {"WECHAT_TOKEN": "t", "WECHAT_ENCODING_AES_KEY": key, "WECHAT_APP_ID": "wx1"}
    )
    assert env.safe_mode and not env.has_api and env.api_base_url == "https://api.weixin.qq.com"
    assert key not in repr(env)
    assert not WeChatEnv.from_environ({"WECHAT_TOKEN": "t"}).safe_mode
    for environ, named in (
        ({}, "WECHAT_TOKEN"),
        ({"WECHAT_TOKEN": "t", "WECHAT_ENCODING_AES_KEY": "short"}, "WECHAT_ENCODING_AES_KEY"),
        ({"WECHAT_TOKEN": "t", "WECHAT_ENCODING_AES_KEY": key}, "WECHAT_APP_ID"),
        ({"WECHAT_TOKEN": "t", "WECHAT_API_BASE_URL": "ftp://x"}, "WECHAT_API_BASE_URL"),
    ):
        with pytest.raises(UserError, match=named):
            WeChatEnv.from_environ(environ)


# --- the customer-service API client against the fake WeChat API -------------------------------------


def _service(wx: FakeWeChat, **env: str) -> CustomerService:
    values = {
        "token": wx.token,
        "app_id": wx.app_id,
        "app_secret": wx.app_secret,
        "api_base_url": wx.api_base_url,
    }
    values.update(env)
    return CustomerService(WeChatEnv(**values), timeout=5)


def test_the_token_is_fetched_once_and_refreshed_when_wechat_refuses_it() -> None:
    async def scenario(wx: FakeWeChat) -> None:
        service = _service(wx)
        try:
            await service.send_text(DEFAULT_OPENID, "第一条：请带身份证。")
            await service.send_text(DEFAULT_OPENID, "第二条")
            assert wx.token_fetches == 1
            wx.expire_tokens()  # 42001
            await service.send_text(DEFAULT_OPENID, "第三条")
            wx.invalidate_tokens()  # 40001
            await service.send_text(DEFAULT_OPENID, "第四条")
            assert wx.token_fetches == 3
        finally:
            await service.aclose()

    with FakeWeChat() as wx:
        wx.open_window(DEFAULT_OPENID)  # as if the resident had just sent a message
        asyncio.run(scenario(wx))
        assert wx.inbox() == ["第一条：请带身份证。", "第二条", "第三条", "第四条"]
        sent = [s for s in wx.sent if s.errcode == 0]
        assert "身份证".encode() in sent[0].raw  # UTF-8 itself, not \\u escapes WeChat would show
        assert json.loads(sent[0].raw)["touser"] == DEFAULT_OPENID


def test_api_errors_are_raised_with_their_code() -> None:
    async def scenario(wx: FakeWeChat) -> list[int]:
        codes = []
        for service, text, fail in (
            (_service(wx, app_secret="wrong"), "x", False),  # the token fetch fails: 40001
            (_service(wx), "长" * 700, False),  # 2100 bytes: 45002
            (_service(wx), "ok", True),  # 45047
        ):
            if fail:
                wx.fail_next(45047, "out of response count limit")
            try:
                await service.send_text(DEFAULT_OPENID, text)
            except WeChatAPIError as exc:
                codes.append(exc.errcode)
            finally:
                await service.aclose()
        return codes

    with FakeWeChat() as wx:
        wx.open_window(DEFAULT_OPENID)
        assert asyncio.run(scenario(wx)) == [40001, 45002, 45047]
        assert wx.inbox() == []


def test_an_unreachable_api_is_an_error_that_does_not_name_the_url() -> None:
    async def scenario() -> str:
        service = CustomerService(
            WeChatEnv("t", app_id="wx", app_secret="s", api_base_url="http://127.0.0.1:9")
        )
        try:
            await service.send_text("o", "x")
        except WeChatAPIError as exc:
            return str(exc)
        finally:
            await service.aclose()
        return ""

    message = asyncio.run(scenario())
    assert "errcode -1" in message and "127.0.0.1" not in message and "secret" not in message
