"""Question log, cited passages, 👍/👎 feedback and the inbox of questions not yet
answered, and the numbers `/stats` shows.

Callback data is limited to 64 bytes, so buttons carry a short answer id and the
passages behind it live here; they survive restarts and reindexing (a 📄 button shows
what was cited at the time). A source row holds only what a 📄 button shows — chunk id,
label, passage text — in plain columns, so a change to the index's `Chunk` cannot break
old buttons. The schema is versioned; older databases are migrated on open and their
buttons keep working.

The inbox (`inbox_add`, `inbox_done`, `inbox_claim`, `inbox_renew`; see
bot.telegram.inbox) holds each question from the moment it is fetched until it has been
answered, so a bot killed in between answers it after the restart. Each entry names the
process handling it (`owner`) and when that process last said so (`claimed_at`).

Where the log lives is the deployment's choice (`telegram.store`): a SQLite file in the
data directory (store_sqlite, the default), or a PostgreSQL database that several bot
replicas share (store_postgres), so a 📄 or 👍 pressed on any replica finds the answer
another gave. The SQL below is written once, for both; each unit of work is one
transaction (store_db). The bot calls the store through `run`, on the store's own
thread, so the database never blocks the event loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import secrets
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import astuple, dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TypeVar

from bot.answer.results import Answer
from bot.config import SQLITE_STORE
from bot.telegram.store_db import Database, StoreError, Tx

log = logging.getLogger(__name__)

STORE_FILE = "zonebot.sqlite3"
# 1: citations held a whole Chunk as JSON. 2: sources hold label + text. 3: the inbox.
SCHEMA_VERSION = 3
DAY = 86_400.0
# A done inbox entry is kept this long (its key only), to recognise the same update
# delivered again: Telegram keeps an unconfirmed update for 24 hours.
INBOX_KEEP_S = DAY

T = TypeVar("T")

# In SQLite's dialect; store_postgres translates the types.
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
CREATE TABLE IF NOT EXISTS inbox (
    chat_id     INTEGER NOT NULL,
    message_id  INTEGER NOT NULL,
    user_id     INTEGER,
    text        TEXT,              -- the question, NULL once done
    sent_at     REAL NOT NULL,     -- unix time the user sent it
    update_json TEXT,              -- the update as fetched (names removed), NULL once done
    attempts    INTEGER NOT NULL,  -- handlings started: 1, and one more per replay
    owner       TEXT NOT NULL,     -- the bot process handling it
    claimed_at  REAL NOT NULL,     -- when the owner last renewed its claim
    done_at     REAL,              -- NULL until answered (or given up)
    PRIMARY KEY (chat_id, message_id)
);
CREATE INDEX IF NOT EXISTS inbox_done_at ON inbox (done_at);
CREATE INDEX IF NOT EXISTS inbox_user ON inbox (user_id);
"""


@dataclass(frozen=True)
class SourcePassage:
    """What a 📄 button shows: the citation's label and the whole passage."""

    n: int
    chunk_id: str
    label: str
    text: str


@dataclass(frozen=True)
class InboxEntry:
    """A question fetched from Telegram; `update` (JSON) replays it through the handlers."""

    chat_id: int
    message_id: int
    user_id: int | None
    text: str
    sent_at: float
    update: str
    attempts: int = 1


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


def open_store(store: str, data_dir: Path, password: str = "") -> FeedbackStore:
    """The log `telegram.store` names: "sqlite" (a file in `data_dir`), or a postgresql://
    URL (validated by bot.config; `password` from the environment)."""
    if store == SQLITE_STORE:
        from bot.telegram.store_sqlite import SqliteDatabase

        return FeedbackStore(SqliteDatabase(data_dir / STORE_FILE))
    try:
        from bot.telegram.store_postgres import PostgresDatabase
    except ImportError as exc:
        raise StoreError(
            f"telegram.store 是 PostgreSQL，但无法加载 psycopg（{exc}）。"
            "Install it with `pip install 'psycopg[binary]'` (make setup does)."
        ) from None
    return FeedbackStore(PostgresDatabase(store, password))


