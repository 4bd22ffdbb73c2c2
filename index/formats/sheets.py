"""Spreadsheets (.xlsx, .xls, WPS .et) and .csv: every sheet a section, every row a
sentence that names its columns, cited as "sheet 第N行" (the row number Excel shows)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

from index.errors import CorruptFile, EmptyFile
from index.formats.encodings import decode_text
from index.formats.source import SourceText, TextBuilder
from index.formats.tables import (
    TableText,
    fill_merged,
    owners_from_merges,
    read_table,
    write_table,
)


def load_workbook(path: Path, data: bytes) -> SourceText:
    """All visible sheets of a workbook, read with calamine (it sniffs xlsx/xls/et)."""
    from python_calamine import CalamineWorkbook

    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
        sheets = [_read_sheet(workbook.get_sheet_by_name(name)) for name in workbook.sheet_names]
    except Exception as error:  # calamine raises its own error types for damaged files
        raise CorruptFile(
            f"{path}: the spreadsheet could not be read ({type(error).__name__}: "
            f"{str(error)[:80]}). Open it and save it again as .xlsx."
        ) from None
    sheets = [(name, table) for name, table in sheets if table.rows]
    if not sheets:
        raise EmptyFile(f"{path}: the spreadsheet has no filled cells.")
    builder = TextBuilder()
    # The workbook's title: the first sheet's caption row, else the file name.
    builder.heading(next((t.caption for _, t in sheets if t.caption), path.stem), 1)
    for name, table in sheets:
        write_table(builder, table, name, heading_level=2)
    return builder.build()


def load_csv(path: Path, data: bytes) -> SourceText:
    """A .csv/.tsv file as one table named after the file."""
    text = decode_text(data, path)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",\t;|，")
    except csv.Error:
        dialect = csv.excel_tab if path.suffix.lower() == ".tsv" else csv.excel
    rows = list(csv.reader(io.StringIO(text), dialect))
    builder = TextBuilder()
    write_table(builder, read_table(rows), path.stem, heading_level=2)
    if builder.empty:
        raise EmptyFile(f"{path}: the table has no filled cells.")
    return builder.build()


def _read_sheet(sheet) -> tuple[str, TableText]:
    """One sheet as a table; merged ranges are absolute, like the rows read here."""
    rows = sheet.to_python(skip_empty_area=False)
    if not rows:
        return sheet.name, TableText(None, [])
    height, width = len(rows), max(len(row) for row in rows)
    merges = [
        (top, left, bottom, right)
        for (top, left), (bottom, right) in (sheet.merged_cell_ranges or [])
    ]
    owners = owners_from_merges(height, width, merges)
    cells = fill_merged([[_cell_text(value) for value in row] for row in rows], owners)
    return sheet.name, read_table(cells, owners)


def _cell_text(value) -> str:
    """A cell as people read it: 200 not 200.0, dates as 2024-03-01."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime) and value.time() == dt.time():
        return value.date().isoformat()
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if isinstance(value, bool):
        return "是" if value else "否"
    return str(value)
