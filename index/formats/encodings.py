"""Bytes of a text file to str: BOM, UTF-8, GB18030 (checked for mojibake), then a detector.

Newlines are normalised to "\\n", so offsets mean the same everywhere.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from index.errors import CorruptFile

# Code points a GB18030 decode of genuine Chinese text never yields: the user-defined
# (private use) areas and C0 controls other than tab/newlines. Seeing them means the
# bytes were something else that merely happened to be valid GB18030.
_IMPLAUSIBLE_GB = re.compile(r"[\ue000-\uf8ff\x00-\x08\x0b\x0e-\x1f]")

_HANZI = re.compile(r"[\u4e00-\u9fff]")
# Share of common characters (see _plausible_chinese) below which a GB18030 decode is
# taken for mojibake; real texts measure above 0.99, Big5 read as GBK about 0.5.
_COMMON_HANZI_SHARE = 0.9


def decode_text(data: bytes, path: Path) -> str:
    """Decode bytes of a text file: BOM, UTF-8, GB18030, then charset-normalizer.

    Order matters: valid UTF-8 is almost never anything else; Chinese government files
    are often GBK, which GB18030 decodes exactly, while a generic detector may call short
    GBK text some Western code page and silently produce mojibake. A GB18030 decode that
    looks like mojibake (Big5, Shift-JIS) goes to the detector, and is kept only if the
    detector has nothing better.
    """
    if data.startswith(codecs.BOM_UTF8):
        return newlines(_decode_strict(data[len(codecs.BOM_UTF8) :], "utf-8", path))
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return newlines(_decode_strict(data, "utf-16", path))
    if b"\x00" in data:
        raise CorruptFile(f"{path}: looks like a binary file, not text. Save it as UTF-8 text.")
    try:
        return newlines(data.decode("utf-8"))
    except UnicodeDecodeError:
        pass
    try:
        chinese: str | None = data.decode("gb18030")
    except UnicodeDecodeError:
        chinese = None
    if chinese is not None and _plausible_chinese(chinese):
        return newlines(chinese)
    text = _decode_guessed(data) or chinese
    if text is None:
        raise CorruptFile(
            f"{path}: the text encoding could not be recognised. Save the file as UTF-8."
        )
    return newlines(text)


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


def newlines(text: str) -> str:
    """Windows and old Mac line ends become "\\n", so offsets mean the same everywhere."""
    return text.replace("\r\n", "\n").replace("\r", "\n")
