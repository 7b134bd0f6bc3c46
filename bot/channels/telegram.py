"""Telegram channel: python-telegram-bot handlers around :class:`bot.core.Assistant`.

:func:`build_application` registers every handler on one ``Application`` (the Bot API base URL is
a parameter, so a self-hosted Bot API server or a test's fake one can stand in for Telegram);
:func:`run_bot` runs it — long polling, or a webhook behind a reverse proxy when
``[telegram] webhook_url`` is set — until SIGINT or SIGTERM.

Handlers get their dependencies from ``context.bot_data``, typed as :class:`BotDeps` through
``ContextTypes``. Answers are computed in a worker thread (``Assistant.ask`` is CPU-bound), at most
``max_concurrent_answers`` at a time, with a typing indicator once the resident has waited a moment
(:data:`TYPING_AFTER`). Logs and stored analytics only ever see a salted hash of a user id (see
:mod:`bot.state`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import re
import secrets
import threading
import warnings
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from telegram import (
    Bot,
    BotCommand,
    Chat,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    MessageEntity,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    ReplyParameters,
    Update,
    User,
)
from telegram.constants import ChatAction, ChatType, ParseMode
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    BasePersistence,
    CallbackContext,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
    ExtBot,
    MessageHandler,
    PersistenceInput,
    filters,
)
from telegram.warnings import PTBUserWarning

from bot import guard, meal_sites, messages, wizard
from bot.channels import telegram_format as fmt
from bot.config import Settings
from bot.core import Assistant, KnowledgeInfo
from bot.errors import IndexMissingError, StoreUnavailableError, UserError
from bot.retrieval import KnowledgeIndex
from bot.state import RateLimiter, State

logger = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://api.telegram.org"
API_BASE_ENV = "TELEGRAM_API_BASE_URL"
TOKEN_ENV = "TELEGRAM_BOT_TOKEN"
TYPING_EVERY = 4.5  # Telegram shows "typing…" for about 5 s per sendChatAction
# No "typing…" for an answer that arrives sooner: Telegram recommends chat actions only for replies
# that take noticeable time, and PTB's rate limiter counts each one against the bot's 30 requests/s
# like a message, so one per answer would halve how many residents the bot can answer per second.
TYPING_AFTER = 1.0
TOPIC_QUESTIONS = 8
MAX_SECTION_MESSAGES = 3
FEEDBACK_KINDS = frozenset({"answer", "dont_know", "other_department"})
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
WIZARD_NAME = "wizard"
WIZARD_ASKING = 1  # the one conversation state: the step itself is in State's wizards table
WIZARD_MAX_AGE = 24 * 3600.0  # an unfinished wizard older than this is forgotten
ReplyMarkup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove


# --- topics ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Topic:
    key: str
    faq_words: tuple[str, ...]  # an FAQ section whose name holds one of these belongs to the topic
    categories: tuple[str, ...]  # document categories of the topic
    preferred: tuple[str, ...] = ()  # guides whose titles hold these come first


TOPICS: dict[str, Topic] = {
    "elderly": Topic("elderly", ("助餐", "养老", "老年"), ("elderly",), ("助餐", "饭堂")),
    "marriage": Topic("marriage", ("婚姻", "结婚", "离婚"), ("marriage",), ("结婚", "婚姻登记")),
    "assistance": Topic("assistance", ("救助", "低保"), ("assistance",), ("低保", "救助")),
}


def topic_questions(
    metas: Sequence[Mapping[str, Any]], topic: Topic, limit: int = TOPIC_QUESTIONS
) -> list[str]:
    """A topic's common questions: FAQ questions of its FAQ section or its documents, then its guides' titles."""
    faq: list[str] = []
    guides: dict[str, tuple[bool, str, str]] = {}
    ordered = sorted(metas, key=lambda m: (str(m.get("path", "")), int(m.get("chunk", 0) or 0)))
    for meta in ordered:
        category = str(meta.get("category", ""))
        question = str(meta.get("question", "") or "").strip()
        if meta.get("kind") == "faq" and question:
            section = str(meta.get("heading", "")).split(fmt.HEADING_SEP)[-1]
            if category in topic.categories or (
                category == "faq" and any(w in section for w in topic.faq_words)
            ):
                faq.append(question)
        elif category in topic.categories:
            title = str(meta.get("title", "") or "").strip()
            if title:
                preferred = any(w in title for w in topic.preferred)
                guides.setdefault(str(meta.get("path", "")), (preferred, str(meta.get("issued", "")), title))
    questions = list(dict.fromkeys(faq))
    for _, _, title in sorted(guides.values(), reverse=True):
        if title not in questions:
            questions.append(title)
    return questions[:limit]


def section_text(index: KnowledgeIndex, path: str, heading: str) -> str | None:
    """The full text of one section of one document, from the served index (None when it is gone)."""
    rows = [
        i
        for i, meta in enumerate(index.metas)
        if str(meta.get("path", "")) == path and str(meta.get("heading", "")) == heading
    ]
    if not rows:
        return None
    rows.sort(key=lambda i: int(index.metas[i].get("chunk", 0) or 0))
    bodies = [index.texts[i].split("\n", 1)[1] if "\n" in index.texts[i] else index.texts[i] for i in rows]
    return "\n\n".join(b.strip() for b in bodies if b.strip()) or None


def addressed_text(message: Message, username: str | None, bot_id: int) -> tuple[bool, str]:
    """In a group: whether the message mentions or replies to the bot, and its text without the mention."""
    text = message.text or ""
    addressed = False
    if username:
        mention = re.compile(rf"@{re.escape(username)}(?![A-Za-z0-9_])", re.IGNORECASE)
        if mention.search(text):
            addressed = True
            text = mention.sub(" ", text)
    for entity, shown in message.parse_entities([MessageEntity.TEXT_MENTION]).items():
        if entity.user is not None and entity.user.id == bot_id:
            addressed = True
            text = text.replace(shown, " ", 1)
    reply = message.reply_to_message
    if reply is not None and reply.from_user is not None and reply.from_user.id == bot_id:
        addressed = True
    return addressed, text.strip()


# --- dependencies ----------------------------------------------------------------------------------


class BotDeps:
    """What every handler shares. ``Application`` creates it empty (it is ``bot_data``);
    :func:`build_application` fills it."""

    assistant: Assistant
    settings: Settings
    state: State
    limiter: RateLimiter
    answering: asyncio.Semaphore
    answer_pool: ThreadPoolExecutor

    def __init__(self) -> None:
        self._chat_locks: dict[str, asyncio.Lock] = {}
        self._topics: tuple[str, dict[str, list[str]]] | None = None

    def configure(self, assistant: Assistant, settings: Settings, state: State) -> None:
        tg = settings.telegram
        self.assistant = assistant
        self.settings = settings
        self.state = state
        self.limiter = RateLimiter(tg.questions_per_minute)
        self.answering = asyncio.Semaphore(max(1, tg.max_concurrent_answers))
        # Answers get threads of their own: asyncio's default pool has only cores + 4 threads, and
        # every question in flight is one more that the next query encode can batch with.
        self.answer_pool = ThreadPoolExecutor(max(1, tg.max_concurrent_answers), thread_name_prefix="answer")

    @property
    def hotline(self) -> str:
        return self.settings.contact.hotline

    def is_admin(self, user: User | None) -> bool:
        return user is not None and user.id in self.settings.telegram.admins

    def chat_lock(self, key: str) -> asyncio.Lock:
        """One question at a time per conversation, so answers and history stay in order."""
        if len(self._chat_locks) > 1000:
            for k in [k for k, lock in self._chat_locks.items() if not lock.locked()]:
                del self._chat_locks[k]
        return self._chat_locks.setdefault(key, asyncio.Lock())

    def topics(self, index: KnowledgeIndex) -> dict[str, list[str]]:
        """Common questions per topic, computed once per index version."""
        version = index.pointer.active + f"#{index.pointer.version}"
        if self._topics is None or self._topics[0] != version:
            self._topics = (version, {k: topic_questions(index.metas, t) for k, t in TOPICS.items()})
        return self._topics[1]


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


def _short(user_hash: str) -> str:
    """Enough of a user hash to follow one person through the logs."""
    return user_hash[:12]


# --- answering -------------------------------------------------------------------------------------


async def answer_question(
    context: BotContext, *, chat: Chat, user: User, text: str, reply_to: int | None = None, echo: bool = False
) -> None:
    """Rate-limit, answer in a worker thread with a typing indicator, record, send with buttons."""
    deps = context.deps
    who = deps.state.user_hash(user.id)
    verdict = deps.limiter.check(who)
    if not verdict.allowed:
        logger.info("rate limited user=%s (retry in %.0fs)", _short(who), verdict.retry_after)
        if verdict.warn:
            notice = messages.TG_RATE_LIMITED.format(hotline=deps.hotline)
            await send(context, chat.id, fmt.text_messages(notice), reply_to=reply_to)
        return
    group = chat.type != ChatType.PRIVATE
    key = deps.state.chat_key(chat.id, user.id if group else None)
    too_long = len(text) > guard.MAX_QUESTION_CHARS
    async with deps.chat_lock(key):
        history = deps.state.history(key, max_age=deps.settings.telegram.history_max_age_minutes * 60)
        async with typing(context, chat.id), deps.answering:
            loop = asyncio.get_running_loop()
            answer = await loop.run_in_executor(deps.answer_pool, deps.assistant.ask, text, history)
        section = answer.section_source
        answer_id = deps.state.log_answer(answer, user=who, chat_type=str(chat.type), question=text)
        if answer.answered and not too_long:
            deps.state.remember(key, text)
        logger.info(
            "question user=%s chat=%s kind=%s answered=%s latency=%.0fms",
            _short(who),
            chat.type,
            answer.kind,
            answer.answered,
            answer.latency_ms,
        )
        note = messages.TG_TOO_LONG_UNANSWERED if too_long and answer.kind == "dont_know" else ""
        texts = fmt.answer_messages(answer, hotline=deps.hotline, question=text if echo else "", note=note)
        markup = None
        if answer_id and answer.kind in FEEDBACK_KINDS:
            markup = fmt.answer_keyboard(answer_id, source=section is not None and answer.kind != "dont_know")
        await send(context, chat.id, texts, reply_markup=markup, reply_to=reply_to)


async def on_text(update: Update, context: BotContext) -> None:
    """Answer a resident's question; in groups only when the bot is mentioned or replied to."""
    message = update.message
    user = update.effective_user
    if message is None or user is None or user.is_bot:
        return
    text = message.text or ""
    reply_to = None
    if message.chat.type != ChatType.PRIVATE:
        addressed, text = addressed_text(message, context.bot.username, context.bot.id)
        if not addressed:
            return
        reply_to = message.message_id
    await answer_question(context, chat=message.chat, user=user, text=text, reply_to=reply_to)


