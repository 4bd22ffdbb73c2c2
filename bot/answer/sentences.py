"""Sentences of a passage, split once and cached: the units an extractive answer quotes.

A chunk is split the first time it is retrieved and the result is kept (keyed by the
chunk's text), so answering never re-tokenises the corpus. Each sentence keeps its exact
display text, so a quote is verbatim, plus a normalised form for matching.

An answer sentence runs to 。！？ or the end of a line (`index.punctuation`, the one
splitter, without cutting at ；): an enumeration joined by ；stays whole for 哪些
questions, and `clauses` cuts it at ；when a shorter answer is wanted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from index.punctuation import CLAUSE_ENDS, COMMAS, cut_outside_brackets, sentence_spans
from index.textnorm import normalize

_NOT_WORD = re.compile(r"[\W_]+")
SPLIT_CACHE = 50_000  # chunks whose sentences are kept; far more than a bot ever touches


@dataclass(frozen=True)
class Sentence:
    text: str  # verbatim display text
    norm: str  # normalised (NFKC, Simplified, lower-case) for matching
    bigrams: frozenset[str]  # character bigrams of the normalised words, for paraphrases
    position: int  # 0-based index inside its passage
    start: int  # character offsets inside its passage
    end: int


@lru_cache(maxsize=SPLIT_CACHE)
def split_sentences(text: str) -> tuple[Sentence, ...]:
    """The sentences of a passage, in order."""
    spans = sentence_spans(text, semicolons=False, lines=True)
    return tuple(_sentence(text[start:end], n, start, end) for n, (start, end) in enumerate(spans))


def _sentence(text: str, position: int, start: int, end: int) -> Sentence:
    norm = normalised(text)
    return Sentence(text, norm, char_bigrams(norm), position, start, end)


@lru_cache(maxsize=SPLIT_CACHE)
def normalised(text: str) -> str:
    """The form in which text is matched: NFKC, Simplified, lower-case. Cached, since
    trimming an answer looks at the same clauses several times."""
    return normalize(text).lower()


def char_bigrams(norm: str) -> frozenset[str]:
    """Bigrams of adjacent word characters (punctuation breaks a pair)."""
    grams: set[str] = set()
    for run in _NOT_WORD.split(norm):
        grams.update(run[i : i + 2] for i in range(len(run) - 1))
    return frozenset(grams)


def clauses(text: str) -> list[str]:
    """A sentence cut at semicolons outside brackets, each piece keeping its punctuation."""
    return cut_outside_brackets(text, CLAUSE_ENDS)


def comma_clauses(text: str) -> list[str]:
    """A sentence cut at commas and semicolons outside brackets and quotes."""
    return cut_outside_brackets(text, COMMAS + CLAUSE_ENDS)


def squeeze(text: str) -> str:
    """Whitespace removed: the form in which a quote and its passage are compared."""
    return re.sub(r"\s+", "", text)
