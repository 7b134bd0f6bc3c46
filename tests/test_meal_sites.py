"""Elderly meal sites (bot/meal_sites.py): parsed from the served index, nearest by distance, by town name."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from bot import messages
from bot.records import Chunk
from bot.services import meal_sites
from bot.services.meal_sites import Site
from tests.helpers.knowledge import KnowledgeBase

SHANWEI_LAT = (22.5, 23.5)
SHANWEI_LON = (114.8, 116.2)


def fake_index(table: str, path: str = meal_sites.SITES_PATH) -> SimpleNamespace:
    """An index with one table chunk of ``path``."""
    chunk = Chunk(path=path, title="名录", issued="2025-06-01", sample=True, chunk=0)
    return SimpleNamespace(texts=[f"名录 › 一、名录\n{table}"], chunks=[chunk])


# --- from the served index ------------------------------------------------------------------------------


def test_sites_and_coordinates_come_from_the_served_index(ingested: KnowledgeBase) -> None:
    sites = meal_sites.sites(ingested.assistant.index())
    assert len(sites) == 15
    assert sites[0].name == "凤山街道长者饭堂" and sites[-1].name == "华侨管理区长者饭堂"
    for site in sites:
        assert site.lat is not None and SHANWEI_LAT[0] <= site.lat <= SHANWEI_LAT[1], site
        assert site.lon is not None and SHANWEI_LON[0] <= site.lon <= SHANWEI_LON[1], site
        assert re.fullmatch(r"0660-\d{7}", site.phone) and site.hours and site.delivery
    red_grass = next(s for s in sites if s.name.startswith("红草镇"))
    assert red_grass.delivery == "提供，覆盖各村取餐点"  # a cell with a comma stays one cell


def test_nearest_to_the_city_centre_is_fengshan(ingested: KnowledgeBase) -> None:
    sites = meal_sites.sites(ingested.assistant.index())
    found = meal_sites.nearest(sites, 22.79, 115.37)
    assert found[0].site.name == "凤山街道长者饭堂"
    assert len(found) == 3 and all(n.site.area == "城区" for n in found)
    kms = [n.km for n in found]
    assert kms == sorted(kms) and kms[0] is not None and kms[0] < 2.0 and kms[-1] is not None and kms[-1] < 10
    assert [n.site.name for n in meal_sites.nearest(sites, 22.95, 115.65, k=1)] == ["东海街道长者饭堂"]
    assert [n.site.name for n in meal_sites.nearest(sites, 23.30, 115.66, k=1)] == ["河田镇长者饭堂"]
    assert len(meal_sites.nearest(sites, 22.79, 115.37, k=20)) == 15


def test_nearest_text_lists_three_sites_with_distance_hours_and_phone(ingested: KnowledgeBase) -> None:
    text = meal_sites.nearest_text(ingested.assistant.index(), 22.79, 115.37)
    assert text.startswith(messages.MS_NEAREST_HEADER)
    assert text.count("公里") == 3 and text.count("电话：0660-") == 3 and text.count("供餐时段：") == 3
    assert "凤山街道长者饭堂" in text and "0660-3301101" in text and "示例坐标" in text
    assert "《汕尾市长者饭堂（助餐点）名录》" in text and messages.SAMPLE_NOTICE in text
    far = meal_sites.nearest_text(ingested.assistant.index(), 39.90, 116.40)  # Beijing
    assert far.startswith(messages.MS_FAR.split("（")[0])
    assert meal_sites.nearest_text(ingested.assistant.index(), 95.0, 115.0) == messages.MS_BAD_LOCATION


@pytest.mark.parametrize(
    ("question", "first", "area"),
    [
        ("我在梅陇镇，最近的长者饭堂在哪", "梅陇镇长者饭堂", "海丰县"),
        ("碣石附近有没有助餐点？", "碣石镇长者饭堂", "陆丰市"),
        ("凤山街道的长者饭堂电话是多少", "凤山街道长者饭堂", "城区"),
        ("螺溪镇饭堂在哪里", "螺溪镇助餐点", "陆河县"),
    ],
)
def test_a_town_named_in_the_text_comes_first(
    ingested: KnowledgeBase, question: str, first: str, area: str
) -> None:
    index = ingested.assistant.index()
    place, found = meal_sites.match_text(meal_sites.sites(index), question)
    assert place and place in question
    assert found[0].site.name == first and all(n.site.area == area for n in found)
    text = meal_sites.answer_text(question, index)
    assert text is not None and text.startswith(messages.MS_PLACE_HEADER.format(place=place))
    positions = [text.index(n.site.name) for n in found]
    assert positions == sorted(positions)
    assert "公里" not in text  # no distance from a town name


def test_a_county_named_in_the_text_returns_its_sites(ingested: KnowledgeBase) -> None:
    place, found = meal_sites.match_text(meal_sites.sites(ingested.assistant.index()), "陆丰的长者饭堂在哪")
    assert place == "陆丰" and {n.site.area for n in found} == {"陆丰市"} and len(found) == 3


@pytest.mark.parametrize(
    "question",
    [
        "梅陇镇怎么办结婚登记？",
        "助餐补贴多少钱",
        "长者饭堂在哪里登记？",
        "附近的饭堂几点开门",
        "今天天气怎么样",
        "",
    ],
)
def test_other_questions_are_left_to_retrieval(ingested: KnowledgeBase, question: str) -> None:
    assert meal_sites.answer_text(question, ingested.assistant.index()) is None


@pytest.mark.parametrize(
    "question", ["离我最近的长者饭堂在哪里", "长者饭堂在哪里？", "附近有没有助餐点", "饭堂喺边度"]
)
def test_a_nearest_site_question_without_a_place_asks_where_the_resident_lives(
    ingested: KnowledgeBase, question: str
) -> None:
    index = ingested.assistant.index()
    text = meal_sites.answer_text(question, index)
    assert text is not None and text.startswith(messages.MS_ASK_PLACE.split("{", 1)[0])
    assert "凤山街道、香洲街道" in text and "梅陇镇" in text  # the places that have a site, in order
    assert "工作人员" not in text and "经度" not in text  # not the directory's note to staff
    # The reply to "where do you live?" gets the sites there; the same words alone are no site question.
    reply = meal_sites.answer_text("我住凤山街道", index, earlier=question)
    assert reply is not None and reply.startswith(messages.MS_PLACE_HEADER.format(place="凤山街道"))
    assert "凤山街道长者饭堂" in reply and "0660-3301101" in reply
    assert meal_sites.answer_text("我住凤山街道", index) is None
    assert meal_sites.answer_text("我住凤山街道", index, earlier="低保怎么申请") is None


def test_the_resident_asking_the_bot_is_asked_where_they_live_then_gets_the_sites(
    ingested: KnowledgeBase,
) -> None:
    """Through the whole question flow: no staff note, then the sites of the place they name."""
    first = ingested.assistant.ask("离我最近的长者饭堂在哪里")
    assert first.kind == "meal_sites" and "您住在哪个镇（街道）" in first.text
    assert "工作人员" not in first.render()
    then = ingested.assistant.ask("凤山街道", ["离我最近的长者饭堂在哪里"])
    assert then.kind == "meal_sites" and "凤山街道长者饭堂" in then.text


def test_place_text_answers_near_with_a_place_name(ingested: KnowledgeBase) -> None:
    index = ingested.assistant.index()
    text = meal_sites.place_text(index, "凤山街道")
    assert text == meal_sites.answer_text("凤山街道的长者饭堂在哪", index)  # as the question gets them
    unknown = meal_sites.place_text(index, "火星")
    assert unknown.startswith(messages.MS_PLACE_UNKNOWN.split("{", 1)[0] + "火星") and "梅陇镇" in unknown


def test_staff_edits_reach_the_bot_after_a_reingest(ingested_copy: KnowledgeBase) -> None:
    kb = ingested_copy
    kb.ingest()
    doc = kb.knowledge / meal_sites.SITES_PATH
    text = doc.read_text(encoding="utf-8")
    text = text.replace("0660-3301203 | 115.118 | 22.830 |", "0660-3309999 | 115.370 | 22.790 |")
    doc.write_text(text, encoding="utf-8")
    assert kb.ingest().usable
    index = kb.fresh_assistant().index()
    (first,) = meal_sites.nearest(meal_sites.sites(index), 22.79, 115.37, k=1)
    assert first.site.name == "梅陇镇长者饭堂" and first.site.phone == "0660-3309999"
    assert first.km is not None and first.km < 0.1


# --- parsing without an index -----------------------------------------------------------------------------


def test_rows_without_usable_coordinates_are_kept_but_never_nearest() -> None:
    table = (
        "| 序号 | 所在区域 | 点位名称 | 地址 | 供餐时段 | 送餐上门 | 联系电话 | 经度 | 纬度 |\n"
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n"
        "| 1 | 城区 | 甲长者饭堂 | 甲街道 | 午餐 | 提供 | 0660-1 | 待补 | 22.7 |\n"
        "| 2 | 城区 | 乙长者饭堂 | 乙街道 | 午餐 | 提供 | 0660-2 | 115.4 | 22.8 |\n"
        "| 3 | 城区 | 丙长者饭堂 | 丙街道 | 午餐 | 提供 | 0660-3 | 515.4 | 22.8 |\n"
    )
    sites = meal_sites.sites(fake_index(table))
    assert [(s.name, s.lon) for s in sites] == [
        ("甲长者饭堂", None),
        ("乙长者饭堂", 115.4),
        ("丙长者饭堂", None),
    ]
    assert [n.site.name for n in meal_sites.nearest(sites, 22.0, 115.0)] == ["乙长者饭堂"]
    assert meal_sites.sites(fake_index(table, path="other.md")) == []


def test_places_a_resident_might_name() -> None:
    site = Site("梅陇镇长者饭堂", "海丰县", "梅陇镇敬老院", "午餐", "提供", "0660-1", 22.8, 115.1)
    assert meal_sites.places(site) == (["梅陇镇", "梅陇"], ["海丰县", "海丰"])
    overseas = Site("华侨管理区长者饭堂", "华侨管理区", "华侨管理区综合养老服务中心", "", "", "", None, None)
    assert "华侨" in meal_sites.places(overseas)[0]


def test_haversine_and_location_parsing() -> None:
    assert meal_sites.haversine_km(22.79, 115.37, 22.79, 115.37) == 0.0
    assert 110 < meal_sites.haversine_km(22.0, 115.0, 23.0, 115.0) < 112  # one degree of latitude
    assert meal_sites.parse_location("22.79 115.37") == (22.79, 115.37)
    assert meal_sites.parse_location("115.37,22.79") == (22.79, 115.37)
    assert meal_sites.parse_location("梅陇") is None and meal_sites.parse_location("1 2 3") is None
