"""The self-check wizards' step logic (bot/wizard.py) at every boundary, and the console's wizard."""

from __future__ import annotations

import io
from types import SimpleNamespace
from typing import Any

import pytest

from bot import messages
from bot.channels import console
from bot.records import Chunk
from bot.services import wizard
from bot.services.standards import Standards, parse
from tests.helpers.knowledge import STANDARDS_BLOCK as BLOCK

TITLE = "汕尾市社会救助和福利保障标准一览（2025年）"


def standards(**changes: dict[str, float]) -> Standards:
    block = {**BLOCK, **changes}
    std = parse(block)
    return Standards(std.values, "assistance-standards-shanwei.md", TITLE, "2025-01-01")


STD = standards()


def run(kind: str, *answers: str, std: Standards | None = STD) -> wizard.Turn:
    """Start ``kind`` and give ``answers``; every answer but the last must move the wizard on."""
    state: wizard.WizardState | None = wizard.start(kind).state
    turn = wizard.Turn(state, "", False)
    for i, text in enumerate(answers):
        assert state is not None, f"the wizard ended before answer {i}"
        turn = wizard.answer(state, text, std)
        state = turn.state
    return turn


def at_step(kind: str, step: str) -> wizard.WizardState:
    """The state of a wizard that has reached ``step`` with valid answers."""
    valid = {"area": "农村", "size": "4", "income": "2000", "age": "68", "status": "低保", "local": "是"}
    state = wizard.start(kind).state
    while state.step != step:
        turn = wizard.answer(state, valid[state.step], STD)
        assert turn.state is not None and not turn.done
        state = turn.state
    return state


# --- full runs ---------------------------------------------------------------------------------------


def test_a_full_dibao_run_asks_area_size_income_and_gives_the_calculators_result() -> None:
    first = wizard.start("dibao")
    assert (first.state.step, first.choices) == ("area", ("城镇", "农村"))
    assert first.prompt == messages.WIZ_ASK_AREA
    turn = wizard.answer(first.state, "农村", STD)
    assert turn.state is not None and turn.state.step == "size" and turn.choices == ()
    assert turn.reply == messages.WIZ_ASK_SIZE and not turn.done
    turn = wizard.answer(turn.state, "4", STD)
    assert turn.state is not None and turn.state.step == "income" and turn.reply == messages.WIZ_ASK_INCOME
    state, reply, done = wizard.answer(turn.state, "2000", STD)  # a Turn unpacks as (state, reply, done)
    assert state is None and done
    assert "1360" in reply and "农村低保标准840" in reply and "城镇" not in reply
    assert f"《{TITLE}》" in reply and messages.WIZ_AGAIN in reply
    assert messages.SAMPLE_NOTICE not in reply


def test_results_follow_the_standards_passed_in() -> None:
    changed = standards(dibao={"urban": 1030, "rural": 900})
    assert "1600" in run("dibao", "农村", "4", "2000", std=changed).reply  # (900 − 500) × 4
    assert "1360" in run("dibao", "农村", "4", "2000").reply
    assert messages.SAMPLE_NOTICE in wizard.answer(at_step("dibao", "income"), "2000", STD, sample=True).reply
    assert run("dibao", "城镇", "4", "2000", std=None).reply == messages.WIZ_NO_STANDARDS