async def on_not_text(update: Update, context: BotContext) -> None:
    """A sticker, photo, voice or shared contact in a private chat: ask for the question in words."""
    message = update.message
    user = update.effective_user
    if message is None or user is None:
        return
    if context.deps.limiter.check(context.deps.state.user_hash(user.id)).allowed:
        await send(context, message.chat_id, fmt.text_messages(messages.NOT_A_QUESTION))


# --- commands --------------------------------------------------------------------------------------


async def start(update: Update, context: BotContext) -> None:
    """Greet the resident and show the topic keyboard."""
    if update.effective_chat is None:
        return
    texts = fmt.text_messages(messages.TG_WELCOME)
    await send(context, update.effective_chat.id, texts, reply_markup=fmt.topics_keyboard())


async def help_command(update: Update, context: BotContext) -> None:
    """Explain how to ask and list the commands."""
    if update.effective_chat is None:
        return
    text = messages.TG_HELP.format(hotline=context.deps.hotline)
    await send(context, update.effective_chat.id, fmt.text_messages(text))


async def contact(update: Update, context: BotContext) -> None:
    """The bureau's human channels and the 12345 hotline."""
    if update.effective_chat is None:
        return
    text = fmt.contact_text(context.deps.settings.contact)
    await send(context, update.effective_chat.id, fmt.text_messages(text))


