"""Answering within a scope, and per document when parallel documents answer differently.

Given the `Scope` the question names (`bot.answer.scope`), retrieval is restricted to its
documents. When the best passages come from several parallel documents — twins of one
regulation in different places, or national and local texts — each of them is judged on
its own passages; if two or more answer, the answer is one line per document (the most
relevant `answer.max_documents`, each led by its place or short name and cited), with how
many more have a provision; when they all say the same, it is said once and every
document is cited. A replaced version is mentioned beside the answer when the question
asks about the past or names its year ("2020 年版第五条曾规定：…"). A place the corpus
does not cover is refused with the places it does cover.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from bot.answer.citations import Line, cite_lines
from bot.answer.compose import compose
from bot.answer.dates import DateLine, asked_event, date_line
from bot.answer.extractive import Candidate
from bot.answer.numerals import arabic
from bot.answer.question import Question, analyse
from bot.answer.results import Answer
from bot.answer.scope import NATIONAL_LABEL, Scope, Scoper
from bot.answer.sentences import normalised
from index.documents import Hit
from index.metadata import DocumentInfo

if TYPE_CHECKING:
    from bot.answer.engine import AnswerEngine, Judgement

WIDE = 24  # passages searched when documents are answered one by one
PER_DOCUMENT = 10  # documents judged one by one at most (the best-ranked)
DOCUMENTS_WITHIN = 0.8  # a document's sentence must score this share of the best one's
NEAR_TOP = 10  # passages whose documents are candidates for an answer of their own
TWINS_OF = 3  # the best documents whose twins (same family) are candidates too
SAME_SHARE = 0.8  # bigram overlap above which two documents' answers say the same
_VALUE = re.compile(
    r"\d+(?:\.\d+)?(?:个)?(?:工作日|自然日|日|天|周|个月|月|年|小时|分钟|%|倍|万元|亿元|元|项|名|人)"
)
_ARTICLE = re.compile(r"^第[一二三四五六七八九十百零〇\d]+条\s*")
_OWN_WORDS = re.compile(r"本(?:市|省|区|条例|规定|办法|法)|[省市]人民政府|[省市区]")


@dataclass(frozen=True)
class _Found:
    """One document's answer: its best passing sentences, composed."""

    document: DocumentInfo
    judged: Judgement | None  # None for a date read from the metadata
    hits: list[Hit]
    chosen: list[Candidate | DateLine]

    @property
    def text(self) -> str:
        return self.chosen[0].text


