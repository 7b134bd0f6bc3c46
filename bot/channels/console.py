"""Interactive console chat: the same answers as Telegram, in a terminal.

Besides questions: ``/check`` runs a self-check wizard (低保 or 助餐补贴, choices by number or
text, ``/cancel`` to stop) and ``/near 纬度 经度`` lists the nearest elderly meal sites.
"""

from __future__ import annotations

import logging
import sys
from collections import deque
from typing import Any

from bot import messages
from bot.answering.assistant import Assistant
from bot.errors import IndexMissingError, StoreUnavailableError
from bot.services import meal_sites, wizard

logger = logging.getLogger(__name__)


def chat(assistant: Assistant, history_size: int = 5) -> int:
    """Read questions from stdin until /quit or end of input; keep recent questions for follow-ups."""
    print(messages.CONSOLE_WELCOME)
    history: deque[str] = deque(maxlen=history_size)
    interactive = sys.stdin.isatty()
    open_wizard: wizard.WizardState | None = None
    while True:
        try:
            line = input(messages.CONSOLE_PROMPT if interactive else "")
        except EOFError:
            break
        command = line.strip().lower()
        if command in ("/quit", "/exit", "/q"):
            break
        if command.startswith("/check") or open_wizard is not None:
            open_wizard, reply = wizard_line(assistant, open_wizard, line)
            print(reply)
            print()
            continue
        if command == "/cancel":
            print(messages.WIZ_NOT_ACTIVE)
            continue
        if command.startswith("/near"):
            print(near_line(assistant, line[len("/near") :]))
            print()
            continue
        if command == "/new":
            history.clear()
            continue
        answer = assistant.ask(line, list(history))
        print(answer.render())
        print()
        if answer.answered:
            history.append(line.strip())
    print(messages.CONSOLE_BYE)
    return 0


def step_text(prompt: str, choices: tuple[str, ...]) -> str:
    """A wizard question with its numbered choices, as the console shows it."""
    lines = [prompt]
    lines += [messages.WIZ_CONSOLE_CHOICE.format(n=n, label=label) for n, label in enumerate(choices, 1)]
    lines.append(messages.WIZ_CONSOLE_HINT)
    return "\n".join(lines)


def wizard_line(
    assistant: Any, state: wizard.WizardState | None, line: str
) -> tuple[wizard.WizardState | None, str]:
    """One console line for the wizard: start it (/check [低保|助餐]) or answer its current step."""
    text = line.strip()
    if state is None or text.lower().startswith("/check"):
        said = text[len("/check") :]
        kind = "dibao" if "低保" in said else "meal" if "助餐" in said else wizard.MENU
        step = wizard.start(kind)
        return step.state, step_text(step.prompt, step.choices)
    options = wizard.choices(state)
    if text.isdigit() and options:  # a choice by its number
        position = int(text) - 1
        text = options[position] if 0 <= position < len(options) else text
    standards, sample = None, False
    try:
        standards, sample = wizard.standards_of(assistant.index())
    except (IndexMissingError, StoreUnavailableError) as exc:
        logger.warning("standards unavailable for the wizard: %s", exc)
    turn = wizard.answer(state, text, standards, sample=sample)
    if turn.state is None:
        return None, turn.reply
    return turn.state, step_text(turn.reply, turn.choices)


def near_line(assistant: Any, args: str) -> str:
    """/near 纬度 经度 → the nearest meal sites (or how to use the command)."""
    point = meal_sites.parse_location(args)
    if point is None:
        return messages.MS_NEAR_USAGE
    return meal_sites.nearest_text(assistant.index(), *point)
