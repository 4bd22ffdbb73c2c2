"""The question log in PostgreSQL (psycopg 3): one database shared by every bot replica.

The log's SQL is written in SQLite's dialect; this is the one place it is translated:
`?` placeholders become `%s`, INTEGER columns BIGINT (Telegram user and group ids
outgrow 32 bits) and REAL DOUBLE PRECISION (a unix time needs more than float4's 24
bits). PostgreSQL text cannot hold NUL, so a NUL character is stored as U+FFFD. Schema
set-up holds an advisory lock, so replicas starting together do not race on CREATE
TABLE; the version is kept in the table `schema_version`. The connection is in
autocommit mode and every unit of work is an explicit transaction.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import psycopg
from psycopg.conninfo import conninfo_to_dict

from bot.telegram.store_db import Database, Tx

CONNECT_TIMEOUT_S = 10  # unless the URL sets connect_timeout
STATEMENT_TIMEOUT_MS = 10_000  # a stuck query fails instead of holding the store thread
SCHEMA_LOCK = 0x7A6F6E65626F74  # pg_advisory_xact_lock key: "zonebot"

_TYPES = {"INTEGER": "BIGINT", "REAL": "DOUBLE PRECISION"}
_TYPE_WORDS = re.compile(rf"\b({'|'.join(_TYPES)})\b")


class PostgresDatabase(Database):
    kind = "PostgreSQL"
    driver_error = psycopg.Error
    shared = True

    def __init__(self, url: str, password: str = "") -> None:
        super().__init__()
        self._url = url
        self._password = password

    def translate(self, sql: str) -> str:
        sql = sql.replace("%", "%%").replace("?", "%s")  # the log's SQL has no literal "?"
        return _TYPE_WORDS.sub(lambda m: _TYPES[m[1]], sql)

    def adapt(self, args: Sequence[object]) -> Sequence[object]:
        return [a.replace("\x00", "\ufffd") if isinstance(a, str) else a for a in args]

    def _connect(self) -> psycopg.Connection:
        options = (
            {}
            if "connect_timeout" in conninfo_to_dict(self._url)
            else {"connect_timeout": CONNECT_TIMEOUT_S}
        )
        connection = psycopg.connect(
            self._url,
            password=self._password or None,  # None: libpq's own ~/.pgpass
            autocommit=True,
            application_name="zonebot",
            **options,
        )
        connection.execute(f"SET statement_timeout = {STATEMENT_TIMEOUT_MS}")
        return connection

    @contextmanager
    def _transaction(self, connection: psycopg.Connection, exclusive: bool) -> Iterator:
        with connection.transaction(), connection.cursor() as cursor:
            if exclusive:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
            yield cursor

    def _lost(self) -> bool:
        return bool(self._connection.broken or self._connection.closed)

    def schema_version(self, tx: Tx) -> int:
        if "schema_version" not in self.tables(tx):
            return 0
        (version,) = tx.one("SELECT MAX(version) FROM schema_version") or (None,)
        return version or 0

    def set_schema_version(self, tx: Tx, version: int) -> None:
        tx.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        tx.execute("DELETE FROM schema_version")
        tx.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))

    def tables(self, tx: Tx) -> set[str]:
        rows = tx.all(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        )
        return {name for (name,) in rows}

    def _describe(self, exc: Exception) -> str:
        reason = " ".join(str(exc).split())  # libpq's messages span lines
        where = conninfo_to_dict(self._url)
        server = where.get("host") or "local socket"
        if self._connection is None:
            return (
                f"无法连接 PostgreSQL（telegram.store，服务器 {server}，数据库 "
                f"{where.get('dbname', '(default)')}）：{reason}。Check that the server runs and "
                "accepts this user, and the password in telegram.store_password_env."
            )
        return f"PostgreSQL（{server}）：{reason}"