class ByDocument:
    """Answers one question within its scope; see the module docstring."""

    def __init__(self, engine: AnswerEngine, scoper: Scoper) -> None:
        self.engine = engine
        self.scoper = scoper
        self.settings = engine.settings.answer
        self._one_sentence = replace(self.settings, max_sentences=1)

    def answer(self, asked: str, q: Question, scope: Scope) -> tuple[Answer, str | None]:
        q = _inside(q, scope)
        if scope.uncovered:
            refusal = self._uncovered(asked, q, scope)
            if refusal is not None:
                return refusal, None
            scope = Scope()  # the corpus does speak of that place: answer as usual
        if scope.prefer:
            answer, notice = self._within(asked, q, replace(scope, documents=scope.prefer))
            if answer.found:
                return answer, notice
        return self._within(asked, q, scope)

    # ------------------------------------------------------------------ scopes

    def _within(self, asked: str, q: Question, scope: Scope) -> tuple[Answer, str | None]:
        allowed = self.scoper.allowed(scope)
        started = time.perf_counter()
        hits = self.engine.retrieve(q, within=allowed, k=WIDE)
        top = _ranked(hits[: self.settings.passages])
        vocabulary = self._vocabulary(q, allowed, top)
        retrieve_ms = (time.perf_counter() - started) * 1000
        dated = self._dates(q, scope, hits)
        parallel = self._parallel(scope, top)
        found = dated or (self._per_document(q, hits, vocabulary) if parallel else [])
        if len(found) >= 2 or (dated and len(found) == 1):
            answer = self._by_document(asked, q, found)
            notice = None
        else:
            answer, notice = self.engine.compose_answer(asked, q, top, vocabulary)
        if answer.found and scope.mention:
            answer = self._with_other_version(q, answer, scope, vocabulary)
        label = scope.label if scope.named or scope.prefer is not None else None
        return replace(answer, scope=label, timings_ms={"retrieve": retrieve_ms}), notice

    def _vocabulary(self, q: Question, allowed: frozenset[str], top: list[Hit]) -> list[Hit]:
        """The question's best passages among all documents in force: which of its words
        the corpus uses is measured on them, whether a scope's passages or one document's
        are judged (`extractive.candidates`). Narrowed to one document, the passages lack
        the words it does not use, and what they do say looked like the whole question."""
        if allowed == self.scoper.in_force:
            return top
        return self.engine.retrieve(q, within=self.scoper.in_force, k=self.settings.passages)

    def _parallel(self, scope: Scope, top: Sequence[Hit]) -> bool:
        """Whether the best passages come from documents of different places (or the
        question named a family of twins)."""
        if scope.parallel:
            return True
        if scope.named:
            return False
        places = {self._document(h).place_label for h in top if _regulation(self._document(h))}
        return len(places) > 1

    def _per_document(
        self, q: Question, hits: Sequence[Hit], vocabulary: Sequence[Hit]
    ) -> list[_Found]:
        """The candidate documents, each judged on its own passages as if the question
        had named it; those that answer, best-ranked first. A document answers when the
        model is confident of its sentence and that sentence scores close to the best
        one's, or when it is a twin (same family) of such a document and its sentence
        covers the question as well (twins answer alike)."""
        judged = []
        for doc_id in self._candidates(hits):
            own = _ranked([h for h in hits if h.chunk.doc_id == doc_id][: self.settings.passages])
            verdict = self.engine.judge(q, own, vocabulary)
            # A twin's best passage may fail a check that its wording answers anyway
            # ("留出必要的适应调整期" has no number of days): it may still join below.
            passage = (
                verdict.chosen if verdict.chosen is not None else next(iter(verdict.order), None)
            )
            if passage is not None:
                quoted = self._line(q, verdict, passage)
                judged.append(_Found(self._document(own[0]), verdict, own, [quoted]))
        confident = [
            f for f in judged if f.judged.best and f.judged.probability >= self.engine.threshold
        ]
        if not confident:
            return []
        best = max(c.chosen[0].score for c in confident)
        sure = [c for c in confident if c.chosen[0].score >= DOCUMENTS_WITHIN * best]
        return [f for f in judged if f in sure or _twin_answer(f, sure)]

    def _dates(self, q: Question, scope: Scope, hits: Sequence[Hit]) -> list[_Found]:
        """For "when did it take effect / was it amended" about named documents: each
        one's date sentence (bot/answer/dates.py), best-ranked document first."""
        event = asked_event(q, scope.names) if scope.named and scope.documents else None
        if event is None:
            return []
        ranked = list(dict.fromkeys(h.chunk.doc_id for h in hits))
        order = sorted(
            scope.documents, key=lambda i: ranked.index(i) if i in ranked else len(ranked)
        )
        found = []
        for doc_id in order:
            line = date_line(self.scoper.documents[doc_id], event, self.engine.retriever.chunks_of)
            if line is not None:
                found.append(_Found(self.scoper.documents[doc_id], None, [], [line]))
        return found

    def _line(self, q: Question, judged: Judgement, passage: int) -> Candidate:
        """One document's line: the passage's lead sentence alone (cut to its answering
        clause when long), on one line, so that documents can be read side by side."""
        lead = judged.leads[passage]
        assert lead is not None, "only passages with sentences are ranked"
        quoted = compose(q, lead, judged.top, self._one_sentence)
        return replace(quoted, text=quoted.text.replace("\n", ""))

    def _candidates(self, hits: Sequence[Hit]) -> list[str]:
        """Documents retrieval ranks near the top, and the twins (same family) of the best
        ones, which a question about one of them is as much about."""
        top = list(dict.fromkeys(h.chunk.doc_id for h in hits[:NEAR_TOP]))
        top = [i for i in top if _regulation(self.scoper.documents[i])]
        families = {self.scoper.documents[i].family for i in top[:TWINS_OF]}
        twins = [
            h.chunk.doc_id for h in hits if self.scoper.documents[h.chunk.doc_id].family in families
        ]
        return list(dict.fromkeys([*top, *twins]))[:PER_DOCUMENT]

    def _document(self, hit: Hit) -> DocumentInfo:
        return self.scoper.documents[hit.chunk.doc_id]

    # ------------------------------------------------------------------ composing

    def _by_document(self, asked: str, q: Question, found: list[_Found]) -> Answer:
        """One line per document, or one line for all when they say the same."""
        shown = found[: self.settings.max_documents]
        rest = found[len(shown) :]
        labels = _labels([f.document for f in shown])
        if len(shown) == 1:
            lines = [Line(shown[0].text, shown[0].chosen[0].chunk)]
        elif _all_same(q, [f.chosen[0].text for f in shown]):
            names = "、".join(labels)
            first = shown[0].chosen[0]
            alike = tuple(f.chosen[0].chunk for f in shown[1:])
            lines = [Line(first.text, first.chunk, f"{names}的规定相同：", alike)]
        else:
            lines = [
                Line(f.chosen[0].text, f.chosen[0].chunk, f"{label}：")
                for f, label in zip(shown, labels, strict=True)
            ]
        body, citations = cite_lines(lines)
        if rest:
            names = [f.document.place_label for f in rest]
            names = [
                n if n not in labels else f.document.short_name
                for n, f in zip(names, rest, strict=True)
            ]
            others = "、".join(dict.fromkeys(names))
            body += f"\n另有 {len(rest)} 份文件也有相关规定（{others}）。"
        choices = self.scoper.choices(f.document.doc_id for f in found)
        return Answer(asked, True, body, citations, choices=choices)

    def _with_other_version(
        self, q: Question, answer: Answer, scope: Scope, vocabulary: Sequence[Hit]
    ) -> Answer:
        """ "（2020 年版第五条曾规定：…）" or "（现行 2024 年版第五条规定：…）" after the answer."""
        hits = _ranked(self.engine.retrieve(q, within=scope.mention, k=self.settings.passages))
        judged = self.engine.judge(q, hits, vocabulary)
        if judged.best is None or judged.probability < self.engine.threshold:
            return answer
        best = self._line(q, judged, judged.chosen)
        other = self._document(best.hit)
        year = f"{other.version_year} 年版" if other.version_year else "另一版本"
        where = f"{year}{best.chunk.article or ''}"
        lead = f"（现行 {where}规定：" if other.in_force else f"（{where}曾规定："
        text = best.text.removeprefix(best.chunk.article or "").strip()
        body, citations = cite_lines([Line(text, best.chunk, lead)])
        if not body:
            return answer
        shift = len(answer.citations)
        citations = [replace(c, n=c.n + shift) for c in citations]
        body = re.sub(r"\[(\d+)\]", lambda m: f"[{int(m.group(1)) + shift}]", body) + "）"
        return replace(
            answer, text=f"{answer.text}\n{body}", citations=[*answer.citations, *citations]
        )

    # ------------------------------------------------------------------ refusing

    def _uncovered(self, asked: str, q: Question, scope: Scope) -> Answer | None:
        """ "没有天津的文件" with the places the corpus covers — unless the passages found
        for the question do speak of that place (a national law naming 香港, say)."""
        place = scope.uncovered or ""
        if not scope.certain:
            hits = self.engine.retrieve(q, k=self.settings.passages)
            if any(place in h.chunk.text for h in hits):
                return None
        covered = "、".join(scope.covered) or "（无）"
        example = next((p for p in scope.covered if p != NATIONAL_LABEL), None)
        text = f"文档中没有{place}的相关文件，无法回答关于{place}的问题。已收录的地区：{covered}。"
        if example:
            text += f"可以指明其中的地区再问，例如“{example}的……”。"
        return Answer(asked, False, text, choices=list(scope.covered[:6]), scope=place)


