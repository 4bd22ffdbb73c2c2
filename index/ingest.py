"""Per-file ingestion limits and the guard that turns any failure into a skip reason.

A corpus holds whatever people drop into it: broken downloads, scans, zip bombs, files
nested thousands of levels deep. Every file therefore passes size caps before it is read,
is loaded and parsed into documents (`parse_within_limits`: the format loader, then the
structure of headings and articles) in a child process with time and memory limits
(`index.sandbox`), and any exception on the way becomes one line in the build summary
instead of ending the build.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path

from index.document_store import split_front_matter
from index.documents import Document
from index.errors import LoadError
from index.formats.source import SourceText
from index.loaders import load_file
from index.structure import parse_documents
from index.zipcheck import check_zip_sizes

# Field metadata read by bot/config.py: the value must be greater than 0.
POSITIVE = {"positive": True}
MB = 1 << 20
REASON_CHARS = 300  # a skip reason is one line of at most this many characters

FileLoader = Callable[[Path], SourceText]  # one file -> its text, or raises LoadError


@dataclass(frozen=True)
class IngestLimits:
    """What one corpus file may cost (config section `corpus`); a file over any limit is
    skipped with the reason, never allowed to stop the build or the bot."""

    # Larger files are skipped unread (a 100 MB PDF is already hundreds of pages).
    max_file_mb: float = field(default=100.0, metadata=POSITIVE)
    # Longer extracted texts are skipped: the longest law in the 3,445-law library is
    # about 110,000 characters, so 2 M is a whole code book, not a runaway extraction.
    max_chars: int = field(default=2_000_000, metadata=POSITIVE)
    # Zip-based files (.docx, .xlsx, ...) declaring more uncompressed bytes are refused
    # before anything is inflated (zip bombs).
    max_unzipped_mb: float = field(default=500.0, metadata=POSITIVE)
    # Wall time one file may take in the parser process before it is killed and replaced.
    parse_timeout_s: float = field(default=120.0, metadata=POSITIVE)
    # Address-space limit (RLIMIT_AS) of the parser process; beyond it parsing a file
    # raises MemoryError there and the file is skipped.
    parse_memory_mb: int = field(default=2048, metadata=POSITIVE)

    def to_dict(self) -> dict[str, float]:
        """The limits alone (a subclass may carry more fields), as stored in the manifest."""
        return {f.name: getattr(self, f.name) for f in fields(IngestLimits)}


def load_within_limits(
    path: Path, limits: IngestLimits, loader: FileLoader = load_file
) -> SourceText:
    """Load one file with `loader`, refusing zip bombs before and runaway text after.

    Runs inside the parser process; the zip check looks at the content, not the suffix,
    so every zip-based format a loader may add is covered."""
    with open(path, "rb") as handle:
        is_zip = handle.read(4) == b"PK\x03\x04"
    if is_zip:
        check_zip_sizes(path, int(limits.max_unzipped_mb * MB))
    source = loader(path)
    if len(source.text) > limits.max_chars:
        raise LoadError(
            f"提取的文本有 {len(source.text):,} 字，超过 corpus.max_chars = {limits.max_chars:,}"
            " (text too long; raise corpus.max_chars or split the file)"
        )
    return source


@dataclass(frozen=True)
class ParsedFile:
    """What the parser process sends back for one file: the loader's text (with its
    notes), the known fields of its Markdown front matter (blanked out of the text before
    parsing), and the documents found in it. The documents share the text, so it crosses
    the pipe once."""

    source: SourceText
    documents: list[Document]
    front_matter: dict


def parse_within_limits(
    name: str, path: Path, limits: IngestLimits, loader: FileLoader = load_file
) -> ParsedFile:
    """Load one file within `limits`, then find its documents, sections and articles.

    Both steps run in the parser process under one time and memory limit: structure
    parsing is pattern matching over every line, and a hostile line can make it
    superlinear (e.g. a heading-like line of a million spaces)."""
    source = load_within_limits(path, limits, loader)
    front_matter, text = split_front_matter(source.text)
    documents = parse_documents(name, text, source.page_starts, source.places)
    return ParsedFile(source, documents, front_matter)


def skip_reason(error: BaseException) -> str:
    """One line saying why a file was skipped, whatever went wrong while reading it."""
    if isinstance(error, LoadError):
        text = str(error)
    elif isinstance(error, RecursionError):
        text = "结构嵌套过深，无法解析 (RecursionError: nesting too deep)"
    elif isinstance(error, MemoryError):
        text = "解析所需内存超过限制 (MemoryError; see corpus.parse_memory_mb)"
    elif isinstance(error, FileNotFoundError):
        text = f"文件不存在或已被删除 (file not found: {error.filename})"
    elif isinstance(error, PermissionError):
        text = "没有读取权限 (permission denied; check the file's permissions)"
    elif isinstance(error, OSError):
        text = f"无法读取 ({error.strerror or type(error).__name__})"
    else:
        text = f"解析失败 ({type(error).__name__}: {error})"
    return one_line(text)


def one_line(text: str) -> str:
    """Whitespace collapsed, cut to REASON_CHARS: a reason must fit one summary line."""
    text = " ".join(text.split())
    return text if len(text) <= REASON_CHARS else text[: REASON_CHARS - 1] + "…"
