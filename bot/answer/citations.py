"""Citation numbering and verification: every answer sentence ends with `[n]`, and [n] is
only emitted when passage n really supports the sentence.

For extractive answers "supports" means the passage contains the sentence verbatim once
whitespace is removed (layout repair may have moved line breaks). LLM answers are checked
by `bot.answer.llm`, which uses the same numbering helpers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from bot.answer.results import Citation
from bot.answer.sentences import squeeze
from index.documents import Chunk

MARKER = re.compile(r"\s*[\[【]\s*(\d+(?:\s*[,，、]\s*\d+)*)\s*[\]】]")


def supports(passage: str, sentence: str) -> bool:
    """True when the passage contains the sentence, ignoring whitespace."""
    needle = squeeze(sentence)
    return bool(needle) and needle in squeeze(passage)


def cite(units: Iterable[tuple[str, Chunk]]) -> tuple[str, list[Citation]]:
    """Answer text with `[n]` after each unit, and the citations, numbered in order of
    first use (units from one passage share its number). A unit its passage does not
    contain is dropped, so no citation is ever dressed up."""
    numbers: dict[str, int] = {}
    citations: list[Citation] = []
    lines: list[str] = []
    for text, chunk in units:
        if not supports(chunk.text, text):
            continue
        if chunk.chunk_id not in numbers:
            numbers[chunk.chunk_id] = len(numbers) + 1
            citations.append(Citation(numbers[chunk.chunk_id], chunk, chunk.text, verified=True))
        lines.append(f"{text.strip()} [{numbers[chunk.chunk_id]}]")
    return "\n".join(lines), citations


def markers(sentence: str) -> list[int]:
    """The numbers of all `[n]` / `[n, m]` / `【n】` markers in a sentence."""
    return [int(n) for group in MARKER.findall(sentence) for n in re.split(r"\D+", group) if n]


def strip_markers(sentence: str) -> str:
    return MARKER.sub("", sentence)
