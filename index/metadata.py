"""Document metadata: who issued a document, at what level, for which place, when, and
whether it is still in force — read at index time and stored with the index.

Two steps. `extract` reads what one document says about itself (its title, Markdown front
matter, header lines or 题注, the 施行 sentence, the documents it repeals, the date in its
file name); the result is cached per file in the index, so an unchanged file is never
re-read. `resolve` then turns every document's facts into a `DocumentInfo`, field by field
in this order: the operator's `documents.yaml`, front matter, header lines, file name, and
last the title (e.g. "上海市…条例" is a 地方性法规 of 上海市); relations between documents
(a newer version of the same title, a law that repeals another) decide the status.
`DocumentInfo.origin` says where each field came from.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import PurePath

from index.documents import Chunk, Document
from index.header import Event, effective_date, is_header_line, parse_events
from index.jurisdiction import (
    CITY,
    LEGAL_FORM,
    NATIONAL,
    is_city,
    is_national_body,
    normalise_title,
    places_from,
    places_of,
    region_kind,
    title_places,
)
from index.places import prefecture, province

LEVELS = ("法律", "行政法规", "地方性法规", "规章", "规范性文件", "其他")
REGION_KINDS = ("national", "province", "city", "zone")
STATUSES = ("in force", "amended", "replaced", "repealed")
STATUS_LABELS = {"in force": "现行有效", "amended": "已修正，现行有效", "replaced": "已被取代"}
STATUS_LABELS["repealed"] = "已废止"

_FILE_DATE = re.compile(r"[(（](\d{4})-(\d{2})-(\d{2})[)）]\s*$")
_REPEAL = re.compile(r"(?:同时|予以|一并)废止")
_QUOTED = re.compile(r"《([^》]{2,80})》")


@dataclass(frozen=True)
class Extracted:
    """What one document says about itself; cached in the index per file."""

    doc_id: str
    source: str
    title: str
    events: list[Event] = field(default_factory=list)
    effective: str | None = None  # "本条例自…起施行"
    effective_on_publication: bool = False  # "自公布之日起施行"
    file_date: str | None = None  # "(2024-09-27)" in the file name
    front_matter: dict = field(default_factory=dict)
    repeals: list[str] = field(default_factory=list)  # titles it says 同时废止 (normalised)

    @classmethod
    def from_dict(cls, data: dict) -> Extracted:
        data = dict(data)
        data["events"] = [Event(**e) for e in data.get("events", [])]
        return cls(**data)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class DocumentInfo:
    """A document's provenance, as citations, scoping and `zonebot documents` use it."""

    doc_id: str
    source: str
    title: str  # full title, 中华人民共和国对外贸易法
    short_name: str  # 对外贸易法, 上海自贸试验区条例
    issuer: str | None = None  # 国务院, 上海市人大常委会
    level: str | None = None  # one of LEVELS
    region: str | None = None  # the most specific place: 全国, 上海市, 青岛市, 浦东新区
    region_kind: str | None = None  # one of REGION_KINDS
    places: tuple[str, ...] = ()  # from the province down: (山东省, 青岛市, 青岛前湾保税港区)
    zone_kind: str | None = None  # 自贸试验区, 保税港区 … (index.places.ZONE_KINDS)
    adopted: str | None = None  # 通过 (ISO dates)
    promulgated: str | None = None  # 公布 / 发布
    effective: str | None = None  # 施行
    amended: str | None = None  # the latest 修正 / 修订
    version_date: str | None = None  # the date of this text: its latest adoption or amendment
    status: str = "in force"  # one of STATUSES
    replaced_by: str | None = None  # doc_id of the newer version or the repealing document
    family: str = ""  # the title without its place: parallel documents share it
    origin: dict[str, str] = field(default_factory=dict)  # field -> where it was found

    @classmethod
    def from_dict(cls, data: dict) -> DocumentInfo:
        return cls(**{**data, "places": tuple(data.get("places", ()))})

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def in_force(self) -> bool:
        return self.status in ("in force", "amended")

    @property
    def version_year(self) -> int | None:
        return int(self.version_date[:4]) if self.version_date else None

    @property
    def place_label(self) -> str:
        """The place for people, shortest form: 国家, 上海, 青岛, 浦东新区."""
        if self.region_kind == "national" or not self.places:
            return "国家"
        for name in reversed(self.places):
            if self.zone_kind is None or name != self.places[-1]:
                found = province(name)
                return found.short if found else name.removesuffix("市") or name
        return self.places[0]

    def provenance(self) -> str:
        """ "上海市人大常委会，2024-09-27 公布" (and 已被取代 / 已废止 when not in force).
        The date is this text's: an amended regulation is republished on the day of its
        latest amendment, so that is the day the version in hand was 公布."""
        parts = [self.issuer] if self.issuer else []
        if self.version_date:
            parts.append(f"{self.version_date} 公布")
        elif self.effective:
            parts.append(f"{self.effective} 施行")
        if not self.in_force:
            parts.append(STATUS_LABELS[self.status])
        return "，".join(parts)

    def missing(self) -> list[str]:
        """The fields `zonebot documents` reports as not found."""
        wanted = {"issuer": self.issuer, "level": self.level, "region": self.region}
        wanted["date"] = self.version_date or self.effective
        return [name for name, value in wanted.items() if not value]


