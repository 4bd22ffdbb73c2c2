"""The chunk store: every chunk's fields and keyword tokens in one SQLite file.

Row `id` is the chunk's position, which is also its id in the FAISS index, so a
dense hit maps back to its chunk without a lookup table. A serving index reads chunks
from it on demand (`ChunkStore`): at 100,000+ chunks their text and fields would cost
hundreds of MB as Python objects, while a search needs only its few hits.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import fields
from pathlib import Path

from index.documents import Chunk
from index.errors import IndexCorrupt
from index.manifest import REBUILD_HINT

STORE_NAME = "chunks.sqlite"
_CHUNK_FIELDS = [f.name for f in fields(Chunk)]
_COLUMNS = ", ".join(f'"{name}"' for name in _CHUNK_FIELDS)


def write_chunks(directory: Path, chunks: list[Chunk], tokens: list[list[str]]) -> None:
    """Write chunks (in id order) with their keyword tokens into a new store."""
    with sqlite3.connect(directory / STORE_NAME) as db:
        db.execute(f"CREATE TABLE chunks (id INTEGER PRIMARY KEY, {_COLUMNS}, tokens TEXT)")
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
    """Read all chunks and their tokens, in id order (what an incremental build reuses)."""
    store = ChunkStore(directory)
    try:
        rows = store.query(f"SELECT {_COLUMNS}, tokens FROM chunks ORDER BY id")
        chunks = [Chunk(*row[:-1]) for row in rows]
        tokens = [_split(row[-1]) for row in rows]
    finally:
        store.close()
    return chunks, tokens


def _split(tokens: str | None) -> list[str]:
    return tokens.split("\t") if tokens else []


class ChunkStore(Sequence[Chunk]):
    """The chunks of one generation, read from SQLite when asked for: `store[i]` is the
    chunk with FAISS id `i`. Safe to share between threads (one read-only connection
    behind a lock; a lookup by primary key takes microseconds)."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / STORE_NAME
        if not self.path.is_file():
            raise IndexCorrupt(f"索引不完整：缺少 {self.path}。{REBUILD_HINT}")
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(
                f"file:{self.path}?mode=ro", uri=True, check_same_thread=False
            )
            (self._size,) = self._db.execute("SELECT COUNT(*) FROM chunks").fetchone()
        except sqlite3.DatabaseError as exc:
            raise self._corrupt(exc) from None

    def __len__(self) -> int:
        return self._size

    def __getitem__(self, i: int) -> Chunk:  # type: ignore[override]
        if not isinstance(i, int):
            raise TypeError("chunk ids are ints")
        if i < 0:
            i += self._size
        rows = self.query(f"SELECT {_COLUMNS} FROM chunks WHERE id = ?", (i,))
        if not rows:
            raise IndexError(f"no chunk {i} in {self.path}")
        return Chunk(*rows[0])

    def __iter__(self) -> Iterator[Chunk]:
        for row in self._stream(f"SELECT {_COLUMNS} FROM chunks ORDER BY id"):
            yield Chunk(*row)

    def tokens(self) -> Iterator[list[str]]:
        """Every chunk's keyword tokens, in id order, one row in memory at a time."""
        for (tokens,) in self._stream("SELECT tokens FROM chunks ORDER BY id"):
            yield _split(tokens)

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        try:
            with self._lock:
                return self._db.execute(sql, params).fetchall()
        except sqlite3.DatabaseError as exc:
            raise self._corrupt(exc) from None

    def close(self) -> None:
        self._db.close()

    def _stream(self, sql: str) -> Iterator[tuple]:
        """Rows of a long scan through their own connection, so lookups never wait."""
        try:
            db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
            try:
                yield from db.execute(sql)
            finally:
                db.close()
        except sqlite3.DatabaseError as exc:
            raise self._corrupt(exc) from None

    def _corrupt(self, exc: Exception) -> IndexCorrupt:
        return IndexCorrupt(f"索引文件损坏 ({self.path}: {exc})。{REBUILD_HINT}")
