"""Sentences of a passage, split once and cached: the units an extractive answer quotes.

A chunk is split the first time it is retrieved and the result is kept (keyed by the
chunk's text), so answering never re-tokenises the corpus. Each sentence keeps its exact
display text, so a quote is verbatim, plus a normalised form for matching.

An answer sentence runs to 。！？ or the end of a line. The chunker
(`index.chunking.sentence_spans`) also cuts at ；, which suits packing chunks; here an
enumeration joined by ；stays whole for 哪些 questions, and `clauses` cuts it at ；when
a shorter answer is wanted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from index.textnorm import normalize

# A sentence ends at 。！？ (full or half width) or an ellipsis, with any closing quotes
# or brackets that follow; a line break always ends one (list items, headings).
_SENTENCE = re.compile(r"[^\n]+?(?:[。！？!?]+|……|…|$)[”’」』）)]*", re.MULTILINE)
_OPENERS = "（(〈《「『【[“"
_CLOSERS = "）)〉》」』】]”"
_NOT_WORD = re.compile(r"[\W_]+")
SPLIT_CACHE = 50_000  # chunks whose sentences are kept; far more than a bot ever touches


@dataclass(frozen=True)
class Sentence:
    text: str  # verbatim display text
    norm: str  # normalised (NFKC, Simplified, lower-case) for matching
    bigrams: frozenset[str]  # character bigrams of the normalised words, for paraphrases
    position: int  # 0-based index inside its passage


@lru_cache(maxsize=SPLIT_CACHE)
def split_sentences(text: str) -> tuple[Sentence, ...]:
    """The sentences of a passage, in order."""
    pieces = [m.group().strip() for m in _SENTENCE.finditer(text)]
    return tuple(make_sentence(piece, n) for n, piece in enumerate(p for p in pieces if p))


def make_sentence(text: str, position: int = 0) -> Sentence:
    norm = normalised(text)
    return Sentence(text, norm, char_bigrams(norm), position)


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
    return _cut(text, "；;")


def comma_clauses(text: str) -> list[str]:
    """A sentence cut at commas and semicolons outside brackets and quotes."""
    return _cut(text, "，,；;")


def _cut(text: str, separators: str) -> list[str]:
    pieces, depth, start = [], 0, 0
    for i, char in enumerate(text):
        if char in _OPENERS:
            depth += 1
        elif char in _CLOSERS:
            depth = max(0, depth - 1)
        elif char in separators and depth == 0:
            pieces.append(text[start : i + 1])
            start = i + 1
    pieces.append(text[start:])
    return [p for p in pieces if p.strip()]


def squeeze(text: str) -> str:
    """Whitespace removed: the form in which a quote and its passage are compared."""
    return re.sub(r"\s+", "", text)
