"""Telegram: the self-check wizards and the nearest meal sites, through the fake Bot API.

The real ``Application`` from :func:`bot.channels.telegram.app.build_application`, the real model and
index (the session's ``ingested`` knowledge base), and :mod:`bot.testing.bot_api` on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot import messages
from bot.testing.bot_api import Call, FakeBotAPI
from tests.helpers.knowledge import KnowledgeBase
from tests.helpers.telegram import GROUP, RESIDENT, assert_all_accepted, drive, feed, visible

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


class BotAPI(FakeBotAPI):
    """The fake server, returning a sent message's ``reply_markup`` only when it is an inline keyboard,
    as Telegram does (a reply keyboard or its removal is not part of the returned Message)."""

    def _answer(self, call: Call) -> tuple[int, dict[str, Any]]:
        status, payload = super()._answer(call)
        result = payload.get("result")
        if isinstance(result, dict) and "inline_keyboard" not in (result.get("reply_markup") or {}):
            result.pop("reply_markup", None)
        return status, payload


@pytest.fixture
def api() -> Iterator[FakeBotAPI]:
    with BotAPI() as server:
        yield server


def last(api: FakeBotAPI, chat_id: int = RESIDENT) -> Call:
    return api.sent(chat_id)[-1]


async def press(app: Any, api: FakeBotAPI, message: Call, label: str) -> None:
    await feed(app, api.callback_update(message.button(label)["callback_data"]))


def location_update(api: FakeBotAPI, lat: float, lon: float, **kwargs: Any) -> dict[str, Any]:
    return {"message": api.message("", extra={"location": {"latitude": lat, "longitude": lon}}, **kwargs)}


def test_check_runs_the_dibao_wizard_with_buttons_and_typed_numbers(
    ingested: KnowledgeBase, api: FakeBotAPI, tmp_path: Path
) -> None:
    async def scenario(app: Any) -> None:
        await feed(app, api.text_update("/check"))
        menu = last(api)
        assert visible(menu).startswith(messages.WIZ_ASK_KIND)
        assert [b["text"] for b in menu.buttons] == ["低保测算", "助餐补贴测算", "取消"]

        await press(app, api, menu, "低保测算")
        area = last(api)
        assert visible(area).startswith(messages.WIZ_ASK_AREA)
        assert [b["text"] for b in area.buttons] == ["城镇", "农村", "取消"]
        assert api.calls_of("editMessageReplyMarkup")  # the answered step's buttons are removed

        await press(app, api, area, "农村")
        assert visible(last(api)) == messages.WIZ_ASK_SIZE
        assert [b["text"] for b in last(api).buttons] == ["取消"]
        for bad, problem in (
            ("abc", messages.WIZ_NOT_A_NUMBER.format(text="abc")),
            ("-3", messages.WIZ_NEGATIVE),
            ("0 口人", messages.WIZ_SIZE_RANGE),
            ("25", messages.WIZ_SIZE_RANGE),
        ):
            await feed(app, api.text_update(bad))
            shown = visible(last(api))
            assert shown.startswith(problem) and messages.WIZ_ASK_SIZE in shown, shown

        await feed(app, api.text_update("4"))
        assert visible(last(api)) == messages.WIZ_ASK_INCOME
        await feed(app, api.text_update("2000"))
        result = visible(last(api))
        assert "1360" in result and "农村低保标准840" in result
        assert "《汕尾市社会救助和福利保障标准一览（2025年）》" in result and messages.SAMPLE_NOTICE in result
        assert not last(api).buttons

        await press(app, api, area, "城镇")  # a button of the finished wizard
        toast = api.calls_of("answerCallbackQuery")[-1]
        assert toast.get("text") == messages.WIZ_EXPIRED

        await feed(app, api.text_update("低保怎么申请？"))  # the wizard is over: questions are answered again
        assert "《最低生活保障（低保）申请指南》" in visible(last(api))

    drive(ingested, api, tmp_path, scenario)
    assert_all_accepted(api)


def test_cancel_by_command_or_button_at_any_step(
    ingested: KnowledgeBase, api: FakeBotAPI, tmp_path: Path
) -> None:
    async def scenario(app: Any) -> None:
        await feed(app, api.text_update("/cancel"))
        assert visible(last(api)) == messages.WIZ_NOT_ACTIVE

        await feed(app, api.text_update("/check"))
        await press(app, api, last(api), "助餐补贴测算")
        await feed(app, api.text_update("68"))
        await feed(app, api.text_update("/cancel"))
        assert visible(last(api)) == messages.WIZ_CANCELLED
        await feed(app, api.text_update("70"))  # no wizard: an ordinary message again
        assert messages.WIZ_ASK_STATUS not in visible(last(api))

        await feed(app, api.text_update("/check 低保"))
        assert visible(last(api)).startswith(messages.WIZ_ASK_AREA)
        await press(app, api, last(api), "取消")
        assert visible(last(api)) == messages.WIZ_CANCELLED

        await feed(app, api.text_update("/check"))
        await feed(app, api.text_update("取消"))
        assert visible(last(api)) == messages.WIZ_CANCELLED

    state = drive(ingested, api, tmp_path, scenario)
    assert state.open_wizards() == []
    assert_all_accepted(api)


def test_a_wizard_survives_a_restart(ingested: KnowledgeBase, api: FakeBotAPI, tmp_path: Path) -> None:
    async def before(app: Any) -> None:
        await feed(app, api.text_update("/check"))
        await press(app, api, last(api), "低保测算")
        await press(app, api, last(api), "农村")
        await feed(app, api.text_update("4"))
        assert visible(last(api)) == messages.WIZ_ASK_INCOME

    async def after(app: Any) -> None:
        await feed(app, api.text_update("2000"))
        assert "1360" in visible(last(api))

    drive(ingested, api, tmp_path / "state", before).close()
    stored = b"".join(p.read_bytes() for p in (tmp_path / "state").iterdir() if p.is_file())
    assert str(RESIDENT).encode() not in stored  # conversations are keyed by a salted hash
    state = drive(ingested, api, tmp_path / "state", after)  # a new Application and State: a restart
    assert state.open_wizards() == []


def test_the_meal_wizard_from_the_elderly_topic(
    ingested: KnowledgeBase, api: FakeBotAPI, tmp_path: Path
) -> None:
    async def scenario(app: Any) -> None:
        await feed(app, api.text_update("/start"))
        await press(app, api, last(api), "老年助餐")
        menu = api.wait_for("editMessageText")
        labels = [b["text"] for b in menu.buttons]
        assert labels[-3:] == [messages.MS_BUTTON, messages.WIZ_BUTTON, messages.TG_BACK]

        await press(app, api, menu, messages.WIZ_BUTTON)
        assert visible(last(api)).startswith(messages.WIZ_ASK_AGE)
        await feed(app, api.text_update("68"))
        await press(app, api, last(api), "计划生育特殊家庭")
        await press(app, api, last(api), messages.WIZ_LOCAL_YES)
        result = visible(last(api))
        assert "助餐补贴A类" in result and "每餐补贴8元" in result

    drive(ingested, api, tmp_path, scenario)
    assert_all_accepted(api)


def test_sharing_a_location_lists_the_three_nearest_sites(
    ingested: KnowledgeBase, api: FakeBotAPI, tmp_path: Path
) -> None:
    async def scenario(app: Any) -> None:
        await feed(app, api.text_update("/start"))
        await press(app, api, last(api), "老年助餐")
        await press(app, api, api.wait_for("editMessageText"), messages.MS_BUTTON)
        ask = last(api)
        assert visible(ask) == messages.MS_ASK_LOCATION
        (button,) = [b for row in ask["reply_markup"]["keyboard"] for b in row]
        assert button["request_location"] is True

        await feed(app, location_update(api, 22.79, 115.37))
        reply = last(api)
        shown = visible(reply)
        assert shown.startswith(messages.MS_NEAREST_HEADER)
        assert shown.index("凤山街道长者饭堂") < shown.index("2. ")
        assert shown.count("公里") == 3 and shown.count("电话：0660-") == 3 and "供餐时段" in shown
        assert reply["reply_markup"] == {"remove_keyboard": True}

        await feed(app, api.text_update("/near 22.83 115.12"))
        assert "1. 梅陇镇长者饭堂" in visible(last(api))
        await feed(app, api.text_update("/near 梅陇"))  # a place name: its sites, as the console gives them
        assert visible(last(api)).startswith(
            messages.MS_PLACE_HEADER.format(place="梅陇") + "\n1. 梅陇镇长者饭堂"
        )
        await feed(app, api.text_update("/near 22.83"))
        assert visible(last(api)) == messages.MS_NEAR_USAGE

        await feed(app, location_update(api, 23.30, 115.66, chat_id=GROUP, user_id=RESIDENT))
        assert "1. 河田镇长者饭堂" in visible(last(api, GROUP))
        assert "reply_markup" not in last(api, GROUP).params  # no reply keyboard to remove in a group

    drive(ingested, api, tmp_path, scenario)
    assert_all_accepted(api)


def test_wizards_are_for_private_chats(ingested: KnowledgeBase, api: FakeBotAPI, tmp_path: Path) -> None:
    async def scenario(app: Any) -> None:
        await feed(app, api.text_update("/check", chat_id=GROUP))
        assert visible(last(api, GROUP)) == messages.WIZ_PRIVATE_ONLY
        await feed(app, api.text_update("4", chat_id=GROUP))  # not a wizard answer; not addressed to the bot
        assert len(api.sent(GROUP)) == 1

    state = drive(ingested, api, tmp_path, scenario)
    assert state.open_wizards() == []
