"""Elderly meal sites (长者饭堂) from the served index: the nearest ones to a location, or in a town.

Staff keep the sites in the table of ``knowledge/elderly-meal-sites-directory.md`` (columns
所在区域, 点位名称, 地址, 供餐时段, 送餐上门, 联系电话, 经度, 纬度), or in an ``.xlsx`` / ``.csv`` of
that name with the same columns; ingest says which file it took as the directory. The sites are
read from the served index's chunks of that document, not from disk, so a re-ingest changes them
without a restart.
"""

from __future__ import annotations

import logging
import math
import re
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot import intents, messages
from bot.records import ServedChunks, table_records

logger = logging.getLogger(__name__)

SITES_PATH = "elderly-meal-sites-directory.md"
DIRECTORY_NAMES = frozenset(
    {SITES_PATH, "elderly-meal-sites-directory.xlsx", "elderly-meal-sites-directory.csv"}
)
EARTH_RADIUS_KM = 6371.0088
FAR_KM = 80.0  # further than this from every site: the location is probably not in 汕尾
# Characters: '我住在凤山街道' answers "where do you live?"; a longer message is a question of its own.
MAX_PLACE_REPLY = 30
COLUMNS = {
    "area": "所在区域",
    "name": "点位名称",
    "address": "地址",
    "hours": "供餐时段",
    "delivery": "送餐上门",
    "phone": "联系电话",
    "lon": "经度",
    "lat": "纬度",
    "number": "序号",
}
_TOWN = re.compile(r"([\u4e00-\u9fff]{2,6}?)(镇|街道|管理区|乡|开发区)")
_AREA_SUFFIX = re.compile(r"(县|市|区|经济开发区)$")


@dataclass(frozen=True)
class Site:
    name: str
    area: str
    address: str
    hours: str
    delivery: str
    phone: str
    lat: float | None
    lon: float | None


@dataclass(frozen=True)
class Nearby:
    site: Site
    km: float | None  # None when the site (or the reference point) has no coordinates


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))


def _is_sites_path(path: str) -> bool:
    return path.rsplit("/", 1)[-1] in DIRECTORY_NAMES


def is_directory(path: str) -> bool:
    """True for the file that holds the meal-site directory (Markdown, Excel or CSV)."""
    return _is_sites_path(path)


def directory_path(index: ServedChunks) -> str:
    """The served directory's path (what an answer from it cites)."""
    return next((c.path for c in index.chunks if _is_sites_path(c.path)), SITES_PATH)


def directory_check(texts: Sequence[str]) -> tuple[int, list[str]]:
    """(sites found, the directory's columns its tables lack) for a directory's chunk texts, at ingest."""
    names: set[str] = set()
    columns: set[str] = set()
    for text in texts:
        for record in table_records(text):
            row = dict(record)
            columns |= set(row)
            if row.get(COLUMNS["name"], "").strip():
                names.add(row[COLUMNS["name"]].strip())
    missing = [c for key, c in COLUMNS.items() if key != "number" and c not in columns]
    return len(names), missing


def _coordinate(raw: str, low: float, high: float) -> float | None:
    try:
        value = float(raw.replace("°", "").strip())
    except ValueError:
        return None
    return value if low <= value <= high else None


_parsed: weakref.WeakKeyDictionary[Any, list[Site]] = weakref.WeakKeyDictionary()


def sites(index: ServedChunks) -> list[Site]:
    """Every site of the directory in the served index, in the table's order (no duplicates).

    Read once per index version (every question may look for a town name).
    """
    try:
        return _parsed[index]
    except KeyError:
        pass
    except TypeError:  # an index object that cannot be weakly referenced: read it every time
        return _read_sites(index)
    found = _parsed[index] = _read_sites(index)
    missing = [s.name for s in found if s.lat is None or s.lon is None]
    if missing:
        logger.warning(
            "%d of %d meal sites have no usable coordinates: %s", len(missing), len(found), "、".join(missing)
        )
    return found