def test_a_full_meal_run_gives_class_a_for_a_family_planning_special_family() -> None:
    first = wizard.start("meal")
    assert first.state.step == "age" and first.choices == ()
    turn = wizard.answer(first.state, "68", STD)
    assert turn.state is not None and turn.choices == (
        "低保",
        "特困",
        "低保边缘",
        "计划生育特殊家庭",
        "都不是",
    )
    turn = wizard.answer(turn.state, "计划生育特殊家庭", STD)
    assert turn.state is not None and turn.choices == (messages.WIZ_LOCAL_YES, messages.WIZ_LOCAL_NO)
    done = wizard.answer(turn.state, messages.WIZ_LOCAL_YES, STD)
    assert done.done and done.state is None
    assert "助餐补贴A类" in done.reply and "每餐补贴8元" in done.reply and "计划生育特殊家庭" in done.reply


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        (("85", "都不是", "是"), "助餐补贴B类"),
        (("70", "都不是", "是"), "助餐补贴C类"),
        (("70", "低保边缘", "是"), "助餐补贴A类（低保边缘）"),
        (("55", "都不是", "是"), "年满60周岁"),
        (("75", "特困", messages.WIZ_LOCAL_NO), messages.CALC_MEAL_NOT_LOCAL),
    ],
)
def test_meal_classes(answers: tuple[str, ...], expected: str) -> None:
    assert expected in run("meal", *answers).reply


def test_the_menu_leads_to_either_wizard() -> None:
    menu = wizard.start()
    assert menu.state.step == "kind" and menu.choices == (messages.WIZ_KIND_DIBAO, messages.WIZ_KIND_MEAL)
    dibao = wizard.answer(menu.state, messages.WIZ_KIND_DIBAO, STD)
    meal = wizard.answer(menu.state, messages.WIZ_KIND_MEAL, STD)
    assert dibao.state is not None and dibao.state.kind == "dibao" and dibao.reply == messages.WIZ_ASK_AREA
    assert meal.state is not None and meal.state.kind == "meal" and meal.reply == messages.WIZ_ASK_AGE
    again = wizard.answer(menu.state, "随便", STD)
    assert again.state == menu.state and messages.WIZ_CHOOSE in again.reply
    with pytest.raises(ValueError):
        wizard.start("nosuch")


# --- cancel --------------------------------------------------------------------------------------------

ALL_STEPS = [("", "kind")] + [(k, s) for k in wizard.KINDS for s in wizard.STEPS[k]]


@pytest.mark.parametrize(("kind", "step"), ALL_STEPS)
@pytest.mark.parametrize("word", ["取消", "/cancel", " 取消 ", "/CANCEL", "退出"])
def test_cancel_at_every_step(kind: str, step: str, word: str) -> None:
    state = wizard.start().state if kind == "" else at_step(kind, step)
    assert state.step == step
    assert wizard.answer(state, word, STD) == (None, messages.WIZ_CANCELLED, True)


# --- invalid answers are asked again ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("step", "text", "problem"),
    [
        ("size", "abc", messages.WIZ_NOT_A_NUMBER.format(text="abc")),
        ("size", "", messages.WIZ_NOT_A_NUMBER.format(text="")),
        ("size", "-3", messages.WIZ_NEGATIVE),
        ("size", "负三", messages.WIZ_NEGATIVE),
        ("size", "0 口人", messages.WIZ_SIZE_RANGE),
        ("size", "0", messages.WIZ_SIZE_RANGE),
        ("size", "21", messages.WIZ_SIZE_RANGE),
        ("size", "500口人", messages.WIZ_SIZE_RANGE),
        ("size", "3.5", messages.WIZ_SIZE_WHOLE),
        ("income", "abc", messages.WIZ_NOT_A_NUMBER.format(text="abc")),
        ("income", "-3", messages.WIZ_NEGATIVE),
        ("income", "-2000元", messages.WIZ_NEGATIVE),
        ("income", "99999999", messages.WIZ_INCOME_RANGE),
        ("area", "火星", messages.WIZ_CHOOSE),
        ("area", "4", messages.WIZ_CHOOSE),
    ],
)
def test_invalid_dibao_answers_are_asked_again_politely(step: str, text: str, problem: str) -> None:
    state = at_step("dibao", step)
    turn = wizard.answer(state, text, STD)
    assert turn.state == state and not turn.done  # nothing recorded, the same step
    assert turn.reply.startswith(problem)
    assert wizard.PROMPTS[step] in turn.reply and messages.WIZ_CANCEL_HINT in turn.reply


