"""Citation numbering and verification: every answer sentence ends with `[n]`, and [n] is
only emitted when passage n really supports the sentence.

For extractive answers "supports" means the passage contains the sentence verbatim once
whitespace is removed (layout repair may have moved line breaks). LLM answers are checked
by `bot.answer.llm`, which uses the same numbering helpers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from bot.answer.results import Citation
from bot.answer.sentences import squeeze
from index.documents import Chunk
from index.metadata import DocumentInfo

MARKER = re.compile(r"\s*[\[【]\s*(\d+(?:\s*[,，、]\s*\d+)*)\s*[\]】]")


def supports(passage: str, sentence: str) -> bool:
    """True when the passage contains the sentence, ignoring whitespace."""
    needle = squeeze(sentence)
    return bool(needle) and needle in squeeze(passage)


def cite(units: Iterable[tuple[str, Chunk]]) -> tuple[str, list[Citation]]:
    """Answer text with `[n]` after each unit, and the citations, numbered in order of
    first use (units from one passage share its number). A unit its passage does not
    contain is dropped, so no citation is ever dressed up."""
    return cite_lines(Line(text, chunk) for text, chunk in units)


@dataclass(frozen=True)
class Line:
    """One answer line: `lead` + `text` + [n] for `chunk`, which must contain `text`;
    `alike` are passages of other documents that say the same in their own words (cited
    after it, marked unverified: they do not contain this wording)."""

    text: str
    chunk: Chunk
    lead: str = ""
    alike: tuple[Chunk, ...] = ()


def cite_lines(lines: Iterable[Line]) -> tuple[str, list[Citation]]:
    """Like `cite`, for lines led by a document's name ("上海：…") and lines that stand
    for several documents."""
    numbers: dict[str, int] = {}
    citations: list[Citation] = []
    body: list[str] = []

    def number(chunk: Chunk, verified: bool) -> int:
        if chunk.chunk_id not in numbers:
            numbers[chunk.chunk_id] = len(numbers) + 1
            citations.append(Citation(numbers[chunk.chunk_id], chunk, chunk.text, verified))
        return numbers[chunk.chunk_id]

    for line in lines:
        if not supports(line.chunk.text, line.text):
            continue
        marks = [number(line.chunk, True), *(number(c, False) for c in line.alike)]
        body.append(f"{line.lead}{line.text.strip()} {''.join(f'[{n}]' for n in marks)}")
    return "\n".join(body), citations


def with_documents(
    citations: list[Citation], documents: Mapping[str, DocumentInfo]
) -> list[Citation]:
    """The citations with their documents' metadata, for provenance in every transport."""
    return [replace(c, document=documents.get(c.chunk.doc_id)) for c in citations]


def markers(sentence: str) -> list[int]:
    """The numbers of all `[n]` / `[n, m]` / `【n】` markers in a sentence."""
    return [int(n) for group in MARKER.findall(sentence) for n in re.split(r"\D+", group) if n]


def strip_markers(sentence: str) -> str:
    return MARKER.sub("", sentence)