# --------------------------------------------------------------------------- extract


def extract(document: Document, front_matter: dict | None = None) -> Extracted:
    """What `document` says about itself: header events, effective date, repeals."""
    header: list[str] = []
    for paragraph in document.paragraphs:
        if paragraph.article or paragraph.section:
            break
        if is_header_line(paragraph.text) or (header and _short_event(paragraph.text)):
            header.extend(paragraph.text.splitlines())
        elif header:
            break
    texts = [p.text for p in document.paragraphs]
    effective, on_publication = effective_date(texts)
    return Extracted(
        doc_id=document.doc_id,
        source=document.source,
        title=document.title,
        events=parse_events(header),
        effective=effective,
        effective_on_publication=on_publication,
        file_date=file_date(document.source),
        front_matter=dict(front_matter or {}),
        repeals=_repealed_titles(texts),
    )


def _short_event(text: str) -> bool:
    """ "发布之日施行": a dateless header line under dated ones."""
    return len(text) <= 30 and ("施行" in text or "生效" in text)


def file_date(source: str) -> str | None:
    """The date in a LawRefBook file name, "上海市优化营商环境条例(2024-09-27).md"."""
    match = _FILE_DATE.search(PurePath(source).stem)
    return "-".join(match.groups()) if match else None


def _repealed_titles(texts: list[str]) -> list[str]:
    found: list[str] = []
    for text in texts:
        for sentence in re.split(r"(?<=[。；])", text):
            repeal = _REPEAL.search(sentence)
            if repeal:
                before = sentence[: repeal.start()]
                found.extend(normalise_title(t) for t in _QUOTED.findall(before))
    return list(dict.fromkeys(found))


# --------------------------------------------------------------------------- resolve


def resolve(extracted: list[Extracted], overrides: dict[str, dict]) -> list[DocumentInfo]:
    """Every document's metadata: its own facts under the operator's overrides
    (`documents.yaml` entries by source), then the relations between documents."""
    infos = [_document_info(e, overrides.get(e.source, {})) for e in extracted]
    return _with_status(_with_known_cities(infos), extracted, overrides)


def _document_info(facts: Extracted, override: dict) -> DocumentInfo:
    origin: dict[str, str] = {}

    def pick(name: str, *candidates: tuple[str, object]) -> object:
        """The first value found, in order: documents.yaml, front matter, `candidates`."""
        found = (
            ("documents.yaml", override.get(name)),
            ("front matter", facts.front_matter.get(name)),
        )
        for where, value in (*found, *candidates):
            if value:
                origin[name] = where
                return value
        return None

    title = str(pick("title", ("document", facts.title)))
    dates = _dates(facts)
    header_issuer = _issuer(facts.events, title)
    issuer = pick("issuer", ("header", header_issuer), ("title", _issuer_from_title(title)))
    region = pick("region")
    if region:
        places, zone_kind, named = places_from(region), None, None
    else:
        places, zone_kind, named = places_of(title, issuer, facts.events)
    kind = pick("region_kind") or region_kind(places, named, issuer, title)
    if kind and "region" not in origin:
        origin["region"] = "header" if origin.get("issuer") == "header" else "title"
    header_level = _level(header_issuer, facts.events)
    level = pick("level", ("header", header_level), ("title", _level_from_title(title, kind)))
    return DocumentInfo(
        doc_id=facts.doc_id,
        source=facts.source,
        title=title,
        short_name=str(pick("short_name", ("title", short_name(title)))),
        issuer=issuer,
        level=level,
        region=NATIONAL if kind == "national" else (places[-1] if places else None),
        region_kind=kind,
        places=tuple(places),
        zone_kind=zone_kind,
        adopted=pick("adopted", ("header", dates.get("adopted"))),
        promulgated=pick("promulgated", ("header", dates.get("promulgated"))),
        effective=pick("effective", ("header", dates.get("effective"))),
        amended=pick("amended", ("header", dates.get("amended"))),
        version_date=pick("version_date", *_version_dates(dates.get("version"), facts.file_date)),
        status=str(pick("status") or "in force"),
        family=family(title, places),
        origin=origin,
    )


