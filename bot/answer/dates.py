"""When a named document took effect, was adopted, promulgated or last amended: answered
from its metadata, quoting the sentence or header line that states it.

"济南市优化营商环境条例哪天开始施行的？" asks about the document itself, and the index
already knows the answer (`DocumentInfo.effective`, from "本条例自2022年3月1日起施行" or
the header line "2022年3月1日 施行"). A question counts as one when it asks for a date
(`Question.kind == "time"`), names an event of the document's life (施行 / 通过 / 公布 /
修订) and has nothing else left to ask once its scope words are set aside. The quoted
sentence comes from the document's own text, so the citation is verified like any other.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.answer.question import Question
from bot.answer.sentences import split_sentences
from index.documents import Chunk
from index.header import EFFECTIVE
from index.metadata import DocumentInfo

# Event → the words that ask for it, the header line words that state it.
EVENTS: dict[str, tuple[str, str]] = {
    "effective": (r"施行|生效|实施|起效", r"施行|生效"),
    "amended": (r"修订|修正|修改", r"修订|修正"),
    "adopted": (r"通过", r"通过"),
    "promulgated": (r"公布|发布|颁布|出台|印发", r"公布|发布"),
}
# Words that ask nothing of their own around an event ("最新一次修订是哪天", "修订后从…").
_FILLER = re.compile(
    r"开始|起|从|是|的|了|最新|最近|一次|后|现行|现在|目前|正式|这部|这个|该|本|那|版|年|号"
)


_FILLER_CHARS = set("的了是起从")


@dataclass(frozen=True)
class DateLine:
    text: str  # the sentence or header line, verbatim
    chunk: Chunk


def asked_event(q: Question, names: Sequence[str] = ()) -> str | None:
    """The event of a document's life a date question asks about, or None; `names` are
    the question's words that named the documents (they ask nothing of their own)."""
    if q.kind != "time":
        return None
    asked = q.search
    for name in names:  # "…实施条例" names the law; it does not ask when it took effect
        asked = asked.replace(name, " ")
    found = [(m.start(), e) for e, (asks, _) in EVENTS.items() for m in re.finditer(asks, asked)]
    if not found:
        return None
    named = set("".join(names))  # jieba may cut a name's end into a term ("印花税法是" → 法是)
    others = [
        t
        for t in q.terms
        if not set(t) <= named | _FILLER_CHARS
        and not re.fullmatch(rf"(?:{_all_event_words()}|{_FILLER.pattern})+", t)
    ]
    if others:
        return None
    return max(found)[1]  # the event nearest the end: "修订后…什么时候施行" asks 施行


def date_line(
    document: DocumentInfo, event: str, chunks: Callable[[str], Sequence[Chunk]]
) -> DateLine | None:
    """The sentence of `document` that states its `event` date."""
    own = chunks(document.doc_id)
    if event == "effective":
        for chunk in reversed(own):  # the effective-date sentence closes a statute
            for sentence in split_sentences(chunk.text):
                if EFFECTIVE.search(sentence.text):
                    return DateLine(sentence.text.strip(), chunk)
    date = getattr(document, event)
    if not date:
        return None
    written = _chinese_date(date)
    stated = EVENTS[event][1]
    for chunk in own:
        for sentence in split_sentences(chunk.text):
            if written in sentence.text and re.search(stated, sentence.text):
                return DateLine(sentence.text.strip(), chunk)
    return None


def _chinese_date(iso: str) -> str:
    year, month, day = (int(p) for p in iso.split("-"))
    return f"{year}年{month}月{day}日"


def _all_event_words() -> str:
    return "|".join(asks for asks, _ in EVENTS.values())
