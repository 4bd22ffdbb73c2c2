"""The question log's default backend: a SQLite file in the data directory.

WAL makes each commit one append to the log, and lets an operator read the file
(`sqlite3`, backups) while the bot writes. The schema version is `PRAGMA user_version`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bot.telegram.store_db import Database, StoreError, Tx


class SqliteDatabase(Database):
    kind = "SQLite"
    driver_error = sqlite3.Error

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"无法创建数据目录 {path.parent}（{exc.strerror}）。Check data_dir in the config."
            ) from None

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        return db

    @contextmanager
    def _transaction(self, connection: sqlite3.Connection, exclusive: bool) -> Iterator:
        # IMMEDIATE takes the write lock up front: a set-up that reads the version, then
        # writes, cannot deadlock with another process doing the same.
        cursor = connection.cursor()
        cursor.execute("BEGIN IMMEDIATE" if exclusive else "BEGIN")
        try:
            yield cursor
            cursor.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:  # a failed COMMIT (full disk) leaves it open
                connection.execute("ROLLBACK")
            raise

    def schema_version(self, tx: Tx) -> int:
        (version,) = tx.one("PRAGMA user_version") or (0,)
        return version

    def set_schema_version(self, tx: Tx, version: int) -> None:
        tx.execute(f"PRAGMA user_version = {int(version)}")

    def tables(self, tx: Tx) -> set[str]:
        return {name for (name,) in tx.all("SELECT name FROM sqlite_master WHERE type='table'")}

    def _describe(self, exc: Exception) -> str:
        return f"问题日志 {self.path}: {exc}"
