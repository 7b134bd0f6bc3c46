"""The few names the WeChat channel takes from the rest of the bot, imported here and nowhere else
in this package, so a re-layout of the core re-points one file."""

from __future__ import annotations

from bot import messages
from bot.answering.assistant import Assistant
from bot.channels.state_writes import StateWrites
from bot.channels.web.app import bind
from bot.channels.web.server import uvicorn_config
from bot.config import Settings, WechatSettings
from bot.errors import UserError
from bot.records import Answer
from bot.services import meal_sites
from bot.state.database import State
from bot.state.rate_limit import RateLimiter

__all__ = [
    "Answer",
    "Assistant",
    "RateLimiter",
    "Settings",
    "State",
    "StateWrites",
    "UserError",
    "WechatSettings",
    "bind",
    "meal_sites",
    "messages",
    "uvicorn_config",
]
