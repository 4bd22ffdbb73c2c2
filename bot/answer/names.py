"""How questions name places and laws, and how those names are matched.

Places: every place a document covers, with the forms a question may use — 上海市 and
上海, 青岛市 and 青岛, 浦东新区 and 浦东, a province's one-character abbreviation (沪, 京)
when it stands as a word; and the provinces and prefecture-level cities no document
covers, with or without a suffix ("江西省政府", "苏州工业园区"). Laws: a stretch of the
question ending in a legal form (法, 条例, 实施细则 …) abbreviates a title when it keeps
the title's characters in order, its ending and at least half of it ("征管法实施细则").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from index.metadata import DocumentInfo
from index.places import PROVINCES, ZONE_KINDS, prefecture, province, zone_mentions
from index.textnorm import jieba_words, normalize

LEGAL_SUFFIX = re.compile(r"法|条例|细则|规定|办法|决定|规则")
# Endings many titles share: an abbreviation needs two characters of its own before them.
_GENERIC_ENDING = re.compile(
    r"(?:实施|暂行|管理|若干|试行|补充)?(?:条例|细则|规定|办法|决定|规则)$|法$"
)
MIN_TITLE_SHARE = 0.5  # an abbreviated law name must keep half of the name's characters
MIN_TITLE_CHARS = 3


@dataclass(frozen=True)
class Place:
    name: str  # 北京市, 青岛市, 中国（上海）自由贸易试验区
    label: str  # 北京, 青岛
    level: str  # province, city, zone
    documents: frozenset[str]  # every document whose places include it
    own: frozenset[str]  # documents whose own (most specific) province or city it is


def covered_places(documents: Iterable[DocumentInfo]) -> dict[str, Place]:
    """Every place some document covers, with its documents."""
    members: dict[str, set[str]] = {}
    own: dict[str, set[str]] = {}
    levels: dict[str, str] = {}
    for doc in documents:
        for position, name in enumerate(doc.places):
            members.setdefault(name, set()).add(doc.doc_id)
            own.setdefault(name, set())
            is_zone = doc.region_kind == "zone" and position == len(doc.places) - 1
            levels.setdefault(
                name, "zone" if is_zone else ("province" if province(name) else "city")
            )
        administrative = [n for n in doc.places if levels.get(n) != "zone"]
        if administrative:
            own[administrative[-1]].add(doc.doc_id)
    return {
        name: Place(name, _label(name), levels[name], frozenset(docs), frozenset(own[name]))
        for name, docs in members.items()
    }


def _label(name: str) -> str:
    found = province(name)
    if found:
        return found.short
    return name.removesuffix("市") if name.endswith("市") and len(name) > 2 else name


def aliases(places: dict[str, Place]) -> list[tuple[str, Place]]:
    """Every form a question may name a covered place by, normalised like questions."""
    found: list[tuple[str, Place]] = []
    for place in places.values():
        forms = {place.name, place.label}
        if place.level == "zone":
            forms |= _zone_forms(place.name, places)
        found.extend((normalize(f).lower(), place) for f in forms if len(f) >= 2)
    return found


def _zone_forms(name: str, places: dict[str, Place]) -> set[str]:
    """Shorter names of a zone: 浦东新区 → 浦东; 辽宁自贸试验区营口片区 → 营口片区, 营口;
    青岛前湾保税港区 → 前湾保税港区, 前湾. A zone named after its place and kind alone
    (中国（上海）自由贸易试验区, 北京经济技术开发区) is matched as place + zone word."""
    text = normalize(name)
    zones = zone_mentions(text)
    if not zones or text.startswith("中国("):
        return set()
    own = text[zones[-2].end() :] if len(zones) > 1 else text
    for other in places.values():
        for form in (normalize(other.name), other.label):
            if other.name != name and len(form) >= 2 and own.startswith(form):
                own = own[len(form) :]
    last = zones[-1].group(0)
    if own == last or len(own) < 3:
        return set()
    bare = own.removesuffix(last)  # 浦东; not 营口, which names the whole city
    city = prefecture(bare) or province(bare)
    return {own, bare} if len(bare) >= 2 and not city else {own}


_ADMIN_SUFFIX = re.compile(r"(?:省|市|自治区|自治州|地区|县|区)?(?:人民政府|政府|当地)?$")


def uncovered_place(token: str) -> str | None:
    """The province or prefecture-level city a word names, alone or with an
    administrative or zone suffix ("江西省政府", "苏州工业园区"; not "中山大学")."""
    for end in range(len(token), 1, -1):
        head, rest = token[:end], token[end:]
        found = province(head)
        city = prefecture(head)
        if (found or city) and (_ADMIN_SUFFIX.fullmatch(rest) or zone_mentions(rest)):
            return found.short if found else city[0].removesuffix("市")
    return None


def words(text: str) -> list[str]:
    """jieba's words of the question in order (accurate mode, no tags: it is fast)."""
    return [word for word in jieba_words(text) if word.strip()]


def abbreviated(token: str, after: str):
    """The province a one-character abbreviation standing as a word names (沪, 京, 鲁 …);
    one that is also an everyday word (新, 港 …) only right before a zone word."""
    if len(token) != 1:
        return None
    for p in PROVINCES:
        if token in p.abbreviations:
            before_zone = any(after.startswith(w) for ws in ZONE_KINDS.values() for w in ws)
            return p if before_zone or not p.common_word else None
    return None


# --------------------------------------------------------------------------- titles


def plain(text: str) -> str:
    """A title or question for matching law names: normalised, no spaces or brackets."""
    return re.sub(r"[\s《》〈〉<>()（）“”\"'·]", "", normalize(text).lower())


def title_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of stretches of the question that could be a law's name: up to 24
    characters ending in a legal form (法, 条例, 实施细则 …), longest first."""
    spans = set()
    for match in LEGAL_SUFFIX.finditer(text):
        end = match.end()
        spans.update((start, end) for start in range(max(0, end - 24), end - MIN_TITLE_CHARS + 1))
    return sorted(spans, key=lambda s: s[0] - s[1])


def abbreviation_share(span: str, title: str) -> float:
    """How much of `title` the abbreviation `span` keeps, or 0 when it is none: it ends
    in the title's legal form (条例, 细则 …; 法 for a law), has two characters of its own
    before a generic ending (实施条例), keeps the title's characters in order, and keeps at
    least half of them."""
    if not MIN_TITLE_CHARS <= len(span) <= len(title):
        return 0.0
    if len(_GENERIC_ENDING.sub("", span)) < 2:  # "实施条例", "管理办法" name no law
        return 0.0
    ending = 1 if title.endswith("法") else 2
    if span[-ending:] != title[-ending:]:
        return 0.0
    position = 0
    for char in span:
        position = title.find(char, position) + 1
        if position == 0:
            return 0.0
    share = len(span) / len(title)
    return share if share >= MIN_TITLE_SHARE else 0.0
