"""The data that flows through the index: documents, their paragraphs, chunks and hits."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Place:
    """Where a span of a file's text came from beyond page and paragraph: a table row
    (`table` names the sheet or table, `row` is its 1-based row as the source shows it)
    or text recognised by OCR. Offsets are into the decoded source text."""

    start: int
    end: int
    table: str | None = None
    row: int | None = None
    ocr: bool = False


@dataclass(frozen=True)
class Paragraph:
    """One repaired paragraph of a document, with everything a citation needs to locate it.

    `start`/`end` are character offsets into the decoded source text of the file
    (before line repair), so a citation can point back into the original.
    """

    text: str
    start: int
    end: int
    index: int  # 1-based paragraph number inside its section (第N段)
    section: tuple[str, ...] = ()
    article: str | None = None  # "第十九条" when the paragraph belongs to an article
    page: int | None = None  # 1-based PDF page
    place: Place | None = None  # the table row or OCR'd page it came from


@dataclass
class Document:
    """One logical document. A file may hold several (a newspaper page with two reports)."""

    doc_id: str
    source: str  # file path as given in the corpus configuration
    title: str
    paragraphs: list[Paragraph] = field(default_factory=list)
    # The decoded text of the whole file that paragraph offsets point into (shared by the
    # file's documents); the chunker maps chunk offsets through it.
    source_text: str = field(default="", repr=False)


@dataclass(frozen=True)
class Chunk:
    """A retrievable unit: a few whole sentences from one article/section of one document."""

    chunk_id: str
    doc_id: str
    source: str
    title: str
    section: str  # section path joined with " › ", "" at top level
    article: str | None
    page: int | None
    paragraph: int  # paragraph index (第N段) of the first sentence
    start: int  # character offsets into the source text
    end: int
    text: str  # display text (original script, repaired lines)
    # title/section prefix + text, normalised: what is embedded and keyword-indexed
    search_text: str
    place: str = ""  # table and rows ("收费标准 第3–5行"), standing in for 第N段
    ocr: bool = False  # the text was recognised from an image

    @property
    def location(self) -> str:
        """A human-readable place: 第X条, else 第N页 · 第N段 (or the table rows), marked
        "OCR" when the text was recognised from an image."""
        if self.article:
            location = self.article
        else:
            part = self.place or f"第{self.paragraph}段"
            location = part if self.page is None else f"第{self.page}页 · {part}"
        return f"{location} · OCR" if self.ocr else location

    def to_dict(self) -> dict:
        return asdict(self)

    def reference(self) -> dict:
        """Where the chunk stands, as search results and citations report it in JSON."""
        return {
            "doc_id": self.doc_id,
            "chunk_id": self.chunk_id,
            "source": self.source,
            "title": self.title,
            "section": self.section,
            "location": self.location,
        }


@dataclass(frozen=True)
class Hit:
    """A chunk returned by retrieval, with its fused score and the scores it came from."""

    chunk: Chunk
    rank: int  # 1-based
    score: float  # fused score; higher is better
    dense_score: float | None = None  # cosine similarity, when the dense retriever saw it
    keyword_score: float | None = None  # BM25 score, when the keyword retriever saw it

    def to_dict(self) -> dict:
        """The JSON shape used by `zonebot search`."""
        return {
            "rank": self.rank,
            "score": round(self.score, 6),
            **self.chunk.reference(),
            "text": self.chunk.text,
        }
