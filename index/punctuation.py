"""Chinese punctuation, and the one sentence splitter the whole project uses.

The chunker cuts sentences at ；too (enumerations pack better into chunks); the answer
engine keeps a ；-joined enumeration whole and cuts at line breaks, since list items and
headings stand on their own lines. Both are `sentence_spans` with different switches.
"""

from __future__ import annotations

import re
from functools import cache

SENTENCE_ENDS = "。！？!?…"  # ASCII "." is left out: it is a decimal point far more often
CLAUSE_ENDS = "；;"
COMMAS = "，,"
OPENING_BRACKETS = "（(〈《「『【[“‘"
CLOSING_BRACKETS = "）)〉》」』】]”’"
# What may follow a sentence end and still belong to its sentence: 。” ！」 ？）
TRAILING = CLOSING_BRACKETS + "\"'"


@cache
def _sentence_pattern(semicolons: bool, lines: bool) -> re.Pattern[str]:
    ends = re.escape(SENTENCE_ENDS + (CLAUSE_ENDS if semicolons else ""))
    body = f"[^{ends}\\n]" if lines else f"[^{ends}]"
    return re.compile(f"{body}*[{ends}]+[{re.escape(TRAILING)}]*|{body}+")


def sentence_spans(
    text: str, *, semicolons: bool = True, lines: bool = False
) -> list[tuple[int, int]]:
    """(start, end) of each sentence of `text`, trimmed of surrounding whitespace. With
    `semicolons` a ；ends a sentence; with `lines` a line break always does."""
    spans = (
        trim_span(text, m.start(), m.end())
        for m in _sentence_pattern(semicolons, lines).finditer(text)
    )
    return [(start, end) for start, end in spans if start < end]


def trim_span(text: str, start: int, end: int) -> tuple[int, int]:
    """Narrow a span so it neither starts nor ends with whitespace."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def cut_outside_brackets(text: str, separators: str) -> list[str]:
    """`text` cut after each separator that stands outside brackets and quotes."""
    pieces, depth, start = [], 0, 0
    for i, char in enumerate(text):
        if char in OPENING_BRACKETS:
            depth += 1
        elif char in CLOSING_BRACKETS:
            depth = max(0, depth - 1)
        elif char in separators and depth == 0:
            pieces.append(text[start : i + 1])
            start = i + 1
    pieces.append(text[start:])
    return [p for p in pieces if p.strip()]