async def about(update: Update, context: BotContext) -> None:
    """What the bot knows: documents, categories, when the knowledge was last ingested."""
    if update.effective_chat is None:
        return
    info = await asyncio.to_thread(context.deps.assistant.info)
    text = fmt.about_text(info, context.deps.hotline)
    await send(context, update.effective_chat.id, fmt.text_messages(text))


async def new_topic(update: Update, context: BotContext) -> None:
    """Forget this conversation's earlier questions."""
    chat, user = update.effective_chat, update.effective_user
    if chat is None or user is None:
        return
    state = context.deps.state
    state.forget(state.chat_key(chat.id, user.id if chat.type != ChatType.PRIVATE else None))
    await send(context, chat.id, fmt.text_messages(messages.TG_NEW_TOPIC))


async def unknown_command(update: Update, context: BotContext) -> None:
    """An unknown /command in a private chat: show the help."""
    await help_command(update, context)


async def _staff_only(update: Update, context: BotContext) -> bool:
    """True for admins; everyone else is told the command is for staff."""
    user, chat = update.effective_user, update.effective_chat
    if context.deps.is_admin(user):
        return True
    who = _short(context.deps.state.user_hash(user.id)) if user else "-"
    logger.warning("refused a staff command from user=%s", who)
    if chat is not None:
        await send(context, chat.id, fmt.text_messages(messages.TG_ADMIN_ONLY))
    return False


async def _info_or_none(context: BotContext) -> KnowledgeInfo | None:
    try:
        return await asyncio.to_thread(context.deps.assistant.info)
    except (IndexMissingError, StoreUnavailableError) as exc:
        logger.warning("knowledge info unavailable: %s", exc)
        return None


async def stats(update: Update, context: BotContext) -> None:
    """Staff: questions asked, the answered share and feedback."""
    if not await _staff_only(update, context) or update.effective_chat is None:
        return
    info = await _info_or_none(context)
    text = fmt.stats_text(context.deps.state.stats(), info)
    await send(context, update.effective_chat.id, fmt.text_messages(text))


async def unanswered(update: Update, context: BotContext) -> None:
    """Staff: recent questions the knowledge could not answer, most frequent first."""
    if not await _staff_only(update, context) or update.effective_chat is None:
        return
    days = context.deps.settings.telegram.unanswered_days
    rows = context.deps.state.unanswered(days=days)
    await send(context, update.effective_chat.id, fmt.unanswered_messages(rows, days))