def _inside(q: Question, scope: Scope) -> Question:
    """The question as asked inside its scope: the words that named the scope (北京, 《海关
    法》, 2020年版) say nothing there and would only dilute what is asked."""
    if not scope.words:
        return q
    search = q.search
    for word in sorted(scope.words, key=len, reverse=True):
        search = search.replace(word, " ")
    search = re.sub(r"^[\s，,、的里中]+", "", re.sub(r"\s+", " ", search)).strip()
    inside = analyse(q.text, search) if search else q
    return inside if inside.terms else q


def _regulation(document: DocumentInfo) -> bool:
    """Only rules of a known place have parallels elsewhere; a news report does not."""
    return document.region_kind is not None and document.level not in (None, "其他")


def _ranked(hits: Sequence[Hit]) -> list[Hit]:
    """Hits renumbered 1…n, as if retrieved on their own (the answer model reads ranks)."""
    return [replace(h, rank=n) for n, h in enumerate(hits, start=1)]


def _labels(documents: list[DocumentInfo]) -> list[str]:
    """What leads each document's line: its place when the documents' places differ
    (上海, 北京, 国家), else its short name; the year when two are versions."""
    places = [d.place_label for d in documents]
    labels = places if len(set(places)) == len(places) else [d.short_name for d in documents]
    if len(set(labels)) < len(labels):
        labels = [
            f"{label}（{d.version_year} 年版）" for label, d in zip(labels, documents, strict=True)
        ]
    return labels


