"""PDF: the text layer page by page, ruled tables as row sentences, and OCR for pages
that are only an image (a scan)."""

from __future__ import annotations

import logging
from pathlib import Path

from index.errors import CorruptFile, EmptyFile, LoadError, UnsupportedFile
from index.formats.encodings import newlines
from index.formats.images import ocr_page, ocr_progress
from index.formats.source import SourceText, TextBuilder
from index.formats.tables import read_table, write_table

# Pages rendered for OCR at this resolution: 200 dpi keeps 10-point Chinese legible
# to the recogniser while an A4 page stays about 1650 × 2340 pixels.
OCR_DPI = 200


def load_pdf(path: Path, data: bytes = b"") -> SourceText:
    """Each page's text (tables as row sentences, "第N页表M"), scanned pages by OCR."""
    import pdfplumber

    logging.getLogger("pdfminer").setLevel(logging.ERROR)  # it warns about harmless quirks
    builder = TextBuilder()
    try:
        with pdfplumber.open(path) as pdf:
            scanned = {n for n, page in enumerate(pdf.pages, 1) if _is_scan(page)}
            with ocr_progress(path, len(scanned)) as bar:
                for number, page in enumerate(pdf.pages, start=1):
                    if number in scanned:
                        image = page.to_image(resolution=OCR_DPI).original
                        ocr_page(builder, path, number, image)
                        bar.update(1)
                    else:
                        builder.page()
                        _add_page(builder, page, number)
    except LoadError:
        raise
    except Exception as error:  # pdfminer raises many types for damaged files
        if type(error).__name__ == "PDFPasswordIncorrect":
            raise UnsupportedFile(
                f"{path}: the PDF is password-protected. Save an unprotected copy and use that."
            ) from None
        raise CorruptFile(
            f"{path}: the PDF could not be read ({type(error).__name__}). "
            "Re-export or re-download it."
        ) from None
    if builder.empty:
        reason = "; ".join(builder.notes) or "no text layer and no page image to recognise"
        raise EmptyFile(f"{path}: no text found in the PDF ({reason}).")
    return builder.build()


def _is_scan(page) -> bool:
    """A page with images but no text layer."""
    return not page.chars and bool(page.images)


def _add_page(builder: TextBuilder, page, number: int) -> None:
    """The page's text in reading order, with each ruled table in its place."""
    tables = sorted(page.find_tables(), key=lambda table: table.bbox[1])
    top = 0.0
    for index, table in enumerate(tables, start=1):
        _add_text(builder, page, top, table.bbox[1])
        grid = _pdf_grid(table.extract())
        write_table(builder, read_table(*grid), f"第{number}页表{index}")
        top = table.bbox[3]
    _add_text(builder, page, top, float(page.height))


def _add_text(builder: TextBuilder, page, top: float, bottom: float) -> None:
    if bottom - top < 1:
        return
    region = page.crop((0, max(top, 0.0), float(page.width), bottom), strict=False)
    builder.add(newlines(region.extract_text() or ""))


def _pdf_grid(rows: list[list[str | None]]):
    """pdfplumber leaves None in the positions a merged cell covers: owned by the cell to
    the left (a header spanning columns), in the first column by the cell above."""
    cells = [[text or "" for text in row] for row in rows]
    owners: list[list[tuple[int, int]]] = []
    for r, row in enumerate(rows):
        owner_row: list[tuple[int, int]] = []
        for c, text in enumerate(row):
            if text is not None:
                owner_row.append((r, c))
            elif c > 0:
                owner_row.append(owner_row[c - 1])
            else:
                owner_row.append(owners[r - 1][0] if r else (r, c))
        owners.append(owner_row)
    return cells, owners
