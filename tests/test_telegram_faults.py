"""Telegram when things go wrong around it (issue 14, items 6 and 8): PTB's real Application against
the fake Bot API.

* A reply that Telegram takes longer to accept than the bot waits (``[telegram] api_timeout_seconds``)
  may still be delivered. The bot used to apologise at once, and the resident then read the
  apology *before* the answer; now it sends nothing after a timed-out call, so the answer, when it
  comes, is the last word.
* A state database that cannot be written (a full disk) costs the resident nothing but the rating
  buttons.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from bot import messages
from bot.testing.bot_api import FakeBotAPI
from tests.helpers.disks import state_on_small_disk
from tests.helpers.knowledge import KnowledgeBase
from tests.helpers.telegram import RESIDENT, channel_settings, feed, visible

QUESTION = "结婚登记要带什么材料？"


def run(kb: KnowledgeBase, api: FakeBotAPI, state: Any, scenario: Any, **telegram: Any) -> None:
    from bot.channels.telegram.app import build_application

    app = build_application(
        kb.assistant, channel_settings(kb, **telegram), api.token, api.base_url, state=state
    )

    async def main() -> None:
        async with app:
            await scenario(app)

    asyncio.run(main())


def test_a_reply_delayed_past_the_timeout_is_not_followed_by_an_apology(
    ingested: KnowledgeBase, tmp_path: Path
) -> None:
    from bot.state.database import State

    state = State(tmp_path / "state")
    with FakeBotAPI() as api:

        async def scenario(app: Any) -> None:
            api.delay_next("sendMessage", 3.0)  # Telegram accepts the answer only after 3 s
            started = time.monotonic()
            await feed(app, api.text_update(QUESTION, user_id=RESIDENT))
            assert time.monotonic() - started < 2.5  # the bot gave up waiting after 1 s
            await asyncio.to_thread(api.wait_for, "sendMessage", timeout=10)  # … and the answer arrives
            await asyncio.sleep(0.5)

        run(ingested, api, state, scenario, api_timeout_seconds=1.0)
        shown = [visible(call) for call in api.sent(RESIDENT)]
    state.close()
    assert len(shown) == 1 and "身份证" in shown[0], shown
    assert not any(messages.ERROR_APOLOGY.format(hotline="12345") in text for text in shown)


def test_answers_go_out_when_the_state_disk_is_full(ingested: KnowledgeBase, tmp_path: Path) -> None:
    with state_on_small_disk(tmp_path / "state") as (state, make_full), FakeBotAPI() as api:
        how = make_full()

        async def scenario(app: Any) -> None:
            for _ in range(2):
                await feed(app, api.text_update(QUESTION, user_id=RESIDENT))

        run(ingested, api, state, scenario)
        calls = api.sent(RESIDENT)
    print(f"full disk simulated with {how}")
    assert len(calls) == 2
    for call in calls:
        assert "身份证" in visible(call)
        assert not call.buttons  # nothing stored to rate or to show the source of