def _read_sites(index: ServedChunks) -> list[Site]:
    found: dict[str, tuple[float, Site]] = {}
    rows = [i for i, c in enumerate(index.chunks) if _is_sites_path(c.path)]
    rows.sort(key=lambda i: index.chunks[i].chunk)
    for i in rows:
        for row in map(dict, table_records(index.texts[i])):
            name = row.get(COLUMNS["name"], "").strip()
            if not name or name in found:
                continue
            try:
                order = float(row.get(COLUMNS["number"], "") or len(found) + 1)
            except ValueError:
                order = len(found) + 1
            site = Site(
                name=name,
                area=row.get(COLUMNS["area"], ""),
                address=row.get(COLUMNS["address"], ""),
                hours=row.get(COLUMNS["hours"], ""),
                delivery=row.get(COLUMNS["delivery"], ""),
                phone=row.get(COLUMNS["phone"], ""),
                lat=_coordinate(row.get(COLUMNS["lat"], ""), -90, 90),
                lon=_coordinate(row.get(COLUMNS["lon"], ""), -180, 180),
            )
            found[name] = (order, site)
    return [site for _, site in sorted(found.values(), key=lambda pair: pair[0])]


def nearest(all_sites: Sequence[Site], lat: float, lon: float, k: int = 3) -> list[Nearby]:
    """The ``k`` sites nearest to (lat, lon) by great-circle distance; sites without coordinates last."""
    located = [
        Nearby(s, haversine_km(lat, lon, s.lat, s.lon))
        for s in all_sites
        if s.lat is not None and s.lon is not None
    ]
    located.sort(key=lambda n: n.km if n.km is not None else math.inf)
    return located[:k]


def places(site: Site) -> tuple[list[str], list[str]]:
    """(town or street names, county-level area names) a resident might use for this site."""
    towns: list[str] = []
    for text in (site.name, site.address):
        for m in _TOWN.finditer(text):
            full = m.group(1) + m.group(2)
            towns += [full, m.group(1)]
    area = site.area.strip()
    areas = [area] if area else []
    short = _AREA_SUFFIX.sub("", area)
    if short and short != area and len(short) >= 2:
        areas.append(short)
    return list(dict.fromkeys(t for t in towns if len(t) >= 2)), areas


def match_text(all_sites: Sequence[Site], text: str, k: int = 3) -> tuple[str, list[Nearby]]:
    """(the place named, up to ``k`` sites there) for text naming a town, street or county; ('', []) otherwise.

    Sites in the named town or street come first, then the other sites of the same county,
    nearest to the first match first.
    """
    best_place = ""
    town_hits: list[Site] = []
    area_hits: list[Site] = []
    for site in all_sites:
        towns, areas = places(site)
        town = next((t for t in sorted(towns, key=len, reverse=True) if t in text), "")
        if town:
            town_hits.append(site)
            best_place = best_place or town
            continue
        area = next((a for a in areas if a in text), "")
        if area:
            area_hits.append(site)
            best_place = best_place or area
    if not town_hits and not area_hits:
        return "", []
    anchor = (town_hits or area_hits)[0]
    if town_hits:
        areas_named = {s.area for s in town_hits}
        area_hits = [s for s in all_sites if s.area in areas_named and s not in town_hits]
    area_hits.sort(key=lambda s: _between(anchor, s))
    # No distances: how far the resident is from the town's centre is not known.
    return best_place, [Nearby(s, None) for s in (town_hits + area_hits)[:k]]


def _between(a: Site, b: Site) -> float:
    if a.lat is None or a.lon is None or b.lat is None or b.lon is None:
        return math.inf
    return haversine_km(a.lat, a.lon, b.lat, b.lon)


# --- texts for residents ---------------------------------------------------------------------------


def _source(index: ServedChunks) -> str:
    for chunk in index.chunks:
        if _is_sites_path(chunk.path):
            return messages.MS_SOURCE.format(title=chunk.title, issued=chunk.issued or "日期不详")
    return ""


def _is_sample(index: ServedChunks) -> bool:
    return any(c.sample for c in index.chunks if _is_sites_path(c.path))


