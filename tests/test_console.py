"""The console chat (``python -m bot chat``): its welcome and /help, commands typed during /check,
implausible incomes asked again, and meal sites by place name — with a fake assistant where only
the wizard matters, with the real index where the answer does."""

from __future__ import annotations

import io
from types import SimpleNamespace
from typing import Any

import pytest

from bot import messages
from bot.channels import console
from bot.services import meal_sites
from bot.services.standards import Standards, parse
from tests.helpers.knowledge import STANDARDS_BLOCK, KnowledgeBase, run_cli

STD = Standards(parse(STANDARDS_BLOCK).values, "assistance-standards-shanwei.md", "标准一览", "2025-01-01")


class FakeAssistant:
    """An index with standards and no meal sites; every question is recorded and echoed."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.settings = SimpleNamespace(contact=SimpleNamespace(hotline="12345"))

    def index(self) -> Any:
        return SimpleNamespace(standards=STD, chunks=[], texts=[])

    def ask(self, question: str, history: Any = ()) -> Any:
        self.asked.append(question)
        return SimpleNamespace(render=lambda: f"回答：{question}", answered=True)


def chat(monkeypatch: pytest.MonkeyPatch, capsys: Any, assistant: Any, *lines: str) -> str:
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(lines) + "\n"))
    assert console.chat(assistant) == 0
    return str(capsys.readouterr().out)


def test_the_welcome_names_check_near_and_help(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    out = chat(monkeypatch, capsys, FakeAssistant())
    welcome = out.split("\n", 2)[:2]
    assert all(command in "\n".join(welcome) for command in ("/check", "/near", "/help", "/quit"))


def test_help_is_answered_and_never_sent_to_the_bot(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    assistant = FakeAssistant()
    out = chat(monkeypatch, capsys, assistant, "/help", "/HELP", "/nosuch")
    assert out.count(messages.CONSOLE_HELP.format(hotline="12345")) == 2
    assert messages.CONSOLE_UNKNOWN_COMMAND.format(command="/nosuch") in out
    assert assistant.asked == []


def test_commands_during_check_are_carried_out_and_the_wizard_goes_on(
    monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    assistant = FakeAssistant()
    lines = ["/check 低保", "/help", "/near", "/start", "2", "4", "2000"]
    out = chat(monkeypatch, capsys, assistant, *lines)
    assert messages.CONSOLE_HELP.format(hotline="12345") in out and messages.MS_NEAR_USAGE in out
    reminder = messages.CONSOLE_WIZARD_OPEN.format(prompt=messages.WIZ_ASK_AREA)
    assert out.count(reminder) == 2  # after /help and after /near
    assert messages.WIZ_COMMAND_DURING in out  # /start is no console command: the wizard says how to leave
    assert "1360" in out  # (840 − 500) × 4: the wizard went on to its result
    assert assistant.asked == []


def test_an_income_of_3_yuan_is_asked_again(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    out = chat(monkeypatch, capsys, FakeAssistant(), "/check 低保", "1", "3", "3元", "3000")
    assert messages.WIZ_INCOME_CONFIRM.format(income="3") in out
    assert "每月总收入3000元" in out and "每月总收入3元" not in out


def test_near_with_coordinates_or_nothing(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    out = chat(monkeypatch, capsys, FakeAssistant(), "/near", "/near 22.79", "/near 22.79 115.37")
    assert out.count(messages.MS_NEAR_USAGE) == 2 and messages.MS_NONE in out


# --- against the real index ------------------------------------------------------------------------------


def test_near_a_street_lists_its_sites_like_the_question_does(
    ingested: KnowledgeBase, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    out = chat(monkeypatch, capsys, ingested.assistant, "/near 凤山街道")
    expected = meal_sites.answer_text("凤山街道的长者饭堂在哪", ingested.assistant.index())
    assert expected is not None and expected in out
    assert "凤山街道长者饭堂" in out and "0660-3301101" in out


def test_the_nearest_site_question_asks_where_the_resident_lives(
    ingested: KnowledgeBase, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    out = chat(monkeypatch, capsys, ingested.assistant, "离我最近的长者饭堂在哪里", "凤山街道")
    first, second = out.split(messages.MS_PLACE_HEADER.format(place="凤山街道"), 1)
    assert "您住在哪个镇（街道）" in first
    assert "工作人员" not in out and "经度" not in out  # the directory's note to staff stays out
    assert "凤山街道长者饭堂" in second


def test_python_m_bot_chat_shows_help(ingested: KnowledgeBase) -> None:
    """The command a staff member types, in a subprocess."""
    done = run_cli(
        "-m",
        "bot",
        "chat",
        "--knowledge",
        ingested.knowledge,
        "--data",
        ingested.data,
        stdin="/help\n/quit\n",
    )
    assert done.returncode == 0, done.stderr
    assert "/check" in done.stdout and messages.CONSOLE_HELP.splitlines()[1] in done.stdout
