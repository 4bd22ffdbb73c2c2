"""One database connection behind a lock: what the question log needs from a backend.

The question log (bot.telegram.store) writes its SQL once, in SQLite's dialect (`?`
placeholders, SQLite's type names). A backend (store_sqlite, store_postgres) says how to
connect, how to begin a transaction, how to translate that SQL for its server, and where
it keeps the schema version; everything else is here, once. Driver errors leave as
StoreError, so no caller imports a driver. A connection that dropped (a PostgreSQL
restart or failover) is reopened and the unit of work run again once: every unit the log
runs is safe to repeat (inserts keyed by a fresh id, upserts, deletes).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from bot.logging_setup import event
from index.errors import ZonebotError

log = logging.getLogger(__name__)

T = TypeVar("T")


class StoreError(ZonebotError):
    """The question log could not be read or written (full disk, database down, ...)."""


class Tx:
    """The statements of one transaction, through a DB-API cursor; SQL in SQLite's dialect."""

    def __init__(self, cursor: Any, translate: Callable[[str], str], adapt: Callable) -> None:
        self._cursor = cursor
        self._translate = translate
        self._adapt = adapt

    def execute(self, sql: str, args: Sequence[object] = ()) -> int:
        """Run one statement; the number of rows it changed."""
        self._cursor.execute(self._translate(sql), self._adapt(args))
        return self._cursor.rowcount

    def executemany(self, sql: str, rows: Iterable[Sequence[object]]) -> None:
        rows = [self._adapt(row) for row in rows]
        if rows:
            self._cursor.executemany(self._translate(sql), rows)

    def one(self, sql: str, args: Sequence[object] = ()) -> tuple | None:
        self.execute(sql, args)
        return self._cursor.fetchone()

    def all(self, sql: str, args: Sequence[object] = ()) -> list[tuple]:
        self.execute(sql, args)
        return self._cursor.fetchall()


class Database(ABC):
    """A backend: one connection, used by one unit of work at a time."""

    kind: str  # "SQLite", "PostgreSQL": for messages
    driver_error: type[Exception]
    shared = False  # used by several bot processes at once (replicas)

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connection: Any = None

    def transact(self, work: Callable[[Tx], T], *, exclusive: bool = False) -> T:
        """Run `work` in one transaction and commit it (roll back if it raises).
        `exclusive`: one such transaction at a time across every process using this
        database (schema set-up)."""
        with self._lock:
            for attempt in (1, 2):
                try:
                    if self._connection is None:
                        self._connection = self._connect()
                    with self._transaction(self._connection, exclusive) as cursor:
                        return work(Tx(cursor, self.translate, self.adapt))
                except self.driver_error as exc:
                    if attempt == 1 and self._connection is not None and self._lost():
                        log.warning(event("store_reconnect", store=self.kind, error=str(exc)))
                        self._close_connection()
                        continue
                    raise StoreError(self._describe(exc)) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        with self._lock:
            self._close_connection()

    def translate(self, sql: str) -> str:
        """SQL in SQLite's dialect, as this server takes it."""
        return sql

    def adapt(self, args: Sequence[object]) -> Sequence[object]:
        """Parameter values as this server can store them."""
        return args

    @abstractmethod
    def schema_version(self, tx: Tx) -> int:
        """The version the database was last set up at; 0 when new."""

    @abstractmethod
    def set_schema_version(self, tx: Tx, version: int) -> None: ...

    @abstractmethod
    def tables(self, tx: Tx) -> set[str]: ...

    @abstractmethod
    def _connect(self) -> Any:
        """A new DB-API connection (raises driver_error when the database is unreachable)."""

    @abstractmethod
    def _transaction(self, connection: Any, exclusive: bool) -> AbstractContextManager[Any]:
        """Begin; yield a cursor; commit on normal exit, roll back on an exception."""

    def _lost(self) -> bool:
        """Whether the last error broke the connection (then it is reopened)."""
        return False

    def _describe(self, exc: Exception) -> str:
        return f"{self.kind}: {exc}"

    def _close_connection(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            with contextlib.suppress(self.driver_error):  # already broken: nothing to close
                connection.close()
