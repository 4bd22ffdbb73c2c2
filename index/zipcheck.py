"""Zip bombs refused from the central directory, before a single byte is inflated.

.docx, .xlsx and other office files are zip archives. A small archive can declare
gigabytes of XML; python-docx would inflate it whole. The declared sizes are reliable
for what Python's zipfile will produce: it stops at a member's declared size and fails
the CRC check instead of inflating past it, so checking them bounds the real cost.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from index.errors import CorruptFile

# Deflate never compresses ordinary documents more than about 20:1 (XML with repeated
# markup) and images not at all; a member inflating more than this is a bomb. Only
# members large enough to matter are judged, so a tiny, very regular part is no problem.
MAX_RATIO = 200
RATIO_MIN_BYTES = 10 << 20


def check_zip_sizes(path: Path, max_bytes: int) -> None:
    """Refuse an archive whose members declare too much uncompressed data or inflate
    suspiciously; raise CorruptFile (a skip reason) when it is not a readable zip."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise CorruptFile(f"压缩包结构损坏，无法读取 (broken zip container: {error})") from None
    total = sum(member.file_size for member in members)
    if total > max_bytes:
        raise CorruptFile(
            f"解压后将有 {total / (1 << 20):,.0f} MB，超过 corpus.max_unzipped_mb ="
            f" {max_bytes / (1 << 20):,.0f} MB，未解压 (zip declares too much data; not inflated)"
        )
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size >= RATIO_MIN_BYTES and ratio > MAX_RATIO:
            raise CorruptFile(
                f"疑似压缩炸弹：{member.filename} 压缩比 {ratio:,.0f}:1，未解压"
                " (zip bomb suspected; not inflated)"
            )
