"""Tables as sentences: each row names its columns.

"收费项目：集装箱查验费；收费标准：每标箱200元。" is one row of a fee table.

A raw `| a | b |` row loses its meaning once it is cut out of the table: the answer
quotes "集装箱查验费 | 每标箱200元" and nobody knows which column is which. So every
row becomes one sentence that carries its headers, and is cited by table and row.

All formats describe a table the same way: the text shown in each grid position, and
an `owners` grid in which equal values in neighbouring positions mean one merged cell.
Merged header cells name every column below them ("收费标准·金额"); a merged data cell
(a category spanning several rows) belongs to each of its rows.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from index.formats.source import TextBuilder
from index.punctuation import SENTENCE_ENDS

_MAX_HEADER_ROWS = 3
_MAX_HEADER_CHARS = 30  # a longer cell is content, not a column name
_NUMBER = re.compile(r"^[\d.,%\s+\-−¥￥$]+$")
_VALUE_ENDS = SENTENCE_ENDS + "；;，,、"
HEADER_JOINER = "·"


@dataclass(frozen=True)
class TableText:
    """A table read for indexing: its caption (a title row over the whole width) and one
    sentence per non-empty row, with the row's 1-based number as the source shows it."""

    caption: str | None
    rows: list[tuple[int, str]]


def owners_from_merges(
    height: int, width: int, merges: Sequence[tuple[int, int, int, int]]
) -> list[list[Hashable]]:
    """An owners grid from merged ranges given as inclusive (first row, first column,
    last row, last column), as spreadsheets store them."""
    owners: list[list[Hashable]] = [[(r, c) for c in range(width)] for r in range(height)]
    for top, left, bottom, right in merges:
        for r in range(top, min(bottom, height - 1) + 1):
            for c in range(left, min(right, width - 1) + 1):
                owners[r][c] = (top, left)
    return owners


def fill_merged(cells: list[list[str]], owners: list[list[Hashable]]) -> list[list[str]]:
    """Every position of a merged cell shows the merged cell's text (spreadsheets keep it
    only in the top-left position)."""
    first: dict[Hashable, str] = {}
    for row, owner_row in zip(cells, owners, strict=True):
        for text, owner in zip(row, owner_row, strict=True):
            if text and owner not in first:
                first[owner] = text
    return [[first.get(owner, "") for owner in owner_row] for owner_row in owners]


def read_table(cells: list[list[str]], owners: list[list[Hashable]] | None = None) -> TableText:
    """Turn a grid into a caption and row sentences (see the module docstring)."""
    cells = [[_clean(text) for text in row] for row in cells]
    width = max((len(row) for row in cells), default=0)
    cells = [row + [""] * (width - len(row)) for row in cells]
    if owners is None:
        owners = [[(r, c) for c in range(width)] for r in range(len(cells))]
    owners = [
        list(row) + [("pad", r, c) for c in range(len(row), width)] for r, row in enumerate(owners)
    ]
    keep = [c for c in range(width) if any(row[c] for row in cells)]
    cells = [[row[c] for c in keep] for row in cells]
    owners = [[row[c] for c in keep] for row in owners]
    rows = [r for r, row in enumerate(cells) if any(row)]

    caption_parts = []
    while rows and _is_caption_row(cells[rows[0]], owners[rows[0]]) and len(rows) > 1:
        caption_parts.append(next(text for text in cells[rows[0]] if text))
        rows.pop(0)
    header_rows = _header_rows(cells, owners, rows)
    names = _column_names(cells, owners, header_rows, len(keep))
    sentences = []
    for r in rows[len(header_rows) :]:
        sentence = _row_sentence(cells[r], owners[r], names)
        if sentence:
            sentences.append((r + 1, sentence))
    return TableText(" ".join(caption_parts) or None, sentences)


def write_table(
    builder: TextBuilder, table: TableText, name: str, heading_level: int | None = None
) -> None:
    """The table's rows, one block each, placed at their table and row.

    A sheet is a section of its own (`heading_level`); a table inside a document is not,
    so the text after it stays in the document's section, and its caption row is a
    placed block like the rows."""
    if not table.rows:
        return
    label = table.caption or name
    if heading_level is not None:
        builder.heading(label, heading_level)
    elif table.caption:
        builder.add(table.caption, table=label)
    for row, sentence in table.rows:
        builder.add(sentence, table=label, row=row)


def _clean(text: str | None) -> str:
    return " ".join(str(text or "").split())


def _is_caption_row(row: list[str], owners: list[Hashable]) -> bool:
    """One text over the whole width (a merged title row) when the table has columns."""
    filled = [text for text in row if text]
    return (len(row) > 1 and len(set(owners)) == 1) or (len(row) > 2 and len(filled) == 1)


def _header_rows(
    cells: list[list[str]], owners: list[list[Hashable]], rows: list[int]
) -> list[int]:
    """The leading rows that name columns: the first row when it reads like labels, and the
    rows below it that its merged cells reach into or group (at most three)."""
    if len(rows) < 2 or not _labels(cells[rows[0]]):
        return []
    header = [rows[0]]
    while len(header) < min(_MAX_HEADER_ROWS, len(rows) - 1):
        above, below = header[-1], rows[len(header)]
        width = len(cells[above])
        reaches_down = any(owners[above][c] == owners[below][c] for c in range(width))
        groups = any(owners[above][c] == owners[above][c + 1] for c in range(width - 1))
        if not (reaches_down or groups) or not _labels(cells[below], partial=True):
            break
        header.append(below)
    return header


def _labels(row: list[str], partial: bool = False) -> bool:
    """Whether a row reads like column names: short, not numbers, mostly filled."""
    filled = [text for text in row if text]
    if not filled or (not partial and len(filled) * 2 < len(row)):
        return False
    return all(len(text) <= _MAX_HEADER_CHARS and not _NUMBER.match(text) for text in filled)


def _column_names(
    cells: list[list[str]], owners: list[list[Hashable]], header: list[int], width: int
) -> list[str]:
    """Each column's name: the header texts above it, a merged cell counted once."""
    names = []
    for c in range(width):
        parts: list[str] = []
        previous_owner = None
        for r in header:
            text, owner = cells[r][c], owners[r][c]
            if text and owner != previous_owner and (not parts or parts[-1] != text):
                parts.append(text)
            previous_owner = owner
        names.append(HEADER_JOINER.join(parts))
    return names


def _row_sentence(row: list[str], owners: list[Hashable], names: list[str]) -> str:
    """ "名称：值；名称：值。" for one row; a horizontally merged cell is said once."""
    parts = []
    key_value = not any(names) and len(row) == 2
    for c, text in enumerate(row):
        if not text or (c and owners[c] == owners[c - 1]):
            continue
        value = text.rstrip(_VALUE_ENDS) or text
        if key_value and c == 1 and parts:
            parts[-1] = f"{parts[-1]}：{value}"  # a headerless two-column table of pairs
            continue
        name = names[c]
        parts.append(f"{name}：{value}" if name and name != value else value)
    if not parts:
        return ""
    return "；".join(parts) + "。"
