"""Driving the Telegram channel in tests: PTB's real Application over the fake Bot API, one update at a time."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from telegram import Update

from bot.channels.telegram.app import build_application
from bot.config import Settings
from bot.state.database import State
from bot.testing.bot_api import Call, FakeBotAPI
from bot.testing.telegram_html import parse_html
from tests.helpers.knowledge import KnowledgeBase

RESIDENT = 777123456
OTHER = 777654321
ADMIN = 900900900
GROUP = -1001234567


def channel_settings(kb: KnowledgeBase, **telegram: Any) -> Settings:
    tg = dataclasses.replace(
        kb.settings.telegram, **{"admins": (ADMIN,), "questions_per_minute": 30, **telegram}
    )
    return dataclasses.replace(kb.settings, telegram=tg)


Scenario = Callable[[Any], Awaitable[None]]


def drive(kb: KnowledgeBase, api: FakeBotAPI, state_dir: Path, scenario: Scenario, **telegram: Any) -> State:
    """Run ``scenario(app)`` on a fresh, initialised Application whose state lives in ``state_dir``."""
    settings = channel_settings(kb, **telegram)
    state = State(state_dir, history_size=settings.telegram.history_size)
    app = build_application(kb.assistant, settings, api.token, api.base_url, state=state)

    async def main() -> None:
        async with app:
            await scenario(app)

    asyncio.run(main())
    return state


_update_ids = iter(range(10_000, 10**9))


async def feed(app: Any, update: dict[str, Any]) -> None:
    """Hand one update to the application, as polling would, and wait for its handlers."""
    await app.process_update(Update.de_json({**update, "update_id": next(_update_ids)}, app.bot))


def texts_to(api: FakeBotAPI, chat_id: int) -> list[str]:
    return [c.text for c in api.sent(chat_id)]


def visible(call: Call) -> str:
    """The text a resident sees (HTML parsed as Telegram parses it)."""
    text, error = parse_html(call.text) if call.get("parse_mode") == "HTML" else (call.text, "")
    assert not error, error
    return text


def assert_all_accepted(api: FakeBotAPI) -> None:
    """Telegram (the fake) accepted every message: valid HTML, ≤ 4096, short callback data."""
    rejected = [(c.method, c.text[:80]) for c in api.calls if c.status != 200]
    assert not rejected, rejected
