"""The question log on both backends: SQLite (the default) and PostgreSQL (a throwaway
cluster, tests/pg_support.py). The same tests run on each, so the backends cannot drift:
sources, votes (one per user and answer), /stats numbers, retention, /forget, big
Telegram ids, text PostgreSQL cannot hold, the same columns; and for PostgreSQL replicas
setting up together, a dropped connection, an unreachable server, a wrong password, a role
without CREATE, and the bot carrying on while the server is down."""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from bot.answer.results import Answer
from bot.telegram.store import (
    SCHEMA_VERSION,
    STORE_FILE,
    FeedbackStore,
    StoreError,
    open_store,
)
from tests.tg_support import POWER, EngineDouble, left_behind

QUESTION = "营口片区去年规模以上工业总产值是多少？"
EASY_POWER = "易办电是什么？"
DAY = 86_400.0


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request, tmp_path) -> tuple[str, Path, str]:
    """(telegram.store, data_dir, password) of a new, empty question log."""
    if request.param == "sqlite":
        return "sqlite", tmp_path, ""
    cluster = request.getfixturevalue("pg_cluster")
    return request.getfixturevalue("pg_url"), tmp_path, cluster.password


@pytest.fixture
def store(location):
    store = open_store(*location)
    yield store
    store.close()


def answer(question: str = QUESTION) -> Answer:
    return EngineDouble().answer(question)


def backdate(store: FeedbackStore, answer_id: str, seconds: float) -> None:
    store._db.transact(
        lambda tx: tx.execute(
            "UPDATE questions SET asked_at = asked_at - ? WHERE answer_id = ?",
            (seconds, answer_id),
        )
    )


def test_sources_and_votes_round_trip(store):
    two = answer(EASY_POWER)
    store.log_question("a00000000001", 7, 7, two, 12.5)
    first = store.source("a00000000001", 1)
    assert (first.chunk_id, first.text) == (POWER.chunk_id, POWER.text)
    assert first.label == two.citations[0].label()
    assert store.source("a00000000001", 2).n == 2
    assert store.source("a00000000001", 3) is None
    assert store.source("ffffffffffff", 1) is None

    assert store.record_vote("a00000000001", 8, 1)
    assert store.record_vote("a00000000001", 8, -1), "a second vote replaces the first"
    assert store.record_vote("a00000000001", 9, 1)
    assert not store.record_vote("ffffffffffff", 8, 1), "unknown answer id"
    total = store.stats().total
    assert (total.questions, total.votes, total.thumbs_up_share) == (1, 2, 0.5)


def test_stats_numbers(store):
    latencies = [float(ms) for ms in range(1, 61)]
    for i, ms in enumerate(latencies):
        question = QUESTION if i % 4 else "营口片区的常住人口有多少？"  # a quarter refused
        store.log_question(f"{i:012x}", i, i, answer(question), ms)
    backdate(store, f"{0:012x}", 3 * DAY)  # asked before today
    stats = store.stats()
    assert stats.total.questions == 60 and stats.today.questions == 59
    assert stats.total.not_found_rate == 0.25
    assert (stats.total.p50_ms, stats.total.p95_ms) == (30.0, 57.0)  # nearest rank
    assert stats.today.p50_ms == 31.0
    assert stats.total.votes == 0 and stats.total.thumbs_up_share is None


def test_prune_deletes_old_questions_with_their_sources_and_votes(store):
    store.log_question("old000000000", 1, 1, answer(), 5.0)
    store.log_question("new000000000", 2, 2, answer(), 5.0)
    store.record_vote("old000000000", 3, 1)
    backdate(store, "old000000000", 100 * DAY)
    assert store.prune(0) == 0, "0 days keeps everything"
    assert store.prune(90) == 1
    assert store.source("old000000000", 1) is None and store.source("new000000000", 1)
    assert store.stats().total.questions == 1 and store.stats().total.votes == 0


