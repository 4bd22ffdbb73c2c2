"""Corpus files to plain text: one loader per format, every failure a `LoadError`.

Loaders keep only what structure parsing needs: text with blank lines between blocks
and markdown `#` lines for headings (DOCX and HTML headings are rewritten that way).
Newlines are normalised to "\\n"; all offsets elsewhere refer to `SourceText.text`.
"""

from __future__ import annotations

import codecs
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from index.errors import CorruptFile, EmptyFile, LoadError, UnsupportedFile

SUPPORTED_SUFFIXES = (".txt", ".md", ".pdf", ".docx", ".html", ".htm")

# "Heading 2" (English style names, which python-docx reports for built-in styles) or
# "标题 2" (a style renamed in a Chinese Word); the digit is the heading level.
_DOCX_HEADING_STYLE = re.compile(r"^(?:heading|标题)\s*([1-6])$", re.IGNORECASE)

# Code points a GB18030 decode of genuine Chinese text never yields: the user-defined
# (private use) areas and C0 controls other than tab/newlines. Seeing them means the
# bytes were something else that merely happened to be valid GB18030.
_IMPLAUSIBLE_GB = re.compile(r"[\ue000-\uf8ff\x00-\x08\x0b\x0e-\x1f]")

_HANZI = re.compile(r"[\u4e00-\u9fff]")
# Share of common characters (see _plausible_chinese) below which a GB18030 decode is
# taken for mojibake; real texts measure above 0.99, Big5 read as GBK about 0.5.
_COMMON_HANZI_SHARE = 0.9

# Whitespace runs in HTML text, which a browser renders as one space (<br> is the only
# line break, added separately).
_HTML_SPACE = re.compile(r"\s+")

_HTML_DROPPED = ("script", "style", "nav", "noscript", "template", "head")
_HTML_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
# Elements that end the current paragraph; everything else is inline text.
_HTML_BLOCKS = frozenset(
    "p div section article main aside header footer blockquote pre ul ol li dl dt dd "
    "table thead tbody tfoot tr caption figure figcaption form fieldset address hr body "
    "html center details summary".split()
)


@dataclass(frozen=True)
class SourceText:
    """The decoded text of one corpus file.

    `page_starts[i]` is the offset in `text` where PDF page i+1 begins; empty otherwise.
    """

    text: str
    page_starts: tuple[int, ...] = ()


def find_corpus_files(paths: list[Path]) -> list[Path]:
    """Expand directories (recursively, sorted) into the files to load.

    Files with unsupported suffixes are returned too, so the build can list them as
    skipped: `load_file` raises `UnsupportedFile` for them. Hidden files and folders,
    and Office lock files ("~$x.docx"), inside directories are left out. Paths given
    explicitly are kept as given; `build_index` refuses missing ones before this runs.
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
    """Read one corpus file as text, choosing the loader by suffix."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise UnsupportedFile(
            f"{path}: files of type '{suffix or 'without suffix'}' are not supported. "
            f"Convert it to one of {', '.join(SUPPORTED_SUFFIXES)} or remove it from the corpus."
        )
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

    if suffix == ".pdf":
        source = _load_pdf(path)
    elif suffix == ".docx":
        source = SourceText(_load_docx(path))
    elif suffix in (".html", ".htm"):
        source = SourceText(_load_html(decode_text(data, path)))
    else:
        source = SourceText(decode_text(data, path))
    if not source.text.strip():
        raise EmptyFile(
            f"{path}: no text found in the file. Add content or remove it from the corpus."
        )
    return source


def decode_text(data: bytes, path: Path) -> str:
    """Decode bytes of a text file: BOM, UTF-8, GB18030, then charset-normalizer.

    Order matters: valid UTF-8 is almost never anything else; Chinese government files
    are often GBK, which GB18030 decodes exactly, while a generic detector may call short
    GBK text some Western code page and silently produce mojibake. A GB18030 decode that
    looks like mojibake (Big5, Shift-JIS) goes to the detector, and is kept only if the
    detector has nothing better.
    """
    if data.startswith(codecs.BOM_UTF8):
        return _newlines(_decode_strict(data[len(codecs.BOM_UTF8) :], "utf-8", path))
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _newlines(_decode_strict(data, "utf-16", path))
    if b"\x00" in data:
        raise CorruptFile(f"{path}: looks like a binary file, not text. Save it as UTF-8 text.")
    try:
        return _newlines(data.decode("utf-8"))
    except UnicodeDecodeError:
        pass
    try:
        chinese: str | None = data.decode("gb18030")
    except UnicodeDecodeError:
        chinese = None
    if chinese is not None and _plausible_chinese(chinese):
        return _newlines(chinese)
    text = _decode_guessed(data) or chinese
    if text is None:
        raise CorruptFile(
            f"{path}: the text encoding could not be recognised. Save the file as UTF-8."
        )
    return _newlines(text)


def _plausible_chinese(text: str) -> bool:
    """Whether a GB18030 decode looks like real Chinese rather than mojibake.

    Big5 or Shift-JIS bytes are usually valid GB18030 too, but decode to rare characters:
    genuine simplified text uses almost only GB2312 level-1 characters (the 3,755 most
    common), mojibake about half or fewer.
    """
    if _IMPLAUSIBLE_GB.search(text):
        return False
    hanzi = _HANZI.findall(text)
    common = sum(1 for char in hanzi if _is_gb2312_level1(char))
    return common >= _COMMON_HANZI_SHARE * len(hanzi)