async def reload_index(update: Update, context: BotContext) -> None:
    """Staff: load the newest ingested index now and report its version."""
    if not await _staff_only(update, context) or update.effective_chat is None:
        return
    assistant = context.deps.assistant
    try:
        changed = await asyncio.to_thread(assistant.reload)
        info = await asyncio.to_thread(assistant.info)
    except (IndexMissingError, StoreUnavailableError) as exc:
        text = messages.TG_RELOAD_FAILED.format(error=str(exc))
    else:
        template = messages.TG_RELOAD_NEW if changed else messages.TG_RELOAD_SAME
        text = template.format(
            version=info.version, documents=info.documents, ingested_at=fmt.format_time(info.ingested_at)
        )
        logger.info("reload requested: index v%d (%s)", info.version, "new" if changed else "unchanged")
    await send(context, update.effective_chat.id, fmt.text_messages(text))


# --- buttons ---------------------------------------------------------------------------------------


async def on_button(update: Update, context: BotContext) -> None:
    """Inline buttons: 👍/👎, 查看原文, 转人工, topics and their common questions."""
    query = update.callback_query
    if query is None:
        return
    deps = context.deps
    kind, args = fmt.parse_callback(query.data)
    who = deps.state.user_hash(query.from_user.id)
    message = query.message
    chat = message.chat if message is not None else Chat(query.from_user.id, ChatType.PRIVATE)
    message_id = message.message_id if isinstance(message, Message) else None

    if kind in (fmt.CB_UP, fmt.CB_DOWN) and args:
        result = deps.state.vote(args[0], who, 1 if kind == fmt.CB_UP else -1)
        toasts = {
            "recorded": messages.TG_FEEDBACK_THANKS if kind == fmt.CB_UP else messages.TG_FEEDBACK_SORRY,
            "duplicate": messages.TG_FEEDBACK_DUPLICATE,
            "unknown": messages.TG_FEEDBACK_UNKNOWN,
        }
        logger.info("feedback %s user=%s: %s", kind, _short(who), result)
        await query.answer(toasts[result])
    elif kind == fmt.CB_SOURCE and args:
        await show_source(context, query.answer, chat.id, args[0], message_id)
    elif kind == fmt.CB_HUMAN:
        deps.state.log_event("handoff", who)
        await query.answer()
        await send(context, chat.id, fmt.text_messages(fmt.contact_text(deps.settings.contact)))
    elif kind == fmt.CB_TOPIC and args:
        await query.answer()
        await show_topic(context, message, chat.id, args[0])
    elif kind == fmt.CB_QUESTION and len(args) == 3:
        topic, version, position = args
        index = await asyncio.to_thread(deps.assistant.index)
        questions = deps.topics(index).get(topic, [])
        current = str(index.pointer.version)
        if version != current or not position.isdigit() or int(position) >= len(questions):
            await query.answer(messages.TG_TOPIC_STALE)
            await show_topic(context, message, chat.id, topic)
            return
        await query.answer()
        await answer_question(
            context, chat=chat, user=query.from_user, text=questions[int(position)], echo=True
        )
    elif kind == fmt.CB_WIZARD:  # a wizard button while no wizard is open (finished, cancelled, expired)
        await query.answer(messages.WIZ_EXPIRED)
    elif kind == fmt.CB_NEARBY:
        await query.answer()
        await ask_location(context, chat)
    else:
        await query.answer()


async def show_topic(context: BotContext, message: Any, chat_id: int, key: str) -> None:
    """Turn the menu message into a topic's common questions (or the greeting, or the contacts)."""
    deps = context.deps
    if key == fmt.TOPIC_HOME:
        await edit_or_send(
            context, message, chat_id, fmt.text_messages(messages.TG_WELCOME)[0], fmt.topics_keyboard()
        )
        return
    if key == "contact":
        text = fmt.text_messages(fmt.contact_text(deps.settings.contact))[0]
        await edit_or_send(context, message, chat_id, text, fmt.back_keyboard())
        return
    if key not in TOPICS:
        return
    label = messages.TG_TOPIC_LABELS.get(key, key)
    index = await asyncio.to_thread(deps.assistant.index)
    questions = deps.topics(index)[key]
    template = messages.TG_TOPIC_HEADER if questions else messages.TG_TOPIC_EMPTY
    text = fmt.text_messages(template.format(topic=label))[0]
    keyboard = fmt.questions_keyboard(key, index.pointer.version, questions)
    keyboard = fmt.with_rows_before_back(keyboard, fmt.topic_extra_rows(key))
    await edit_or_send(context, message, chat_id, text, keyboard)


async def show_source(
    context: BotContext, answer_query: Any, chat_id: int, answer_id: str, reply_to: int | None
) -> None:
    """查看原文: the section the answer came from, looked up by answer id in the served index."""
    deps = context.deps
    record = deps.state.answer(answer_id)
    if record is None or not record.source_path or not record.source_heading:
        await answer_query(messages.TG_SOURCE_NONE)
        return
    index = await asyncio.to_thread(deps.assistant.index)
    body = section_text(index, record.source_path, record.source_heading)
    if body is None:
        await answer_query(messages.TG_SOURCE_GONE)
        return
    await answer_query()
    texts = fmt.section_messages(record.source_title, record.source_heading, body)
    await send(context, chat_id, texts[:MAX_SECTION_MESSAGES], reply_to=reply_to)


