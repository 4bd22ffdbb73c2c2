"""A full disk, told as such: where, how much is free, about how much the build needs.

Writers fail in their own words when the disk fills: OSError(ENOSPC/EDQUOT) from Python,
SQLITE_FULL from sqlite, a RuntimeError ending in the C library's strerror from FAISS.
`is_disk_full` recognises all three so the build can answer with one `DiskFull` line.
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
from pathlib import Path

from index.errors import DiskFull

_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
_FULL_WORDS = tuple(os.strerror(code) for code in _FULL_ERRNOS)  # "No space left on device"
MB = 1 << 20


def free_bytes(directory: Path) -> int:
    """Bytes an unprivileged writer may still use on the disk holding `directory`."""
    return shutil.disk_usage(directory).free


def ensure_space(directory: Path, needed: int) -> None:
    """Refuse to start writing `needed` bytes that will not fit."""
    if free_bytes(directory) < needed:
        raise disk_full(directory, needed)


def is_disk_full(error: BaseException) -> bool:
    if isinstance(error, OSError):
        return error.errno in _FULL_ERRNOS
    if isinstance(error, sqlite3.Error):
        return getattr(error, "sqlite_errorname", "") == "SQLITE_FULL"
    if isinstance(error, RuntimeError):  # faiss::FileIOWriter reports strerror in the text
        return any(words in str(error) for words in _FULL_WORDS)
    return False


def disk_full(directory: Path, needed: int | None = None) -> DiskFull:
    """The one-line error; `needed` is the build's estimate, when it got that far."""
    free = _mb(free_bytes(directory)) if directory.exists() else "?"
    need_zh = f"，本次构建约需 {_mb(needed)}" if needed else ""
    need_en = f", the build needs about {_mb(needed)}" if needed else ""
    return DiskFull(
        f"磁盘已满：{directory} 所在磁盘剩余 {free}{need_zh}。"
        "请释放空间或把 index.dir 改到更大的磁盘后重试；原索引仍然可用。"
        f" (Disk full at {directory}: {free} free{need_en}; the previous index is still live.)"
    )


def _mb(size: int) -> str:
    return f"{size / MB:,.1f} MB"
