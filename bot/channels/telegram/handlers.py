"""The Telegram handlers: questions, commands, buttons, shared locations, errors.

One feature per function, ``async def verb(update, context) -> None`` with a one-line docstring;
dependencies come from ``context.deps`` (:class:`~bot.channels.telegram.context.BotDeps`). Answers
are computed in a worker thread (``Assistant.ask`` is CPU-bound), at most
``max_concurrent_answers`` at a time, with a typing indicator once the resident has waited a
moment. Logs and stored analytics only ever see a salted hash of a user id (see :mod:`bot.state`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from typing import Any

from telegram import (
    Chat,
    Message,
    MessageEntity,
    ReplyKeyboardRemove,
    Update,
    User,
)
from telegram.constants import ChatType, ParseMode
from telegram.error import Conflict, Forbidden, NetworkError, TelegramError, TimedOut

from bot import messages
from bot.channels.telegram import format as fmt
from bot.channels.telegram.context import BotContext, edit_or_send, send, short, typing
from bot.errors import IndexMissingError, StoreUnavailableError
from bot.records import KnowledgeInfo
from bot.services import meal_sites, topics

logger = logging.getLogger(__name__)

MAX_SECTION_MESSAGES = 3
FEEDBACK_KINDS = frozenset({"answer", "dont_know", "other_department"})


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


# --- answering -------------------------------------------------------------------------------------


async def answer_question(
    context: BotContext, *, chat: Chat, user: User, text: str, reply_to: int | None = None, echo: bool = False
) -> None:
    """Rate-limit, answer in a worker thread with a typing indicator, record, send with buttons."""
    deps = context.deps
    who = deps.state.user_hash(user.id)
    verdict = deps.limiter.check(who)
    if not verdict.allowed:
        logger.info("rate limited user=%s (retry in %.0fs)", short(who), verdict.retry_after)
        if verdict.warn:
            notice = messages.TG_RATE_LIMITED.format(hotline=deps.hotline)
            await send(context, chat.id, fmt.text_messages(notice), reply_to=reply_to)
        return
    group = chat.type != ChatType.PRIVATE
    key = deps.state.chat_key(chat.id, user.id if group else None)
    too_long = len(text) > deps.settings.question.max_chars
    async with deps.chat_lock(key):
        max_age = deps.settings.telegram.history_max_age_minutes * 60
        no_history: list[str] = []
        history = deps.writes.attempt(no_history, deps.state.history, key, max_age=max_age)
        async with typing(context, chat.id), deps.answering:
            loop = asyncio.get_running_loop()
            answer = await loop.run_in_executor(deps.answer_pool, deps.assistant.ask, text, history)
        section = answer.section_source
        # Neither may cost the answer (a full disk): the resident gets it, without rating buttons.
        answer_id = deps.writes.attempt(
            "", deps.state.log_answer, answer, user=who, chat_type=str(chat.type), question=text
        )
        if answer.answered and not too_long:
            deps.writes.attempt(None, deps.state.remember, key, text)
        logger.info(
            "question user=%s chat=%s kind=%s answered=%s latency=%.0fms",
            short(who),
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
    key = state.chat_key(chat.id, user.id if chat.type != ChatType.PRIVATE else None)
    context.deps.writes.attempt(None, state.forget, key)
    await send(context, chat.id, fmt.text_messages(messages.TG_NEW_TOPIC))


async def unknown_command(update: Update, context: BotContext) -> None:
    """An unknown /command in a private chat: show the help."""
    await help_command(update, context)


async def _staff_only(update: Update, context: BotContext) -> bool:
    """True for admins; everyone else is told the command is for staff."""
    user, chat = update.effective_user, update.effective_chat
    if context.deps.is_admin(user):
        return True
    who = short(context.deps.state.user_hash(user.id)) if user else "-"
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
        result = deps.writes.attempt(
            "unavailable", deps.state.vote, args[0], who, 1 if kind == fmt.CB_UP else -1
        )
        toasts = {
            "recorded": messages.TG_FEEDBACK_THANKS if kind == fmt.CB_UP else messages.TG_FEEDBACK_SORRY,
            "duplicate": messages.TG_FEEDBACK_DUPLICATE,
            "unknown": messages.TG_FEEDBACK_UNKNOWN,
            "unavailable": messages.TG_FEEDBACK_UNAVAILABLE,
        }
        logger.info("feedback %s user=%s: %s", kind, short(who), result)
        await query.answer(toasts[result])
    elif kind == fmt.CB_SOURCE and args:
        await show_source(context, query.answer, chat.id, args[0], message_id)
    elif kind == fmt.CB_HUMAN:
        deps.writes.attempt(None, deps.state.log_event, "handoff", who)
        await query.answer()
        await send(context, chat.id, fmt.text_messages(fmt.contact_text(deps.settings.contact)))
    elif kind == fmt.CB_TOPIC and args:
        await query.answer()
        await show_topic(context, message, chat.id, args[0])
    elif kind == fmt.CB_QUESTION and len(args) == 3:
        topic, version, position = args
        index = await asyncio.to_thread(deps.assistant.index)
        questions = topics.common_questions(index).get(topic, [])
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
    if key not in topics.TOPICS:
        return
    label = messages.TG_TOPIC_LABELS.get(key, key)
    index = await asyncio.to_thread(deps.assistant.index)
    questions = topics.common_questions(index)[key]
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
    body = topics.section_text(index, record.source_path, record.source_heading)
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
        who = short(context.deps.state.user_hash(update.effective_user.id))
    if isinstance(error, TimedOut):
        # The request may have reached Telegram and its message arrive late: an apology sent now would
        # come first and the answer after it. Send nothing more; the resident can ask again.
        logger.warning("a Bot API call timed out (user=%s); no apology, its message may still arrive", who)
        return
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
    deps.writes.attempt(None, deps.state.log_event, "nearby", who)
    logger.info("nearest meal sites for user=%s", short(who))  # never the location itself
    await _send_nearest(context, message.chat, message.location.latitude, message.location.longitude)


async def near(update: Update, context: BotContext) -> None:
    """/near 纬度 经度: the nearest meal sites; /near 凤山街道: the sites there; /near alone asks for the location."""
    chat = update.effective_chat
    if chat is None:
        return
    if not context.args:
        await ask_location(context, chat)
        return
    said = " ".join(context.args)
    point = meal_sites.parse_location(said)
    if point is None and not any(ch.isdigit() for ch in said):
        index = await asyncio.to_thread(context.deps.assistant.index)
        await send(context, chat.id, fmt.text_messages(meal_sites.place_text(index, said)))
        return
    if point is None:
        await send(context, chat.id, fmt.text_messages(messages.MS_NEAR_USAGE))
        return
    await _send_nearest(context, chat, *point)
