"""Documents to chunks: a few whole sentences from one article or section each.

Chunks are packed from sentences within a *run*: consecutive paragraphs of one document
with the same section path and article that are adjacent in the source (only whitespace
between them). So a chunk never crosses a 第X条 article, a section or a document, and its
text can always be found in the source by ignoring whitespace.
"""

from __future__ import annotations

import hashlib
import re
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass

from index.documents import Chunk, Document, Paragraph
from index.punctuation import sentence_spans, trim_span
from index.textnorm import normalize

# A clause: text up to and including a comma; used only to split an oversized sentence.
_CLAUSE = re.compile(r"[^，,]*[，,]|[^，,]+")

SECTION_SEPARATOR = " › "


@dataclass(frozen=True)
class ChunkerSettings:
    """Chunk sizes in characters; about 200–400 Chinese characters is a few sentences,
    enough context for an answer while staying specific enough to rank well."""

    target_chars: int = 300  # close a chunk once it reaches this size
    max_chars: int = 400  # never exceed, unless one sentence alone is longer
    min_chars: int = 200  # a shorter chunk ends only at a paragraph or run end
    overlap_sentences: int = 1  # repeated from the previous chunk within a paragraph


@dataclass(frozen=True)
class _Piece:
    """A sentence (or a clause of an oversized one) as a span of a paragraph's text."""

    paragraph: int  # position in Document.paragraphs
    start: int
    end: int


def split_sentences(text: str) -> list[str]:
    """The sentences of `text` as the chunker cuts them (at ；too)."""
    return [text[start:end] for start, end in sentence_spans(text)]


def chunk_document(doc: Document, settings: ChunkerSettings | None = None) -> list[Chunk]:
    """Cut a document into chunks of whole sentences, in document order.

    Needs `doc.source_text` (set by `parse_documents`) to compute exact source offsets.
    """
    if not doc.source_text:
        raise ValueError(f"document {doc.doc_id} has no source_text to locate chunks in")
    settings = settings or ChunkerSettings()
    offsets = _OffsetMap(doc)
    chunks: list[Chunk] = []
    seen_ids: set[str] = set()
    for run in _runs(doc):
        pieces = [piece for number in run for piece in _pieces(doc, number, settings)]
        for group in _pack(doc, pieces, settings):
            chunk = _make_chunk(doc, group, offsets, seen_ids)
            seen_ids.add(chunk.chunk_id)
            chunks.append(chunk)
    return chunks


def _runs(doc: Document) -> Iterator[list[int]]:
    """Groups of paragraph positions that a chunk may span (see the module docstring)."""
    run: list[int] = []
    for number, paragraph in enumerate(doc.paragraphs):
        if run and not _same_run(doc, doc.paragraphs[run[-1]], paragraph):
            yield run
            run = []
        run.append(number)
    if run:
        yield run


def _same_run(doc: Document, before: Paragraph, after: Paragraph) -> bool:
    """Same section and article, and nothing but whitespace between them in the source
    (a dropped caption in between would make the chunk text unfindable there)."""
    return (
        before.section == after.section
        and before.article == after.article
        and _place_kind(before) == _place_kind(after)
        and not doc.source_text[before.end : after.start].strip()
    )


def _place_kind(paragraph: Paragraph) -> tuple[str | None, bool]:
    """Rows of one table go together, OCR'd text with OCR'd text."""
    place = paragraph.place
    return (None, False) if place is None else (place.table, place.ocr)


def _place_label(first: Paragraph, last: Paragraph) -> str:
    """ "收费标准 第3行" or "收费标准 第3–5行" for table rows; "" otherwise."""
    place, end = first.place, last.place
    if place is None or place.table is None:
        return ""
    if place.row is None:
        return place.table
    rows = place.row if end is None or end.row in (None, place.row) else f"{place.row}–{end.row}"
    return f"{place.table} 第{rows}行"


def _pieces(doc: Document, number: int, settings: ChunkerSettings) -> list[_Piece]:
    """The sentences of one paragraph, oversized ones split at commas."""
    text = doc.paragraphs[number].text
    pieces = []
    for start, end in sentence_spans(text):
        if end - start <= settings.max_chars:
            pieces.append(_Piece(number, start, end))
        else:
            pieces.extend(
                _Piece(number, s, e) for s, e in _clause_spans(text, start, end, settings)
            )
    return pieces


def _clause_spans(
    text: str, start: int, end: int, settings: ChunkerSettings
) -> list[tuple[int, int]]:
    """Split an oversized sentence into runs of whole clauses of at most max_chars
    (a single clause longer than that stays whole)."""
    spans: list[tuple[int, int]] = []
    for match in _CLAUSE.finditer(text, start, end):
        if spans and match.end() - spans[-1][0] <= settings.max_chars:
            spans[-1] = (spans[-1][0], match.end())
        else:
            spans.append((match.start(), match.end()))
    return [trim_span(text, s, e) for s, e in spans]


