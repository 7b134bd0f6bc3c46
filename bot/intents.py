"""What a question asks for, in one place: every pattern that reads a resident's question.

* how, where, what papers, who qualifies, how much, when, which phone — and the section headings
  of the guides that answer each kind (:func:`answers_kind`);
* the cues extraction scores sentences by (asks a number, a place, a phone, a list, a time);
* follow-up cues (opens with 那/如果…, points back with 这个/还能…);
* what routes a question to a calculator or to the meal-site directory;
* whether a sentence of a long message asks anything at all (the gist of a rambling message).

Patterns that read *documents* (a unit that holds a date, a phone number) stay with the code that
scores them; so do those that read a value out of an answer (an income, an age).
"""

from __future__ import annotations

import re

# --- the kind of question, and the headings that answer it ------------------------------------------

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


# Asks for a place, an office or a phone number: place names then count in retrieval.
_WHERE = re.compile(
    r"哪里|哪儿|去哪|在哪|何处|地址|地点|窗口|电话|热线|号码|联系方式|附近|最近的|离.{0,6}近|"
    r"哪个(?:县|区|镇|街道|登记处|饭堂|部门|单位|窗口|机构)|哪家|找谁|边度|边间"
)


def asks_where(question: str) -> bool:
    """The question asks for a place, an office or a phone number (place names then matter)."""
    return bool(_WHERE.search(question))


# --- what extraction looks for in a sentence --------------------------------------------------------

ASKS_NUMBER = re.compile(
    r"多少|几[个张份天日次岁年月倍点号]|几多|多久|多长|多大|年龄|标准|金额|比例|多高|上限|最高|最多|什么时候|何时|哪天|时间"
)
ASKS_PLACE = re.compile(
    r"哪里|哪儿|何处|去哪|在哪|地址|地点|哪个.{0,4}(处|窗口|部门|单位|机构|馆|点)|找谁|找哪"
)
ASKS_PHONE = re.compile(r"电话|热线|号码|联系方式|phone")
ASKS_LIST = re.compile(
    r"哪些|哪几|什么材料|带什么|要什么|准备什么|什么条件|条件|包括|包含|有什么|材料|手续|流程|步骤|证件|携带"
)
ASKS_WHEN = re.compile(r"什么时候|何时|哪天|几时|多久|多长时间|哪一天|几号|从什么时候|开始")
ASKS_MONEY = re.compile(
    r"多少钱|几多钱|几钱|几多银|多少银|费用|收费|价格|价钱|要钱|花多少|补多少|给多少|发多少|领多少|免多少"
)
ASKS_LIMIT = re.compile(r"最多|最高|上限|封顶|一共|合计|总共|最少|至少|最低")
ASKS_WHAT = re.compile(r"什么意思|是什么|什么是|指什么|何谓|含义|定义|算不算|属不属于|算是")
ASKS_CONDITION = re.compile(
    r"什么情况|哪些情况|什么条件|哪些条件|条件|资格|谁可以|哪些人|什么人|能不能(?:申请|办|领|享受)"
    r"|可以(?:申请|办|领|享受).{0,8}[吗么]|符合|够不够|会不会被|取消"
)
# … what something is, which things it covers, or who qualifies: a definition or a rule of conditions answers.
ASKS_DEFINITION = re.compile(
    ASKS_WHAT.pattern
    + "|"
    + ASKS_CONDITION.pattern
    + "|"
    + ASKS_LIST.pattern
    + r"|如何确定|怎么确定|怎样确定|如何认定|怎么认定|怎么算|算[^，。？?]{0,6}[吗么]|属于"
    + r"|[能会][^，。？?]{0,10}[吗么]|能否|可否|会不会|可不可以"  # may I, will it: the rule of cases answers
)
ASKS_HOW = re.compile(r"怎么|怎样|如何|流程|步骤|程序|去哪|向谁|找谁|哪个部门|什么部门|办法")

_ASKS = (ASKS_NUMBER, ASKS_PLACE, ASKS_PHONE, ASKS_LIST, ASKS_WHEN, ASKS_MONEY, ASKS_DEFINITION, ASKS_HOW)


_YES_NO = re.compile(r"[吗么嘛]|能否|可否|是否|是不是|有没有|会不会|能不能|可不可以|要不要|用不用|需不需要")


def has_ask(question: str) -> bool:
    """The question says what it wants (a time, a sum, a list, a place, yes or no …); "那离婚呢？"
    does not."""
    return bool(_YES_NO.search(question)) or any(p.search(question) for p in _ASKS)


# --- follow-ups ---------------------------------------------------------------------------------------

FOLLOW_UP_START = re.compile(
    r"^(那|那么|那如果|如果|要是|还有|还要|另外|这个|这种|它|他|她|咁|噉|再|然后|所以|是不是也|也)"
)
ANAPHORA = re.compile(r"这个|那个|这种|那种|这些|那些|它|上面说|刚才|还能|也能|也要|也可以|同样")

# --- questions a calculator or the meal-site directory answers -----------------------------------------

ASKS_DIBAO = re.compile(r"低保")
ASKS_MEAL_SUBSIDY = re.compile(
    r"(?:助餐|长者饭堂|饭堂|吃饭|用餐).{0,20}(?:补贴|补多少|多少钱|几钱|哪一类|哪类|几类|优惠)|补贴.{0,10}(?:助餐|饭堂)"
)
ASKS_AMOUNT = re.compile(r"多少|几多|几钱|金额|标准|最多|最高|上限|能领|可以领|领到|给多少")
ASKS_CAP = re.compile(r"最多|最高|上限|多少钱|几多钱|能给多少|额度")  # 临时救助: how much at most
# 低保标准是多少: the standard's amount itself (not a ratio to it, nor what a household gets)
# "标准现在是多少", "每月多少钱", "一个月几多钱": words may stand between, never a clause break.
ASKS_STANDARD = re.compile(
    r"标准[^，。？?！!]{0,6}(?:多少|几多|几钱|是几)|(?:每月|每个月|一个月|每人)[^，。？?！!]{0,4}(?:多少|几多|几钱)"
)
NAMES_DISABILITY_SUBSIDY = re.compile(r"护理补贴|两项补贴")
ASKS_SITE = re.compile(r"长者饭堂|助餐点|老人饭堂|老年饭堂|饭堂|助餐")
ASKS_SITE_WHERE = re.compile(r"最近|附近|哪里|哪儿|哪个|在哪|边度|去边|近|地址|电话|怎么走")
# Looking for a site near them: without a place named, the directory cannot answer (where do they live?).
SITE_NOUN = re.compile(r"长者饭堂|助餐点|老人饭堂|老年饭堂|饭堂")
ASKS_SITE_NEAR = re.compile(r"最近|附近|离我|离家|就近|身边|周边|在哪|哪里|哪儿|边度|喺边|去边|怎么走")
ASKS_SITE_OTHER = re.compile(
    r"登记|申请|补贴|办理|报名|开门|几点|时间|价|钱|菜|送餐|送饭|上门|更新|名录|标准"
)

# --- a sentence that asks something ------------------------------------------------------------------

QUESTION_CUE = re.compile(
    r"[？?]|吗|怎么|什么|哪|多少|几|是否|能不能|可不可以|要不要|有没有|[开去办领]不[开去办领]|如何"
)
