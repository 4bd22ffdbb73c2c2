"""Question log, cited passages and 👍/👎 feedback in SQLite, and the numbers `/stats` shows.

Callback data is limited to 64 bytes, so buttons carry a short answer id and the
passages behind it live here; they survive restarts and reindexing (a 📄 button shows
what was cited at the time). A source row holds only what a 📄 button shows — chunk id,
label, passage text — in plain columns, so a change to the index's `Chunk` cannot break
old buttons. The schema is versioned (`PRAGMA user_version`); older databases are
migrated on open and their buttons keep working.

One connection behind a lock; the bot calls the store through `run`, on the store's own
thread, so SQLite never blocks the event loop. WAL makes each commit one append to the
log, and lets an operator read the file (`sqlite3`, backups) while the bot writes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TypeVar

from bot.answer.results import Answer

log = logging.getLogger(__name__)

STORE_FILE = "zonebot.sqlite3"
SCHEMA_VERSION = 2  # 1: citations held a whole Chunk as JSON. 2: sources hold label + text.
DAY = 86_400.0

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS questions (
    answer_id  TEXT PRIMARY KEY,
    asked_at   REAL NOT NULL,      -- unix time
    user_id    INTEGER,
    chat_id    INTEGER,
    question   TEXT NOT NULL,
    found      INTEGER NOT NULL,
    chunk_ids  TEXT NOT NULL,      -- JSON list, in citation order
    latency_ms REAL NOT NULL       -- question received -> answer ready
);
CREATE INDEX IF NOT EXISTS questions_asked_at ON questions (asked_at);
CREATE INDEX IF NOT EXISTS questions_user ON questions (user_id);
CREATE TABLE IF NOT EXISTS sources (
    answer_id TEXT NOT NULL,
    n         INTEGER NOT NULL,
    chunk_id  TEXT NOT NULL,
    label     TEXT NOT NULL,       -- "[n] 《title》 · section · location", as shown
    text      TEXT NOT NULL,       -- the whole passage a 📄 button shows
    PRIMARY KEY (answer_id, n)
);
CREATE TABLE IF NOT EXISTS feedback (
    answer_id TEXT NOT NULL,
    user_id   INTEGER NOT NULL,
    vote      INTEGER NOT NULL,    -- 1 = 👍, -1 = 👎 (a user's latest vote wins)
    voted_at  REAL NOT NULL,
    PRIMARY KEY (answer_id, user_id)
);
CREATE INDEX IF NOT EXISTS feedback_user ON feedback (user_id);
"""


@dataclass(frozen=True)
class SourcePassage:
    """What a 📄 button shows: the citation's label and the whole passage."""

    n: int
    chunk_id: str
    label: str
    text: str


@dataclass(frozen=True)
class Forgotten:
    questions: int
    votes: int


@dataclass(frozen=True)
class WindowStats:
    questions: int
    p50_ms: float | None
    p95_ms: float | None
    not_found_rate: float | None
    votes: int
    thumbs_up_share: float | None


@dataclass(frozen=True)
class Stats:
    today: WindowStats  # since local midnight
    total: WindowStats


def new_answer_id() -> str:
    """12 hex characters: short enough for callback data, not guessable."""
    return secrets.token_hex(6)


