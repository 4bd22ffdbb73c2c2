"""The folder admins add documents to through the bot (`telegram.upload_dir`, one of
corpus.paths): safe names, no overwriting, zip archives unpacked, removal.

Nothing here knows Telegram: the handlers in bot/telegram/uploads.py download into
`UploadDir.save` and show what it returns.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import shutil
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path

from index.formats.detect import Kind, detect

MAX_NAME_CHARS = 100
MAX_ARCHIVE_MEMBERS = 200
MAX_ARCHIVE_BYTES = 200 * 1024 * 1024  # unpacked; a zip bomb stops here
# Characters no file name should carry: path separators, controls, shell-hostile ones.
_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')
_PARTIAL_PREFIX = ".partial-"  # hidden, so a build running meanwhile never reads it


class UploadError(Exception):
    """A file could not be saved; the message says why, for the admin."""


@dataclass(frozen=True)
class Saved:
    """A file now in the upload folder, under the (sanitised, unique) `name`."""

    name: str
    original: str


def safe_name(name: str) -> str:
    """A file name that stays inside the folder: no directories (../ or C:\\), no control
    characters, not hidden, at most MAX_NAME_CHARS with its suffix kept."""
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", name).strip().lstrip(".~$ ")
    stem, dot, suffix = name.rpartition(".")
    if not dot or not stem:
        stem, suffix = name, ""
    suffix = suffix[:10]
    stem = stem[: MAX_NAME_CHARS - len(suffix) - 1].rstrip(" .") or "document"
    return f"{stem}.{suffix}" if suffix else stem


class UploadDir:
    def __init__(self, root: Path) -> None:
        self.root = root

    def partial(self) -> Path:
        """A fresh temporary path inside the folder to download into."""
        self.root.mkdir(parents=True, exist_ok=True)
        return self.root / f"{_PARTIAL_PREFIX}{secrets.token_hex(8)}"

    def save(self, partial: Path, original: str) -> list[Saved]:
        """Move a downloaded file in under a safe unique name; a zip archive of documents
        is unpacked instead (each member under its own safe name)."""
        try:
            with open(partial, "rb") as handle:
                head = handle.read(1024)
            if detect(partial, head) == Kind.ZIP:
                return self._unpack(partial, original)
            return [Saved(self._claim(partial, safe_name(original)), original)]
        finally:
            partial.unlink(missing_ok=True)

    def names(self) -> list[str]:
        """The documents in the folder, sorted."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_file() and p.name[0] != ".")

    def remove(self, name: str) -> bool:
        """Delete an uploaded document by its exact name; False when there is none."""
        if name != safe_name(name) or name not in self.names():
            return False
        (self.root / name).unlink()
        return True

    def _claim(self, source: Path, name: str) -> str:
        """Link `source` in as `name`, or "name (2)", "name (3)"… when taken: never
        overwrites, even when two uploads race for the same name."""
        stem, dot, suffix = name.rpartition(".")
        if not dot:
            stem, suffix = name, ""
        for attempt in range(1, 1000):
            candidate = name if attempt == 1 else f"{stem} ({attempt}){dot}{suffix}"
            target = self.root / candidate
            if target.resolve().parent != self.root.resolve():  # belt and braces
                raise UploadError(f"文件名不安全：{name}")
            try:
                os.link(source, target)
                return candidate
            except FileExistsError:
                continue
            except OSError as error:
                raise _disk_error(error) from None
        raise UploadError(f"同名文件太多：{name}")

    def _unpack(self, archive: Path, original: str) -> list[Saved]:
        """Each file member of the archive (folders flattened, hidden files skipped)."""
        saved: list[Saved] = []
        try:
            with zipfile.ZipFile(archive) as bundle:
                members = [m for m in bundle.infolist() if not m.is_dir()]
                if len(members) > MAX_ARCHIVE_MEMBERS:
                    raise UploadError(
                        f"压缩包 {original} 文件太多（上限 {MAX_ARCHIVE_MEMBERS} 个）。"
                    )
                if sum(m.file_size for m in members) > MAX_ARCHIVE_BYTES:
                    raise UploadError(f"压缩包 {original} 解压后超过 200 MB，请分批发送。")
                for member in members:
                    base = member.filename.replace("\\", "/").rsplit("/", 1)[-1]
                    if not base or base.startswith((".", "~$", "__MACOSX")):
                        continue
                    partial = self.partial()
                    try:
                        with bundle.open(member) as data, open(partial, "wb") as out:
                            shutil.copyfileobj(data, out)
                        saved.append(Saved(self._claim(partial, safe_name(base)), base))
                    finally:
                        partial.unlink(missing_ok=True)
        except (zipfile.BadZipFile, RuntimeError) as error:  # RuntimeError: encrypted member
            raise UploadError(f"压缩包 {original} 无法解压（{error}）。") from None
        except OSError as error:
            raise _disk_error(error) from None
        return saved


def _disk_error(error: OSError) -> UploadError:
    if error.errno == errno.ENOSPC:
        return UploadError("服务器磁盘已满，文件没有保存。请清理磁盘后再发送。")
    return UploadError(f"文件无法保存（{error.strerror}）。")
