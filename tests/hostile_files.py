"""Hostile corpus files, generated on the spot, and loaders that misbehave on cue.

Shared by the ingestion tests and bench/faults.py. The loaders are module-level
functions so the parser process (spawned) can import them.
"""

from __future__ import annotations

import os
import random
import signal
import time
import zipfile
from dataclasses import replace
from pathlib import Path

from index.formats.source import SourceText
from index.loaders import load_file

GOOD_TEXT = "第一条 为了促进自由贸易试验区建设，制定本条例。\n\n第二条 试验区实行负面清单管理。\n"
MB = 1 << 20


def write_hostile_corpus(directory: Path, *, bomb_mb: int = 64, oversize_mb: int = 200) -> dict:
    """Write one good file and the hostile ones into `directory`; return
    {file name: what it is}. The oversize file is sparse, so it costs no disk."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "good.md").write_text("# 测试条例\n\n" + GOOD_TEXT, encoding="utf-8")
    (directory / "dangling.pdf").symlink_to(directory / "no-such-target.pdf")
    (directory / "random.pdf").write_bytes(random.Random(11).randbytes(200_000))
    write_zip_bomb(directory / "bomb.docx", bomb_mb)
    depth = 6000
    (directory / "deep.html").write_text(
        "<html><body>" + "<div>" * depth + "很深的段落。" + "</div>" * depth + "</body></html>",
        encoding="utf-8",
    )
    (directory / "binary.txt").write_bytes(bytes(range(256)) * 64)
    (directory / "empty.txt").write_bytes(b"")
    with open(directory / "oversize.txt", "wb") as handle:
        handle.truncate(oversize_mb * MB)
    os.mkfifo(directory / "pipe.txt")
    return {
        "dangling.pdf": "dangling symlink",
        "random.pdf": "random bytes named .pdf",
        "bomb.docx": f"zip bomb .docx ({bomb_mb} MB of zeros inflated)",
        "deep.html": f"{depth}-deep nested HTML",
        "binary.txt": "binary bytes named .txt",
        "empty.txt": "empty file",
        "oversize.txt": f"{oversize_mb} MB file",
        "pipe.txt": "named pipe (FIFO) named .txt",
    }


def write_hostile_structure(
    directory: Path, *, spaces: int = 200_000, headings: int = 200_000
) -> dict:
    """Write markdown files that are small and well-formed for every loader but hostile
    to structure parsing (headings and articles); return {file name: what it is}.

    spaces.md: a heading line "# a", `spaces` spaces, "b" — the heading pattern's
    optional closing `#`s make matching it quadratic in the run of spaces (20,000 spaces
    take 6 s here, 200,000 about ten minutes). nested.md: `headings` headings cycling
    through the six levels, then one paragraph under the deepest."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "spaces.md").write_text(
        "# a" + " " * spaces + "b\n\n" + GOOD_TEXT, encoding="utf-8"
    )
    levels = [6 - (headings - 1 - i) % 6 for i in range(headings)]  # the last one is 6
    nested = "\n".join(f"{'#' * level} 第{level}级" for level in levels)
    (directory / "nested.md").write_text(nested + "\n\n" + GOOD_TEXT, encoding="utf-8")
    return {
        "spaces.md": f"a heading line of {spaces:,} spaces (quadratic heading match)",
        "nested.md": f"{headings:,} lines of nested headings",
    }


def write_zip_bomb(path: Path, inflated_mb: int) -> None:
    """A .docx-shaped archive whose document.xml inflates to `inflated_mb` MB of zeros."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        with archive.open("word/document.xml", "w", force_zip64=True) as member:
            block = bytes(MB)
            for _ in range(inflated_mb):
                member.write(block)


# Loaders that misbehave on files whose text holds a marker word, and load the rest as usual.


def hang_on_marker(path: Path) -> SourceText:
    """Sleeps for an hour on a marked file, after leaving `<file>.hanging` beside it."""
    if b"HANG" in path.read_bytes():
        Path(f"{path}.hanging").write_text(str(os.getpid()))
        time.sleep(3600)
    return load_file(path)


def allocate_on_marker(path: Path) -> SourceText:
    if b"ALLOCATE" in path.read_bytes():
        hoard = [bytearray(64 * MB) for _ in range(1000)]  # 64 GB, far beyond the limit
        return SourceText(str(len(hoard)))
    return load_file(path)


def crash_on_marker(path: Path) -> SourceText:
    if b"CRASH" in path.read_bytes():
        os.kill(os.getpid(), signal.SIGSEGV)
    return load_file(path)


def recurse_on_marker(path: Path) -> SourceText:
    if b"RECURSE" in path.read_bytes():
        return recurse_on_marker(path)
    return load_file(path)


def noting_loader(path: Path) -> SourceText:
    """Loads as usual and reports a part left out, as OCR does for an unreadable page."""
    return replace(load_file(path), notes=("第2页：OCR 置信度过低，已跳过",))