def test_forget_deletes_only_the_users_own_data(store):
    store.log_question("mine00000000", 10, 10, answer(), 5.0)
    store.log_question("theirs000000", 11, 11, answer(), 5.0)
    store.record_vote("mine00000000", 10, 1)
    store.record_vote("theirs000000", 10, -1)  # my vote on their answer
    store.record_vote("theirs000000", 11, 1)
    store.record_vote("mine00000000", 11, 1)  # their vote on my answer goes with it
    gone = store.forget(10)
    assert (gone.questions, gone.votes) == (1, 2)
    assert store.source("mine00000000", 1) is None and store.source("theirs000000", 1)
    total = store.stats().total
    assert (total.questions, total.votes, total.thumbs_up_share) == (1, 1, 1.0)
    assert store.forget(10).questions == 0


def test_telegram_ids_beyond_32_bits_and_text_postgres_cannot_hold(store):
    user, group = 7_123_456_789, -1_001_234_567_890
    odd = replace(answer(), question="含\x00空字符的问题 🙂")
    store.log_question("b00000000001", user, group, odd, 1.0)
    assert store.record_vote("b00000000001", user, 1)
    assert store.forget(user).questions == 1


def test_reopening_keeps_the_log(location):
    first = open_store(*location)
    first.log_question("c00000000001", 1, 1, answer(), 5.0)
    first.close()
    again = open_store(*location)
    try:
        assert again.source("c00000000001", 1) is not None
        assert again._db.transact(again._db.schema_version) == SCHEMA_VERSION
    finally:
        again.close()


def test_store_errors_are_store_errors(store):
    """A broken statement leaves as StoreError (callers never see a driver's exception),
    and the store goes on working."""
    with pytest.raises(StoreError):
        store._db.transact(lambda tx: tx.execute("SELECT * FROM no_such_table"))
    store.log_question("d00000000001", 1, 1, answer(), 5.0)
    assert store.source("d00000000001", 1) is not None


def test_a_failed_transaction_leaves_nothing_behind(store):
    def half(tx) -> None:
        tx.execute(
            "INSERT INTO questions (answer_id, asked_at, user_id, chat_id, question, found, "
            "chunk_ids, latency_ms) VALUES ('e00000000001', 0, 1, 1, 'q', 1, '[]', 1)"
        )
        raise RuntimeError("crash mid-write")

    with pytest.raises(RuntimeError):
        store._db.transact(half)
    assert store.stats().total.questions == 0


# ---- the same schema on both --------------------------------------------------------


def _columns_sqlite(path: Path) -> dict[str, list[str]]:
    with sqlite3.connect(path) as db:
        tables = [t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: [row[1] for row in db.execute(f"PRAGMA table_info({t})")] for t in tables}


def test_both_backends_have_the_same_tables_and_columns(tmp_path, pg_cluster, pg_url):
    open_store("sqlite", tmp_path).close()
    open_store(pg_url, tmp_path, pg_cluster.password).close()
    import psycopg

    with psycopg.connect(pg_url, password=pg_cluster.password) as db:
        rows = db.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND table_name <> 'schema_version' "
            "ORDER BY table_name, ordinal_position"
        ).fetchall()
        kinds = dict(
            db.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name = 'questions'"
            ).fetchall()
        )
    postgres: dict[str, list[str]] = {}
    for table, column in rows:
        postgres.setdefault(table, []).append(column)
    assert postgres == _columns_sqlite(tmp_path / STORE_FILE)
    assert kinds["user_id"] == "bigint" and kinds["asked_at"] == "double precision"


# ---- the inbox -------------------------------------------------------------------------


def test_inbox_add_recognises_an_update_delivered_again(store):
    assert store.inbox_add(left_behind(125, 1, QUESTION), "a:1:1")
    assert not store.inbox_add(left_behind(125, 1, QUESTION), "b:2:2"), "known already"
    store.inbox_done(125, 1)
    assert not store.inbox_add(left_behind(125, 1, QUESTION), "a:1:1"), "done: still known"
    assert store.inbox_claim("c:3:3") == []


def test_inbox_claim_takes_others_unfinished_questions_oldest_first(store):
    store.inbox_add(left_behind(126, 2, "后来的", age=10), "a:1:1")
    store.inbox_add(left_behind(126, 1, "先来的", age=20), "a:1:1")
    store.inbox_add(left_behind(127, 3, "自己的"), "me:9:9")
    store.inbox_add(left_behind(128, 4, "已答的"), "a:1:1")
    store.inbox_done(128, 4)
    claimed = store.inbox_claim("me:9:9")
    assert [(e.text, e.attempts) for e in claimed] == [("先来的", 2), ("后来的", 2)]
    assert store.inbox_claim("me:9:9") == [], "now its own"
    assert [e.text for e in store.inbox_claim("next:1:1")] == ["先来的", "后来的", "自己的"]


