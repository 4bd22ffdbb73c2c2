"""The chunk store: every chunk's fields and keyword tokens in one SQLite file.

Row `id` is the chunk's position, which is also its id in the FAISS index, so a
dense hit maps back to its chunk without a lookup table.
"""

from __future__ import annotations

import sqlite3
from dataclasses import fields
from pathlib import Path

from index.documents import Chunk
from index.errors import IndexCorrupt
from index.manifest import REBUILD_HINT

STORE_NAME = "chunks.sqlite"
_CHUNK_FIELDS = [f.name for f in fields(Chunk)]


def write_chunks(directory: Path, chunks: list[Chunk], tokens: list[list[str]]) -> None:
    """Write chunks (in id order) with their keyword tokens into a new store."""
    columns = ", ".join(f'"{name}"' for name in _CHUNK_FIELDS)
    with sqlite3.connect(directory / STORE_NAME) as db:
        db.execute(f"CREATE TABLE chunks (id INTEGER PRIMARY KEY, {columns}, tokens TEXT)")
        marks = ", ".join("?" * (len(_CHUNK_FIELDS) + 2))
        db.executemany(
            f"INSERT INTO chunks VALUES ({marks})",
            (
                (i, *(getattr(c, name) for name in _CHUNK_FIELDS), "\t".join(toks))
                for i, (c, toks) in enumerate(zip(chunks, tokens, strict=True))
            ),
        )
    db.close()


def read_chunks(directory: Path) -> tuple[list[Chunk], list[list[str]]]:
    """Read all chunks and their tokens, in id order."""
    path = directory / STORE_NAME
    if not path.is_file():
        raise IndexCorrupt(f"索引不完整：缺少 {path}。{REBUILD_HINT}")
    columns = ", ".join(f'"{name}"' for name in _CHUNK_FIELDS)
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = db.execute(f"SELECT {columns}, tokens FROM chunks ORDER BY id").fetchall()
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        raise IndexCorrupt(f"索引文件损坏 ({path}: {exc})。{REBUILD_HINT}") from None
    chunks = [Chunk(*row[:-1]) for row in rows]
    tokens = [row[-1].split("\t") if row[-1] else [] for row in rows]
    return chunks, tokens