def _twin_answer(found: _Found, sure: list[_Found]) -> bool:
    """A twin's sentence answers as the sure documents of its family do: it covers nearly
    as much of the question's term weight, and of what it asks about (its focus), as the
    best of them."""
    family = [f.chosen[0] for f in sure if f.document.family == found.document.family]
    if not family:
        return False
    mine = found.chosen[0]
    coverage = max(c.coverage for c in family)
    focus = max(c.focus_coverage for c in family)
    return mine.coverage >= DOCUMENTS_WITHIN * coverage and (
        mine.focus_coverage >= DOCUMENTS_WITHIN * focus
    )


def _all_same(q: Question, texts: list[str]) -> bool:
    """Whether every document's answer says the same: for a quantity or date question
    the same values, with their units (十个工作日 is not 十日), in the clause that answers
    it; otherwise nearly the same words once each text's references to itself and its
    place are set aside."""
    if q.needs_value():
        values = [_answer_values(q, t) for t in texts]
        if all(values):
            return all(v == values[0] for v in values[1:])
    forms = [_comparable(t) for t in texts]
    values, grams = forms[0]
    return all(f[0] == values and _overlap(f[1], grams) >= SAME_SHARE for f in forms[1:])


def _answer_values(q: Question, text: str) -> frozenset[str]:
    """The values of the clause that answers the question: of the clauses with a value,
    the one holding most of the question's terms ("最短公示期为三个月", not "最长为一年")."""
    best: tuple[int, frozenset[str]] = (-1, frozenset())
    for clause in re.split(r"[；;，,。]", _ARTICLE.sub("", text)):
        values = _comparable(clause)[0]
        hits = sum(term in normalised(clause) for term in q.terms)
        if values and hits > best[0]:
            best = (hits, values)
    return best[1]


def _comparable(text: str) -> tuple[frozenset[str], frozenset[str]]:
    """The values a text states (number with unit) and its character bigrams, without
    its article number and its references to itself and its place."""
    plain = _OWN_WORDS.sub("", normalised(arabic(_ARTICLE.sub("", text))))
    plain = re.sub(r"[\W_]+", "", plain)
    grams = frozenset(plain[i : i + 2] for i in range(len(plain) - 1))
    return frozenset(_VALUE.findall(plain)), grams


def _overlap(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / min(len(a), len(b)) if a and b else float(a == b)
