"""Telegram HTML formatting and keyboards: escaping, 4096-character splitting, callback data."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from bot import messages
from bot.channels.telegram import format as fmt
from bot.records import Answer, KnowledgeInfo, Source
from bot.state.database import Stats, Unanswered
from bot.testing.telegram_html import parse_html

LIMIT = fmt.MAX_MESSAGE


def _answer(
    text: str, *, answered: bool = True, title: str = "结婚登记办事指南", notes: tuple[str, ...] = ()
) -> Answer:
    sources = (
        Source("marriage.md", title, "2025-04-06", 0.9, True, heading=f"{title} › 四、材料"),
        Source("other.md", "不引用的文件", "2024-01-01", 0.5, False, cited=False),
    )
    return Answer(
        "问题",
        text,
        answered,
        "answer" if answered else "dont_know",
        sources if answered else (),
        notes=notes,
    )


def _assert_valid(messages_: list[str]) -> str:
    """Every message is valid Telegram HTML within the limit; returns the visible text joined."""
    shown = []
    for m in messages_:
        assert fmt.tg_len(m) <= LIMIT
        text, error = parse_html(m)
        assert not error, (error, m[:200])
        assert text.strip()
        shown.append(text)
    return "\n\n".join(shown)


def test_answer_text_sources_and_notes_are_escaped() -> None:
    answer = _answer(
        "带<身份证>和“签字声明”，A&B 都要。\n<script>alert(1)</script>",
        title="<b>假标题</b> & 指南",
        notes=(messages.SAMPLE_NOTICE,),
    )
    (html_,) = fmt.answer_messages(answer, hotline="12345")
    assert "<script>" not in html_ and "&lt;script&gt;" in html_
    assert "&lt;b&gt;假标题&lt;/b&gt; &amp; 指南" in html_
    shown = _assert_valid([html_])
    assert "带<身份证>和“签字声明”，A&B 都要。" in shown
    assert "来源\n· 《<b>假标题</b> & 指南》（2025-04-06）" in shown
    assert "不引用的文件" not in shown  # only cited sources are listed
    assert f"<i>{fmt.esc(messages.SAMPLE_NOTICE)}</i>" in html_
    assert "12345" in shown  # the footer


def test_unanswered_answers_have_no_sources_or_footer() -> None:
    (html_,) = fmt.answer_messages(
        _answer(
            messages.DONT_KNOW.format(hotline="12345", bureau_phone="1", office_hours="x"), answered=False
        ),
        hotline="12345",
    )
    assert "来源" not in html_ and "以上为政策摘要" not in html_


def test_question_echo_and_note_come_first() -> None:
    (html_,) = fmt.answer_messages(_answer("答案。"), hotline="12345", question="<问题>", note="提示")
    assert html_.startswith("<b>问：&lt;问题&gt;</b>\n\n<i>提示</i>\n\n答案。")


def test_long_answers_split_on_paragraph_boundaries() -> None:
    paragraphs = [f"第{i}段：" + "民政" * 300 for i in range(12)]  # 12 × ~605 characters
    answer = _answer("\n\n".join(paragraphs))
    out = fmt.answer_messages(answer, hotline="12345")
    assert len(out) >= 2
    shown = _assert_valid(out)
    for p in paragraphs:
        assert p in shown  # no paragraph was cut
    for m in out[:-1]:
        assert re.search(r"民政$", m)  # each message ends at a paragraph's end
    assert "来源" in out[-1]


def test_a_single_huge_paragraph_is_cut_at_sentences_then_characters() -> None:
    sentence = "申请人应当如实申报家庭收入和财产。"
    out = fmt.split_text(sentence * 600, 1000)
    assert all(fmt.tg_len(fmt.esc(p)) <= 1000 for p in out)
    assert all(p.endswith("。") for p in out)
    assert "".join(out) == sentence * 600
    no_breaks = "&" * 3000  # escapes to 5 characters each
    cut = fmt.split_text(no_breaks, 4096)
    assert "".join(cut) == no_breaks and all(fmt.tg_len(fmt.esc(p)) <= 4096 for p in cut)


def test_emoji_count_twice_towards_the_limit() -> None:
    out = fmt.text_messages("😀" * 3000)  # 6000 UTF-16 units
    assert len(out) == 2 and all(fmt.tg_len(m) <= LIMIT for m in out)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.text(alphabet=st.sampled_from(list("民政低保<>&\"' \n。？😀ab")), min_size=0, max_size=900),
        min_size=1,
        max_size=12,
    ),
    st.integers(min_value=40, max_value=LIMIT),
)
def test_any_text_becomes_valid_messages_within_the_limit(parts: list[str], limit: int) -> None:
    text = "\n\n".join(parts)
    out = fmt.pack(fmt.paragraphs(text, "", limit), limit)
    for m in out:
        assert fmt.tg_len(m) <= limit
        assert not parse_html(m)[1]
    # nothing is lost but the whitespace at the cuts
    assert re.sub(r"\s", "", "".join(fmt.html_to_plain(m) for m in out)) == re.sub(r"\s", "", text)


def test_html_to_plain_reverses_our_markup() -> None:
    assert fmt.html_to_plain("<b>来源</b>\n&lt;script&gt; &amp; <i>注</i>") == "来源\n<script> & 注"


def test_section_view_is_readable_and_escaped() -> None:
    body = "**问：**能<代办>吗？\n**答：**不能。\n\n| 类别 | 标准 |\n| --- | --- |\n| 城镇 | 1030元 |\n| 农村 | 840元 |"
    (html_,) = fmt.section_messages("常见<问题>", "常见<问题> › 婚姻登记", body)
    shown = _assert_valid([html_])
    assert shown.startswith(f"{messages.TG_SOURCE_HEADING}：《常见<问题>》\n婚姻登记")
    assert "问：能<代办>吗？" in shown and "**" not in shown
    assert "· 类别：城镇，标准：1030元" in shown and "| --- |" not in shown


def test_staff_views_escape_resident_text() -> None:
    rows = [
        Unanswered("<script>x</script> 火星补贴", 3, 1_700_000_000.0),
        Unanswered("低保&特困", 1, 1_700_000_000.0),
    ]
    out = fmt.unanswered_messages(rows, 30)
    shown = _assert_valid(out)
    assert "3 次｜<script>x</script> 火星补贴" in shown and "<script>" not in out[0]
    assert shown.index("火星补贴") < shown.index("低保&特困")
    assert fmt.unanswered_messages([], 30) == [fmt.esc(messages.TG_UNANSWERED_NONE.format(days=30))]
    info = KnowledgeInfo(25, 206, 3, "2025-06-01T10:58:45+0800", {"elderly": 6, "marriage": 4}, {})
    stats = fmt.stats_text(Stats(total=10, week=4, answered=7, up=2, down=1, handoffs=1), info)
    assert "已回答：7 次，占 70%" in stats and "第 3 版" in stats and "2025-06-01 10:58" in stats
    about = fmt.about_text(info, "12345")
    assert "25 份民政文件" in about and "养老服务（6）、婚姻登记（4）" in about


def test_keyboards_carry_short_opaque_callback_data() -> None:
    keyboard = fmt.answer_keyboard("AbCdEfGh", source=True)
    buttons = [b for row in keyboard.inline_keyboard for b in row]
    assert [b.text for b in buttons] == ["👍", "👎", "查看原文", "转人工"]
    assert [b.callback_data for b in buttons] == ["up:AbCdEfGh", "dn:AbCdEfGh", "src:AbCdEfGh", "hu:AbCdEfGh"]
    no_source = fmt.answer_keyboard("x", source=False)
    assert [b.text for row in no_source.inline_keyboard for b in row] == ["👍", "👎", "转人工"]

    topics = fmt.topics_keyboard()
    assert [[b.text for b in row] for row in topics.inline_keyboard] == [
        ["老年助餐", "婚姻登记"],
        ["社会救助", "联系我们"],
        ["📝 资格自测"],
    ]

    questions = ["特别长的问题" * 20, "低保去哪里申请？"]
    menu = fmt.questions_keyboard("assistance", 12345, questions)
    rows = menu.inline_keyboard
    assert (
        rows[0][0].callback_data == "q:assistance:12345:0" and len(rows[0][0].text) <= fmt.BUTTON_LABEL_CHARS
    )
    assert rows[1][0].text == "低保去哪里申请？" and rows[-1][0].callback_data == "tp:home"
    for row in rows:
        for b in row:
            assert len(str(b.callback_data).encode()) <= 64


def test_callback_data_round_trip_and_limits() -> None:
    assert fmt.parse_callback(fmt.callback("q", "elderly", 3, 7)) == ("q", ["elderly", "3", "7"])
    assert fmt.parse_callback(None) == ("", [])
    assert fmt.parse_callback("x" * 65) == ("", [])
    try:
        fmt.callback("q", "x" * 70)
    except ValueError:
        pass
    else:
        raise AssertionError("over-long callback data accepted")


def test_times_are_shown_briefly() -> None:
    assert fmt.format_time("2025-06-01T10:58:45+0800") == "2025-06-01 10:58"
    assert fmt.format_time("not a time") == "not a time"
    assert fmt.format_time("") == "未知"
