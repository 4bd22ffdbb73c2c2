"""The durable inbox over the fake Bot API: a question is stored before Telegram hears it
arrived, done after its reply, replayed at start (late ones with the apology), given up
after MAX_ATTEMPTS, and never answered twice when Telegram delivers it again.
(The kill -9 in the middle of an answer, with a real process: tests/test_telegram_serve.py.)"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time

import pytest

from bot.telegram import messages
from bot.telegram.inbox import MAX_ATTEMPTS
from bot.telegram.store import open_store
from tests.tg_support import EngineDouble, left_behind, running_bot

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

QUESTION = "营口片区去年规模以上工业总产值是多少？"
GONE = "host:1:dead00"  # the owner of entries a killed process left


def _rows(db_path) -> list[tuple]:
    with sqlite3.connect(db_path) as db:
        return db.execute(
            "SELECT chat_id, user_id, text, update_json, done_at IS NOT NULL FROM inbox"
        ).fetchall()


async def test_a_question_is_stored_before_telegram_is_told_it_arrived(tmp_path):
    async with running_bot(tmp_path) as h:
        seen: list[list[tuple]] = []
        h.fake.on_confirm = lambda ids: seen.append(_rows(h.db_path))
        h.fake.push_text(120, 120, QUESTION)
        await h.wait_for("sendMessage", chat_id=120)
        await h.settle()
    (chat, user, text, update, done) = seen[0][0]
    assert (chat, user, text, done) == (120, 120, QUESTION, False)
    assert json.loads(update)["message"]["from"]["first_name"] == "", "no names kept"
    assert all(done for *_, done in _rows(h.db_path)), "done once answered"
    assert [r[2:4] for r in _rows(h.db_path)] == [(None, None)] * 2, "text gone when done"


async def test_an_update_delivered_again_is_not_answered_again(tmp_path):
    async with running_bot(tmp_path) as h:
        message = h.fake.push_text(121, 121, QUESTION)
        await h.wait_for("sendMessage", chat_id=121)
        h.fake.push_again(message)  # Telegram never heard it arrived
        await h.settle()
        assert len(h.fake.find("sendMessage", chat_id=121)) == 1


async def test_unfinished_questions_are_answered_at_start_once_the_late_one_with_an_apology(
    tmp_path,
):
    store = open_store("sqlite", tmp_path / "data")
    store.inbox_add(left_behind(122, 7, QUESTION), GONE)
    store.inbox_add(left_behind(123, 8, "易办电是什么？", age=2 * 3600), GONE)
    store.close()
    async with running_bot(tmp_path) as h:
        (answer,) = await h.wait_for("sendMessage", chat_id=122)
        assert "102.25亿元" in answer.text
        apology, late = await h.wait_for("sendMessage", 2, chat_id=123)
        assert apology.text == messages.BACKLOG.format(minutes=120)
        assert "国网营口供电公司" in late.text
        await h.settle()
    assert all(done for *_, done in _rows(h.db_path))
    async with running_bot(tmp_path) as h:  # started again: nothing is left to answer
        await h.settle()
        assert not h.fake.find("sendMessage", chat_id=122)
        assert not h.fake.find("sendMessage", chat_id=123)


async def test_a_question_that_keeps_killing_the_bot_is_given_up_with_an_apology(tmp_path):
    store = open_store("sqlite", tmp_path / "data")
    store.inbox_add(left_behind(124, 9, QUESTION, attempts=MAX_ATTEMPTS), GONE)
    store.close()
    async with running_bot(tmp_path) as h:
        (gave_up,) = await h.wait_for("sendMessage", chat_id=124)
        assert gave_up.text == messages.GAVE_UP
        await h.settle()
        assert len(h.fake.find("sendMessage", chat_id=124)) == 1
        assert [q for q, _ in h.engine.questions if q == QUESTION] == []
    assert all(done for *_, done in _rows(h.db_path))


async def test_on_a_shared_store_a_dead_replicas_questions_are_taken_over_not_a_live_ones(
    tmp_path, monkeypatch, pg_cluster
):
    """Replicas share PostgreSQL: at start only entries whose claim went unrenewed for
    LEASE_S are taken over (their process died); one a live replica renews is left."""
    url = pg_cluster.create_database()
    monkeypatch.setenv("ZONEBOT_TEST_PG_PASSWORD", pg_cluster.password)
    store = open_store(url, tmp_path, pg_cluster.password)
    store.inbox_add(left_behind(127, 1, QUESTION), GONE)
    store.inbox_add(left_behind(128, 2, QUESTION), "host:2:alive0")
    store._db.transact(  # the dead one stopped renewing two minutes ago
        lambda tx: tx.execute("UPDATE inbox SET claimed_at = claimed_at - 120 WHERE chat_id = 127")
    )
    store.close()
    shared = {"store": url, "store_password_env": "ZONEBOT_TEST_PG_PASSWORD"}
    async with running_bot(tmp_path, **shared) as h:
        (answer,) = await h.wait_for("sendMessage", chat_id=127)
        assert "102.25亿元" in answer.text
        await h.settle()
        assert not h.fake.find("sendMessage", chat_id=128), "its replica is still on it"


async def test_replicas_renew_their_claims_and_take_over_those_left_unrenewed(
    tmp_path, monkeypatch, pg_cluster
):
    """While running: a question being answered here (slowly) is renewed, so another
    replica cannot take it; an entry a replica left unrenewed is taken over and answered."""
    from bot.telegram import inbox

    monkeypatch.setattr(inbox, "RENEW_EVERY_S", 0.2)
    monkeypatch.setattr(inbox, "LEASE_S", 1.0)
    url = pg_cluster.create_database()
    monkeypatch.setenv("ZONEBOT_TEST_PG_PASSWORD", pg_cluster.password)
    shared = {"store": url, "store_password_env": "ZONEBOT_TEST_PG_PASSWORD"}
    engine = EngineDouble()
    engine.slow["慢"] = 2.5
    other = open_store(url, tmp_path, pg_cluster.password)  # another replica's view
    try:
        async with running_bot(tmp_path, engine, **shared) as h:
            h.fake.push_text(129, 129, f"慢：{QUESTION}")
            await h.wait_for("sendChatAction", chat_id=129)
            await asyncio.sleep(1.5)  # past the lease: only renewals keep it
            assert other.inbox_claim("other:1:1", time.time() - 1.0) == []
            (answer,) = await h.wait_for("sendMessage", chat_id=129)
            assert "102.25亿元" in answer.text

            other.inbox_add(left_behind(130, 1, QUESTION), "other:1:1")  # then it dies
            (taken,) = await h.wait_for("sendMessage", chat_id=130, timeout=10)
            assert "102.25亿元" in taken.text
    finally:
        other.close()
