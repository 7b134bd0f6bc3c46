"""Interactive console chat: the same answers as Telegram, in a terminal.

Besides questions: ``/check`` runs a self-check wizard (低保 or 助餐补贴, choices by number or
text, ``/cancel`` to stop), ``/near 凤山街道`` or ``/near 纬度 经度`` lists the nearest elderly meal
sites, ``/help`` says all this. A command typed while a wizard waits for an answer is carried out
and the wizard's question asked again; a command the console does not know is named as such,
never sent to the bot as a question.
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

QUIT = ("/quit", "/exit", "/q")


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
        command = line.strip().split(maxsplit=1)[0].lower() if line.strip() else ""
        if command in QUIT:
            break
        if command == "/check" or (open_wizard is not None and not _other_command(command)):
            open_wizard, reply = wizard_line(assistant, open_wizard, line)
            print(reply)
            print()
            continue
        if command.startswith("/"):
            if command == "/new":
                history.clear()
            print(command_line(assistant, command, line.strip()[len(command) :]))
            if open_wizard is not None:  # the command was carried out; the wizard still waits
                print(messages.CONSOLE_WIZARD_OPEN.format(prompt=wizard.prompt(open_wizard)))
            print()
            continue
        answer = assistant.ask(line, list(history))
        print(answer.render())
        print()
        if answer.answered:
            history.append(line.strip())
    print(messages.CONSOLE_BYE)
    return 0


def _other_command(command: str) -> bool:
    """A command the console carries out itself even while a wizard is open (/cancel goes to the wizard)."""
    return command in ("/help", "/near", "/new")


def command_line(assistant: Any, command: str, args: str) -> str:
    """The reply to a console command other than /check and /quit."""
    if command == "/help":
        return messages.CONSOLE_HELP.format(hotline=_hotline(assistant))
    if command == "/near":
        return near_line(assistant, args)
    if command == "/new":
        return messages.TG_NEW_TOPIC
    if command == "/cancel":
        return messages.WIZ_NOT_ACTIVE
    return messages.CONSOLE_UNKNOWN_COMMAND.format(command=command)


def _hotline(assistant: Any) -> str:
    settings = getattr(assistant, "settings", None)
    return str(settings.contact.hotline) if settings is not None else "12345"


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
    """/near 凤山街道 → the sites there, as the question '凤山街道的长者饭堂在哪' gets them;
    /near 纬度 经度 → the nearest sites; /near alone → how to use the command."""
    if not args.strip():
        return messages.MS_NEAR_USAGE
    point = meal_sites.parse_location(args)
    if point is not None:
        return meal_sites.nearest_text(assistant.index(), *point)
    if any(ch.isdigit() for ch in args):  # numbers, but not two of them: a mistyped location
        return messages.MS_NEAR_USAGE
    return meal_sites.place_text(assistant.index(), args)