def _dates(facts: Extracted) -> dict[str, str]:
    """通过 / 公布 / 施行 / latest 修正 and the version's date from the header events."""
    first: dict[str, str] = {}
    for event in facts.events:
        first.setdefault(event.kind, event.date)
    amendments = [e.date for e in facts.events if e.kind in ("修正", "修订")]
    dates = {"adopted": first.get("通过"), "promulgated": first.get("公布")}
    dates["effective"] = first.get("施行") or facts.effective
    if dates["effective"] is None and facts.effective_on_publication:
        dates["effective"] = dates["promulgated"]
    dates["amended"] = max(amendments, default=None)
    dates["version"] = max((e.date for e in facts.events if e.kind != "施行"), default=None)
    return {k: v for k, v in dates.items() if v}


def _version_dates(header: str | None, from_file: str | None) -> list[tuple[str, str | None]]:
    """The header's latest event, unless the file name dates a later text (LawRefBook
    names files after the latest revision, and some headers stop before it)."""
    if from_file and (header is None or from_file > header):
        return [("file name", from_file)]
    return [("header", header)]


def _issuer(events: list[Event], title: str) -> str | None:
    """The body that enacted this text: the latest adoption or promulgation that names
    one (a re-adoption "修订通过" counts; an amendment by decision or an approval does not)."""
    enacting = [
        e
        for e in events
        if e.body and (e.kind in ("通过", "公布") or (e.kind == "修订" and not e.by_decision))
    ]
    body = enacting[-1].body if enacting else next((e.body for e in events if e.body), None)
    if body and body[0] in "省市":  # "市十四届人民代表大会…" leaves the place to the title
        places = title_places(title)
        wanted = [p for p in places if bool(province(p)) == (body[0] == "省")]
        body = f"{wanted[-1]}{body[1:]}" if wanted else body
    return body


def _issuer_from_title(title: str) -> str | None:
    """ "国务院关于…的规定" and "河南省人民代表大会常务委员会关于…的决议" name their issuer."""
    if "关于" not in title:
        return None
    head = title.split("关于")[0].replace("人民代表大会常务委员会", "人大常委会")
    head = head.replace("中华人民共和国", "")
    return head if len(head) >= 2 else None


def _level(issuer: str | None, events: list[Event]) -> str | None:
    """The level the enacting body gives: 全国人大 → 法律, 国务院 (or a ministry's text
    approved by it) → 行政法规, a ministry → 规章, a local 人大 → 地方性法规, a local
    government → 规章."""
    if not issuer:
        return None
    if "全国人大" in issuer:
        return "法律"
    if "国务院" in issuer:
        return "行政法规"
    if is_national_body(issuer):
        approved = any(e.kind in ("批准", "修订") and e.body == "国务院" for e in events)
        return "行政法规" if approved else "规章"
    if "人大" in issuer:
        return "地方性法规"
    if "人民政府" in issuer:
        return "规章"
    return None


def _level_from_title(title: str, kind: str | None) -> str | None:
    """The level a title implies when no header names the issuer."""
    name = re.sub(r"[（(][^）)]*[）)]$", "", title).strip()
    if not LEGAL_FORM.search(name):
        return "其他"
    if kind == "national":
        return "法律" if name.endswith("法") and not name.endswith("办法") else "行政法规"
    return "地方性法规" if kind else None


