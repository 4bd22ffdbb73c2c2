"""Word .docx: body paragraphs and tables in document order, headings as `#` lines."""

from __future__ import annotations

import re
from pathlib import Path

from index.errors import CorruptFile
from index.formats.source import SourceText, TextBuilder
from index.formats.tables import read_table, write_table

# "Heading 2" (English style names, which python-docx reports for built-in styles) or
# "标题 2" (a style renamed in a Chinese Word); the digit is the heading level.
_DOCX_HEADING_STYLE = re.compile(r"^(?:heading|标题)\s*([1-6])$", re.IGNORECASE)


def load_docx(path: Path, data: bytes = b"") -> SourceText:
    """The document's paragraphs and tables (as row sentences, "表N" in order)."""
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    builder = TextBuilder()
    try:
        document = docx.Document(str(path))
        tables = 0
        for item in document.iter_inner_content():
            if isinstance(item, Paragraph):
                _add_paragraph(builder, item)
            elif isinstance(item, Table):
                tables += 1
                write_table(builder, _read_docx_table(item), f"表{tables}")
    except Exception as error:  # python-docx/lxml raise many types for damaged files
        raise CorruptFile(
            f"{path}: the Word file could not be read ({type(error).__name__}). "
            "Open it in Word and save it again as .docx."
        ) from None
    return builder.build()


def _add_paragraph(builder: TextBuilder, paragraph) -> None:
    """A paragraph's text, as a `#` line when its style is a heading or the title."""
    text = paragraph.text.strip()
    style = paragraph.style.name if paragraph.style is not None else ""
    match = _DOCX_HEADING_STYLE.match(style or "")
    if text and style == "Title":
        builder.heading(text, 1)
    elif text and match:
        builder.heading(text, int(match.group(1)))
    else:
        builder.add(text)


def _read_docx_table(table):
    """python-docx repeats a merged cell in every grid position it covers (horizontally
    and vertically), so the cell element's identity is the owner."""
    cells, owners = [], []
    for row in table.rows:
        row_cells = row.cells
        cells.append([cell.text for cell in row_cells])
        owners.append([id(cell._tc) for cell in row_cells])
    return read_table(cells, owners)
