"""Interactive console chat: the same answers as Telegram, in a terminal."""

from __future__ import annotations

import sys
from collections import deque

from bot import messages
from bot.core import Assistant


def chat(assistant: Assistant, history_size: int = 5) -> int:
    """Read questions from stdin until /quit or end of input; keep recent questions for follow-ups."""
    print(messages.CONSOLE_WELCOME)
    history: deque[str] = deque(maxlen=history_size)
    interactive = sys.stdin.isatty()
    while True:
        try:
            line = input(messages.CONSOLE_PROMPT if interactive else "")
        except EOFError:
            break
        command = line.strip().lower()
        if command in ("/quit", "/exit", "/q"):
            break
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