# --- errors ----------------------------------------------------------------------------------------


async def on_error(update: object, context: BotContext) -> None:
    """Log the error (with a hashed user id only), then apologise to the resident — never a traceback."""
    error = context.error
    if update is None and isinstance(error, NetworkError):
        logger.warning("Bot API unreachable while fetching updates: %s", error)
        return
    if isinstance(error, Conflict):
        logger.error("another process is using this bot token: %s", error)
        return
    if isinstance(error, Forbidden):
        logger.info("cannot write to a chat (the bot was blocked or removed): %s", error)
        return
    who = "-"
    if isinstance(update, Update) and update.effective_user is not None:
        who = _short(context.deps.state.user_hash(update.effective_user.id))
    logger.error("error while handling an update (user=%s)", who, exc_info=error)
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    if update.callback_query is not None:
        with contextlib.suppress(TelegramError):
            await update.callback_query.answer()
    apology = messages.ERROR_APOLOGY.format(hotline=context.deps.hotline)
    try:
        await context.bot.send_message(update.effective_chat.id, fmt.esc(apology), parse_mode=ParseMode.HTML)
    except TelegramError as exc:
        logger.warning("could not send the apology: %s", exc)


# --- self-check wizards (资格自测) ----------------------------------------------------------------------


class WizardPersistence(BasePersistence[dict[Any, Any], dict[Any, Any], BotDeps]):
    """Persistence for the wizard ConversationHandler over :class:`State`'s wizards table.

    The handlers write a wizard's step and answers to that table as each answer arrives (no
    periodic flush to lose), keyed by the salted hash of (chat, user); the conversations PTB
    loads at start-up are the open rows of that table. Nothing else is persisted, and no raw
    Telegram id is ever stored.
    """

    def __init__(self, state: State, max_age: float = WIZARD_MAX_AGE) -> None:
        super().__init__(store_data=PersistenceInput(False, False, False, False), update_interval=60)
        self._state = state
        self._max_age = max_age

    async def get_conversations(self, name: str) -> dict[tuple[str | int, ...], object]:
        if name != WIZARD_NAME:
            return {}
        keys = await asyncio.to_thread(self._state.open_wizards, self._max_age)
        return {(key,): WIZARD_ASKING for key in keys}

    async def update_conversation(
        self, name: str, key: tuple[str | int, ...], new_state: object | None
    ) -> None:
        """Nothing to do: the wizard handlers keep the wizards table up to date themselves."""

    async def get_user_data(self) -> dict[int, dict[Any, Any]]:
        return {}

    async def get_chat_data(self) -> dict[int, dict[Any, Any]]:
        return {}

    async def get_bot_data(self) -> BotDeps:
        return BotDeps()

    async def get_callback_data(self) -> None:
        return None

    async def update_user_data(self, user_id: int, data: dict[Any, Any]) -> None:
        """Not stored."""

    async def update_chat_data(self, chat_id: int, data: dict[Any, Any]) -> None:
        """Not stored."""

    async def update_bot_data(self, data: BotDeps) -> None:
        """Not stored."""

    async def update_callback_data(self, data: Any) -> None:
        """Not stored."""

    async def drop_chat_data(self, chat_id: int) -> None:
        """Not stored."""

    async def drop_user_data(self, user_id: int) -> None:
        """Not stored."""

    async def refresh_user_data(self, user_id: int, user_data: dict[Any, Any]) -> None:
        """Not stored."""

    async def refresh_chat_data(self, chat_id: int, chat_data: dict[Any, Any]) -> None:
        """Not stored."""

    async def refresh_bot_data(self, bot_data: BotDeps) -> None:
        """Not stored."""

    async def flush(self) -> None:
        """Every write has already happened."""


class HashedConversationHandler(ConversationHandler[BotContext]):
    """A ConversationHandler keyed by the salted hash of (chat, user) instead of the raw ids."""

    def __init__(self, hasher: Callable[[int | str, int | str], str], **kwargs: Any) -> None:
        with warnings.catch_warnings():  # per_message=False is meant: one wizard per person and chat
            warnings.filterwarnings("ignore", message=".*per_message.*", category=PTBUserWarning)
            super().__init__(**kwargs)
        self._hasher = hasher

    def _get_key(self, update: Update) -> tuple[int | str, ...]:
        chat_id, user_id = super()._get_key(update)
        return (self._hasher(chat_id, user_id),)