def _pack(doc: Document, pieces: list[_Piece], settings: ChunkerSettings) -> list[list[_Piece]]:
    """Greedily group consecutive pieces into chunks of about target_chars."""
    groups: list[list[_Piece]] = []
    current: list[_Piece] = []
    for piece in pieces:
        if current and _should_close(doc, current, piece, settings):
            groups.append(current)
            current = _overlap(doc, current, piece, settings)
        current.append(piece)
    if current:
        groups.append(current)
    return _merge_small_tail(doc, groups, settings)


def _should_close(
    doc: Document, current: list[_Piece], piece: _Piece, settings: ChunkerSettings
) -> bool:
    """Close the chunk before `piece` if it would overflow, is big enough, or is at
    least min_chars and `piece` starts a new paragraph (a natural break)."""
    size = len(_render(doc, current))
    return (
        len(_render(doc, [*current, piece])) > settings.max_chars
        or size >= settings.target_chars
        or (size >= settings.min_chars and piece.paragraph != current[-1].paragraph)
    )


def _overlap(
    doc: Document, closed: list[_Piece], piece: _Piece, settings: ChunkerSettings
) -> list[_Piece]:
    """The last sentence(s) of the closed chunk to repeat, when the break falls inside
    a paragraph and the repeat still fits."""
    count = settings.overlap_sentences
    if count <= 0 or len(closed) <= count:
        return []
    carried = closed[-count:]
    if any(p.paragraph != piece.paragraph for p in carried):
        return []
    if len(_render(doc, [*carried, piece])) > settings.max_chars:
        return []
    return list(carried)


def _merge_small_tail(
    doc: Document, groups: list[list[_Piece]], settings: ChunkerSettings
) -> list[list[_Piece]]:
    """Fold a last chunk shorter than min_chars into the one before, if that fits."""
    if len(groups) < 2 or len(_render(doc, groups[-1])) >= settings.min_chars:
        return groups
    merged = groups[-2] + [piece for piece in groups[-1] if piece not in groups[-2]]
    if len(_render(doc, merged)) > settings.max_chars:
        return groups
    return [*groups[:-2], merged]


def _render(doc: Document, group: list[_Piece]) -> str:
    """Chunk text: each paragraph's part as in the paragraph, paragraphs on new lines."""
    parts = []
    first = 0
    for number in range(1, len(group) + 1):
        if number == len(group) or group[number].paragraph != group[first].paragraph:
            text = doc.paragraphs[group[first].paragraph].text
            parts.append(text[group[first].start : group[number - 1].end])
            first = number
    return "\n".join(parts)


def _make_chunk(
    doc: Document, group: list[_Piece], offsets: _OffsetMap, seen_ids: set[str]
) -> Chunk:
    paragraph = doc.paragraphs[group[0].paragraph]
    last = doc.paragraphs[group[-1].paragraph]
    text = _render(doc, group)
    section = SECTION_SEPARATOR.join(paragraph.section)
    return Chunk(
        chunk_id=_chunk_id(doc.doc_id, text, seen_ids),
        doc_id=doc.doc_id,
        source=doc.source,
        title=doc.title,
        section=section,
        article=paragraph.article,
        page=paragraph.page,
        paragraph=paragraph.index,
        start=offsets.source_offset(group[0].paragraph, group[0].start),
        end=offsets.source_offset(group[-1].paragraph, group[-1].end - 1) + 1,
        text=text,
        search_text=normalize(f"{doc.title} {section} {paragraph.article or ''}\n{text}"),
        place=_place_label(paragraph, last),
        ocr=paragraph.place is not None and paragraph.place.ocr,
    )


def _chunk_id(doc_id: str, text: str, seen_ids: set[str]) -> str:
    """A hash of document and text, so ids survive rebuilds; "-2", "-3"… on repeats."""
    base = hashlib.sha1(f"{doc_id}\n{text}".encode()).hexdigest()[:16]
    chunk_id, ordinal = base, 1
    while chunk_id in seen_ids:
        ordinal += 1
        chunk_id = f"{base}-{ordinal}"
    return chunk_id


class _OffsetMap:
    """Maps a position in a paragraph's repaired text to its offset in the source.

    Line repair only removes whitespace (line breaks, indentation) or inserts a joining
    space, so the n-th non-whitespace character of a paragraph's text is the n-th
    non-whitespace character of its source span.
    """

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.cache: dict[int, tuple[list[int], list[int]]] = {}

    def source_offset(self, number: int, position: int) -> int:
        """Source offset of the (non-whitespace) character at `position` in paragraph `number`."""
        if number not in self.cache:
            self.cache[number] = self._positions(self.doc.paragraphs[number])
        text_positions, source_positions = self.cache[number]
        return source_positions[bisect_left(text_positions, position)]

    def _positions(self, paragraph: Paragraph) -> tuple[list[int], list[int]]:
        span = self.doc.source_text[paragraph.start : paragraph.end]
        text_positions = [i for i, ch in enumerate(paragraph.text) if not ch.isspace()]
        source_positions = [paragraph.start + i for i, ch in enumerate(span) if not ch.isspace()]
        if len(text_positions) != len(source_positions):
            raise ValueError(
                f"paragraph {paragraph.index} of {self.doc.source} does not match its source span"
            )
        return text_positions, source_positions