def test_inbox_claim_on_a_lease_leaves_entries_whose_owner_renews(store):
    store.inbox_add(left_behind(129, 1, QUESTION), "alive:1:1")
    store.inbox_add(left_behind(130, 2, QUESTION), "dead:2:2")
    backdate_claims(store, 120)
    store.inbox_renew("alive:1:1")
    claimed = store.inbox_claim("me:3:3", stale_before=time.time() - 60)
    assert [e.chat_id for e in claimed] == [130]


def test_inbox_entries_go_with_forget_and_done_keys_after_a_day(store):
    store.inbox_add(left_behind(131, 1, QUESTION), "a:1:1")
    store.inbox_add(left_behind(132, 2, QUESTION), "a:1:1")
    store.forget(131)
    assert [e.chat_id for e in store.inbox_claim("b:2:2")] == [132]
    store.inbox_done(132, 2, now=time.time() - 2 * DAY)
    store.inbox_done(0, 0)  # any later done mark drops keys older than a day
    assert store.inbox_add(left_behind(132, 2, QUESTION), "a:1:1"), "forgotten after a day"


def test_a_version_2_log_gets_the_inbox_on_open(location):
    store = open_store(*location)
    store.log_question("d00000000001", 1, 1, answer(), 5.0)

    def downgrade(tx) -> None:
        tx.execute("DROP TABLE inbox")
        store._db.set_schema_version(tx, 2)

    store._db.transact(downgrade)
    store.close()
    store = open_store(*location)
    try:
        assert store.inbox_add(left_behind(133, 1, QUESTION), "a:1:1")
        assert store.source("d00000000001", 1) is not None
    finally:
        store.close()


def test_replicas_claiming_together_take_each_question_once(pg_cluster, pg_url, tmp_path):
    stores = [open_store(pg_url, tmp_path, pg_cluster.password) for _ in range(3)]
    try:
        for n in range(30):
            stores[0].inbox_add(left_behind(200 + n, n, QUESTION), "dead:1:1")
        backdate_claims(stores[0], 120)
        claimed: list[list] = [[] for _ in stores]

        def claim(i: int) -> None:
            for _ in range(5):
                claimed[i] += stores[i].inbox_claim(f"r{i}:1:1", time.time() - 60)

        threads = [threading.Thread(target=claim, args=(i,)) for i in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        taken = sorted(e.chat_id for entries in claimed for e in entries)
        assert taken == list(range(200, 230)), "each one once"
    finally:
        for store in stores:
            store.close()


def backdate_claims(store: FeedbackStore, seconds: float) -> None:
    store._db.transact(
        lambda tx: tx.execute("UPDATE inbox SET claimed_at = claimed_at - ?", (seconds,))
    )


# ---- PostgreSQL: replicas, lost connections, unreachable servers ---------------------


def test_replicas_set_up_one_database_at_once_and_share_it(pg_cluster, pg_url, tmp_path):
    """Four stores opening a new database together (the schema lock); then an answer
    logged by one is found, voted on and counted by the others."""
    stores: list[FeedbackStore] = []
    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            stores.append(open_store(pg_url, tmp_path, pg_cluster.password))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert not errors and len(stores) == 4
        a, b, c, _ = stores
        a.log_question("f00000000001", 1, 1, answer(), 5.0)
        assert b.source("f00000000001", 1) is not None
        assert b.record_vote("f00000000001", 2, 1) and c.record_vote("f00000000001", 2, 1)
        assert a.stats().total == c.stats().total and a.stats().total.votes == 1
    finally:
        for store in stores:
            store.close()


def _terminate_zonebot_connections(cluster, url: str) -> int:
    import psycopg

    with psycopg.connect(cluster.url(), password=cluster.password, autocommit=True) as db:
        dbname = url.split("/")[3].split("?")[0]
        rows = db.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'zonebot' AND datname = %s",
            (dbname,),
        ).fetchall()
    time.sleep(0.2)  # let the server close the sockets
    return len(rows)