def wizard_handler(state: State) -> HashedConversationHandler:
    """/check or a 资格自测 button starts a wizard; buttons and typed answers go on; /cancel stops it."""
    new_messages = filters.UpdateType.MESSAGE
    start_handlers: list[Any] = [
        CommandHandler("check", wizard_start, filters=new_messages),
        CallbackQueryHandler(wizard_start, pattern=rf"^{fmt.CB_WIZARD}:go(?::|$)"),
    ]
    return HashedConversationHandler(
        state.chat_key,
        entry_points=start_handlers,
        states={
            WIZARD_ASKING: [
                CallbackQueryHandler(wizard_button, pattern=rf"^{fmt.CB_WIZARD}:(?:o|x)(?::|$)"),
                MessageHandler(new_messages & filters.TEXT & ~filters.COMMAND, wizard_text),
            ]
        },
        fallbacks=[CommandHandler("cancel", wizard_cancel, filters=new_messages)],
        allow_reentry=True,
        name=WIZARD_NAME,
        persistent=True,
    )


def _wizard_key(context: BotContext, chat: Chat, user: User) -> str:
    return context.deps.state.chat_key(chat.id, user.id)


async def _send_step(context: BotContext, chat_id: int, text: str, state: wizard.WizardState) -> None:
    keyboard = fmt.wizard_keyboard(state.step, wizard.choices(state))
    await send(context, chat_id, fmt.text_messages(text), reply_markup=keyboard)


async def wizard_start(update: Update, context: BotContext) -> int:
    """Start a wizard: the menu (/check), or the kind a button or argument names (/check 低保)."""
    chat, user, query = update.effective_chat, update.effective_user, update.callback_query
    if chat is None or user is None:
        return ConversationHandler.END
    if chat.type != ChatType.PRIVATE:
        if query is not None:
            await query.answer(messages.WIZ_PRIVATE_ONLY)
        else:
            await send(context, chat.id, fmt.text_messages(messages.WIZ_PRIVATE_ONLY))
        return ConversationHandler.END
    kind = wizard.MENU
    if query is not None:
        await query.answer()
        _, args = fmt.parse_callback(query.data)
        kind = args[1] if len(args) > 1 and args[1] in wizard.KINDS else wizard.MENU
    elif context.args:
        said = " ".join(context.args)
        kind = (
            "dibao" if "低保" in said or "dibao" in said else "meal" if re.search(r"助餐|meal", said) else ""
        )
    step = wizard.start(kind)
    deps = context.deps
    who = deps.state.user_hash(user.id)
    deps.state.save_wizard(_wizard_key(context, chat, user), step.state.to_json())
    deps.state.log_event("wizard", who)
    logger.info("wizard started user=%s kind=%s", _short(who), kind or "menu")
    await _send_step(context, chat.id, f"{step.prompt}\n{messages.WIZ_CANCEL_HINT}", step.state)
    return WIZARD_ASKING


async def wizard_text(update: Update, context: BotContext) -> int:
    """A typed answer to the current wizard step."""
    message, user = update.message, update.effective_user
    if message is None or user is None:
        return WIZARD_ASKING
    return await _wizard_turn(context, message.chat, user, message.text or "")


async def wizard_button(update: Update, context: BotContext) -> int:
    """A pressed option (or 取消) of the current wizard step; buttons of an earlier step are refused."""
    query = update.callback_query
    if query is None or update.effective_chat is None:
        return WIZARD_ASKING
    chat, user = update.effective_chat, query.from_user
    _, args = fmt.parse_callback(query.data)
    if args[:1] == ["x"]:
        text = messages.WIZ_CANCEL
    else:
        raw = context.deps.state.wizard(_wizard_key(context, chat, user), WIZARD_MAX_AGE)
        state = wizard.WizardState.from_json(raw) if raw else None
        options = wizard.choices(state) if state is not None else ()
        stale = state is None or len(args) != 3 or args[1] != state.step or not args[2].isdigit()
        if stale or int(args[2]) >= len(options):
            await query.answer(messages.WIZ_EXPIRED if state is None else messages.WIZ_CHOOSE)
            return WIZARD_ASKING if state is not None else ConversationHandler.END
        text = options[int(args[2])]
    await query.answer()
    if isinstance(query.message, Message):
        with contextlib.suppress(TelegramError):
            await query.message.edit_reply_markup(None)  # the step is answered: no second press
    return await _wizard_turn(context, chat, user, text)


async def wizard_cancel(update: Update, context: BotContext) -> int:
    """/cancel during a wizard."""
    chat, user = update.effective_chat, update.effective_user
    if chat is None or user is None:
        return ConversationHandler.END
    return await _wizard_turn(context, chat, user, "/cancel")