class FeedbackStore:
    """The question log over one backend; thread-safe (the backend serialises its
    connection), and each method one transaction."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
        try:
            db.transact(self._set_up, exclusive=True)
        except BaseException:
            self._thread.shutdown()
            db.close()
            raise

    def _set_up(self, tx: Tx) -> None:
        """Create what is missing and migrate older data, in one transaction. A database
        already at this version is left alone (its role then needs no CREATE privilege)."""
        if self._db.schema_version(tx) >= SCHEMA_VERSION:
            return
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                tx.execute(statement)
        if self._db.schema_version(tx) < 2 and "citations" in self._db.tables(tx):
            rows = tx.all("SELECT answer_id, n, chunk FROM citations")
            moved = [row for row in (_v1_source(*r) for r in rows) if row is not None]
            tx.executemany(
                "INSERT INTO sources VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING", moved
            )
            tx.execute("DROP TABLE citations")
            log.info(f"question log migrated to schema {SCHEMA_VERSION}: {len(moved)} sources kept")
        self._db.set_schema_version(tx, SCHEMA_VERSION)

    async def run(self, method: Callable[..., T], *args: object) -> T:
        """Call one of this store's methods on its own thread (the event loop never waits
        on the database; calls keep their order)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, partial(method, *args))

    def close(self) -> None:
        self._thread.shutdown(wait=True)
        self._db.close()

    def log_question(
        self, answer_id: str, user_id: int, chat_id: int, answer: Answer, latency_ms: float
    ) -> None:
        chunk_ids = json.dumps([c.chunk.chunk_id for c in answer.citations])
        question = (
            answer_id,
            time.time(),
            user_id,
            chat_id,
            answer.question,
            int(answer.found),
            chunk_ids,
            latency_ms,
        )
        sources = [
            (answer_id, c.n, c.chunk.chunk_id, c.label(), c.chunk.text) for c in answer.citations
        ]

        def write(tx: Tx) -> None:
            tx.execute(
                "INSERT INTO questions (answer_id, asked_at, user_id, chat_id, question, found, "
                "chunk_ids, latency_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                question,
            )
            tx.executemany(
                "INSERT INTO sources (answer_id, n, chunk_id, label, text) VALUES (?, ?, ?, ?, ?)",
                sources,
            )

        self._db.transact(write)

    def source(self, answer_id: str, n: int) -> SourcePassage | None:
        row = self._db.transact(
            lambda tx: tx.one(
                "SELECT chunk_id, label, text FROM sources WHERE answer_id = ? AND n = ?",
                (answer_id, n),
            )
        )
        return None if row is None else SourcePassage(n, *row)

    def record_vote(self, answer_id: str, user_id: int, vote: int) -> bool:
        """Store a 👍 (1) or 👎 (-1); False when the answer id is unknown. A user's second
        vote on an answer replaces the first, whichever replica records it."""

        def write(tx: Tx) -> bool:
            if tx.one("SELECT 1 FROM questions WHERE answer_id = ?", (answer_id,)) is None:
                return False
            tx.execute(
                "INSERT INTO feedback (answer_id, user_id, vote, voted_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (answer_id, user_id) "
                "DO UPDATE SET vote = excluded.vote, voted_at = excluded.voted_at",
                (answer_id, user_id, vote, time.time()),
            )
            return True

        return self._db.transact(write)

    @property
    def shared(self) -> bool:
        """Whether other bot processes (replicas) use this store at the same time."""
        return self._db.shared

    def inbox_add(self, entry: InboxEntry, owner: str) -> bool:
        """Record a fetched question before `owner` handles it. False when its (chat,
        message id) is known already: Telegram delivered it again, and it must not be
        handled twice."""
        added = self._db.transact(
            lambda tx: tx.execute(
                "INSERT INTO inbox (chat_id, message_id, user_id, text, sent_at, update_json, "
                "attempts, owner, claimed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                (*astuple(entry), owner, time.time()),  # InboxEntry's fields in column order
            )
        )
        return added == 1

    def inbox_done(self, chat_id: int, message_id: int, now: float | None = None) -> None:
        """The question was answered (or given up): its text goes now, its key after
        INBOX_KEEP_S."""
        now = time.time() if now is None else now

        def write(tx: Tx) -> None:
            tx.execute(
                "UPDATE inbox SET done_at = ?, text = NULL, update_json = NULL "
                "WHERE chat_id = ? AND message_id = ?",
                (now, chat_id, message_id),
            )
            tx.execute("DELETE FROM inbox WHERE done_at < ?", (now - INBOX_KEEP_S,))

        self._db.transact(write)

    def inbox_claim(self, owner: str, stale_before: float | None = None) -> list[InboxEntry]:
        """Make `owner` the owner of the questions other processes fetched and never
        finished, each with one more attempt counted; oldest first. `stale_before`: only
        those whose claim was last renewed before then (their process is gone, on a store
        replicas share); None: all of them (a store only this process uses)."""
        now = time.time()
        cutoff = now if stale_before is None else stale_before
        rows = self._db.transact(
            lambda tx: tx.all(
                "UPDATE inbox SET owner = ?, claimed_at = ?, attempts = attempts + 1 "
                "WHERE done_at IS NULL AND owner <> ? AND claimed_at <= ? RETURNING "
                "chat_id, message_id, user_id, text, sent_at, update_json, attempts",
                (owner, now, owner, cutoff),
            )
        )
        return sorted((InboxEntry(*row) for row in rows), key=lambda e: e.sent_at)

    def inbox_renew(self, owner: str) -> None:
        """`owner` is alive and still handling its questions (on a shared store, so that
        no replica takes them over)."""
        self._db.transact(
            lambda tx: tx.execute(
                "UPDATE inbox SET claimed_at = ? WHERE owner = ? AND done_at IS NULL",
                (time.time(), owner),
            )
        )

    def prune(self, retention_days: int, now: float | None = None) -> int:
        """Delete questions older than `retention_days` with their sources and votes;
        returns how many questions went. 0 days keeps everything."""
        if retention_days <= 0:
            return 0
        cutoff = (time.time() if now is None else now) - retention_days * DAY
        old = "SELECT answer_id FROM questions WHERE asked_at < ?"
        return self._delete_questions(old, (cutoff,), votes_of_user=None).questions

    def forget(self, user_id: int) -> Forgotten:
        """Delete a user's questions (with their sources and the votes on them), every
        vote the user gave and their inbox entries."""
        mine = "SELECT answer_id FROM questions WHERE user_id = ?"
        return self._delete_questions(mine, (user_id,), votes_of_user=user_id)

    def _delete_questions(self, select: str, args: tuple, votes_of_user: int | None) -> Forgotten:
        def delete(tx: Tx) -> Forgotten:
            votes = 0
            if votes_of_user is not None:
                votes = tx.execute("DELETE FROM feedback WHERE user_id = ?", (votes_of_user,))
                tx.execute("DELETE FROM inbox WHERE user_id = ?", (votes_of_user,))
            for table in ("feedback", "sources"):
                tx.execute(f"DELETE FROM {table} WHERE answer_id IN ({select})", args)
            questions = tx.execute(f"DELETE FROM questions WHERE answer_id IN ({select})", args)
            return Forgotten(questions, votes)

        return self._db.transact(delete)

    def stats(self, now: float | None = None) -> Stats:
        """Today's and all-time numbers, read in one transaction (one consistent view)."""
        now = time.time() if now is None else now
        midnight = datetime.fromtimestamp(now).replace(hour=0, minute=0, second=0, microsecond=0)
        return self._db.transact(
            lambda tx: Stats(today=_window(tx, midnight.timestamp()), total=_window(tx, 0.0))
        )


