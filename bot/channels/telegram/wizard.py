"""The self-check wizards (资格自测) on Telegram: /check or a 资格自测 button starts one; its buttons,
typed answers and /cancel go on until the result.

The steps and their answers live in :class:`~bot.state.database.State`'s wizards table, keyed by
the salted hash of (chat, user), and are written as each answer arrives: a restart, or another
worker over the same data folder, continues the wizard. :class:`OpenWizard` routes an update to the
wizard's step handlers whenever that table holds one for its (chat, user).

Why not PTB's ``ConversationHandler``: it keeps which conversations are open in memory, keyed by
raw chat and user ids, and survives a restart only through a ``BasePersistence``. That meant a
persistence class whose fifteen methods stored nothing, and an override of the private
``ConversationHandler._get_key`` to hash the key. PTB documents :class:`telegram.ext.BaseHandler`
as the class to inherit for custom handlers (``check_update`` / ``handle_update``), so the state
table itself decides, and no raw id is held anywhere.
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
    Update,
    User,
)
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot import messages
from bot.channels.telegram import format as fmt
from bot.channels.telegram.context import BotContext, send, short
from bot.errors import IndexMissingError, StoreUnavailableError
from bot.services import wizard
from bot.state.database import State

logger = logging.getLogger(__name__)

WIZARD_MAX_AGE = 24 * 3600.0  # an unfinished wizard older than this is forgotten


def routes(state: State) -> list[BaseHandler[Update, BotContext, None]]:
    """The wizard's handlers, to register before any other: its two ways in, then :class:`OpenWizard`."""
    new_messages = filters.UpdateType.MESSAGE
    return [
        CommandHandler("check", wizard_start, filters=new_messages),
        CallbackQueryHandler(wizard_start, pattern=rf"^{fmt.CB_WIZARD}:go(?::|$)"),
        OpenWizard(state),
    ]


class OpenWizard(BaseHandler[Update, BotContext, None]):
    """While a (chat, user) has a wizard in the wizards table: its step buttons (and 取消), typed
    answers and /cancel go to the wizard; every other update passes on to the other handlers."""

    def __init__(self, state: State) -> None:
        new_messages = filters.UpdateType.MESSAGE
        self.state = state
        self.steps: tuple[BaseHandler[Update, BotContext, None], ...] = (
            CallbackQueryHandler(wizard_button, pattern=rf"^{fmt.CB_WIZARD}:(?:o|x)(?::|$)"),
            MessageHandler(new_messages & filters.TEXT & ~filters.COMMAND, wizard_text),
            CommandHandler("cancel", wizard_cancel, filters=new_messages),
        )
        super().__init__(wizard_text)  # not called itself: handle_update hands over to the step's handler

    def check_update(self, update: object) -> tuple[BaseHandler[Update, BotContext, None], object] | None:
        if not isinstance(update, Update) or update.channel_post or update.edited_channel_post:
            return None
        chat, user = update.effective_chat, update.effective_user
        if chat is None or user is None or (update.callback_query and not update.callback_query.message):
            return None
        try:
            open_wizard = self.state.wizard(self.state.chat_key(chat.id, user.id))
        except Exception as exc:  # the state database is away: answer as if no wizard were open
            logger.warning("could not look up an open wizard (%s)", type(exc).__name__)
            return None
        if open_wizard is None:
            return None
        for handler in self.steps:
            check = handler.check_update(update)
            if check is not None and check is not False:
                return handler, check
        return None

    async def handle_update(
        self,
        update: Update,
        application: Application[Any, BotContext, Any, Any, Any, Any],
        check_result: object,
        context: BotContext,
    ) -> None:
        assert isinstance(check_result, tuple)
        handler: BaseHandler[Update, BotContext, None] = check_result[0]
        await handler.handle_update(update, application, check_result[1], context)


def _wizard_key(context: BotContext, chat: Chat, user: User) -> str:
    return context.deps.state.chat_key(chat.id, user.id)


async def _send_step(context: BotContext, chat_id: int, text: str, state: wizard.WizardState) -> None:
    keyboard = fmt.wizard_keyboard(state.step, wizard.choices(state))
    await send(context, chat_id, fmt.text_messages(text), reply_markup=keyboard)