async def _wizard_turn(context: BotContext, chat: Chat, user: User, text: str) -> int:
    """Apply one answer, save or drop the wizard, and send the next question or the result."""
    deps = context.deps
    key = _wizard_key(context, chat, user)
    raw = deps.state.wizard(key, WIZARD_MAX_AGE)
    state = wizard.WizardState.from_json(raw) if raw else None
    if state is None:
        deps.state.drop_wizard(key)
        reply = messages.WIZ_CANCELLED if wizard.is_cancel(text) else messages.WIZ_EXPIRED
        await send(context, chat.id, fmt.text_messages(reply))
        return ConversationHandler.END
    standards, sample = None, False
    try:
        standards, sample = wizard.standards_of(await asyncio.to_thread(deps.assistant.index))
    except (IndexMissingError, StoreUnavailableError) as exc:
        logger.warning("standards unavailable for the wizard: %s", exc)
    turn = wizard.answer(state, text, standards, sample=sample)
    if turn.done or turn.state is None:
        deps.state.drop_wizard(key)
        logger.info("wizard ended user=%s", _short(deps.state.user_hash(user.id)))
        await send(context, chat.id, fmt.text_messages(turn.reply))
        return ConversationHandler.END
    deps.state.save_wizard(key, turn.state.to_json())
    await _send_step(context, chat.id, turn.reply, turn.state)
    return WIZARD_ASKING


async def no_wizard(update: Update, context: BotContext) -> None:
    """/cancel with no wizard open."""
    if update.effective_chat is not None:
        await send(context, update.effective_chat.id, fmt.text_messages(messages.WIZ_NOT_ACTIVE))


# --- nearby meal sites -----------------------------------------------------------------------------


async def ask_location(context: BotContext, chat: Chat) -> None:
    """Ask for the resident's location (a location button in private chats)."""
    markup = fmt.location_keyboard() if chat.type == ChatType.PRIVATE else None
    await send(context, chat.id, fmt.text_messages(messages.MS_ASK_LOCATION), reply_markup=markup)


async def _send_nearest(context: BotContext, chat: Chat, lat: float, lon: float) -> None:
    index = await asyncio.to_thread(context.deps.assistant.index)
    text = meal_sites.nearest_text(index, lat, lon)
    markup = ReplyKeyboardRemove() if chat.type == ChatType.PRIVATE else None
    await send(context, chat.id, fmt.text_messages(text), reply_markup=markup)


async def on_location(update: Update, context: BotContext) -> None:
    """A shared location: the three nearest meal sites with distance, hours and phone."""
    message, user = update.message, update.effective_user
    if message is None or user is None or message.location is None:
        return
    deps = context.deps
    who = deps.state.user_hash(user.id)
    if not deps.limiter.check(who).allowed:
        return
    deps.state.log_event("nearby", who)
    logger.info("nearest meal sites for user=%s", _short(who))  # never the location itself
    await _send_nearest(context, message.chat, message.location.latitude, message.location.longitude)


async def near(update: Update, context: BotContext) -> None:
    """/near 纬度 经度: the nearest meal sites; /near alone asks for the location."""
    chat = update.effective_chat
    if chat is None:
        return
    if not context.args:
        await ask_location(context, chat)
        return
    point = meal_sites.parse_location(" ".join(context.args))
    if point is None:
        await send(context, chat.id, fmt.text_messages(messages.MS_NEAR_USAGE))
        return
    await _send_nearest(context, chat, *point)


# --- the application -------------------------------------------------------------------------------