def format_sites(found: Sequence[Nearby], header: str, index: ServedChunks) -> str:
    """Plain text: a header, one block per site (distance when known), the notes and the source."""
    blocks = [header]
    for n, item in enumerate(found, 1):
        s = item.site
        km = item.km
        distance = messages.MS_DISTANCE.format(km=f"{km:.1f}") if km is not None else ""
        blocks.append(
            messages.MS_SITE.format(
                n=n,
                name=s.name,
                area=s.area,
                distance=f" — {distance}" if distance else "",
                address=s.address or "—",
                hours=s.hours or "—",
                delivery=s.delivery or "—",
                phone=s.phone or "—",
            )
        )
    notes = [messages.MS_NOTE, _source(index)]
    if _is_sample(index):
        notes.append(messages.SAMPLE_NOTICE)
    return "\n".join([*blocks, *(n for n in notes if n)])


def nearest_text(index: ServedChunks, lat: float, lon: float, k: int = 3) -> str:
    """The reply to a shared location: the ``k`` nearest sites with distance, hours and phone."""
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return messages.MS_BAD_LOCATION
    found = nearest(sites(index), lat, lon, k)
    if not found:
        return messages.MS_NONE
    text = format_sites(found, messages.MS_NEAREST_HEADER, index)
    first = found[0].km
    if first is not None and first > FAR_KM:
        text = messages.MS_FAR.format(km=f"{first:.0f}") + "\n" + text
    return text


def answer_text(question: str, index: ServedChunks, earlier: str = "") -> str | None:
    """The reply to a question such as '我在梅陇镇，最近的长者饭堂在哪', or None when it is not one.

    A nearest-site question that names no place ('离我最近的长者饭堂在哪里') is answered with a
    question back: where the resident lives, and the places the directory has sites in (left to
    retrieval, it found the directory's note to staff about the coordinates). When ``earlier`` (the
    previous question) was such a question, a short reply naming a place ('凤山街道') gets its sites.
    """
    all_sites = sites(index)
    if earlier and len(question) <= MAX_PLACE_REPLY and asks_nearby(earlier):
        place, found = match_text(all_sites, question)
        if found and not match_text(all_sites, earlier)[1]:
            return format_sites(found, messages.MS_PLACE_HEADER.format(place=place), index)
    if not intents.ASKS_SITE.search(question) or not intents.ASKS_SITE_WHERE.search(question):
        return None
    place, found = match_text(all_sites, question)
    if found:
        return format_sites(found, messages.MS_PLACE_HEADER.format(place=place), index)
    if all_sites and asks_nearby(question):
        return messages.MS_ASK_PLACE.format(places=place_names(all_sites))
    return None


def asks_nearby(question: str) -> bool:
    """'离我最近的长者饭堂在哪里', '附近有没有助餐点': looking for a site, and nothing else about it."""
    return bool(
        intents.SITE_NOUN.search(question)
        and intents.ASKS_SITE_NEAR.search(question)
        and not intents.ASKS_SITE_OTHER.search(question)
    )


def place_names(all_sites: Sequence[Site]) -> str:
    """The towns and streets (else the counties) that have a site, in the directory's order."""
    names: list[str] = []
    for site in all_sites:
        towns, areas = places(site)
        names += (towns or areas)[:1]
    return "、".join(dict.fromkeys(names))


def place_text(index: ServedChunks, text: str, k: int = 3) -> str:
    """The reply to '/near 凤山街道': the sites in (or nearest to) the place named, as the question gives them."""
    all_sites = sites(index)
    if not all_sites:
        return messages.MS_NONE
    place, found = match_text(all_sites, text, k)
    if not found:
        return messages.MS_PLACE_UNKNOWN.format(place=text.strip()[:20], places=place_names(all_sites))
    return format_sites(found, messages.MS_PLACE_HEADER.format(place=place), index)


def parse_location(text: str) -> tuple[float, float] | None:
    """(lat, lon) from '22.79 115.37' or '115.37,22.79' (the value above 90 is the longitude)."""
    numbers = re.findall(r"-?\d+(?:\.\d+)?", text)
    if len(numbers) != 2:
        return None
    a, b = float(numbers[0]), float(numbers[1])
    if abs(a) > 90 >= abs(b):
        a, b = b, a
    return a, b
