"""Where a document applies: its place chain (province, city, zone) and whether its
issuing body is national — read from its title and the bodies in its header.

"上海市优化营商环境条例" is 上海市's; "青岛市…" adopted by 青岛市人大常委会 and approved by
山东省人大常委会 lies in 山东省 › 青岛市; "中国（上海）自由贸易试验区条例" is about the zone
中国（上海）自由贸易试验区 of 上海市; "上海市经济技术开发区条例" covers all of 上海市's
development zones (a zone kind, no zone name). Geography comes from `index.places`.
"""

from __future__ import annotations

import re

from index.header import Event
from index.places import (
    MUNICIPALITIES,
    PROVINCES,
    kind_of_zone_word,
    prefecture,
    province,
    province_prefix,
    zone_mentions,
)
from index.textnorm import normalize, pos_tags

LEGAL_FORM = re.compile(r"(?:法|条例|规定|办法|细则|决定|决议|规则|通知|意见|规划|方案)$")
CITY = re.compile(r"^([\u4e00-\u9fff]{2,4}?市)")
_BRACKET_PLACE = re.compile(r"^中国\(([^)]+)\)")
NATIONAL = "全国"  # the region of a national document
NATIONAL_PREFIXES = ("全国人大", "国务院", "中共中央", "国家", "中国", "中央")


def normalise_title(title: str) -> str:
    """A title as documents name each other: no 中华人民共和国, no spaces, ASCII brackets."""
    text = normalize(title).replace("中华人民共和国", "")
    return re.sub(r"\s+", "", text)


def is_national_body(body: str) -> bool:
    """全国人大常委会, 国务院, a ministry (海关总署, 财政部、国家税务总局) — not a local body."""
    if body.startswith(NATIONAL_PREFIXES):
        return True
    if province_prefix(body) or CITY.match(body):
        return False
    return bool(re.search(r"(?:部|署|局|委员会|银行)$", body))


def places_of(
    title: str, issuer: str | None, events: list[Event]
) -> tuple[list[str], str | None, str | None]:
    """The place chain from the province down, the zone kind and the zone's name (None
    for a whole kind, as in "上海市经济技术开发区条例"), from the title and the issuer."""
    places = title_places(title)
    if issuer:
        places = _ordered([*places, *issuer_places(issuer, events)])
    zone = _zone(title, places)
    if zone is None:
        return places, None, None
    kind, name = zone
    if name and name not in places:
        places.append(name)
    return places, kind, name


def title_places(title: str) -> list[str]:
    """Province and city a title starts with ("山东省青岛…", "中国（上海）…", "青岛市…");
    a title that is no legal form ("来自辽宁自贸试验区营口片区的报告") may name it anywhere."""
    name = normalise_title(title)
    bracket = _BRACKET_PLACE.match(name)
    if bracket:
        name = bracket.group(1) + name[bracket.end() :]
    found = province_prefix(name)
    if found is None and not LEGAL_FORM.search(name):
        found = next((p for p in PROVINCES if p.short in name), None)
        if found:
            name = name[name.index(found.short) :]
    places = []
    if found:
        places.append(found.name)
        name = (
            name.removeprefix(found.name)
            if name.startswith(found.name)
            else name.removeprefix(found.short)
        )
    if found is None or found.name not in MUNICIPALITIES:
        city = CITY.match(name)
        if city and province(city.group(1)) is None:
            places.append(city.group(1))
        elif found is None:  # "营口港…", "营口片区…": a prefecture-level city's bare name
            known = next((prefecture(name[:n]) for n in (3, 2) if prefecture(name[:n])), None)
            places += [known[1], known[0]] if known else []
    return places


def issuer_places(issuer: str, events: list[Event]) -> list[str]:
    """Places of the enacting body and the body that approved it: 青岛市人大常委会,
    approved by 山东省人大常委会 → 山东省, 青岛市."""
    approving = next((e.body for e in events if e.kind == "批准" and e.body), None)
    places = []
    for body in (approving, issuer):
        if not body or is_national_body(body):
            continue
        found = province_prefix(body)
        city = CITY.match(body)
        if found:
            places.append(found.name)
        elif city:
            places.append(city.group(1))
    return places


def _ordered(places: list[str]) -> list[str]:
    """Provinces before cities, each once."""
    return sorted(dict.fromkeys(places), key=lambda n: 0 if province(n) else 1)


def _zone(title: str, places: list[str]) -> tuple[str, str | None] | None:
    """(zone kind, zone name) of the zone a title is about, the name None when the title
    covers a whole kind in its place: "上海市经济技术开发区条例" is about all of 上海市's
    development zones, "北京经济技术开发区条例" about the one zone of that name."""
    text = re.sub(r"\s+", "", title.replace("中华人民共和国", ""))
    mentions = zone_mentions(text)
    if not mentions:
        return None
    kind = kind_of_zone_word(mentions[0].group(0))
    last = mentions[-1]
    bracket = re.match(r"^中国[（(]([^）)]+)[）)]", text)
    if bracket:
        return kind, f"中国（{bracket.group(1)}）{last.group(0)}"
    start = None
    for name in places:
        if text.startswith(name):  # "上海市漕河泾…": the zone's own name follows the place
            start = len(name)
            break
        found = province(name)
        position = text.find(found.short if found else name.removesuffix("市"))
        if 0 <= position < last.start() and (start is None or position < start):
            start = position  # "北京经济技术开发区": the place is part of the zone's name
    if start is None:
        return kind, None
    span = text[start : last.end()]
    if re.search(r"[的、，和与及]", span):
        return kind, None
    span = _without_leading_verbs(span)
    generic = re.fullmatch(rf"(?:经济)?{re.escape(last.group(0))}", span)
    return kind, None if generic else span


def _without_leading_verbs(span: str) -> str:
    """ "促进浦东新区" → "浦东新区": a zone's name starts with a noun, not with what the
    regulation does to it."""
    tags = pos_tags(span)
    while len(tags) > 1 and tags[0][1][:1] in ("v", "p", "c", "d", "u"):
        span = span[len(tags[0][0]) :]
        tags = tags[1:]
    return span


def places_from(value: object) -> list[str]:
    """An operator's region: "全国", "上海市", "山东省/青岛市" or a list."""
    if isinstance(value, str):
        return [] if value == NATIONAL else [v for v in re.split(r"[/／>›]", value) if v]
    return [str(v) for v in value]


def region_kind(places: list[str], zone: str | None, issuer: str | None, title: str) -> str | None:
    if zone:
        return "zone"
    if places:
        return "province" if province(places[-1]) else "city"
    if (issuer and is_national_body(issuer)) or LEGAL_FORM.search(normalise_title(title)):
        return "national"  # a statute that names no place applies everywhere
    return None


def is_city(name: str) -> bool:
    return bool(CITY.fullmatch(name)) and province(name) is None