async def _post_init(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Publish the command list; log who we are."""
    described = {
        **messages.TG_COMMANDS,
        "check": messages.WIZ_COMMAND_DESCRIPTION,
        "near": messages.MS_COMMAND_DESCRIPTION,
    }
    commands = [BotCommand(name, description) for name, description in described.items()]
    try:
        await application.bot.set_my_commands(commands)
    except TelegramError as exc:
        logger.warning("could not set the command list: %s", exc)
    logger.info("Telegram bot @%s ready", application.bot.username)


def build_application(
    assistant: Assistant,
    settings: Settings,
    token: str,
    base_url: str = DEFAULT_API_BASE,
    *,
    state: State | None = None,
) -> BotApplication:
    """The Telegram ``Application`` with every handler registered, talking to the Bot API at ``base_url``.

    Open self-check wizards live in ``state`` (its wizards table), so a new Application over the same
    state folder continues them.
    """
    base = base_url.rstrip("/")
    tg = settings.telegram
    state = state or State(settings.data_dir, history_size=tg.history_size)
    application: BotApplication = (
        ApplicationBuilder()
        .token(token)
        .persistence(WizardPersistence(state))
        .base_url(f"{base}/bot")
        .base_file_url(f"{base}/file/bot")
        .context_types(ContextTypes(context=BotContext, bot_data=BotDeps))
        .rate_limiter(AIORateLimiter(max_retries=3))
        .concurrent_updates(True)
        .connect_timeout(10.0)
        .read_timeout(15.0)
        .write_timeout(15.0)
        .pool_timeout(10.0)
        .post_init(_post_init)
        .build()
    )
    deps = application.bot_data
    deps.configure(assistant, settings, state)

    new_messages = filters.UpdateType.MESSAGE
    private = filters.ChatType.PRIVATE
    application.add_handler(wizard_handler(state))
    application.add_handler(CommandHandler("cancel", no_wizard, filters=new_messages))
    application.add_handler(CommandHandler("near", near, filters=new_messages))
    application.add_handler(CommandHandler("start", start, filters=new_messages))
    application.add_handler(CommandHandler("help", help_command, filters=new_messages))
    application.add_handler(CommandHandler("contact", contact, filters=new_messages))
    application.add_handler(CommandHandler("about", about, filters=new_messages))
    application.add_handler(CommandHandler("new", new_topic, filters=new_messages))
    application.add_handler(CommandHandler("stats", stats, filters=new_messages))
    application.add_handler(CommandHandler("unanswered", unanswered, filters=new_messages))
    application.add_handler(CommandHandler("reload", reload_index, filters=new_messages))
    application.add_handler(CallbackQueryHandler(on_button))
    application.add_handler(MessageHandler(new_messages & filters.TEXT & ~filters.COMMAND, on_text))
    application.add_handler(MessageHandler(new_messages & filters.LOCATION, on_location))
    application.add_handler(MessageHandler(new_messages & private & filters.COMMAND, unknown_command))
    application.add_handler(MessageHandler(new_messages & private & filters.ATTACHMENT, on_not_text))
    application.add_error_handler(on_error)
    return application


def api_base_url() -> str:
    """``TELEGRAM_API_BASE_URL`` (a self-hosted Bot API server, or a test's fake one), else Telegram's."""
    return (os.environ.get(API_BASE_ENV) or DEFAULT_API_BASE).strip().rstrip("/")


def webhook_options(settings: Settings, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``run_webhook``/``start_webhook`` arguments from ``[telegram]``; the secret token from the environment.

    Without a configured secret a random one is used for the run: ``setWebhook`` registers it
    with Telegram at every start, so requests that do not carry it are refused.
    """
    env = os.environ if environ is None else environ
    tg = settings.telegram
    secret = env.get(tg.webhook_secret_env, "").strip()
    if not secret:
        logger.warning("%s is not set; using a random webhook secret for this run", tg.webhook_secret_env)
        secret = secrets.token_urlsafe(32)
    return {
        "listen": tg.webhook_listen,
        "port": tg.webhook_port,
        "url_path": urlparse(tg.webhook_url).path.strip("/"),
        "webhook_url": tg.webhook_url,
        "secret_token": secret,
        "allowed_updates": Update.ALL_TYPES,
    }


def _private_logging() -> None:
    """PTB's DEBUG logs print whole updates (names, ids) and httpx logs URLs that contain the token."""
    for name, level in (
        ("telegram", logging.INFO),
        ("httpx", logging.WARNING),
        ("httpcore", logging.WARNING),
    ):
        log = logging.getLogger(name)
        if log.getEffectiveLevel() < level:
            log.setLevel(level)


async def _check_bot(token: str, base: str) -> str:
    """One getMe before starting: a bad token or an unreachable server fails fast, quietly, with our message
    (PTB's own start-up retry loop would log a traceback that contains the token)."""
    async with Bot(token, base_url=f"{base}/bot", base_file_url=f"{base}/file/bot") as bot:
        return str(bot.username)


def _warm_up(assistant: Assistant) -> None:
    try:
        assistant.warm_up()
    except Exception:  # the first question will report it properly
        logger.exception("warm-up failed")


def run_bot(assistant: Assistant, settings: Settings) -> int:
    """Run the bot until SIGINT or SIGTERM: long polling, or a webhook when ``telegram.webhook_url`` is set."""
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise UserError(f"没有设置 {TOKEN_ENV}")
    base = api_base_url()
    _private_logging()
    try:
        username = asyncio.run(_check_bot(token, base))
    except InvalidToken:
        raise UserError(messages.TG_BAD_TOKEN) from None
    except NetworkError as exc:
        raise UserError(messages.TG_NETWORK_DOWN.format(url=base, error=exc)) from None
    logger.info("starting as @%s", username)
    tg = settings.telegram
    state = State(settings.data_dir, history_size=tg.history_size)
    state.prune()
    application = build_application(assistant, settings, token, base, state=state)
    threading.Thread(target=_warm_up, args=(assistant,), name="warm-up", daemon=True).start()
    try:
        if tg.webhook_url:
            options = webhook_options(settings)
            logger.info(
                "webhook mode: listening on %s:%d for %s", tg.webhook_listen, tg.webhook_port, tg.webhook_url
            )
            application.run_webhook(**options)
        else:
            logger.info("polling %s", base)
            application.run_polling(
                timeout=dt.timedelta(seconds=tg.poll_timeout_seconds), allowed_updates=Update.ALL_TYPES
            )
    except InvalidToken:
        raise UserError(messages.TG_BAD_TOKEN) from None
    except NetworkError as exc:
        raise UserError(messages.TG_NETWORK_DOWN.format(url=base, error=exc)) from None
    finally:
        application.bot_data.answer_pool.shutdown(wait=False, cancel_futures=True)
        state.close()
    logger.info("Telegram bot stopped")
    return 0