@pytest.mark.parametrize(
    ("step", "text", "problem"),
    [
        ("age", "abc", messages.WIZ_NOT_A_NUMBER.format(text="abc")),
        ("age", "-5", messages.WIZ_NEGATIVE),
        ("age", "0", messages.WIZ_AGE_RANGE),
        ("age", "150岁", messages.WIZ_AGE_RANGE),
        ("status", "不知道啊", messages.WIZ_CHOOSE),
        ("local", "嗯？", messages.WIZ_CHOOSE),
    ],
)
def test_invalid_meal_answers_are_asked_again_politely(step: str, text: str, problem: str) -> None:
    state = at_step("meal", step)
    turn = wizard.answer(state, text, STD)
    assert turn.state == state and not turn.done and turn.reply.startswith(problem)
    assert turn.choices == wizard.choices(state)  # the same buttons again


@pytest.mark.parametrize(
    ("step", "text", "value"),
    [
        ("size", "1", 1),
        ("size", "20", 20),
        ("size", "4口人", 4),
        ("size", "一共四口人", 4),
        ("size", "４", 4),
        ("size", " 5 人 ", 5),
        ("income", "0", 0.0),
        ("income", "2000元", 2000.0),
        ("income", "２，０００", 2000.0),
        ("income", "两千", 2000.0),
        ("income", "1.5万", 15000.0),
        ("income", "每月大概2500块", 2500.0),
        ("area", "我们在乡下农村", "rural"),
        ("area", "城镇", "urban"),
    ],
)
def test_valid_dibao_answers_in_residents_words(step: str, text: str, value: Any) -> None:
    turn = wizard.answer(at_step("dibao", step), text, STD)
    if turn.state is not None:
        assert turn.state.answers[step] == value
    else:  # the income step finishes the wizard
        assert turn.done and "按您说的" in turn.reply


@pytest.mark.parametrize(
    ("step", "text", "value"),
    [
        ("age", "68岁", 68),
        ("age", "六十八", 68),
        ("age", "120", 120),
        ("status", "失独家庭", "计划生育特殊家庭"),
        ("status", "低保边缘户", "低保边缘"),
        ("status", "都不是", messages.WIZ_STATUS_NONE),
    ],
)
def test_valid_meal_answers_in_residents_words(step: str, text: str, value: Any) -> None:
    turn = wizard.answer(at_step("meal", step), text, STD)
    assert turn.state is not None and turn.state.answers[step] == value


@pytest.mark.parametrize(
    ("text", "local"), [("是", True), ("汕尾户口", True), ("不是", False), ("外地的", False)]
)
def test_local_household_answers(text: str, local: bool) -> None:
    turn = wizard.answer(at_step("meal", "local"), text, STD)
    assert turn.done and (messages.CALC_MEAL_NOT_LOCAL in turn.reply) is not local


def test_states_survive_a_round_trip_through_json() -> None:
    state = at_step("dibao", "income")
    assert wizard.WizardState.from_json(state.to_json()) == state
    assert state.answers == {"area": "rural", "size": 4}
    for damaged in ("", "{", "[]", '{"kind": "dibao"}', '{"kind": "x", "step": "area", "answers": {}}',
                    '{"kind": "dibao", "step": "age", "answers": {}}'):  # fmt: skip
        assert wizard.WizardState.from_json(damaged) is None


def test_standards_of_an_index() -> None:
    chunks = [Chunk("assistance-standards-shanwei.md", sample=True), Chunk("x.md", sample=False)]
    assert wizard.standards_of(SimpleNamespace(standards=STD, chunks=chunks)) == (STD, True)
    assert wizard.standards_of(SimpleNamespace(standards=None, chunks=chunks)) == (None, False)


# --- the console ---------------------------------------------------------------------------------------