def _is_gb2312_level1(char: str) -> bool:
    try:
        encoded = char.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return 0xB0 <= encoded[0] <= 0xD7  # rows 16–55: level-1 hanzi


def _decode_strict(data: bytes, encoding: str, path: Path) -> str:
    """Decode with an encoding the file declares (BOM); invalid bytes mean a damaged file."""
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        raise CorruptFile(
            f"{path}: starts with a {encoding.upper()} marker but contains invalid bytes. "
            "Re-save it as UTF-8."
        ) from None


def _decode_guessed(data: bytes) -> str | None:
    """Let charset-normalizer pick the encoding; None when it finds none."""
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    return None if best is None else str(best)


def _newlines(text: str) -> str:
    """Windows and old Mac line ends become "\\n", so offsets mean the same everywhere."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _load_pdf(path: Path) -> SourceText:
    """The PDF text layer, pages joined by a blank line, with each page's start offset."""
    import pypdf

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # it warns about harmless quirks
    try:
        reader = pypdf.PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise UnsupportedFile(
                f"{path}: the PDF is password-protected. Save an unprotected copy and use that."
            )
        pages = [_newlines(page.extract_text() or "") for page in reader.pages]
    except LoadError:
        raise
    except Exception as error:  # pypdf raises many types for damaged files
        raise CorruptFile(
            f"{path}: the PDF could not be read ({type(error).__name__}). "
            "Re-export or re-download it."
        ) from None

    if not any(page.strip() for page in pages):
        raise EmptyFile(
            f"{path}: the PDF has no text layer; it looks scanned. Run OCR on it "
            "(e.g. ocrmypdf) and add the OCR'd PDF instead."
        )
    starts, offset = [], 0
    for page in pages:
        starts.append(offset)
        offset += len(page) + 2
    return SourceText("\n\n".join(pages), tuple(starts))


def _load_docx(path: Path) -> str:
    """Body paragraphs and tables in document order; headings become markdown `#` lines."""
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(str(path))
        blocks = []
        for item in document.iter_inner_content():
            if isinstance(item, Paragraph):
                blocks.append(_docx_paragraph(item))
            elif isinstance(item, Table):
                blocks.append(_docx_table(item))
    except Exception as error:  # python-docx/lxml raise many types for damaged files
        raise CorruptFile(
            f"{path}: the Word file could not be read ({type(error).__name__}). "
            "Open it in Word and save it again as .docx."
        ) from None
    return "\n\n".join(block for block in blocks if block)


def _docx_paragraph(paragraph) -> str:
    """A paragraph's text, prefixed with `#`s when its style is a heading or the title."""
    text = paragraph.text.strip()
    style = paragraph.style.name if paragraph.style is not None else ""
    if text and style == "Title":
        return f"# {text}"
    match = _DOCX_HEADING_STYLE.match(style or "")
    if text and match:
        return f"{'#' * int(match.group(1))} {text}"
    return text


def _docx_table(table) -> str:
    """One `| a | b |` line per row; merged cells (repeated by python-docx) appear once."""
    rows = []
    for row in table.rows:
        cells, seen = [], set()
        for cell in row.cells:
            if id(cell._tc) not in seen:
                seen.add(id(cell._tc))
                cells.append(" ".join(cell.text.split()))
        if any(cells):
            rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _load_html(markup: str) -> str:
    """Visible text of an HTML page: headings as `#` lines, each block a paragraph."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(markup, "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    for tag in soup(_HTML_DROPPED):
        tag.decompose()
    blocks: list[str] = []
    if title and soup.find("h1") is None:
        blocks.append(f"# {title}")
    _html_blocks(soup, blocks, [])
    return "\n\n".join(blocks)


def _html_blocks(node, blocks: list[str], inline: list[str]) -> None:
    """Walk the tree, collecting inline text and flushing it at every block boundary."""
    from bs4 import NavigableString, Tag
    from bs4.element import PreformattedString

    for child in node.children:
        if isinstance(child, PreformattedString):  # comments, CDATA, doctype
            continue
        if isinstance(child, NavigableString):
            inline.append(_HTML_SPACE.sub(" ", str(child)))
        elif isinstance(child, Tag) and child.name in _HTML_HEADINGS:
            _flush(blocks, inline)
            text = _HTML_SPACE.sub(" ", child.get_text(" ")).strip()
            if text:
                blocks.append(f"{'#' * int(child.name[1])} {text}")
        elif isinstance(child, Tag) and child.name == "tr":
            _flush(blocks, inline)
            cells = [_HTML_SPACE.sub(" ", c.get_text(" ")).strip() for c in child(["td", "th"])]
            if any(cells):
                blocks.append("| " + " | ".join(cells) + " |")
        elif isinstance(child, Tag) and child.name == "br":
            inline.append("\n")
        elif isinstance(child, Tag) and child.name in _HTML_BLOCKS:
            _flush(blocks, inline)
            _html_blocks(child, blocks, inline)
            _flush(blocks, inline)
        elif isinstance(child, Tag):
            _html_blocks(child, blocks, inline)


def _flush(blocks: list[str], inline: list[str]) -> None:
    """Turn collected inline text into a paragraph (lines kept where <br> put them)."""
    lines = (line.strip() for line in "".join(inline).split("\n"))
    text = "\n".join(line for line in lines if line)
    if text:
        blocks.append(text)
    inline.clear()