def _with_known_cities(infos: list[DocumentInfo]) -> list[DocumentInfo]:
    """A zone named after a city the corpus knows ("青岛前湾保税港区") lies in that city,
    and a city lies in the province other documents put it in (宁波市 in 浙江省) or, when
    none does, in the province of its division code (杭州市 in 浙江省)."""
    cities = sorted({n for i in infos for n in i.places if is_city(n)})
    provinces: dict[str, str] = {}
    for info in infos:
        if info.places and province(info.places[0]):
            provinces.update((n, info.places[0]) for n in info.places[1:] if is_city(n))
    out = []
    for info in infos:
        places = list(info.places)
        if info.region_kind == "zone" and places:
            city = next((c for c in cities if places[-1].startswith(c.removesuffix("市"))), None)
            if city and city not in places:
                places.insert(len(places) - 1, city)
        city = next((n for n in places if is_city(n)), None)
        known = prefecture(city) if city else None
        home = provinces.get(city) or (known[1] if known else None)
        if city and home and home not in places:
            places.insert(0, home)
        out.append(replace(info, places=tuple(places)) if places != list(info.places) else info)
    return out


# --------------------------------------------------------------------------- names


def short_name(title: str) -> str:
    """对外贸易法 for 中华人民共和国对外贸易法, 上海自贸试验区条例 for
    中国（上海）自由贸易试验区条例."""
    text = str(title).replace("中华人民共和国", "").strip()
    text = re.sub(r"^中国[（(]([^）)]+)[）)]", r"\1", text)
    return text.replace("自由贸易试验区", "自贸试验区").replace("自由贸易港", "自贸港") or str(
        title
    )


def family(title: str, places: list[str] | tuple[str, ...]) -> str:
    """The title without its own place names: 上海市优化营商环境条例 and 优化营商环境条例
    share 优化营商环境条例; 中国（上海）自由贸易试验区条例 → 自贸试验区条例."""
    text = normalise_title(title)
    text = re.sub(r"^中国\(([^)]+)\)", r"\1", text)
    for name in sorted(
        (p for p in places if province(p) or CITY.fullmatch(p)), key=len, reverse=True
    ):
        found = province(name)
        for form in (name, found.short if found else name.removesuffix("市")):
            text = text.removeprefix(form) if len(form) >= 2 else text
    return text.removeprefix("经济特区") or normalise_title(title)


# --------------------------------------------------------------------------- relations


def _with_status(
    infos: list[DocumentInfo], extracted: list[Extracted], overrides: dict[str, dict]
) -> list[DocumentInfo]:
    """Status from the corpus: a newer text of the same title replaces an older one; a
    later document that says "《X》同时废止" repeals X. The operator's status wins."""
    repeals = {e.doc_id: set(e.repeals) for e in extracted}
    titles = {i.doc_id: normalise_title(i.title) for i in infos}
    out = []
    for info in infos:
        override = overrides.get(info.source, {})
        if "status" in override:
            target = _find(infos, override.get("replaced_by"))
            out.append(replace(info, replaced_by=target.doc_id if target else None))
            continue
        key = titles[info.doc_id]
        newer = [o for o in infos if o is not info and titles[o.doc_id] == key and _later(o, info)]
        repealing = [
            o for o in infos if o is not info and key in repeals[o.doc_id] and _later(o, info)
        ]
        if newer:
            latest = max(newer, key=lambda o: o.version_date or "")
            info = replace(info, status="replaced", replaced_by=latest.doc_id)
        elif repealing:
            info = replace(info, status="repealed", replaced_by=repealing[0].doc_id)
        elif info.amended and info.status == "in force":
            info = replace(info, status="amended")
        out.append(info)
    return out


def _find(infos: list[DocumentInfo], name: object) -> DocumentInfo | None:
    """The document an operator names by file name or title."""
    if not name:
        return None
    name = str(name)
    return next(
        (
            i
            for i in infos
            if PurePath(i.source).name == name or i.title == name or i.source == name
        ),
        None,
    )


def _later(a: DocumentInfo, b: DocumentInfo) -> bool:
    return bool(a.version_date and b.version_date and a.version_date > b.version_date)


def placeholder_info(chunk: Chunk) -> DocumentInfo:
    """A document of an index built before metadata existed: only its title is known."""
    return DocumentInfo(
        chunk.doc_id, chunk.source, chunk.title, short_name(chunk.title), family=chunk.title
    )
