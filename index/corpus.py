"""The corpus on disk: which files there are, their content hashes, which are refused unread.

Hashing decides what an incremental build may reuse, so it runs before anything is
parsed; it reads files, so it sits inside the same per-file guard as parsing: a dangling
link, a FIFO, a file without read permission or one over `corpus.max_file_mb` is listed
as skipped, and the other files are indexed as usual.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from index.errors import EmptyCorpus, LoadError
from index.ingest import MB, IngestLimits, skip_reason
from index.loaders import find_corpus_files


@dataclass
class CorpusScan:
    """Every corpus file by display name: its path, and either a hash or a refusal."""

    paths: dict[str, Path] = field(default_factory=dict)
    hashes: dict[str, str] = field(default_factory=dict)  # name -> sha256 of the bytes
    refused: dict[str, str] = field(default_factory=dict)  # name -> one-line reason


def display_path(path: Path, base_dir: Path | None) -> str:
    """A short, stable name for a file: relative to the config directory when inside it.

    Only the folder is resolved, so a symbolic link is named as it stands in the corpus,
    not by its target (which a dangling link does not even have)."""
    if base_dir is not None:
        try:
            located = path.absolute().parent.resolve() / path.name
            return located.relative_to(base_dir.resolve()).as_posix()
        except ValueError:
            pass
    return path.as_posix()


def scan_corpus(paths: list[Path], base_dir: Path | None, limits: IngestLimits) -> CorpusScan:
    """Find and hash the corpus files; refuse missing corpus paths as a whole."""
    missing = [p for p in paths if not p.exists() and not p.is_symlink()]
    if missing:
        raise EmptyCorpus(
            f"语料路径不存在：{', '.join(str(p) for p in missing)}。请检查配置中的 corpus.paths。"
        )
    scan = CorpusScan()
    for path in find_corpus_files(paths):
        name = display_path(path, base_dir)
        scan.paths[name] = path
        try:
            scan.hashes[name] = file_hash(path, limits)
        except Exception as error:  # one unreadable file is one skipped file
            scan.refused[name] = skip_reason(error)
    return scan


def file_hash(path: Path, limits: IngestLimits) -> str:
    """sha256 of a regular file within the size cap; LoadError/OSError otherwise."""
    if path.is_symlink() and not path.exists():
        raise LoadError(f"符号链接指向不存在的文件 (dangling symlink to {os.readlink(path)})")
    info = path.stat()
    if not stat.S_ISREG(info.st_mode):
        raise LoadError("不是普通文件（管道、设备等），未读取 (not a regular file)")
    if info.st_size > limits.max_file_mb * MB:
        raise LoadError(
            f"文件大小 {info.st_size / MB:,.1f} MB 超过 corpus.max_file_mb ="
            f" {limits.max_file_mb:g} MB，未读取 (file too large; raise the cap or split it)"
        )
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(MB), b""):
            digest.update(block)
    return digest.hexdigest()
