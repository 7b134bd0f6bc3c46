"""The few names the WeChat channel takes from the rest of the bot, imported here and nowhere else
in this package, so a re-layout of the core re-points one file."""

from __future__ import annotations

from bot import meal_sites, messages
from bot.channels.web import bind
from bot.config import Settings, WechatSettings
from bot.core import Answer, Assistant
from bot.errors import UserError
from bot.state import RateLimiter, State

__all__ = [
    "Answer",
    "Assistant",
    "RateLimiter",
    "Settings",
    "State",
    "UserError",
    "WechatSettings",
    "bind",
    "meal_sites",
    "messages",
]
