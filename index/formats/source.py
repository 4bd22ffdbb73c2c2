"""What every format loader returns (`SourceText`), and the builder loaders assemble it with.

Loaders keep only what structure parsing needs: text with blank lines between blocks and
markdown `#` lines for headings. Table rows and OCR'd pages are recorded as `Place`s so
citations can say "收费标准 第3行" or "OCR"; a web page's title, date and issuer are plain
fields for the document's metadata.
"""

from __future__ import annotations

from dataclasses import dataclass

from index.documents import Place

BLOCK_SEPARATOR = "\n\n"


@dataclass(frozen=True)
class SourceText:
    """The decoded text of one corpus file.

    `page_starts[i]` is the offset in `text` where page i+1 begins (PDF, OFD, TIFF);
    empty otherwise. `places` are sorted by start and never overlap.
    """

    text: str
    page_starts: tuple[int, ...] = ()
    places: tuple[Place, ...] = ()
    title: str | None = None  # as the file itself names it (a web page's <title>/<h1>)
    published: str | None = None  # publication date, ISO "2024-03-01", when stated
    issuer: str | None = None  # the office that published it ("来源：…"), when stated
    notes: tuple[str, ...] = ()  # parts left out and why ("第3页：OCR 置信度 0.62 …")


class TextBuilder:
    """Collects a file's blocks in reading order with their pages and places."""

    def __init__(self) -> None:
        self._blocks: list[str] = []
        self._length = 0
        self._page_starts: list[int] = []
        self._places: list[Place] = []
        self.notes: list[str] = []

    def _next_start(self) -> int:
        return self._length + len(BLOCK_SEPARATOR) if self._blocks else 0

    def page(self) -> None:
        """The next block starts a new page."""
        self._page_starts.append(self._next_start())

    def add(
        self, text: str, *, table: str | None = None, row: int | None = None, ocr: bool = False
    ) -> None:
        """Append one block (a paragraph, heading line or table row); blank text is dropped."""
        text = text.strip()
        if not text:
            return
        start = self._next_start()
        self._blocks.append(text)
        self._length = start + len(text)
        if table is not None or ocr:
            self._places.append(Place(start, self._length, table, row, ocr))

    def heading(self, text: str, level: int) -> None:
        text = " ".join(text.split())
        if text:
            self.add(f"{'#' * level} {text}")

    @property
    def empty(self) -> bool:
        return not self._blocks

    def build(self, **metadata: str | None) -> SourceText:
        return SourceText(
            BLOCK_SEPARATOR.join(self._blocks),
            tuple(self._page_starts),
            tuple(self._places),
            notes=tuple(self.notes),
            **metadata,
        )
