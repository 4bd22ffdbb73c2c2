"""Question log, cited passages and 👍/👎 feedback in SQLite, and the numbers `/stats` shows.

Callback data is limited to 64 bytes, so buttons carry a short answer id and the
citations behind it live here; they survive restarts and reindexing (a 📄 button shows
what was cited at the time). One connection behind a lock: every call is a few
milliseconds. WAL makes each commit one append to the log, and lets an operator read the
file (`sqlite3`, backups) while the bot writes.
"""

from __future__ import annotations

import json
import math
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bot.answer.results import Answer, Citation
from index.documents import Chunk

STORE_FILE = "zonebot.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS questions (
    answer_id  TEXT PRIMARY KEY,
    asked_at   REAL NOT NULL,      -- unix time
    user_id    INTEGER,
    chat_id    INTEGER,
    question   TEXT NOT NULL,
    found      INTEGER NOT NULL,
    chunk_ids  TEXT NOT NULL,      -- JSON list, in citation order
    latency_ms REAL NOT NULL       -- question received -> last part sent
);
CREATE INDEX IF NOT EXISTS questions_asked_at ON questions (asked_at);
CREATE TABLE IF NOT EXISTS citations (
    answer_id TEXT NOT NULL,
    n         INTEGER NOT NULL,
    chunk     TEXT NOT NULL,       -- Chunk as JSON
    quote     TEXT NOT NULL,
    verified  INTEGER NOT NULL,
    PRIMARY KEY (answer_id, n)
);
CREATE TABLE IF NOT EXISTS feedback (
    answer_id TEXT NOT NULL,
    user_id   INTEGER NOT NULL,
    vote      INTEGER NOT NULL,    -- 1 = 👍, -1 = 👎; a user's latest vote wins
    voted_at  REAL NOT NULL,
    PRIMARY KEY (answer_id, user_id)
);
"""


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
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def log_question(
        self, answer_id: str, user_id: int, chat_id: int, answer: Answer, latency_ms: float
    ) -> None:
        chunk_ids = json.dumps([c.chunk.chunk_id for c in answer.citations])
        rows = [
            (answer_id, c.n, json.dumps(c.chunk.to_dict(), ensure_ascii=False), c.quote, c.verified)
            for c in answer.citations
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
            self._db.executemany("INSERT INTO citations VALUES (?, ?, ?, ?, ?)", rows)

    def citation(self, answer_id: str, n: int) -> Citation | None:
        with self._lock:
            row = self._db.execute(
                "SELECT chunk, quote, verified FROM citations WHERE answer_id = ? AND n = ?",
                (answer_id, n),
            ).fetchone()
        if row is None:
            return None
        return Citation(n=n, chunk=Chunk(**json.loads(row[0])), quote=row[1], verified=bool(row[2]))

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
