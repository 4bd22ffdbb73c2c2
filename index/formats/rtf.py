"""RTF (often what Word saved under a .doc name) to plain text with striprtf."""

from __future__ import annotations

import re
from pathlib import Path

from index.errors import CorruptFile
from index.formats.encodings import newlines
from index.formats.source import SourceText, TextBuilder

# "\ansicpg936": the code page of the \'xx escapes (936 = GBK, as Chinese Word writes).
_CODE_PAGE = re.compile(rb"\\ansicpg(\d+)")


def load_rtf(path: Path, data: bytes) -> SourceText:
    from striprtf.striprtf import rtf_to_text

    match = _CODE_PAGE.search(data[:4096])
    encoding = f"cp{match.group(1).decode()}" if match else "cp1252"
    try:
        "".encode(encoding)
    except LookupError:
        encoding = "cp1252"
    try:
        text = rtf_to_text(data.decode("latin-1"), encoding=encoding, errors="replace")
    except Exception as error:  # striprtf fails on malformed groups with various errors
        raise CorruptFile(
            f"{path}: the RTF file could not be read ({type(error).__name__}). "
            "Open it and save it again as .docx."
        ) from None
    builder = TextBuilder()
    for block in re.split(r"\n\s*\n|\n", newlines(text)):
        builder.add(block)
    return builder.build()
