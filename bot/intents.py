"""What a question asks for (how, where, what papers, who qualifies, how much, when, which phone),
and the section headings of the guides that answer that kind of question."""

from __future__ import annotations

import re

_INTENTS = [
    (re.compile(q), re.compile(h))
    for q, h in (
        (r"怎么|怎样|如何|咋|流程|步骤|程序|手续|办理", r"怎样|怎么|如何|流程|步骤|程序|办理|渠道|申请$"),
        (r"哪里|哪儿|去哪|在哪|地址|地点|窗口|找谁|找哪", r"哪里|地址|地点|窗口|渠道|联系方式|谁来"),
        (r"材料|带什么|证件|准备什么|要什么|手续", r"材料|带什么|准备|清单"),
        (
            r"条件|资格|能不能|可不可以|可以.{0,6}吗|符合|谁可以|哪些人|算不算|属于",
            r"条件|对象|谁可以|什么样|范围|哪些人|哪些老人|帮助哪些",
        ),
        (r"多少钱|标准|金额|补多少|补贴多少|给多少|发多少|几多钱|几钱", r"标准|金额|发放"),
        (r"多久|几天|多长时间|什么时候|何时|几时|时限|期限|几号", r"时间|时限|期限|怎么算|程序|流程"),
        (r"电话|热线|号码|联系", r"电话|热线|联系|窗口"),
    )
]


def answers_kind(question: str, section: str) -> bool:
    """True when ``section`` (a heading) is the kind of section that answers ``question``.

    "低保怎么申请" is answered under "四、怎样申请", "结婚要带什么" under "三、需要带什么材料".
    """
    return bool(section) and any(q.search(question) and h.search(section) for q, h in _INTENTS)


_WHERE = re.compile(
    r"哪里|哪儿|去哪|在哪|何处|地址|地点|窗口|电话|热线|号码|联系方式|附近|最近的|离.{0,6}近|"
    r"哪个(?:县|区|镇|街道|登记处|饭堂|部门|单位|窗口|机构)|哪家|找谁|边度|边间"
)


def asks_where(question: str) -> bool:
    """The question asks for a place, an office or a phone number (place names then matter)."""
    return bool(_WHERE.search(question))