async def wizard_start(update: Update, context: BotContext) -> None:
    """Start a wizard: the menu (/check), or the kind a button or argument names (/check 低保)."""
    chat, user, query = update.effective_chat, update.effective_user, update.callback_query
    if chat is None or user is None:
        return
    if chat.type != ChatType.PRIVATE:
        if query is not None:
            await query.answer(messages.WIZ_PRIVATE_ONLY)
        else:
            await send(context, chat.id, fmt.text_messages(messages.WIZ_PRIVATE_ONLY))
        return
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
    logger.info("wizard started user=%s kind=%s", short(who), kind or "menu")
    await _send_step(context, chat.id, f"{step.prompt}\n{messages.WIZ_CANCEL_HINT}", step.state)


async def wizard_text(update: Update, context: BotContext) -> None:
    """A typed answer to the current wizard step."""
    message, user = update.message, update.effective_user
    if message is None or user is None:
        return
    await _wizard_turn(context, message.chat, user, message.text or "")


async def wizard_button(update: Update, context: BotContext) -> None:
    """A pressed option (or 取消) of the current wizard step; buttons of an earlier step are refused."""
    query = update.callback_query
    if query is None or update.effective_chat is None:
        return
    chat, user = update.effective_chat, query.from_user
    _, args = fmt.parse_callback(query.data)
    if args[:1] == ["x"]:
        text = messages.WIZ_CANCEL
    else:
        key = _wizard_key(context, chat, user)
        raw = context.deps.state.wizard(key, WIZARD_MAX_AGE)
        state = wizard.WizardState.from_json(raw) if raw else None
        options = wizard.choices(state) if state is not None else ()
        stale = state is None or len(args) != 3 or args[1] != state.step or not args[2].isdigit()
        if stale or int(args[2]) >= len(options):
            await query.answer(messages.WIZ_EXPIRED if state is None else messages.WIZ_CHOOSE)
            if state is None:  # expired or unreadable: the wizard is over
                context.deps.state.drop_wizard(key)
            return
        text = options[int(args[2])]
    await query.answer()
    if isinstance(query.message, Message):
        with contextlib.suppress(TelegramError):
            await query.message.edit_reply_markup(None)  # the step is answered: no second press
    await _wizard_turn(context, chat, user, text)


async def wizard_cancel(update: Update, context: BotContext) -> None:
    """/cancel during a wizard."""
    chat, user = update.effective_chat, update.effective_user
    if chat is None or user is None:
        return
    await _wizard_turn(context, chat, user, "/cancel")


async def _wizard_turn(context: BotContext, chat: Chat, user: User, text: str) -> None:
    """Apply one answer, save or drop the wizard, and send the next question or the result."""
    deps = context.deps
    key = _wizard_key(context, chat, user)
    raw = deps.state.wizard(key, WIZARD_MAX_AGE)
    state = wizard.WizardState.from_json(raw) if raw else None
    if state is None:
        deps.state.drop_wizard(key)
        reply = messages.WIZ_CANCELLED if wizard.is_cancel(text) else messages.WIZ_EXPIRED
        await send(context, chat.id, fmt.text_messages(reply))
        return
    standards, sample = None, False
    try:
        standards, sample = wizard.standards_of(await asyncio.to_thread(deps.assistant.index))
    except (IndexMissingError, StoreUnavailableError) as exc:
        logger.warning("standards unavailable for the wizard: %s", exc)
    turn = wizard.answer(state, text, standards, sample=sample)
    if turn.done or turn.state is None:
        deps.state.drop_wizard(key)
        logger.info("wizard ended user=%s", short(deps.state.user_hash(user.id)))
        await send(context, chat.id, fmt.text_messages(turn.reply))
        return
    deps.state.save_wizard(key, turn.state.to_json())
    await _send_step(context, chat.id, turn.reply, turn.state)


async def no_wizard(update: Update, context: BotContext) -> None:
    """/cancel with no wizard open."""
    if update.effective_chat is not None:
        await send(context, update.effective_chat.id, fmt.text_messages(messages.WIZ_NOT_ACTIVE))
