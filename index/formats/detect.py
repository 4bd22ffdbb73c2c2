"""A file's real type from its first bytes, never from its name.

Government files are often misnamed: a .docx saved as .doc, an RTF or HTML table
exported as .doc/.xls, a WPS file with either suffix. Binary formats are recognised by
their signatures (zip and OLE2 containers by the parts inside); text is decoded and
sniffed for HTML. The suffix only decides between text kinds the bytes cannot tell
apart (a .csv table or plain text) and whether unknown text is corpus text at all.
"""

from __future__ import annotations

import re
import zipfile
from enum import Enum
from pathlib import Path

_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_IMAGES = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"BM", "bmp"),
    (b"GIF8", "gif"),
)
# The start of a document that a browser would render as HTML.
_HTML_START = re.compile(
    rb"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body|meta|title)\b",
    re.IGNORECASE | re.DOTALL,
)
_HTML_TAGS = re.compile(rb"<(?:p|div|table|br|span|td)\b[^>]*>", re.IGNORECASE)
TEXT_SUFFIXES = frozenset({".txt", ".md", ".markdown", ".text"})
TABLE_SUFFIXES = frozenset({".csv", ".tsv"})
HTML_SUFFIXES = frozenset({".html", ".htm", ".shtml", ".xhtml"})
# Names of binary formats: text under one of them is a damaged or mislabelled file.
BINARY_SUFFIXES = frozenset(
    ".pdf .docx .doc .wps .ofd .xlsx .xls .et .rtf .png .jpg .jpeg .tif .tiff".split()
)


class Kind(Enum):
    """What a file really is, as far as loading it goes."""

    PDF = "pdf"
    DOCX = "docx"
    XLSX = "xlsx"
    OFD = "ofd"
    ODF = "odf"  # OpenDocument (.odt/.ods): not read, convert it
    ZIP = "zip"  # any other zip archive
    WORD_BINARY = "word-binary"  # .doc, .wps (Word 97–2003 / WPS Office)
    SHEET_BINARY = "sheet-binary"  # .xls, .et (Excel 97–2003 / WPS Spreadsheets)
    OLE_OTHER = "ole-other"  # .ppt, .msg and other OLE2 files
    RTF = "rtf"
    IMAGE = "image"
    HTML = "html"
    CSV = "csv"
    TEXT = "text"
    UNKNOWN_TEXT = "unknown-text"  # text with a suffix that says it is not a document
    BINARY = "binary"  # bytes of no known format


def detect(path: Path, data: bytes) -> Kind:
    """The kind of `data`, the contents of `path`."""
    head = data[:1024]
    if b"%PDF-" in head:
        return Kind.PDF
    if head.startswith(b"PK\x03\x04"):
        return _zip_kind(path)
    if head.startswith(_OLE2):
        return _ole_kind(path)
    if head.lstrip().startswith(b"{\\rtf"):
        return Kind.RTF
    if any(head.startswith(signature) for signature, _ in _IMAGES):
        return Kind.IMAGE
    return _text_kind(path, head)


def image_format(data: bytes) -> str | None:
    """ "png", "jpeg"… for an image file's bytes."""
    return next((name for signature, name in _IMAGES if data.startswith(signature)), None)


def _zip_kind(path: Path) -> Kind:
    try:
        with zipfile.ZipFile(path) as archive:
            names = {name.lower() for name in archive.namelist()}
            mimetype = archive.read("mimetype")[:80] if "mimetype" in names else b""
    except (zipfile.BadZipFile, OSError, KeyError, ValueError):
        return Kind.BINARY
    if "word/document.xml" in names:
        return Kind.DOCX
    if "xl/workbook.xml" in names:
        return Kind.XLSX
    if "ofd.xml" in names:
        return Kind.OFD
    if mimetype.startswith(b"application/vnd.oasis.opendocument"):
        return Kind.ODF
    return Kind.ZIP


def _ole_kind(path: Path) -> Kind:
    import olefile

    try:
        with olefile.OleFileIO(str(path)) as ole:
            streams = {"/".join(entry).lower() for entry in ole.listdir()}
    except (OSError, ValueError, IndexError, TypeError):  # olefile's damaged-file errors
        return Kind.BINARY
    if "worddocument" in streams:
        return Kind.WORD_BINARY
    if "workbook" in streams or "book" in streams:
        return Kind.SHEET_BINARY
    return Kind.OLE_OTHER


def _text_kind(path: Path, head: bytes) -> Kind:
    suffix = path.suffix.lower()
    if b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        # Text the decoder will refuse with its own message ("looks like a binary file").
        return Kind.TEXT if suffix in TEXT_SUFFIXES else Kind.BINARY
    sample = head.replace(b"\x00", b"")  # UTF-16 markup still shows its tags
    if _HTML_START.match(sample.lstrip(b"\xef\xbb\xbf\xff\xfe")) or (
        suffix in HTML_SUFFIXES and _HTML_TAGS.search(sample)
    ):
        return Kind.HTML
    if suffix in BINARY_SUFFIXES:
        return Kind.BINARY
    if suffix in TABLE_SUFFIXES:
        return Kind.CSV
    if suffix in TEXT_SUFFIXES or suffix in HTML_SUFFIXES:
        return Kind.TEXT
    return Kind.UNKNOWN_TEXT
