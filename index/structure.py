"""Plain text to documents: repaired paragraphs with their section, article and page.

Input is what the loaders produce: policy documents with markdown `#` headings or plain
"第一章 总则" lines and "第X条" articles, and newspaper pages extracted line by line, where
sentences are broken across blank lines and photo captions, bylines and column labels sit
between the paragraphs (captions and labels are dropped; a byline stays, as a paragraph of
its own). Each line is first classified on its own (with the blank lines
around it as context), then lines are assembled into paragraphs, sections and documents.

Paragraphs are built only from whole source lines joined across whitespace, so every
paragraph's non-whitespace characters are exactly those of `text[start:end]`; the chunker
relies on this to map chunk offsets back into the source.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from dataclasses import dataclass, field
from pathlib import Path

from index.documents import Document, Paragraph, Place
from index.lines import (
    LEGAL_HEADING,
    Line,
    LineKind,
    classify_lines,
    continues,
    joiner,
    split_lines,
)


def parse_documents(
    source: str,
    text: str,
    page_starts: tuple[int, ...] = (),
    places: tuple[Place, ...] = (),
) -> list[Document]:
    """Split one file's text into documents of repaired, located paragraphs.

    `source` names the file (used for titles and stable ids), `text` is its decoded text,
    `page_starts` the page offsets and `places` the table rows and OCR'd pages from the
    loader. Every line of a table row is a paragraph of its own. Documents without any
    paragraph (a lone headline) are left out.
    """
    lines = split_lines(text)
    classify_lines(lines)
    located = _Places(places)
    for line in lines:
        place = located.at(line.start)
        if place is not None and place.table is not None:
            line.kind = LineKind.TABLE
    return _Assembler(source, text, tuple(page_starts), located).run(lines)


class _Places:
    """The place (if any) that covers an offset, found by bisection."""

    def __init__(self, places: tuple[Place, ...]) -> None:
        self.places = places
        self.starts = [place.start for place in places]

    def at(self, offset: int) -> Place | None:
        position = bisect_right(self.starts, offset) - 1
        if position >= 0 and offset < self.places[position].end:
            return self.places[position]
        return None


def document_id(source: str, ordinal: int) -> str:
    """Stable id of the `ordinal`-th document (0-based) of a file."""
    return hashlib.sha1(f"{source}#{ordinal}".encode()).hexdigest()[:16]


@dataclass
class _Pending:
    """Lines collected for the paragraph being built."""

    lines: list[Line] = field(default_factory=list)

    def text(self) -> str:
        """The repaired paragraph: the lines joined without their line breaks."""
        parts = [self.lines[0].text]
        for before, line in zip(self.lines, self.lines[1:], strict=False):
            parts.append(joiner(before.text, line.text) + line.text)
        return "".join(parts)


class _Assembler:
    """Walks classified lines, keeping the current document, section path and article."""

    def __init__(
        self, source: str, text: str, page_starts: tuple[int, ...], places: _Places
    ) -> None:
        self.source = source
        self.text = text
        self.page_starts = page_starts
        self.places = places
        self.documents: list[Document] = []
        self.ordinal = 0
        self._new_document(Path(source).stem, titled=False)

    def run(self, lines: list[Line]) -> list[Document]:
        """Assemble all lines; returns the documents that have paragraphs."""
        skip_until = -1
        for number, line in enumerate(lines):
            if number <= skip_until:
                continue
            if line.kind == LineKind.HEADING:
                skip_until = self._heading(lines, number)
            elif line.kind == LineKind.ARTICLE:
                self._end_paragraph()
                self.article = line.label
                self.pending.lines.append(line)
            elif line.kind in (LineKind.BODY, LineKind.SUBTITLE):
                self._body(line)
            elif line.kind in (LineKind.TABLE, LineKind.BYLINE):
                self._end_paragraph()
                self.pending.lines.append(line)
                self._end_paragraph()
            else:  # noise: dropped, and nothing joins across it
                self._end_paragraph()
        self._end_document()
        return self.documents

    def _heading(self, lines: list[Line], number: int) -> int:
        """Handle a heading: a new news article's headline, the title, or a section.

        A headline is a heading followed by a byline (possibly with a "——" subtitle in
        between). The title is the file's first line when that is a heading other than a
        legal division. Returns the index of the last line consumed: a subtitle right
        under a headline or title is appended to it.
        """
        self._end_paragraph()
        line = lines[number]
        after = _next_lines(lines, number, 2)
        subtitle = after[0] if after and lines[after[0]].kind == LineKind.SUBTITLE else None
        byline_next = any(
            lines[i].kind == LineKind.BYLINE for i in after[: 2 if subtitle is not None else 1]
        )
        started = self.titled or bool(self.document.paragraphs) or bool(self.sections)
        if byline_next and started:
            self._end_document()
            self._new_document(line.text, titled=True)
        elif not started and not LEGAL_HEADING.match(line.text):
            self.document.title, self.titled = line.text, True
        else:
            self._open_section(line)
            return number
        if subtitle is None:
            return number
        self.document.title += lines[subtitle].text
        return subtitle

    def _open_section(self, line: Line) -> None:
        """Replace the headings at this level or below, so the path stays a hierarchy."""
        while self.sections and self.sections[-1][0] >= line.level:
            self.sections.pop()
        self.sections.append((line.level, line.text))
        self.article = None
        self.index_in_section = 0

    def _body(self, line: Line) -> None:
        """Join a body line to the paragraph it continues, or start a new paragraph."""
        if self.pending.lines and not continues(self.pending.lines[-1], line):
            self._end_paragraph()
        self.pending.lines.append(line)

    def _end_paragraph(self) -> None:
        """Turn the pending lines into a located Paragraph of the current document."""
        if not self.pending.lines:
            return
        first, last = self.pending.lines[0], self.pending.lines[-1]
        self.index_in_section += 1
        self.document.paragraphs.append(
            Paragraph(
                text=self.pending.text(),
                start=first.start,
                end=last.end,
                index=self.index_in_section,
                section=tuple(name for _, name in self.sections),
                article=self.article,
                page=bisect_right(self.page_starts, first.start) if self.page_starts else None,
                place=self.places.at(first.start),
            )
        )
        self.pending = _Pending()

    def _new_document(self, title: str, titled: bool) -> None:
        """Start collecting the next document of the file; its id counts from 0."""
        self.document = Document(
            doc_id=document_id(self.source, self.ordinal),
            source=self.source,
            title=title,
            source_text=self.text,
        )
        self.ordinal += 1
        self.titled = titled  # False while the title is still the file name
        self.sections: list[tuple[int, str]] = []  # (level, name) from the top down
        self.article: str | None = None
        self.pending = _Pending()
        self.index_in_section = 0

    def _end_document(self) -> None:
        """Keep the current document unless nothing but headings was found."""
        self._end_paragraph()
        if self.document.paragraphs:
            self.documents.append(self.document)


def _next_lines(lines: list[Line], number: int, count: int) -> list[int]:
    """Indices of the next `count` lines after `number` that are not noise."""
    following = (i for i in range(number + 1, len(lines)) if lines[i].kind != LineKind.NOISE)
    return [i for _, i in zip(range(count), following, strict=False)]