class FeedbackStore:
    """Thread-safe access to the bot's SQLite database in the data directory."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        with self._db:  # schema and migration in one transaction (executescript would commit)
            self._db.execute("BEGIN IMMEDIATE")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self._db.execute(statement)
            _migrate(self._db)

    async def run(self, method: Callable[..., T], *args: object) -> T:
        """Call one of this store's methods on its own thread (the event loop never waits
        on SQLite; calls keep their order)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, partial(method, *args))

    def close(self) -> None:
        self._thread.shutdown(wait=True)
        with self._lock:
            self._db.close()

    def log_question(
        self, answer_id: str, user_id: int, chat_id: int, answer: Answer, latency_ms: float
    ) -> None:
        chunk_ids = json.dumps([c.chunk.chunk_id for c in answer.citations])
        sources = [
            (answer_id, c.n, c.chunk.chunk_id, c.label(), c.chunk.text) for c in answer.citations
        ]
        with self._lock, self._db:
            self._db.execute("BEGIN")
            self._db.execute(
                "INSERT INTO questions (answer_id, asked_at, user_id, chat_id, question, found, "
                "chunk_ids, latency_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    answer_id,
                    time.time(),
                    user_id,
                    chat_id,
                    answer.question,
                    answer.found,
                    chunk_ids,
                    latency_ms,
                ),
            )
            self._db.executemany(
                "INSERT INTO sources (answer_id, n, chunk_id, label, text) VALUES (?, ?, ?, ?, ?)",
                sources,
            )

    def source(self, answer_id: str, n: int) -> SourcePassage | None:
        with self._lock:
            row = self._db.execute(
                "SELECT chunk_id, label, text FROM sources WHERE answer_id = ? AND n = ?",
                (answer_id, n),
            ).fetchone()
        return None if row is None else SourcePassage(n, *row)

    def record_vote(self, answer_id: str, user_id: int, vote: int) -> bool:
        """Store a 👍 (1) or 👎 (-1); False when the answer id is unknown."""
        with self._lock, self._db:
            self._db.execute("BEGIN")
            known = self._db.execute(
                "SELECT 1 FROM questions WHERE answer_id = ?", (answer_id,)
            ).fetchone()
            if known is None:
                return False
            self._db.execute(
                "INSERT INTO feedback VALUES (?, ?, ?, ?) ON CONFLICT (answer_id, user_id) "
                "DO UPDATE SET vote = excluded.vote, voted_at = excluded.voted_at",
                (answer_id, user_id, vote, time.time()),
            )
            return True

    def prune(self, retention_days: int, now: float | None = None) -> int:
        """Delete questions older than `retention_days` with their sources and votes;
        returns how many questions went. 0 days keeps everything."""
        if retention_days <= 0:
            return 0
        cutoff = (time.time() if now is None else now) - retention_days * DAY
        old = "SELECT answer_id FROM questions WHERE asked_at < ?"
        return self._delete_questions(old, (cutoff,), votes_of_user=None).questions

    def forget(self, user_id: int) -> Forgotten:
        """Delete a user's questions (with their sources and the votes on them) and every
        vote the user gave."""
        mine = "SELECT answer_id FROM questions WHERE user_id = ?"
        return self._delete_questions(mine, (user_id,), votes_of_user=user_id)

    def _delete_questions(self, select: str, args: tuple, votes_of_user: int | None) -> Forgotten:
        with self._lock, self._db:
            self._db.execute("BEGIN")
            votes = 0
            if votes_of_user is not None:
                votes = self._db.execute(
                    "DELETE FROM feedback WHERE user_id = ?", (votes_of_user,)
                ).rowcount
            for table in ("feedback", "sources"):
                self._db.execute(f"DELETE FROM {table} WHERE answer_id IN ({select})", args)
            questions = self._db.execute(
                f"DELETE FROM questions WHERE answer_id IN ({select})", args
            ).rowcount
        return Forgotten(questions, votes)

    def stats(self, now: float | None = None) -> Stats:
        now = time.time() if now is None else now
        midnight = datetime.fromtimestamp(now).replace(hour=0, minute=0, second=0, microsecond=0)
        with self._lock:
            return Stats(today=self._window(midnight.timestamp()), total=self._window(0.0))

    def _window(self, since: float) -> WindowStats:
        count, not_found = self._db.execute(
            "SELECT COUNT(*), COALESCE(SUM(NOT found), 0) FROM questions WHERE asked_at >= ?",
            (since,),
        ).fetchone()
        votes, ups = self._db.execute(
            "SELECT COUNT(*), COALESCE(SUM(f.vote > 0), 0) FROM feedback f "
            "JOIN questions q USING (answer_id) WHERE q.asked_at >= ?",
            (since,),
        ).fetchone()
        return WindowStats(
            questions=count,
            p50_ms=self._latency_percentile(since, count, 0.50),
            p95_ms=self._latency_percentile(since, count, 0.95),
            not_found_rate=not_found / count if count else None,
            votes=votes,
            thumbs_up_share=ups / votes if votes else None,
        )

    def _latency_percentile(self, since: float, count: int, q: float) -> float | None:
        """Nearest-rank percentile, computed in SQL so the log never has to fit in memory."""
        if not count:
            return None
        rank = max(1, math.ceil(round(q * count, 9)))  # round: 0.95 * 60 is not quite 57
        (value,) = self._db.execute(
            "SELECT latency_ms FROM questions WHERE asked_at >= ? "
            "ORDER BY latency_ms LIMIT 1 OFFSET ?",
            (since, rank - 1),
        ).fetchone()
        return value


def _migrate(db: sqlite3.Connection) -> None:
    """Bring an older database to SCHEMA_VERSION inside the caller's transaction."""
    (version,) = db.execute("PRAGMA user_version").fetchone()
    tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if version < 2 and "citations" in tables:
        rows = db.execute("SELECT answer_id, n, chunk FROM citations").fetchall()
        moved = [row for row in (_v1_source(*r) for r in rows) if row is not None]
        db.executemany("INSERT OR IGNORE INTO sources VALUES (?, ?, ?, ?, ?)", moved)
        db.execute("DROP TABLE citations")
        log.info(f"question log migrated to schema {SCHEMA_VERSION}: {len(moved)} sources kept")
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _v1_source(answer_id: str, n: int, chunk_json: str) -> tuple | None:
    """A version-1 citation (a whole Chunk as JSON) as a source row, labelled the way
    version 1 labelled it; None when the row is unreadable (its button then says expired)."""
    try:
        chunk = json.loads(chunk_json)
        location = chunk.get("article") or (
            f"第{chunk['page']}页 · 第{chunk['paragraph']}段"
            if chunk.get("page") is not None
            else f"第{chunk['paragraph']}段"
        )
        parts = (f"《{chunk['title']}》", chunk.get("section"), location)
        place = " · ".join(p for p in parts if p)
        return answer_id, n, chunk["chunk_id"], f"[{n}] {place}", chunk["text"]
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
