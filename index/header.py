"""A legal document's header lines → dated events: adopted, promulgated, effective, amended.

Chinese statutes open with their history, one event per line in the LawRefBook format
("2019年10月22日 中华人民共和国国务院令第722号公布", "2020年1月1日 施行") or in one 题注
in brackets ("（2019年10月8日国务院第66次常务会议通过　根据……修正）"). Every event starts
with a date, so the header is cut at dates and each piece is read on its own: the event
word it contains (通过 / 公布·发布 / 施行 / 批准 / 修正 / 修订) and the body that acted,
with the session numbers dropped ("上海市第十五届人民代表大会常务委员会第二十次会议" →
上海市人大常委会).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

DATE = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
# "本条例自2020年1月1日起施行", "本法自公布之日起施行": the effective date in the text.
EFFECTIVE = re.compile(
    r"本(?:条例|法|规定|办法|细则|决定|决议|规则|通知)(?:自|从)\s*"
    r"(?:(?P<date>\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日)|(?P<on_publication>公布|发布))"
    r"(?:之日)?起?(?:施行|生效)"
)
# A header paragraph: it starts with a date (optionally inside the 题注's bracket) and
# holds an event word. Body paragraphs that merely mention a date do not qualify.
HEADER_LINE = re.compile(r"^[（(]?\s*(?:根据\s*)?\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日")
ON_PUBLICATION = re.compile(r"(?:公布|发布)之日起?施行")
EVENT_WORDS = re.compile(r"通过|公布|发布|施行|批准|修正|修订")
KINDS = ("通过", "公布", "施行", "批准", "修正", "修订")

_NUMBER = r"[一二三四五六七八九十百零〇两\d]+"
_SESSION = re.compile(rf"第?{_NUMBER}届|第{_NUMBER}次(?:常务|部务|全体)?会议|会议")
_ORDER = re.compile(rf"(?:令|公告)?第\s*{_NUMBER}\s*号令?|公告")
_DECISION = re.compile(r"[《<](?P<title>[^》>]*)[》>]")
_NOISE = re.compile(r"^(?:根据|经|由|原)|(?:审议|批准的|的|以|修订|第.次)$")


@dataclass(frozen=True)
class Event:
    """One dated step in a document's history."""

    date: str  # ISO 8601, 2019-10-22
    kind: str  # one of KINDS
    body: str | None  # who acted, e.g. 国务院, 上海市人大常委会; None when not stated
    by_decision: bool = False  # an amendment made by a separate decision 《关于修改…的决定》

    def to_dict(self) -> dict:
        return asdict(self)


def iso_date(match: re.Match) -> str:
    year, month, day = (int(g) for g in match.groups()[:3])
    return f"{year:04d}-{month:02d}-{day:02d}"


def is_header_line(text: str) -> bool:
    """A paragraph that records the document's history rather than its content."""
    return bool(HEADER_LINE.match(text)) and bool(EVENT_WORDS.search(text)) and len(text) < 400


def parse_events(lines: list[str]) -> list[Event]:
    """The events of the header lines, in the order written (oldest first, as a rule)."""
    text = " ".join(lines)
    dates = list(DATE.finditer(text))
    events = []
    for match, following in zip(dates, [*dates[1:], None], strict=False):
        piece = text[match.end() : following.start() if following else len(text)]
        events.extend(_events(iso_date(match), piece))
    return events


def effective_date(paragraphs: list[str]) -> tuple[str | None, bool]:
    """The date the text says it takes effect ("本条例自…起施行"), from the last such
    sentence; (None, True) for "自公布之日起施行" (the publication date applies)."""
    for text in reversed(paragraphs):
        matches = list(EFFECTIVE.finditer(text))
        if not matches:
            continue
        match = matches[-1]
        if match.group("date"):
            return iso_date(DATE.search(match.group("date"))), False
        return None, True
    return None, False


def _events(date: str, piece: str) -> list[Event]:
    """Read one date's piece of the header: its event word and the acting body (a
    promulgation "发布之日施行" is also the effective date)."""
    piece = piece.strip(" 　）)（(、，,;；")
    kind = _kind(piece)
    if kind is None:
        # A truncated line ("第十三届全国人民代表大会第二次") still names a session: adopted.
        if not _SESSION.search(piece):
            return []
        kind = "通过"
    decision = _DECISION.search(piece)
    by_decision = decision is not None and kind in ("修正", "修订")
    head = piece[: decision.start()] if decision else piece
    body = _body(_before_event(head))
    if body is None and by_decision:
        body = _body(decision.group("title").split("关于")[0]) if "关于" in decision[0] else None
    events = [Event(date, kind, body, by_decision)]
    if kind == "公布" and ON_PUBLICATION.search(piece):
        events.append(Event(date, "施行", None))
    return events


def _kind(piece: str) -> str | None:
    """The event a piece records; an amendment outranks the 通过/批准 of its decision."""
    found = {word for word in KINDS if word in piece}
    if "发布" in piece:
        found.add("公布")
    for kind in ("修正", "修订", "通过", "公布", "批准", "施行"):
        if kind in found:
            return kind
    return None


def _before_event(text: str) -> str:
    match = EVENT_WORDS.search(text)
    return text[: match.start()] if match else text


def _body(text: str) -> str | None:
    """The acting body, without session numbers, order numbers and connecting words."""
    text = _ORDER.sub("", _SESSION.sub("", text))
    text = text.replace("人民代表大会常务委员会", "人大常委会").replace("人民代表大会", "人大")
    text = text.replace("中华人民共和国", "").replace("中央人民政府", "")
    text = re.sub(r"\s+", "", text)
    previous = None
    while previous != text:
        previous, text = text, _NOISE.sub("", text)
    text = text.strip("、，, ")
    return text if len(text) >= 2 else None