class FakeAssistant:
    """Just what the console's wizard needs: ``index()`` with standards; questions are echoed."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def index(self) -> Any:
        return SimpleNamespace(standards=STD, chunks=[], texts=[])

    def ask(self, question: str, history: Any = ()) -> Any:
        self.asked.append(question)
        return SimpleNamespace(render=lambda: f"回答：{question}", answered=True)


def test_console_wizard_with_numbered_choices(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    lines = ["/check", "1", "2", "abc", "4", "2000", "/check 助餐", "68", "4", "1", "低保怎么申请？"]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(lines) + "\n"))
    assistant = FakeAssistant()
    assert console.chat(assistant) == 0  # type: ignore[arg-type]
    out = capsys.readouterr().out
    assert "1. 低保测算" in out and "2. 助餐补贴测算" in out and "2. 农村" in out
    assert messages.WIZ_NOT_A_NUMBER.format(text="abc") in out and "1360" in out
    assert "助餐补贴A类" in out
    assert assistant.asked == ["低保怎么申请？"]  # only the question after the wizards reached the bot


def test_console_cancel_and_near(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    lines = ["/cancel", "/check", "1", "/cancel", "/near", "/near 22.79 115.37"]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(lines) + "\n"))
    assistant = FakeAssistant()
    console.chat(assistant)  # type: ignore[arg-type]
    out = capsys.readouterr().out
    assert messages.WIZ_NOT_ACTIVE in out and messages.WIZ_CANCELLED in out
    assert messages.MS_NEAR_USAGE in out and messages.MS_NONE in out  # the fake index has no sites
    assert assistant.asked == []


# --- implausible incomes, commands mid-wizard, and the card view -----------------------------------


@pytest.mark.parametrize("text", ["3元", "3", "五十", "99"])
def test_an_implausibly_small_income_is_asked_again_then_taken_when_repeated(text: str) -> None:
    state = at_step("dibao", "income")
    first = wizard.answer(state, text, STD)
    assert not first.done and first.state is not None and first.state.step == "income"
    shown = f"{wizard.read_number(text)[0]:g}"
    assert first.reply.startswith(messages.WIZ_INCOME_CONFIRM.format(income=shown))
    assert messages.WIZ_ASK_INCOME in first.reply  # the same question again
    # Another figure is read afresh: a plausible one finishes, so the slip is corrected.
    corrected = wizard.answer(first.state, "3000", STD)
    assert corrected.done and "每月总收入3000元" in corrected.reply
    # The same figure again: the resident means it.
    confirmed = wizard.answer(first.state, text, STD)
    assert confirmed.done and f"每月总收入{shown}元" in confirmed.reply


@pytest.mark.parametrize("text", ["0", "100", "没有收入 0"])
def test_no_income_or_a_plausible_one_is_taken_at_once(text: str) -> None:
    assert wizard.answer(at_step("dibao", "income"), text, STD).done


@pytest.mark.parametrize(("kind", "step"), ALL_STEPS)
@pytest.mark.parametrize("command", ["/help", "/near 凤山街道", "/start"])
def test_a_command_during_a_wizard_is_no_answer_and_says_how_to_leave(
    kind: str, step: str, command: str
) -> None:
    state = wizard.start().state if kind == "" else at_step(kind, step)
    turn = wizard.answer(state, command, STD)
    assert turn.state == state and not turn.done
    assert turn.reply.startswith(messages.WIZ_COMMAND_DURING) and "/cancel" in turn.reply
    assert wizard.PROMPTS[step] in turn.reply


def test_take_gives_the_problem_apart_and_the_result_without_the_chat_hint() -> None:
    state = at_step("dibao", "size")
    wrong = wizard.take(state, "abc", STD)
    assert wrong.state == state and wrong.problem == messages.WIZ_NOT_A_NUMBER.format(text="abc")
    assert not wrong.done and wrong.result == ""
    right = wizard.take(state, "4", STD)
    assert right.state is not None and right.state.step == "income" and right.problem == ""
    assert wizard.progress(right.state) == (3, 3) and wizard.progress(state) == (2, 3)
    end = wizard.take(right.state, "2000", STD, again="")
    assert end.done and "1360" in end.result and messages.WIZ_AGAIN not in end.result
    assert wizard.take(state, "取消", STD).result == messages.WIZ_CANCELLED
