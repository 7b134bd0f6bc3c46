"""The Telegram channel's application: python-telegram-bot's real ``Application`` with every handler.

:func:`build_application` registers the handlers on one ``Application`` (the Bot API base URL is a
parameter, so a self-hosted Bot API server or a test's fake one can stand in for Telegram);
:func:`run_bot` runs it — long polling, or a webhook behind a reverse proxy when
``[telegram] webhook_url`` is set — until SIGINT or SIGTERM.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

from telegram import (
    Bot,
    BotCommand,
    Update,
)
from telegram.error import InvalidToken, NetworkError, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot import messages
from bot.answering.assistant import Assistant
from bot.channels.telegram import handlers
from bot.channels.telegram import wizard as wizard_handlers
from bot.channels.telegram.context import BotApplication, BotContext, BotDeps
from bot.config import Settings
from bot.errors import UserError
from bot.state.database import State

logger = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://api.telegram.org"
API_BASE_ENV = "TELEGRAM_API_BASE_URL"
TOKEN_ENV = "TELEGRAM_BOT_TOKEN"


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
    state folder continues them; those older than a day are forgotten here.
    """
    base = base_url.rstrip("/")
    tg = settings.telegram
    state = state or State(settings.data_dir, history_size=tg.history_size, url=settings.database_url)
    application: BotApplication = (
        ApplicationBuilder()
        .token(token)
        .base_url(f"{base}/bot")
        .base_file_url(f"{base}/file/bot")
        .context_types(ContextTypes(context=BotContext, bot_data=BotDeps))
        .rate_limiter(AIORateLimiter(max_retries=3))
        .concurrent_updates(True)
        .connect_timeout(10.0)
        .read_timeout(tg.api_timeout_seconds)
        .write_timeout(tg.api_timeout_seconds)
        .pool_timeout(10.0)
        .post_init(_post_init)
        .build()
    )
    deps = application.bot_data
    deps.configure(assistant, settings, state)

    new_messages = filters.UpdateType.MESSAGE
    private = filters.ChatType.PRIVATE
    state.open_wizards(wizard_handlers.WIZARD_MAX_AGE)  # deletes the expired ones
    for route in wizard_handlers.routes(state):
        application.add_handler(route)
    application.add_handler(CommandHandler("cancel", wizard_handlers.no_wizard, filters=new_messages))
    application.add_handler(CommandHandler("near", handlers.near, filters=new_messages))
    application.add_handler(CommandHandler("start", handlers.start, filters=new_messages))
    application.add_handler(CommandHandler("help", handlers.help_command, filters=new_messages))
    application.add_handler(CommandHandler("contact", handlers.contact, filters=new_messages))
    application.add_handler(CommandHandler("about", handlers.about, filters=new_messages))
    application.add_handler(CommandHandler("new", handlers.new_topic, filters=new_messages))
    application.add_handler(CommandHandler("stats", handlers.stats, filters=new_messages))
    application.add_handler(CommandHandler("unanswered", handlers.unanswered, filters=new_messages))
    application.add_handler(CommandHandler("reload", handlers.reload_index, filters=new_messages))
    application.add_handler(CallbackQueryHandler(handlers.on_button))
    application.add_handler(MessageHandler(new_messages & filters.TEXT & ~filters.COMMAND, handlers.on_text))
    application.add_handler(MessageHandler(new_messages & filters.LOCATION, handlers.on_location))
    application.add_handler(
        MessageHandler(new_messages & private & filters.COMMAND, handlers.unknown_command)
    )
    application.add_handler(MessageHandler(new_messages & private & filters.ATTACHMENT, handlers.on_not_text))
    application.add_error_handler(handlers.on_error)
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
    state = State(settings.data_dir, history_size=tg.history_size, url=settings.database_url)
    state.prune()
    application = build_application(assistant, settings, token, base, state=state)
    # Warm before polling, as the web and WeChat workers do: the first resident does not wait for the
    # model, and no thread is still inside the encoder when a SIGTERM ends the process (a daemon
    # warm-up thread there aborted the interpreter: "terminate called without an active exception").
    _warm_up(assistant)
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
