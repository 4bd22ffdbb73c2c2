"""Corpus files to text: the real type is detected from the content, then read by its
format module in `index.formats`; every failure is a `LoadError` that says what to do.

Loaders keep only what structure parsing needs: text with blank lines between blocks
and markdown `#` lines for headings, plus pages, table rows and OCR marks as offsets
into `SourceText.text` (see `index.formats.source`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from index.errors import CorruptFile, EmptyFile, LoadError, UnsupportedFile
from index.formats.detect import Kind, detect
from index.formats.encodings import decode_text
from index.formats.images import load_image
from index.formats.legacy import load_word_binary
from index.formats.ofd import load_ofd
from index.formats.office import load_docx
from index.formats.pdf import load_pdf
from index.formats.rtf import load_rtf
from index.formats.sheets import load_csv, load_workbook
from index.formats.source import SourceText
from index.formats.web import load_html

# What the corpus may hold; the content decides how a file is read, whatever its name.
SUPPORTED_SUFFIXES = (
    ".txt", ".md", ".pdf", ".docx", ".doc", ".wps", ".ofd", ".xlsx", ".xls", ".et",
    ".csv", ".rtf", ".html", ".htm", ".png", ".jpg", ".jpeg", ".tif", ".tiff",
)  # fmt: skip

Loader = Callable[[Path, bytes], SourceText]
_LOADERS: dict[Kind, Loader] = {
    Kind.PDF: load_pdf,
    Kind.DOCX: load_docx,
    Kind.XLSX: load_workbook,
    Kind.SHEET_BINARY: load_workbook,
    Kind.OFD: load_ofd,
    Kind.WORD_BINARY: load_word_binary,
    Kind.RTF: load_rtf,
    Kind.IMAGE: load_image,
    Kind.HTML: load_html,
    Kind.CSV: load_csv,
    Kind.TEXT: lambda path, data: SourceText(decode_text(data, path)),
}
# Why a file of another kind is skipped, and what to do instead.
_REFUSALS = {
    Kind.ODF: "an OpenDocument file (.odt/.ods); save it as .docx or .xlsx",
    Kind.ZIP: "a zip archive; unpack it into the corpus folder",
    Kind.OLE_OTHER: "an Office file that is neither Word nor Excel (e.g. PowerPoint); "
    "save its text as .docx or PDF",
    Kind.BINARY: "not a document format zonebot knows",
}


def find_corpus_files(paths: list[Path]) -> list[Path]:
    """Expand directories (recursively, sorted) into the files to load.

    Files of every type are returned, so the build can list the ones it cannot read as
    skipped with the reason. Hidden files and folders, and Office lock files
    ("~$x.docx"), inside directories are left out. Paths given explicitly are kept as
    given; `build_index` refuses missing ones before this runs.
    """
    found: list[Path] = []
    for path in paths:
        found.extend(_walk(path) if path.is_dir() else [path])
    return list(dict.fromkeys(found))


def _walk(root: Path) -> list[Path]:
    """Files below `root` in sorted order, without hidden or lock files (hidden
    directories such as .git are not even entered)."""
    found = []
    for directory, subdirectories, files in os.walk(root):
        subdirectories[:] = [d for d in subdirectories if not d.startswith(".")]
        found.extend(Path(directory, f) for f in files if not f.startswith((".", "~$")))
    return sorted(found)


def load_file(path: Path) -> SourceText:
    """Read one corpus file as text, choosing the loader by what the bytes are."""
    if not path.is_file():
        raise LoadError(f"{path}: file not found. Check the corpus paths in the configuration.")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise LoadError(
            f"{path}: cannot be read ({error.strerror}). Check its permissions."
        ) from None
    if not data.strip():
        raise EmptyFile(f"{path}: the file is empty. Add content or remove it from the corpus.")
    kind = detect(path, data)
    loader = _LOADERS.get(kind)
    if kind == Kind.BINARY and path.suffix.lower() in SUPPORTED_SUFFIXES:
        raise CorruptFile(
            f"{path}: the content is not that of a {path.suffix.lower()} file (damaged, cut "
            "short or another format under that name). Re-download or re-export it."
        )
    if loader is None:
        raise UnsupportedFile(f"{path}: {_refusal(path, kind)}.")
    source = loader(path, data)
    if not source.text.strip():
        raise EmptyFile(
            f"{path}: no text found in the file. Add content or remove it from the corpus."
        )
    return source


def _refusal(path: Path, kind: Kind) -> str:
    if kind == Kind.UNKNOWN_TEXT:
        return (
            f"files of type '{path.suffix.lower() or 'without suffix'}' are not supported. "
            f"Rename a text document to .txt, or use one of {', '.join(SUPPORTED_SUFFIXES)}"
        )
    return f"{_REFUSALS[kind]} (supported: {', '.join(SUPPORTED_SUFFIXES)})"
