"""Candidate answer sentences: every sentence of the retrieved passages, scored.

Every sentence of the top passages is scored by
- how much of the question's term weight (IDF over the corpus, so 营口片区 counts for
  less than 常住人口 in a corpus about 营口) it contains, itself or in its passage's title
  and section (the topic is often stated once, in a heading), and with its neighbours;
- how much of the focus (what is asked about: "常住人口有多少" → 常住人口) it names;
- the question-type cue: a 多少 question wants a number with a fitting unit, a 什么时候
  question a date, a 谁/哪个单位 question an organisation or a name, a 哪里 question a
  place name, and so on;
- whether it continues the question's own wording around the interrogative ("负面清单由
  谁发布" → "负面清单由国务院发布"), character-bigram overlap (a cheap stand-in for
  synonyms and for words jieba segments differently), how much of it is question terms,
  whether the question names its document, and the rank of its passage in retrieval.
The best-scored sentence that passes the checks (`bot.answer.checks`) is what the learned
decision judges (`bot.answer.decision`); `bot.answer.compose` builds the answer from it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

from bot.answer.question import Question, has_place, has_value
from bot.answer.sentences import (
    SPLIT_CACHE,
    Sentence,
    char_bigrams,
    split_sentences,
)
from index.documents import Chunk, Hit
from index.textnorm import normalize

# What a sentence of each question type tends to contain besides the value itself.
KIND_MARKERS: dict[str, re.Pattern[str]] = {
    "who": re.compile(
        r"公司|单位|中心|部门|政府|委员会|局|厅|院|部|署|办公室|机构|银行|集团|协会|学会|大学|学院"
        r"|研究所|由|负责"
    ),
    "list": re.compile(
        r"、|（[一二三四五六七八九十]+）|\([一二三四五六七八九十]+\)|和|及|以及|包括"
    ),
    "howto": re.compile(
        r"通过|采取|采用|实行|实施|建立|推行|推进|完善|加强|用|以|按照|依照|办理|申请|应当|可以|解决"
    ),
    "definition": re.compile(r"是指|所称|称为|是|指|即"),
    "yesno": re.compile(r"不得|应当|可以|禁止|必须|不能|允许|严禁|有权|无权|不予|准予|不应"),
}
SELF_REFERENCE = re.compile(r"本(?:法|条例|办法|规定|决定|细则|规则|意见|方案)")

# Score weights, tuned on the dev question files and CMRC dev (see bench/answers.py).
W_SENTENCE = 0.35  # question term weight in the sentence or its headings
W_FOCUS = 0.15  # weight of the terms naming what is asked about, in the sentence
W_CONTEXT = 0.20  # … in the sentence, its neighbours and its passage's title/section
W_BIGRAM = 0.15  # character-bigram overlap with the question
W_RANK = 0.10  # retrieval rank of the passage
W_CUE = 0.10  # the sentence carries what the question type asks for
W_SLOT = 0.20  # the sentence continues the question's wording around the interrogative
SLOT_CHARS = 6
W_TITLE = 0.05  # the question names the sentence's document
W_DENSITY = 0.05  # share of the sentence made of question terms: prefer the focused one
VALUE_MISSING = 0.5  # factor for a quantity/time question's sentence without such a value
SHORT_SENTENCE = 8  # characters; shorter sentences (headings, captions) count for half


@dataclass(frozen=True)
class Candidate:
    """A scored sentence (or the clause cut from it) of one retrieved passage."""

    hit: Hit
    sentence: Sentence
    text: str  # what the answer quotes: the sentence or the clause cut from it
    score: float
    coverage: float  # share of the question's term weight (bar its title's) in the sentence
    context_coverage: float  # … inside the sentence and its surroundings
    focus_coverage: float  # share of the focus terms' weight in the sentence or headings
    value: bool  # holds the value type the question asks for

    @property
    def chunk(self) -> Chunk:
        return self.hit.chunk


class TermWeights:
    """IDF weights of question terms over the indexed chunks, with a document-frequency
    function supplied by the index (so nothing is re-tokenised per question)."""

    def __init__(self, document_frequency: Callable[[str], int], total: int) -> None:
        self._df = document_frequency
        self._total = max(total, 1)

    def __call__(self, term: str) -> float:
        df = self._df(term)
        idf = math.log(1 + (self._total - df + 0.5) / (df + 0.5))
        return idf * (0.3 if len(term) == 1 else 1.0)  # a lone character matches anything


class _Terms:
    """Weighted terms and where they occur, in any of their `term_forms`."""

    def __init__(self, weights: dict[str, float]) -> None:
        self.weights = weights
        self.forms = {t: term_forms(t) for t in weights}

    def found(self, *texts: str) -> frozenset[str]:
        return frozenset(
            t for t, forms in self.forms.items() if any(f in text for f in forms for text in texts)
        )

    def share(self, found: Iterable[str], among: Iterable[str] | None = None) -> float:
        """Weight of `found` terms over the weight of `among` (default: all terms)."""
        among = self.weights if among is None else among
        total = sum(self.weights[t] for t in among)
        if not total:
            return 1.0 if among is self.weights else 0.0
        return sum(self.weights[t] for t in found if t in among) / total

    def density(self, text: str) -> float:
        """Share of the text's characters that belong to a found term."""
        covered = bytearray(len(text))
        for forms in self.forms.values():
            for form in forms:
                start = text.find(form)
                while start >= 0:
                    covered[start : start + len(form)] = b"\x01" * len(form)
                    start = text.find(form, start + 1)
        return sum(covered) / len(text) if text else 0.0


