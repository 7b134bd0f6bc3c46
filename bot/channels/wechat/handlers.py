"""What the bot says to each kind of WeChat message, with the same memory as the other channels.

* text, and voice with WeChat's ``Recognition`` text: a question for the assistant, with the
  resident's recent questions as follow-up context; ``1`` / ``2`` rate the last answer 👍 / 👎,
  ``新话题`` starts over, ``帮助`` shows the welcome;
* location: the nearest meal sites (长者饭堂);
* subscribe: the welcome with the topics; unsubscribe: nothing (and the history is forgotten);
* images, videos, links, files…: a polite request for words; other events: nothing.

Residents are known by a salted hash of their openid (:meth:`State.user_hash`); the raw openid is
never logged or stored. Questions are rate-limited per resident and answered in worker threads, one
at a time per resident so follow-ups see the questions before them. No HTTP here (see ``app``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.channels.wechat import format as fmt
from bot.channels.wechat.deps import (
    Assistant,
    Settings,
    State,
    StateWrites,
    UserError,
    meal_sites,
    messages,
)
from bot.channels.wechat.protocol import Inbound

logger = logging.getLogger(__name__)

CHAT_TYPE = "wechat"  # the channel as State's analytics (/stats) record it
FEEDBACK_KINDS = frozenset({"answer", "dont_know", "other_department"})
SUBSCRIBE_EVENTS = frozenset({"subscribe", "subscribe_scan"})
MAX_REMEMBERED = 10_000  # residents whose lock and last answer are kept in memory before pruning


@dataclass(frozen=True)
class Reply:
    """What to send back: whole texts (cut to WeChat's limit later); none means no message at all."""

    texts: tuple[str, ...] = ()

    @classmethod
    def of(cls, text: str) -> Reply:
        return cls((text,))


def _word(text: str) -> str:
    return "".join(text.split()).lower()


class Conversations:
    """The channel's handlers and what they share: rate limits, per-resident locks, the last answers."""

    def __init__(
        self,
        assistant: Assistant,
        settings: Settings,
        state: State,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.assistant = assistant
        self.settings = settings
        self.state = state
        self.writes = StateWrites()
        wx = settings.wechat
        self.limiter = state.rate_limiter("wechat", wx.questions_per_minute)
        self.answering = asyncio.Semaphore(max(1, wx.max_concurrent_answers))
        self._clock = clock
        self._locks: dict[str, asyncio.Lock] = {}
        self._last: dict[str, tuple[str, float]] = {}  # user hash → (answer id, when it was sent)
        c = settings.contact
        self.contact = {"hotline": c.hotline, "bureau_phone": c.bureau_phone, "office_hours": c.office_hours}

    # --- identities ------------------------------------------------------------------------------

    def who(self, inbound: Inbound) -> str:
        """The resident's salted hash (what logs and analytics see)."""
        return self.state.user_hash(f"{CHAT_TYPE}:{inbound.openid}")

    def _chat(self, inbound: Inbound) -> str:
        return self.state.chat_key(f"{CHAT_TYPE}:{inbound.openid}")

    def _lock(self, key: str) -> asyncio.Lock:
        if len(self._locks) > MAX_REMEMBERED:
            self._locks = {k: v for k, v in self._locks.items() if v.locked()}
        return self._locks.setdefault(key, asyncio.Lock())

    # --- dispatch --------------------------------------------------------------------------------

    async def handle(self, inbound: Inbound) -> Reply:
        """The reply to one message or event."""
        if inbound.kind == "text":
            return await self.on_text(inbound)
        if inbound.kind == "voice":
            return await self.on_voice(inbound)
        if inbound.kind == "location":
            return await self.on_location(inbound)
        if inbound.kind == "event":
            return await self.on_event(inbound)
        return await self.on_other(inbound)

    async def on_text(self, inbound: Inbound) -> Reply:
        """A typed message: a vote, a keyword, or a question."""
        word = _word(inbound.text)
        if word in messages.WX_VOTE_UP_WORDS:
            return await self.on_vote(inbound, 1)
        if word in messages.WX_VOTE_DOWN_WORDS:
            return await self.on_vote(inbound, -1)
        if word in messages.WX_NEW_TOPIC_WORDS:
            await asyncio.to_thread(self.writes.attempt, None, self.state.forget, self._chat(inbound))
            self._last.pop(self.who(inbound), None)
            return Reply.of(messages.WX_NEW_TOPIC)
        if word in messages.WX_HELP_WORDS:
            return Reply.of(self.welcome())
        return await self.on_question(inbound, inbound.text)

    async def on_voice(self, inbound: Inbound) -> Reply:
        """A voice message: WeChat's recognition of it is the question."""
        if inbound.text.strip():
            return await self.on_question(inbound, inbound.text)
        if self.limiter.check(self.who(inbound)).allowed:
            return Reply.of(messages.WX_VOICE_UNRECOGNISED)
        return Reply()

    async def on_question(self, inbound: Inbound, text: str) -> Reply:
        """Rate-limit, answer in a worker thread with the resident's history, record, offer 1 / 2."""
        who = self.who(inbound)
        verdict = self.limiter.check(who)
        if not verdict.allowed:
            logger.info("rate limited user=%s (retry in %.0fs)", who[:12], verdict.retry_after)
            return Reply.of(messages.WX_RATE_LIMITED.format(**self.contact)) if verdict.warn else Reply()
        key = self._chat(inbound)
        wx = self.settings.wechat
        async with self._lock(key):
            history = await asyncio.to_thread(
                self.writes.attempt, [], self.state.history, key, wx.history_max_age_minutes * 60
            )
            try:
                async with self.answering:
                    answer = await asyncio.to_thread(self.assistant.ask, text, history)
            except UserError as exc:  # no index yet, or the store went away
                logger.warning("ask failed: %s", exc)
                return Reply.of(messages.STORE_DOWN.format(**self.contact))
            answer_id = await asyncio.to_thread(  # a full disk must not cost the answer
                self.writes.attempt,
                "",
                self.state.log_answer,
                answer,
                user=who,
                chat_type=CHAT_TYPE,
                question=text,
            )
            if answer.answered:
                await asyncio.to_thread(self.writes.attempt, None, self.state.remember, key, text)
        rateable = bool(answer_id) and answer.kind in FEEDBACK_KINDS
        if rateable:
            self._remember_answer(who, answer_id)
        else:
            self._last.pop(who, None)  # "1" / "2" would rate something the resident no longer sees
        logger.info(
            "question user=%s kind=%s answered=%s latency=%.0fms",
            who[:12],
            answer.kind,
            answer.answered,
            answer.latency_ms,
        )
        return Reply.of(fmt.answer_text(answer, hotline=self.contact["hotline"], feedback=rateable))

    def _remember_answer(self, who: str, answer_id: str) -> None:
        now = self._clock()
        if len(self._last) > MAX_REMEMBERED:
            window = self.settings.wechat.feedback_minutes * 60
            self._last = {k: v for k, v in self._last.items() if now - v[1] <= window}
        self._last[who] = (answer_id, now)

    async def on_vote(self, inbound: Inbound, value: int) -> Reply:
        """``1`` / ``2``: 👍 / 👎 on the resident's last answer, one vote per answer."""
        who = self.who(inbound)
        last = self._last.get(who)
        window = self.settings.wechat.feedback_minutes * 60
        if last is None or self._clock() - last[1] > window:
            return Reply.of(messages.WX_FEEDBACK_NONE)
        result = await asyncio.to_thread(
            self.writes.attempt, "unavailable", self.state.vote, last[0], who, value
        )
        logger.info("feedback user=%s vote=%+d result=%s", who[:12], value, result)
        if result == "unavailable":
            return Reply.of(messages.WX_FEEDBACK_UNAVAILABLE.format(**self.contact))
        if result == "unknown":
            return Reply.of(messages.WX_FEEDBACK_NONE)
        if result == "duplicate":
            return Reply.of(messages.WX_FEEDBACK_DUPLICATE)
        if value > 0:
            return Reply.of(messages.WX_FEEDBACK_THANKS)
        return Reply.of(messages.WX_FEEDBACK_SORRY.format(**self.contact))

    async def on_location(self, inbound: Inbound) -> Reply:
        """A shared location: the three nearest meal sites with distance, hours and phone."""
        who = self.who(inbound)
        if not self.limiter.check(who).allowed:
            return Reply()
        await asyncio.to_thread(self.writes.attempt, None, self.state.log_event, "nearby", who)
        logger.info("nearest meal sites for user=%s", who[:12])  # never the location itself
        assert inbound.lat is not None and inbound.lon is not None
        text = await asyncio.to_thread(self._nearest, inbound.lat, inbound.lon)
        return Reply.of(text)

    def _nearest(self, lat: float, lon: float) -> str:
        try:
            index = self.assistant.index()
        except UserError as exc:
            logger.warning("meal sites unavailable: %s", exc)
            return messages.STORE_DOWN.format(**self.contact)
        return meal_sites.nearest_text(index, lat, lon)

    async def on_event(self, inbound: Inbound) -> Reply:
        """Subscribe: the welcome. Unsubscribe: forget the conversation. Menu clicks and the rest: nothing."""
        if inbound.event in SUBSCRIBE_EVENTS:
            await asyncio.to_thread(
                self.writes.attempt, None, self.state.log_event, "subscribe", self.who(inbound)
            )
            return Reply.of(self.welcome())
        if inbound.event == "unsubscribe":
            await asyncio.to_thread(self.writes.attempt, None, self.state.forget, self._chat(inbound))
            self._last.pop(self.who(inbound), None)
        return Reply()

    async def on_other(self, inbound: Inbound) -> Reply:
        """An image, video, link or file: ask for the question in words (once per rate window)."""
        if self.limiter.check(self.who(inbound)).allowed:
            return Reply.of(messages.WX_NOT_TEXT)
        return Reply()

    def welcome(self) -> str:
        topics = "\n".join(
            messages.WX_TOPIC_LINE.format(label=label, question=question)
            for label, question in messages.WEB_TOPICS
        )
        return messages.WX_WELCOME.format(topics=topics, **self.contact)