def _window(tx: Tx, since: float) -> WindowStats:
    count, not_found = tx.one(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN found = 0 THEN 1 ELSE 0 END), 0) "
        "FROM questions WHERE asked_at >= ?",
        (since,),
    ) or (0, 0)
    votes, ups = tx.one(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN f.vote > 0 THEN 1 ELSE 0 END), 0) "
        "FROM feedback f JOIN questions q ON q.answer_id = f.answer_id WHERE q.asked_at >= ?",
        (since,),
    ) or (0, 0)
    return WindowStats(
        questions=count,
        p50_ms=_latency_percentile(tx, since, count, 0.50),
        p95_ms=_latency_percentile(tx, since, count, 0.95),
        not_found_rate=not_found / count if count else None,
        votes=votes,
        thumbs_up_share=ups / votes if votes else None,
    )


def _latency_percentile(tx: Tx, since: float, count: int, q: float) -> float | None:
    """Nearest-rank percentile, computed in SQL so the log never has to fit in memory."""
    if not count:
        return None
    rank = max(1, math.ceil(round(q * count, 9)))  # round: 0.95 * 60 is not quite 57
    row = tx.one(
        "SELECT latency_ms FROM questions WHERE asked_at >= ? ORDER BY latency_ms LIMIT 1 OFFSET ?",
        (since, rank - 1),
    )
    return None if row is None else row[0]


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
