"""Atomic index directories: each build is a new generation; a pointer file names the live one.

`index.dir/CURRENT` holds the name of the live generation directory. A build writes
a complete new generation under a temporary name, fsyncs it, renames it, then replaces
CURRENT with `os.replace` (atomic on POSIX). A crash, kill -9 or Ctrl-C at any point
leaves CURRENT pointing at the previous, complete generation; the next build removes
what the interrupted one left behind.
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

from index.diskspace import disk_full, ensure_space, is_disk_full
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
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        handle = open(index_dir / ".lock", "w")  # noqa: SIM115 - closed by the with below
    except OSError as error:
        if is_disk_full(error):
            raise disk_full(index_dir) from None
        raise ZonebotError(
            f"无法写入索引目录 {index_dir}（{error.strerror}）。请检查 index.dir 及其权限。"
        ) from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ZonebotError(
                f"另一个索引任务正在运行 ({index_dir})，请稍后再试。"
                " (Another build is running on this index.)"
            ) from None
        yield


@contextmanager
def new_generation(index_dir: Path, needed_bytes: int) -> Iterator[Path]:
    """Yield an empty temporary directory; on normal exit make it the live generation.

    Everything is fsynced before CURRENT names it, so after a crash or power loss CURRENT
    points at a complete generation. On a full disk (checked up front against
    `needed_bytes`, and caught while writing) nothing of the new generation is left and
    DiskFull says so; on any failure the previous generation stays live."""
    ensure_space(index_dir, needed_bytes)
    name = time.strftime("gen-%Y%m%dT%H%M%S", time.gmtime()) + f"-{secrets.token_hex(4)}"
    tmp = index_dir / (name + _TMP_SUFFIX)
    try:
        tmp.mkdir(parents=True)
        yield tmp
        for entry in tmp.iterdir():
            _fsync(entry)
        _fsync(tmp)
        tmp.rename(index_dir / name)
        _fsync(index_dir)
        _point_to(index_dir, name)
    except BaseException as error:
        remove_debris(index_dir)
        if is_disk_full(error):
            raise disk_full(index_dir, needed_bytes) from None
        raise
    remove_debris(index_dir)


def remove_debris(index_dir: Path) -> None:
    """Delete every generation but the live one, and leftovers of interrupted builds.

    Runs at the start and end of every build, under the build lock. Readers load an
    index fully into memory, so an open index is not harmed."""
    live = _pointer_name(index_dir)
    for entry in index_dir.iterdir():
        if entry.name.startswith("gen-") and entry.name != live:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
    (index_dir / (POINTER + _TMP_SUFFIX)).unlink(missing_ok=True)


def _pointer_name(index_dir: Path) -> str | None:
    try:
        return (index_dir / POINTER).read_text(encoding="utf-8").strip() or None
    except (OSError, UnicodeDecodeError):
        return None


def _point_to(index_dir: Path, name: str) -> None:
    """Atomically replace CURRENT with `name`, durably."""
    pointer_tmp = index_dir / (POINTER + _TMP_SUFFIX)
    with open(pointer_tmp, "w", encoding="utf-8") as handle:
        handle.write(name + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(pointer_tmp, index_dir / POINTER)
    _fsync(index_dir)


def _fsync(path: Path) -> None:
    """Flush a file's or a directory's data and metadata to the disk."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