def test_a_dropped_connection_is_reopened(pg_cluster, pg_url, tmp_path, caplog):
    store = open_store(pg_url, tmp_path, pg_cluster.password)
    try:
        store.log_question("g00000000001", 1, 1, answer(), 5.0)
        assert _terminate_zonebot_connections(pg_cluster, pg_url) == 1
        assert store.source("g00000000001", 1) is not None, "a read after the drop works"
        assert _terminate_zonebot_connections(pg_cluster, pg_url) == 1
        store.log_question("g00000000002", 1, 1, answer(), 5.0)  # and a write
        assert store.stats().total.questions == 2
    finally:
        store.close()
    assert any(r.getMessage().startswith("store_reconnect ") for r in caplog.records)


def test_an_unreachable_server_is_one_clear_error(tmp_path):
    pytest.importorskip("psycopg", reason="psycopg is not installed: run make setup")
    url = f"postgresql://zonebot@/zonebot?host={tmp_path}&port=5432"  # no server there
    with pytest.raises(StoreError) as caught:
        open_store(url, tmp_path, "pw-not-shown-anywhere")
    message = str(caught.value)
    assert "无法连接 PostgreSQL" in message and "\n" not in message
    assert "pw-not-shown-anywhere" not in message


def test_a_wrong_password_is_refused_without_showing_it(pg_cluster, pg_url, tmp_path):
    with pytest.raises(StoreError) as caught:
        open_store(pg_url, tmp_path, "wrong-password-123")
    assert "password authentication failed" in str(caught.value)
    assert "wrong-password-123" not in str(caught.value)


def test_a_role_with_only_row_privileges_runs_a_set_up_database(pg_cluster, pg_url, tmp_path):
    """After the first start, replicas need no CREATE privilege (the README's promise)."""
    import psycopg

    open_store(pg_url, tmp_path, pg_cluster.password).close()  # set up by the owner
    with psycopg.connect(pg_url, password=pg_cluster.password, autocommit=True) as db:
        db.execute("CREATE ROLE replica LOGIN PASSWORD 'replica-pw'")
        db.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")  # PostgreSQL 15's default
        db.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO replica")
    limited = pg_url.replace("zonebot@", "replica@", 1)
    store = open_store(limited, tmp_path, "replica-pw")
    try:
        store.log_question("h00000000001", 1, 1, answer(), 5.0)
        assert store.record_vote("h00000000001", 2, 1) and store.forget(1).questions == 1
    finally:
        store.close()
    fresh = pg_cluster.create_database().replace("zonebot@", "replica@", 1)
    with pytest.raises(StoreError, match="permission denied for schema public"):
        open_store(fresh, tmp_path, "replica-pw")  # the first start needs CREATE


async def test_the_bot_answers_while_postgres_is_down_and_recovers(tmp_path, monkeypatch, caplog):
    """The database stops mid-run: the question is still answered, without buttons (they
    would only say "expired"); once it is back, answers have working buttons again."""
    from tests.pg_support import throwaway_cluster, unavailable
    from tests.tg_support import running_bot

    if reason := unavailable():
        pytest.skip(reason)
    with throwaway_cluster() as cluster:  # its own: this test stops the server
        monkeypatch.setenv("ZONEBOT_TEST_PG_PASSWORD", cluster.password)
        url = cluster.create_database()
        store = {"store": url, "store_password_env": "ZONEBOT_TEST_PG_PASSWORD"}
        async with running_bot(tmp_path, **store) as h:
            first = await h.ask(120, QUESTION)
            assert "📄 1" in dict(first.buttons)
            cluster.stop()
            h.fake.push_text(121, 121, QUESTION)
            (down,) = await h.wait_for("sendMessage", chat_id=121, timeout=30)
            assert "102.25亿元" in down.text and down.buttons == []
            cluster.serve()
            again = await h.ask(122, QUESTION)
            h.fake.push_callback(122, again.result, dict(again.buttons)["📄 1"])
            passage = (await h.wait_for("sendMessage", 2, chat_id=122))[-1]
            assert passage.text.startswith("[1] 《")
    failures = [r.getMessage() for r in caplog.records if "store_failed" in r.getMessage()]
    assert len(failures) == 1 and cluster.password not in failures[0]