def term_forms(term: str) -> tuple[str, ...]:
    """A term and, when it has three or more characters, the term without its first or
    last character: jieba sometimes glues a neighbouring character to an unknown name
    ("白岳峰现效力" is segmented 白岳峰现 + 效力; the text says 白岳峰)."""
    return (term, term[:-1], term[1:]) if len(term) >= 3 else (term,)


@dataclass(frozen=True)
class _Place:
    """A sentence with the question terms found in it and around it."""

    hit: Hit
    sentence: Sentence
    own: str  # the title, when the sentence refers to its own law ("本法")
    in_sentence: frozenset[str]
    in_heading: frozenset[str]
    in_title: frozenset[str]
    around: frozenset[str]  # in the sentence, its neighbours and the headings


def candidates(
    question: Question, hits: Sequence[Hit], weigh: TermWeights, vocabulary: Sequence[Hit] = ()
) -> list[Candidate]:
    """All sentences of the hits, best first.

    Selection compares sentences on the terms that occur in some candidate at all, so
    a term no passage contains (a mis-segmented "法从", a word the documents never use)
    does not flatten the differences; the refusal checks keep the full denominator.
    `vocabulary` (the question's best passages over the whole corpus, when the hits are
    only a scope's or one document's) counts too: narrowing the passages must not make a
    word that other documents use look like one that no document uses.
    """
    terms = _Terms({t: weigh(t) for t in question.terms})
    focus = _Terms({t: weigh(t) for t in question.focus})
    places = list(_places(hits, terms))
    found = [*places, *_places(vocabulary, terms)]
    matchable = frozenset().union(*(p.in_sentence | p.in_heading for p in found))
    qgrams = char_bigrams(" ".join(question.terms))
    question_grams = char_bigrams(question.search)
    marker = KIND_MARKERS.get(question.kind)
    scored = []
    for place in places:
        sentence, own = place.sentence, place.own
        value = has_value(sentence.norm, question)
        # Terms the document's title names (外商投资法, 营口片区的报告) may only pick the
        # document: the sentence is also judged on the rest of the question alone.
        asked = [t for t in terms.weights if t not in place.in_title]
        cov = terms.share(place.in_sentence)
        if asked:
            cov = max(cov, terms.share(place.in_sentence, asked))
        ctx = terms.share(place.around)
        selection = terms.share(place.in_sentence | place.in_heading, matchable)

        heading = _heading(place.hit.chunk.title, place.hit.chunk.section)[0]
        focus_cov = focus.share(focus.found(sentence.norm, own, heading))
        bigram = len(qgrams & sentence.bigrams) / len(qgrams) if qgrams else 0.0
        if question.needs_value():
            cue = value
        elif question.kind == "place":
            cue = has_place(sentence.norm, question.names)
        else:
            cue = bool(marker and marker.search(sentence.norm))
        score = (
            W_SENTENCE * selection
            + W_FOCUS * focus_cov
            + W_CONTEXT * ctx
            + W_BIGRAM * bigram
            + W_DENSITY * terms.density(sentence.norm)
            + W_RANK / math.sqrt(place.hit.rank)
            + W_TITLE * _title_affinity(place.hit.chunk.title, question_grams)
            + W_SLOT * slot_alignment(question.slot, sentence.norm)
            + W_CUE * cue
        )
        if question.needs_value() and not value:
            score *= VALUE_MISSING
        if len(sentence.norm) < SHORT_SENTENCE:
            score *= 0.5
        scored.append(
            Candidate(place.hit, sentence, sentence.text, score, cov, ctx, focus_cov, value)
        )
    scored.sort(key=lambda c: -c.score)
    return scored


def _places(hits: Sequence[Hit], terms: _Terms) -> Iterator[_Place]:
    for hit in hits:
        sentences = split_sentences(hit.chunk.text)
        heading, title = _heading(hit.chunk.title, hit.chunk.section)
        in_heading, in_title = terms.found(heading), terms.found(title)
        owns = [title if SELF_REFERENCE.search(s.norm) else "" for s in sentences]
        found = [terms.found(s.norm, own) for s, own in zip(sentences, owns, strict=True)]
        for i, sentence in enumerate(sentences):
            around = in_heading.union(*found[max(0, i - 1) : i + 2])
            yield _Place(hit, sentence, owns[i], found[i], in_heading, in_title, around)


def slot_alignment(slot: tuple[str, str], sentence: str) -> float:
    """How much of the question's wording right before and after its interrogative the
    sentence repeats verbatim (up to SLOT_CHARS each side): "负面清单由国务院发布" aligns
    with "负面清单由谁发布" better than a sentence that merely shares its words."""
    before, after = slot[0][-SLOT_CHARS:], slot[1][:SLOT_CHARS]
    if not before and not after:
        return 0.0
    left = next((k for k in range(len(before), 1, -1) if before[-k:] in sentence), 0)
    right = next((k for k in range(len(after), 1, -1) if after[:k] in sentence), 0)
    return (left + right) / (len(before) + len(after))


def _title_affinity(title: str, question_grams: frozenset[str]) -> float:
    """Share of the document title's bigrams that the question uses: a question about
    "外商投资法" prefers 《外商投资法》 to 《外商投资法实施条例》."""
    grams = _title_grams(title)
    return len(grams & question_grams) / len(grams) if grams else 0.0


@lru_cache(maxsize=SPLIT_CACHE)
def _title_grams(title: str) -> frozenset[str]:
    return char_bigrams(normalize(title).lower())


@lru_cache(maxsize=SPLIT_CACHE)
def _heading(title: str, section: str) -> tuple[str, str]:
    """Normalised title + section, and title alone."""
    title = normalize(title).lower()
    return f"{title} {normalize(section).lower()}", title
