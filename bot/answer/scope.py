"""Which documents a question may be answered from: the region, zone or law it names, the
scope the conversation chose, or the operator's default — decided from document metadata.

Everything here is read from the index's `DocumentInfo`s: the places a document covers
(its province, city and zone, from its issuer and title) give the place names a
question may use, with the standard short forms and abbreviations of `index.places`
(北京 / 京, 上海 / 沪, "上海FTZ" = 上海 + 自贸区); its title and its title without the
place (its *family*: 优化营商环境条例 for every regional twin) give the law names, also
abbreviated ("征管法实施细则", "营商条例"). A place the question names that no document
covers (a province, or a prefecture-level city of the division codes) is reported as
uncovered with the places the corpus does have. Versions: a text that was replaced or
repealed is left out unless the question names it, its year ("2020年版"), or asks about
the past ("原来", "老版"); then the asked version answers and the other is mentioned.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from bot.answer.conversation import Conversation
from bot.answer.names import (
    Place,
    abbreviated,
    abbreviation_share,
    aliases,
    covered_places,
    plain,
    title_spans,
    uncovered_place,
    words,
)
from bot.config import ConfigError
from index.jurisdiction import NATIONAL, normalise_title
from index.metadata import DocumentInfo
from index.places import (
    ZONE_KINDS,
    kind_of_zone_word,
    zone_mentions,
)
from index.textnorm import normalize

NATIONAL_WORDS = re.compile(r"(?:国家|全国|国务院|中央)(?:层面|层级|级|的|版)|只看国家")
NATIONAL_LABEL = "国家"
_NATIONAL_BEFORE_TITLE = ("国家", "国务院", "全国", "中央")
_YEAR = re.compile(
    r"((?:19|20)\d{2})\s*年?\s*(?:那|这|的)?\s*(?:一)?\s*(?:版|修订|修正|修改)"
    r"|(?:版|本)\s*[（(]\s*((?:19|20)\d{2})"
)
_PAST = re.compile(
    r"原来|原先|当初|当时|那时候|老版|老的|旧版|旧的|修订前|修改前|修正前|曾经|过去|最初|废止前"
)
_SCOPE_AFTER = re.compile(r"^(?:的|省|市|自治区|地区|当地|本地|这边|那边)")
_SCOPE_BEFORE = re.compile(r"(?:在|到|去|赴|来|按|按照|依照|根据)$")


@dataclass(frozen=True)
class Scope:
    """Where an answer may come from. `documents` None means every document in force."""

    documents: frozenset[str] | None = None
    label: str | None = None  # what was named, for people: 北京, 《海关法》, 国家
    named: bool = False  # the question or the conversation named it (else: the default)
    parallel: bool = False  # several parallel documents of different places
    mention: frozenset[str] = frozenset()  # other versions to mention beside the answer
    uncovered: str | None = None  # a place the question names that no document covers
    covered: tuple[str, ...] = ()  # the places the corpus has, for that refusal
    # The question asks for that place's own rule ("天津的…条例", "四川自贸区", "在成都"),
    # rather than about the place itself ("香港、澳门属于…"), which a national law may answer.
    certain: bool = False
    prefer: frozenset[str] | None = None  # the default scope's own documents, tried first
    # The question's words that asked for a version ("2020年版", "老版"): inside that version
    # they say nothing, and would only dilute what is asked.
    words: tuple[str, ...] = ()
    names: tuple[str, ...] = ()  # the question's words that named the place or law


@dataclass
class _Mention:
    place: Place | None = None
    zone_kind: str | None = None
    uncovered: str | None = None
    certain: bool = False  # the uncovered place is clearly the question's scope
    national: bool = False
    titles: set[str] = field(default_factory=set)  # doc ids named by a specific title
    families: set[str] = field(default_factory=set)  # families named by their generic title
    year: int | None = None
    past: bool = False
    words: list[str] = field(default_factory=list)  # the words that asked for a version
    names: list[str] = field(default_factory=list)  # the words that named a place or law


class Scoper:
    """Decides a `Scope` for each question; built once per index from its documents."""

    def __init__(self, documents: Iterable[DocumentInfo], default: str | None = None) -> None:
        self.documents = {d.doc_id: d for d in documents}
        self.in_force = frozenset(i for i, d in self.documents.items() if d.in_force)
        self.national = frozenset(
            i for i, d in self.documents.items() if d.region_kind == "national"
        )
        self._places = covered_places(self.documents.values())
        self._aliases = sorted(aliases(self._places), key=lambda a: -len(a[0]))
        self._alias_names = {alias for alias, _ in self._aliases}
        self._unplaced = frozenset(i for i, d in self.documents.items() if d.region_kind is None)
        self._by_province = {p.name: p for p in self._places.values() if p.level == "province"}
        self._families: dict[str, frozenset[str]] = {}
        for doc in self.documents.values():
            key = plain(doc.family)
            self._families[key] = self._families.get(key, frozenset()) | {doc.doc_id}
        self._titles = {i: plain(normalise_title(d.title)) for i, d in self.documents.items()}
        self._raw_titles = [normalize(d.title) for d in self.documents.values()]
        self.default = self._default(default) if default else None

    # ------------------------------------------------------------------ public

    def decide(self, question: str, chosen: str | None = None) -> Scope:
        """The scope of one question; `chosen` is the conversation's scope ("北京")."""
        mention = self._mention(question)
        scope = self._named(mention)
        if scope is not None:
            scope = replace(scope, words=tuple(mention.words), names=tuple(mention.names))
            if scope.parallel:  # twins: the conversation's chosen place, else the default
                scope = self._narrowed(scope, self.parse(chosen) if chosen else self.default)
        if scope is None and chosen:
            scope = self.parse(chosen)
        if scope is None and self.default is not None:
            scope = self.default
        return self._versions(scope or Scope(), mention)

    def _narrowed(self, scope: Scope, place: Scope | None) -> Scope:
        """Parallel documents narrowed to a chosen or default place's, when it has one."""
        if place is None:
            return scope
        own = (scope.documents or frozenset()) & (place.prefer or place.documents or frozenset())
        return replace(scope, documents=own, parallel=False, label=place.label) if own else scope

    def parse(self, name: str) -> Scope | None:
        """A scope given by name ("北京", "国家", "上海自贸区"), as a user or the operator
        chooses it; None when the corpus has no such place."""
        if name.strip() in (NATIONAL_LABEL, NATIONAL, "国务院", "中央"):
            return Scope(self.national, NATIONAL_LABEL, True) if self.national else None
        scope = self._named(self._mention(name))
        return scope if scope is not None and scope.uncovered is None else None

    def covered_places(self, documents: Iterable[str] | None = None) -> tuple[str, ...]:
        """The places of the corpus (or of some documents) for people: 国家 first, then
        provinces and cities."""
        docs = self.in_force if documents is None else frozenset(documents) & self.in_force
        labels = [NATIONAL_LABEL] if docs & self.national else []
        labels += [p.label for p in self._places.values() if p.level != "zone" and p.own & docs]
        return tuple(dict.fromkeys(labels))

    def choices(self, doc_ids: Iterable[str]) -> list[str]:
        """Scopes a user may narrow to among these documents ("北京", "国家")."""
        docs = [self.documents[i] for i in doc_ids if i in self.documents]
        return list(dict.fromkeys(d.place_label for d in docs))

    def choose(self, conversation: Conversation, name: str) -> str:
        """`/scope NAME` in a chat: narrow the conversation to a place or law, or clear the
        scope ("" shows it, "off" clears it); returns what to tell the user."""
        name = name.strip()
        if not name:
            current = conversation.scope or "全部文件"
            return f"当前范围：{current}。可选：{'、'.join(self.covered_places())}。"
        if name.lower() in ("off", "clear", "-", "全部", "取消"):
            conversation.scope = None
            return "已取消范围限定，之后的问题在全部文件中查找。"
        if self.parse(name) is None:
            return f"文档中没有“{name}”的文件。可选：{'、'.join(self.covered_places())}。"
        conversation.scope = name
        return f"之后的问题只看{name}的文件（/scope off 取消）。"

    def allowed(self, scope: Scope) -> frozenset[str]:
        """The documents a scope lets answers come from."""
        return scope.documents if scope.documents is not None else self.in_force

    # ------------------------------------------------------------------ reading the question

    def _mention(self, question: str) -> _Mention:
        text = normalize(question).lower()
        past = _PAST.search(text)
        mention = _Mention(past=bool(past), words=[past.group(0)] if past else [])
        year = _YEAR.search(text)
        if year:
            mention.year = int(year.group(1) or year.group(2))
            mention.words.append(year.group(0))
        national = NATIONAL_WORDS.search(text)
        if national:
            mention.national = True
        self._find_place(text, mention)
        self._find_titles(text, mention)
        return mention

    def _find_place(self, text: str, mention: _Mention) -> None:
        """The covered place the question names (longest name first; a one-character
        abbreviation as a word of its own), with a zone word right after it; else the
        first province or prefecture-level city it names that no document covers (nor
        any title names: a corpus without place metadata covers what its titles say)."""
        zones = zone_mentions(text)
        found: tuple[Place, int, str] | None = None
        for alias, place in self._aliases:
            start = text.find(alias)
            if start >= 0:
                found = (place, start + len(alias), alias)
                break
        position = 0
        for token in words(text) if found is None else []:
            start, position = position, position + len(token)
            if token in self._alias_names:
                continue
            named = abbreviated(token, text[position:])
            if named is not None and named.name in self._by_province:
                found = (self._by_province[named.name], position, token)
                break
            place = named.short if named else uncovered_place(token)
            if place is not None and not any(place in title for title in self._raw_titles):
                mention.uncovered = place
                before, after = text[:start], text[position:]
                mention.certain = (
                    (token != place and len(token) > len(place) + 1)
                    or bool(_SCOPE_AFTER.match(after) or _SCOPE_BEFORE.search(before))
                    or any(after.startswith(w) for ws in ZONE_KINDS.values() for w in ws)
                )
                return
        if found is None:
            mention.zone_kind = kind_of_zone_word(zones[0].group(0)) if zones else None
            return
        place, end, name = found
        zone = next((z for z in zones if 0 <= z.start() - end <= 1), None)
        mention.zone_kind = kind_of_zone_word(zone.group(0)) if zone else None
        mention.place = self._zone_of(place, mention.zone_kind)
        mention.names.append(name)

    def _zone_of(self, place: Place, zone_kind: str | None) -> Place:
        """ "上海" + 自贸区 → the 中国（上海）自由贸易试验区 place, when the corpus has it."""
        if zone_kind is None or place.level == "zone":
            return place
        for other in self._places.values():
            inside = other.level == "zone" and other.documents <= place.documents
            if inside and any(self.documents[i].zone_kind == zone_kind for i in other.documents):
                return other
        return place

    def _find_titles(self, text: str, mention: _Mention) -> None:
        """Law names in the question: whole or abbreviated titles (征管法实施细则), and
        family names shared by regional twins (优化营商环境条例, 营商条例); the longest
        name wins where two overlap."""
        flat = plain(text)
        taken: list[tuple[int, int]] = []
        for start, end in title_spans(flat):
            if any(start < e and s < end for s, e in taken):
                continue
            match = self._law_name(flat[start:end])
            if match is None:
                continue
            taken.append((start, end))
            mention.names.append(flat[start:end])
            if flat[:start].endswith(_NATIONAL_BEFORE_TITLE):  # "国家优化营商环境条例"
                mention.national = True
            kind, key = match
            (mention.titles if kind == "title" else mention.families).add(key)

    def _law_name(self, span: str) -> tuple[str, str] | None:
        """("title", doc id) or ("family", family) for the name `span` abbreviates best;
        a title that is also its family's name (优化营商环境条例) names the family."""
        best: tuple[float, str, str] | None = None
        for family in self._families:
            share = abbreviation_share(span, family)
            if share and (best is None or share > best[0]):
                best = (share, "family", family)
        for doc_id, title in self._titles.items():
            share = abbreviation_share(span, title)
            if share and (best is None or share > best[0]):
                best = (share, "title", doc_id)
        if best is None:
            return None
        _, kind, key = best
        members = self._families.get(key, frozenset()) if kind == "family" else frozenset()
        if kind == "family" and len({self._titles[i] for i in members}) == 1:
            return "title", next(iter(members))  # one law (or its versions), no twins
        return kind, key

    # ------------------------------------------------------------------ deciding

    def _named(self, mention: _Mention) -> Scope | None:
        """The scope the question names, or an uncovered-place refusal; None if neither."""
        local_title = any(i not in self.national for i in mention.titles)
        if mention.titles and not (mention.uncovered and mention.place is None and local_title):
            # A national law named beside an uncovered place still answers ("香港…按外商
            # 投资法"); another place's regulation does not ("江西省…非税收入管理条例").
            docs = self._same_titles(mention.titles)
            if mention.place is not None:
                docs = (docs & mention.place.documents) or docs
            names = sorted({self.documents[i].short_name for i in mention.titles})
            return Scope(frozenset(docs), "、".join(f"《{n}》" for n in names), True)
        if mention.uncovered and mention.place is None and self._places:
            families = frozenset().union(*(self._families[f] for f in mention.families))
            places = self.covered_places(families or None)
            certain = mention.certain or bool(mention.families or mention.titles)
            return Scope(uncovered=mention.uncovered, covered=places, named=True, certain=certain)
        place_docs = self._place_documents(mention)
        if mention.families:
            family = frozenset().union(*(self._families[f] for f in mention.families))
            if place_docs is None:
                label = "、".join(f"《{f}》" for f in sorted(mention.families))
                return Scope(family, label, True, parallel=True)
            if not family & place_docs:
                return Scope(
                    uncovered=self._place_label(mention),
                    covered=self.covered_places(family),
                    named=True,
                    certain=True,
                )
            return Scope(family & place_docs, self._place_label(mention), True)
        if place_docs is not None:
            return Scope(place_docs, self._place_label(mention), True)
        if mention.zone_kind:
            docs = frozenset(i for i, d in self.documents.items() if _of_kind(d, mention.zone_kind))
            if docs:
                return Scope(docs, mention.zone_kind, True, parallel=len(docs) > 1)
        return None

    def _place_documents(self, mention: _Mention) -> frozenset[str] | None:
        """A named place's documents, with those whose place is unknown (a notice without
        a title place may well be that place's); no document known to be elsewhere."""
        if mention.place is not None:
            return (mention.place.own or mention.place.documents) | self._unplaced
        return self.national if mention.national else None

    def _place_label(self, mention: _Mention) -> str:
        return mention.place.label if mention.place else NATIONAL_LABEL

    def _same_titles(self, doc_ids: set[str]) -> set[str]:
        """The named documents with every other version of the same title."""
        titles = {self._titles[i] for i in doc_ids}
        return {i for i, t in self._titles.items() if t in titles}

    def _default(self, name: str) -> Scope:
        """The operator's default: that place's documents first, national ones after."""
        scope = self.parse(name)
        if scope is None or scope.documents is None:
            raise ConfigError(
                f"Config key 'answer.default_scope' names {name!r}, which no indexed document "
                f"covers. 已收录的地区：{'、'.join(self.covered_places())}。"
            )
        return Scope(scope.documents | self.national, scope.label, False, prefer=scope.documents)

    def _versions(self, scope: Scope, mention: _Mention) -> Scope:
        """Keep the versions in force unless the question names another's year, asks
        about the past, or names only replaced texts; the other version is mentioned."""
        if scope.documents is None:
            return replace(scope, documents=frozenset(self.documents)) if mention.past else scope
        groups: dict[str, list[str]] = {}
        for doc_id in scope.documents:
            groups.setdefault(self._titles[doc_id], []).append(doc_id)
        chosen: set[str] = set()
        others: set[str] = set()
        for versions in groups.values():
            current = [i for i in versions if i in self.in_force]
            older = sorted(
                (i for i in versions if i not in self.in_force),
                key=lambda i: self.documents[i].version_date or "",
            )
            asked = [i for i in versions if self.documents[i].version_year == mention.year]
            if mention.year and asked:
                chosen.update(asked)
                others.update(i for i in current if i not in asked)
            elif mention.past and older and current:
                chosen.add(older[-1])
                others.update(current)
            else:  # the text in force; only replaced or repealed ones when nothing else
                chosen.update(current or older)
        prefer = scope.prefer & chosen if scope.prefer is not None else None
        return replace(scope, documents=frozenset(chosen), mention=frozenset(others), prefer=prefer)


def _of_kind(document: DocumentInfo, kind: str) -> bool:
    """A document about a zone of that kind: 自贸试验区 for 中国（上海）自由贸易试验区, 片区
    for 辽宁自贸试验区营口片区 (a 片区 of a free trade zone)."""
    if document.zone_kind == kind:
        return True
    zone = document.places[-1] if document.region_kind == "zone" and document.places else ""
    return any(kind_of_zone_word(m.group(0)) == kind for m in zone_mentions(normalize(zone)))
