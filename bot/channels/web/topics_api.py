"""The web page's topic chips over JSON: each topic's common questions from the served index.

``GET /api/topics/{key}`` (``elderly``, ``marriage``, ``assistance`` or ``contact``) →
``{"key", "label", "header", "questions": [str], "text", "parts"}``. The questions are
:func:`bot.services.topics.common_questions` (the FAQ questions and guides of that topic in the
index being served, so a re-ingest changes them without a restart); ``contact`` has none, only the
text of the ways to reach a person, with its phone numbers as tap-to-call parts.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from bot import messages
from bot.answering.assistant import Assistant
from bot.channels.web import phones
from bot.config import Settings
from bot.errors import UserError
from bot.services import topics

logger = logging.getLogger(__name__)

CONTACT = "contact"
KEYS = (*topics.TOPICS, CONTACT)  # the chips, in this order


def router(assistant: Assistant, settings: Settings) -> APIRouter:
    """The topics route."""
    routes = APIRouter()
    contact = {
        "hotline": settings.contact.hotline,
        "bureau_phone": settings.contact.bureau_phone,
        "office_hours": settings.contact.office_hours,
    }

    @routes.get("/api/topics/{key}")
    async def topic(key: str) -> JSONResponse:
        if key not in KEYS:
            return JSONResponse({"error": "not_found", "message": messages.WEB_NOT_FOUND}, status_code=404)
        label = messages.WEB_TOPIC_LABELS[key]
        payload: dict[str, Any] = {"key": key, "label": label, "header": "", "questions": []}
        if key == CONTACT:
            text = messages.WEB_CONTACT.format(**contact)
            return JSONResponse({**payload, "text": text, "parts": phones.parts(text)})
        try:
            index = await asyncio.to_thread(assistant.index)
        except UserError as exc:  # no index yet, or the store went away
            logger.warning("topics unavailable: %s", exc)
            message = messages.WEB_UNAVAILABLE.format(**contact)
            return JSONResponse({"error": "unavailable", "message": message}, status_code=503)
        questions = topics.common_questions(index).get(key, [])
        template = messages.WEB_TOPIC_HEADER if questions else messages.WEB_TOPIC_EMPTY
        text = template.format(topic=label)
        return JSONResponse({**payload, "header": text, "questions": questions, "text": text, "parts": []})

    return routes
