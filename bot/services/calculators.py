"""Eligibility arithmetic from the bureau's published standards, and reading it out of free text.

Every figure comes from :class:`bot.services.standards.Standards` (the front matter of the standards
document); every result says it is a preliminary estimate, names that document and its date,
and says what the calculator cannot judge (assets, other conditions).

Every number read from a message is range-checked before any arithmetic (:data:`MAX_HOUSEHOLD`,
:data:`MAX_MONTHLY_INCOME`, :data:`MAX_AGE`); one outside its range gets a polite
:class:`OutOfRange` reply saying what the calculator takes, never an exception.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot import intents, messages
from bot.chinese.numerals import cn_number
from bot.services.standards import Standards

AREAS = {"urban": "城镇", "rural": "农村"}
MAX_HOUSEHOLD = 20  # people in one household
MAX_MONTHLY_INCOME = 1_000_000.0  # yuan a month, the whole household
MAX_AGE = 120
MEAL_STATUSES = ("特困", "低保边缘", "低保", "计划生育特殊家庭")

_NUMBER = r"(\d+(?:\.\d+)?\s*[万千kK亿]?|[零〇一二两俩三四五六七八九十百千万亿]+)"
_HOUSEHOLD = re.compile(
    r"(?:一家|全家|家里|家庭|屋企)?\s*" + _NUMBER + r"\s*(?:口人|口之家|口|个人|人)(?!民|均|员|数)"
)
_INCOME = re.compile(
    r"(?:收入|挣|赚|工资|进账|入息|总共|合计|加起来|加埋|一共)[^\d零〇一二两俩三四五六七八九十百千万]{0,8}"
    + _NUMBER
    + r"\s*(?:元|块|蚊|圆)?"
    # "一个月2000块": a monthly amount of money with no income word
    + r"|(?:每个?月|一个月|月)[^\d零〇一二两俩三四五六七八九十百千万]{0,4}"
    + _NUMBER
    + r"\s*(?:元|块|蚊|圆)"
)
_INCOME_AFTER = re.compile(_NUMBER + r"\s*(?:元|块|蚊)(?:钱)?(?:的)?(?:收入|工资)")
_AGE = re.compile(
    _NUMBER + r"\s*(?:周岁|岁)|(?:今年|年纪|年龄|已经)\s*" + _NUMBER + r"(?![\d万千元块个口人])"
)
_RURAL = re.compile(r"农村|乡下|乡村|村里|村上|村民|农民|种田|耕田|镇上的村")
_URBAN = re.compile(r"城镇|城里|城市|市区|城区|县城|街道|居委|社区")


@dataclass(frozen=True)
class Result:
    text: str
    figures: dict[str, float]


@dataclass(frozen=True)
class OutOfRange:
    """A figure the message gives that no calculation takes (a household of 300, an income of 9⁹⁹⁹)."""

    text: str  # the reply: what the calculator takes, and how to ask again


@dataclass(frozen=True)
class Household:
    size: int
    income: float  # monthly, the whole household
    area: str | None  # "urban" | "rural" | None when the message does not say


def read_household(text: str) -> Household | OutOfRange | None:
    """Household size, monthly income and area from a message such as '农村4口人每月总收入2000元'.

    None when the message does not give both; OutOfRange when it gives one no calculation takes.
    """
    size_m = _HOUSEHOLD.search(text)
    income_m = _INCOME.search(text) or _INCOME_AFTER.search(text)
    if not size_m or not income_m:
        return None
    size = cn_number(size_m.group(1))
    income = cn_number(next(g for g in income_m.groups() if g))
    if size is None or not 1 <= size <= MAX_HOUSEHOLD or size != int(size):
        return OutOfRange(messages.CALC_SIZE_OUT_OF_RANGE.format(max_size=MAX_HOUSEHOLD))
    if income is None:
        return OutOfRange(messages.CALC_INCOME_OUT_OF_RANGE.format(max_income=f"{MAX_MONTHLY_INCOME:.0f}"))
    if re.search(r"年收入|一年|每年|全年", text) and not re.search(r"每月|一个月|月收入|每个月", text):
        income /= 12
    if income > MAX_MONTHLY_INCOME:
        return OutOfRange(messages.CALC_INCOME_OUT_OF_RANGE.format(max_income=f"{MAX_MONTHLY_INCOME:.0f}"))
    area = "rural" if _RURAL.search(text) else "urban" if _URBAN.search(text) else None
    return Household(int(size), income, area)


def dibao(household: Household, std: Standards) -> Result:
    """低保: per-capita income against the standard; likely eligible / 低保边缘 / not; the estimated amount."""
    areas = [household.area] if household.area else ["urban", "rural"]
    per_capita = household.income / household.size
    lines = [
        messages.CALC_HOUSEHOLD.format(
            size=household.size, income=_yuan(household.income), per_capita=_yuan(per_capita)
        )
    ]
    figures: dict[str, float] = {"per_capita": per_capita}
    for area in areas:
        line = std[f"dibao.{area}"]
        edge = std[f"dibao_edge.{area}"]
        name = AREAS[area]
        if per_capita < line:
            amount = (line - per_capita) * household.size
            figures[f"amount_{area}"] = amount
            lines.append(
                messages.CALC_DIBAO_BELOW.format(
                    area=name,
                    line=_yuan(line),
                    per_capita=_yuan(per_capita),
                    size=household.size,
                    amount=_yuan(amount),
                )
            )
        elif per_capita < edge:
            lines.append(messages.CALC_DIBAO_EDGE.format(area=name, line=_yuan(line), edge=_yuan(edge)))
        else:
            lines.append(messages.CALC_DIBAO_ABOVE.format(area=name, edge=_yuan(edge)))
    if household.area is None:
        lines.append(messages.CALC_AREA_UNKNOWN)
    lines.append(messages.CALC_DIBAO_CAVEAT)
    lines.append(messages.CALC_SOURCE.format(title=std.title, issued=std.issued))
    return Result("\n".join(lines), figures)


@dataclass(frozen=True)
class Diner:
    age: int
    statuses: frozenset[str]  # of MEAL_STATUSES
    local: bool = True  # 本市户籍


def read_diner(text: str) -> Diner | OutOfRange | None:
    """Age and status for the meal subsidy from a message such as '我妈72岁，是低保户，吃饭补多少'.

    None when the message gives no age; OutOfRange when it gives one that is no person's.
    """
    age_m = _AGE.search(text)
    if age_m is None:
        return None
    age = cn_number(age_m.group(1) or age_m.group(2))
    if age is None or not 0 < age <= MAX_AGE:
        return OutOfRange(messages.CALC_AGE_OUT_OF_RANGE.format(max_age=MAX_AGE))
    statuses = {s for s in MEAL_STATUSES if s in text}
    if "低保边缘" in statuses:
        statuses.discard("低保")
    if re.search(r"失独|独生子女(?:死亡|去世|伤残)", text):
        statuses.add("计划生育特殊家庭")
    if re.search(r"(?:不是|唔系|不属于|没有)(?:低保|特困)", text):
        statuses -= {"低保", "特困"}
    local = not re.search(r"外地户籍|外地户口|户口不在|非本市|外省", text)
    return Diner(int(age), frozenset(statuses), local)


def meal_subsidy(diner: Diner, std: Standards) -> Result:
    """老年助餐: which class (A/B/C), the subsidy and what the resident pays per meal."""
    min_age = std.get("meal", "min_age")
    senior_age = std.get("meal", "senior_age")
    price = std.get("meal", "price")
    if min_age is None or senior_age is None:
        return Result(messages.CALC_MEAL_NO_RULES, {})
    lines: list[str] = []
    if not diner.local:
        lines.append(messages.CALC_MEAL_NOT_LOCAL)
    elif diner.age < min_age:
        lines.append(messages.CALC_MEAL_TOO_YOUNG.format(min_age=f"{min_age:g}"))
    else:
        if diner.statuses:
            cls, why = "A", "、".join(sorted(diner.statuses))
        elif diner.age >= senior_age:
            cls, why = "B", f"{senior_age:g}周岁及以上"
        else:
            cls, why = "C", f"{min_age:g}至{senior_age - 1:g}周岁"
        subsidy = std[f"meal_subsidy.{cls}"]
        lines.append(messages.CALC_MEAL_CLASS.format(cls=cls, why=why, subsidy=_yuan(subsidy)))
        if price is not None:
            lines.append(
                messages.CALC_MEAL_PRICE.format(price=_yuan(price), pay=_yuan(max(0.0, price - subsidy)))
            )
        lines.append(messages.CALC_MEAL_CAVEAT)
        lines.append(messages.CALC_SOURCE.format(title=std.title, issued=std.issued))
        return Result("\n".join(lines), {"subsidy": subsidy})
    lines.append(messages.CALC_SOURCE.format(title=std.title, issued=std.issued))
    return Result("\n".join(lines), {})


CARE_LEVELS = {"full_self_care": "全自理", "semi_disabled": "半失能", "fully_disabled": "全失能"}


def dibao_standard(area: str | None, std: Standards) -> Result:
    """The 低保 standard itself, as the block publishes it (never an older figure a guide still states)."""
    areas = [area] if area else ["urban", "rural"]
    figures = {a: std[f"dibao.{a}"] for a in areas}
    lines = [messages.CALC_DIBAO_STANDARD.format(area=AREAS[a], amount=_yuan(v)) for a, v in figures.items()]
    lines.append(messages.CALC_DIBAO_STANDARD_NOTE)
    lines.append(messages.CALC_SOURCE.format(title=std.title, issued=std.issued))
    return Result("\n".join(lines), figures)


def tekun(area: str | None, care: str | None, std: Standards) -> Result:
    """特困供养: the basic living standard plus the care standard of the self-care assessment."""
    areas = [area] if area else ["urban", "rural"]
    cares = [care] if care else list(CARE_LEVELS)
    lines: list[str] = []
    figures: dict[str, float] = {}
    for a in areas:
        basic = std[f"tekun_basic.{a}"]
        for c in cares:
            amount = std[f"tekun_care.{c}"]
            figures[f"{a}.{c}"] = basic + amount
            lines.append(
                messages.CALC_TEKUN.format(
                    area=AREAS[a],
                    care=CARE_LEVELS[c],
                    basic=_yuan(basic),
                    amount=_yuan(amount),
                    total=_yuan(basic + amount),
                )
            )
    lines.append(messages.CALC_TEKUN_CAVEAT)
    lines.append(messages.CALC_SOURCE.format(title=std.title, issued=std.issued))
    return Result("\n".join(lines), figures)


def temporary_assistance(std: Standards) -> Result:
    """临时救助: the caps, as multiples of the urban 低保 standard, and the small advance."""
    line = std["dibao.urban"]
    normal = std["temporary_assistance.normal_max_times"]
    severe = std["temporary_assistance.severe_max_times"]
    advance = std["temporary_assistance.advance_max_yuan"]
    text = messages.CALC_TEMPORARY.format(
        line=_yuan(line),
        normal=f"{normal:g}",
        normal_max=_yuan(normal * line),
        severe=f"{severe:g}",
        severe_max=_yuan(severe * line),
        advance=_yuan(advance),
    )
    source = messages.CALC_SOURCE.format(title=std.title, issued=std.issued)
    figures = {"normal_max": normal * line, "severe_max": severe * line, "advance_max": advance}
    return Result(f"{text}\n{messages.CALC_TEMPORARY_CAVEAT}\n{source}", figures)


def disability(care_level: int | None, std: Standards) -> Result:
    """残疾人两项补贴: the living subsidy and the care subsidy of the given disability level (1 or 2)."""
    living = std["disability.living"]
    levels = [care_level] if care_level in (1, 2) else [1, 2]
    lines = [messages.CALC_DISABILITY_LIVING.format(living=_yuan(living))]
    figures = {"living": living}
    for level in levels:
        care = std[f"disability.care_level{level}"]
        figures[f"care_level{level}"] = care
        lines.append(
            messages.CALC_DISABILITY_CARE.format(level="一" if level == 1 else "二", care=_yuan(care))
        )
    lines.append(messages.CALC_DISABILITY_CAVEAT)
    lines.append(messages.CALC_SOURCE.format(title=std.title, issued=std.issued))
    return Result("\n".join(lines), figures)


def _yuan(value: float) -> str:
    return f"{value:.0f}" if abs(value - round(value)) < 0.005 else f"{value:.2f}"


_CARE_WORDS = {
    "全失能": "fully_disabled",
    "完全失能": "fully_disabled",
    "半失能": "semi_disabled",
    "全自理": "full_self_care",
    "能自理": "full_self_care",
    "生活自理": "full_self_care",
}
_DISABILITY_LEVEL = re.compile(r"([一二12])级")


def _area(text: str) -> str | None:
    return "rural" if _RURAL.search(text) else "urban" if _URBAN.search(text) else None


def answer_free_text(question: str, std: Standards | None) -> Result | None:
    """A calculator's answer when the (normalised) question gives what it needs, else None."""
    if std is None:
        return None
    if "特困" in question and intents.ASKS_AMOUNT.search(question):
        care = next((key for word, key in _CARE_WORDS.items() if word in question), None)
        if care is not None:
            return tekun(_area(question), care, std)
    if "临时救助" in question and intents.ASKS_CAP.search(question):
        return temporary_assistance(std)
    if (
        "残疾" in question
        and intents.NAMES_DISABILITY_SUBSIDY.search(question)
        and intents.ASKS_AMOUNT.search(question)
    ):
        level = _DISABILITY_LEVEL.search(question)
        return disability({"一": 1, "1": 1, "二": 2, "2": 2}[level.group(1)] if level else None, std)
    if intents.ASKS_DIBAO.search(question) and "低保标准" not in question:
        household = read_household(question)
        if isinstance(household, OutOfRange):
            return Result(household.text, {})
        if household is not None:
            return dibao(household, std)
    asks_standard = intents.ASKS_DIBAO.search(question) and intents.ASKS_STANDARD.search(question)
    if asks_standard and "边缘" not in question and read_household(question) is None:
        return dibao_standard(_area(question), std)
    if intents.ASKS_MEAL_SUBSIDY.search(question):
        diner = read_diner(question)
        if isinstance(diner, OutOfRange):
            return Result(diner.text, {})
        if diner is not None:
            return meal_subsidy(diner, std)
    return None
