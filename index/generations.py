"""Atomic index directories: each build is a new generation; a pointer file names the live one.

`index.dir/CURRENT` holds the name of the live generation directory. A build writes
a complete new generation under a temporary name, renames it, then replaces CURRENT
with `os.replace` (atomic on POSIX). A crash or Ctrl-C at any point leaves CURRENT
pointing at the previous, complete generation.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from index.errors import IndexCorrupt, IndexNotFound, ZonebotError

POINTER = "CURRENT"
_TMP_SUFFIX = ".tmp"


def live_generation(index_dir: Path) -> Path:
    """The directory of the live generation; IndexNotFound when nothing was built yet."""
    pointer = index_dir / POINTER
    if not pointer.is_file():
        raise IndexNotFound(
            f"还没有索引：{index_dir} 中没有已构建的索引。请先运行 `zonebot index`。"
            f" (No index in {index_dir}: run `zonebot index` first.)"
        )
    name = pointer.read_text(encoding="utf-8").strip()
    generation = index_dir / name
    if not name or "/" in name or not generation.is_dir():
        raise IndexCorrupt(
            f"索引指针 {pointer} 指向不存在的目录 {name!r}。请运行 `zonebot index --rebuild`。"
        )
    return generation


@contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """Only one build at a time per index directory (a second one fails fast)."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ZonebotError(
                f"另一个索引任务正在运行 ({index_dir})，请稍后再试。"
                " (Another build is running on this index.)"
            ) from None
        yield


@contextmanager
def new_generation(index_dir: Path) -> Iterator[Path]:
    """Yield an empty temporary directory; on normal exit make it the live generation."""
    name = time.strftime("gen-%Y%m%dT%H%M%S", time.gmtime()) + f"-{secrets.token_hex(4)}"
    tmp = index_dir / (name + _TMP_SUFFIX)
    tmp.mkdir(parents=True)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    tmp.rename(index_dir / name)
    pointer_tmp = index_dir / (POINTER + _TMP_SUFFIX)
    pointer_tmp.write_text(name + "\n", encoding="utf-8")
    os.replace(pointer_tmp, index_dir / POINTER)
    _remove_stale(index_dir, keep=name)


def _remove_stale(index_dir: Path, keep: str) -> None:
    """Delete older generations and leftovers of interrupted builds.

    Readers load an index fully into memory, so an open index is not harmed."""
    for entry in index_dir.iterdir():
        if entry.is_dir() and entry.name.startswith("gen-") and entry.name != keep:
            shutil.rmtree(entry, ignore_errors=True)
