"""What every Telegram handler shares: :class:`BotDeps` (typed ``bot_data``), the typed context, and
sending with it (HTML with a plain-text fallback, menu edits, the typing indicator).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from telegram import (
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    ReplyParameters,
    User,
)
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import (
    Application,
    CallbackContext,
    ExtBot,
)

from bot.answering.assistant import Assistant
from bot.channels.state_writes import StateWrites
from bot.channels.telegram import format as fmt
from bot.config import Settings
from bot.state.database import ChatTurn, State
from bot.state.rate_limit import Limiter

logger = logging.getLogger(__name__)

TYPING_EVERY = 4.5  # Telegram shows "typing…" for about 5 s per sendChatAction
# No "typing…" for an answer that arrives sooner: Telegram recommends chat actions only for replies
# that take noticeable time, and PTB's rate limiter counts each one against the bot's 30 requests/s
# like a message, so one per answer would halve how many residents the bot can answer per second.
TYPING_AFTER = 1.0
# Another worker answering the same chat: look again this often, and answer anyway after this long
# (an answer takes well under a second; a turn held longer belongs to a stuck worker).
CHAT_TURN_POLL = 0.02
CHAT_TURN_WAIT = 30.0
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
ReplyMarkup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove


class BotDeps:
    """What every handler shares. ``Application`` creates it empty (it is ``bot_data``);
    :func:`build_application` fills it."""

    assistant: Assistant
    settings: Settings
    state: State
    limiter: Limiter
    answering: asyncio.Semaphore
    answer_pool: ThreadPoolExecutor
    writes: StateWrites

    def __init__(self) -> None:
        self._chat_locks: dict[str, asyncio.Lock] = {}

    def configure(self, assistant: Assistant, settings: Settings, state: State) -> None:
        tg = settings.telegram
        self.assistant = assistant
        self.settings = settings
        self.state = state
        self.writes = StateWrites()
        self.limiter = state.rate_limiter("telegram", tg.questions_per_minute)
        self.answering = asyncio.Semaphore(max(1, tg.max_concurrent_answers))
        # Answers get threads of their own: asyncio's default pool has only cores + 4 threads, and
        # every question in flight is one more that the next query encode can batch with.
        self.answer_pool = ThreadPoolExecutor(max(1, tg.max_concurrent_answers), thread_name_prefix="answer")

    @property
    def hotline(self) -> str:
        return self.settings.contact.hotline

    def is_admin(self, user: User | None) -> bool:
        return user is not None and user.id in self.settings.telegram.admins

    @contextlib.asynccontextmanager
    async def chat_lock(self, key: str) -> AsyncIterator[None]:
        """One question at a time per conversation, so answers and history stay in order.

        Within this worker an ``asyncio.Lock`` (first come, first served); with the state on
        PostgreSQL also the conversation's turn in the database, so a message that another worker
        behind the proxy is answering for the same chat is answered after it. The database going away
        costs no answer: the turn is then this worker's alone.
        """
        if len(self._chat_locks) > 1000:
            for k in [k for k, lock in self._chat_locks.items() if not lock.locked()]:
                del self._chat_locks[k]
        async with self._chat_locks.setdefault(key, asyncio.Lock()):
            turn = await self._take_turn(key)
            try:
                yield
            finally:
                if turn is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.to_thread(turn.release)

    async def _take_turn(self, key: str) -> ChatTurn | None:
        try:
            turn = await asyncio.to_thread(self.state.chat_turn, key)
        except Exception as exc:
            logger.warning("chat turn unavailable (%s); answering without it", type(exc).__name__)
            return None
        if turn is None:
            return None
        deadline = asyncio.get_running_loop().time() + CHAT_TURN_WAIT
        try:
            while not await asyncio.to_thread(turn.try_take):
                if asyncio.get_running_loop().time() > deadline:
                    logger.warning("a chat's turn was held for over %.0f s; answering anyway", CHAT_TURN_WAIT)
                    break
                await asyncio.sleep(CHAT_TURN_POLL)
            else:
                return turn
        except Exception as exc:
            logger.warning("chat turn unavailable (%s); answering without it", type(exc).__name__)
        with contextlib.suppress(Exception):
            await asyncio.to_thread(turn.release)
        return None


class BotContext(CallbackContext[ExtBot[Any], dict[Any, Any], dict[Any, Any], BotDeps]):
    """CallbackContext whose ``bot_data`` is the typed :class:`BotDeps`."""

    @property
    def deps(self) -> BotDeps:
        return self.bot_data


BotApplication = Application[ExtBot[Any], BotContext, dict[Any, Any], dict[Any, Any], BotDeps, Any]


# --- sending ---------------------------------------------------------------------------------------


def _is_entity_error(exc: BadRequest) -> bool:
    return "can't parse entities" in exc.message.lower() or "can't find end" in exc.message.lower()


async def send(
    context: BotContext,
    chat_id: int,
    texts: Sequence[str],
    *,
    reply_markup: ReplyMarkup | None = None,
    reply_to: int | None = None,
) -> list[Message]:
    """Send HTML messages in order (the keyboard under the last); plain text if Telegram rejects the HTML."""
    sent: list[Message] = []
    for i, text in enumerate(texts):
        markup = reply_markup if i == len(texts) - 1 else None
        reply = ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to and i == 0 else None
        try:
            message = await context.bot.send_message(
                chat_id,
                text,
                parse_mode=ParseMode.HTML,
                reply_markup=markup,
                reply_parameters=reply,
                link_preview_options=NO_PREVIEW,
            )
        except BadRequest as exc:
            if not _is_entity_error(exc):
                raise
            logger.warning("Telegram rejected a message's HTML (%s); sending it as plain text", exc.message)
            message = await context.bot.send_message(
                chat_id,
                fmt.html_to_plain(text),
                reply_markup=markup,
                reply_parameters=reply,
                link_preview_options=NO_PREVIEW,
            )
        sent.append(message)
    return sent


async def edit_or_send(
    context: BotContext, message: Any, chat_id: int, text: str, reply_markup: InlineKeyboardMarkup | None
) -> None:
    """Replace a menu message's text and buttons; send a new message if it cannot be edited."""
    if isinstance(message, Message):
        try:
            await message.edit_text(
                text, parse_mode=ParseMode.HTML, reply_markup=reply_markup, link_preview_options=NO_PREVIEW
            )
            return
        except BadRequest as exc:
            if "not modified" in exc.message.lower():
                return
            if _is_entity_error(exc):
                logger.warning("Telegram rejected an edit's HTML (%s); editing as plain text", exc.message)
                await message.edit_text(fmt.html_to_plain(text), reply_markup=reply_markup)
                return
            logger.info("could not edit a menu message (%s); sending a new one", exc.message)
    await send(context, chat_id, [text], reply_markup=reply_markup)


@contextlib.asynccontextmanager
async def typing(context: BotContext, chat_id: int, after: float | None = None) -> AsyncIterator[None]:
    """Keep Telegram's "typing…" indicator on while the body runs, from ``after`` seconds (TYPING_AFTER) on."""
    delay = TYPING_AFTER if after is None else after

    async def keep() -> None:
        await asyncio.sleep(delay)
        while True:
            try:
                await context.bot.send_chat_action(chat_id, ChatAction.TYPING)
            except TelegramError as exc:
                logger.debug("typing indicator failed: %s", exc)
            await asyncio.sleep(TYPING_EVERY)

    task = asyncio.create_task(keep())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def short(user_hash: str) -> str:
    """Enough of a user hash to follow one person through the logs."""
    return user_hash[:12]
