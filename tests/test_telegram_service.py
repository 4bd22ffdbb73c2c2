"""The bot as a service, against the fake Bot API: limits on every path, a deadline per
answer, the log row before the reply, old buttons after a schema change, one lock per
conversation, /forget and retention."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import sqlite3
import threading
import time

import pytest

from bot.telegram import messages
from bot.telegram.store import SCHEMA_VERSION, STORE_FILE, FeedbackStore, StoreError, open_store
from tests.tg_support import OUTPUT, REPORT, EngineDouble, make_reindex, running_bot

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

QUESTION = "营口片区去年规模以上工业总产值是多少？"
EASY_POWER = "易办电是什么？"


# ---- limits -------------------------------------------------------------------------


async def test_a_flood_of_source_presses_is_capped_and_others_are_still_answered(tmp_path):
    limits = {"actions": 5, "per_seconds": 60}
    async with running_bot(tmp_path, rate_limit=limits) as h:
        answer = await h.ask(100, EASY_POWER)
        source = dict(answer.buttons)["📄 1"]
        for _ in range(40):
            h.fake.push_callback(100, answer.result, source)
        other = await h.ask(101, QUESTION)  # another user, meanwhile
        assert "102.25亿元" in other.text
        await h.settle()
        passages = h.fake.find("sendMessage", chat_id=100, contains="易办电")
        assert len(passages) - 1 == 5, "five passages, then nothing but one notice"
        alerts = [c for c in h.fake.find("answerCallbackQuery") if c.params.get("text")]
        assert [c.params["text"] for c in alerts] == [messages.THROTTLED]
        assert len(h.fake.find("answerCallbackQuery")) == 6, "quiet refusals cost no call"


async def test_commands_are_rate_limited_too(tmp_path):
    async with running_bot(tmp_path, rate_limit={"actions": 3, "per_seconds": 60}) as h:
        for _ in range(10):
            h.fake.push_text(102, 102, "/sources")
        await h.settle()
        texts = [c.text for c in h.fake.find("sendMessage", chat_id=102)]
        assert texts.count(messages.THROTTLED) == 1 and len(texts) == 4


async def test_questions_in_flight_per_user_are_capped(tmp_path):
    engine = EngineDouble()
    engine.slow["易办电"] = 1.0
    async with running_bot(tmp_path, engine, rate_limit={"in_flight": 1}) as h:
        for i in range(3):
            h.fake.push_text(103, 103, f"{EASY_POWER}{i}")
        await h.wait_for("sendMessage", 3, chat_id=103, timeout=10)
        texts = [c.text for c in h.fake.find("sendMessage", chat_id=103)]
        assert texts.count(messages.BUSY) == 2
        assert "国网营口供电公司" in next(t for t in texts if t != messages.BUSY)


async def test_a_stuck_answer_gets_an_apology_and_frees_the_slot(tmp_path):
    engine = EngineDouble()
    engine.slow["卡住"] = 2.0
    limits = {"in_flight": 1}
    async with running_bot(tmp_path, engine, rate_limit=limits, answer={"timeout_s": 0.5}) as h:

        def ask_again(call) -> None:  # the moment the apology arrives, as a user would
            if call.text == messages.TIMEOUT and len(h.fake.find("sendMessage")) == 1:
                h.fake.push_text(104, 104, "卡住了吗")
                time.sleep(0.3)  # the bot gets the question before this reply is confirmed

        h.fake.on_call = ask_again
        started = time.perf_counter()
        h.fake.push_text(104, 104, "卡住的问题")
        first, second = await h.wait_for("sendMessage", 2, chat_id=104)
        assert first.text == messages.TIMEOUT and first.at - started < 1.5
        assert second.text == messages.TIMEOUT, "not BUSY: the slot was freed"
        # The same user in a group (another conversation) is answered meanwhile.
        group = {"chat_type": "group", "user_id": 104}
        answer = await h.ask(-104, f"@{h.app.bot.username} {QUESTION}", **group)
        assert "102.25亿元" in answer.text


async def test_one_users_questions_never_share_their_conversation_at_once(tmp_path):
    engine = EngineDouble(delay=0.3)
    async with running_bot(tmp_path, engine, rate_limit={"in_flight": 4}) as h:
        for i in range(4):
            h.fake.push_text(105, 105, f"{QUESTION}{i}")
        await h.wait_for("sendMessage", 4, chat_id=105)
    spans = sorted((start, end) for _, start, end in engine.spans)
    assert all(end <= next_start for (_, end), (next_start, _) in itertools.pairwise(spans))
    assert sorted(len(history) for history in engine.histories) == [0, 1, 2, 3], (
        "each question saw the ones answered before it"
    )


async def test_a_timed_out_answer_frees_the_conversation_for_the_next_question(tmp_path):
    engine = EngineDouble()
    engine.slow["卡住"] = 4.0
    async with running_bot(tmp_path, engine, answer={"timeout_s": 0.5}) as h:
        h.fake.push_text(114, 114, "卡住的问题")
        (apology,) = await h.wait_for("sendMessage", chat_id=114)
        assert apology.text == messages.TIMEOUT
        started = time.perf_counter()
        answer = await h.ask(114, QUESTION)  # same chat and user; the stuck thread runs on
        assert "102.25亿元" in answer.text and time.perf_counter() - started < 2.0
        while not any(q == "卡住的问题" for q, _, _ in engine.spans):  # the stuck one ends
            await asyncio.sleep(0.1)
        await h.ask(114, "那易办电呢？")
    assert engine.histories[-1] == (QUESTION,), "the late answer did not change the history"


async def test_answers_past_their_deadline_cannot_pile_up(tmp_path, caplog):
    """One update at a time, so at most 2 answer threads: two stuck answers hold both
    until they end; a third question times out without starting; then all is normal."""
    caplog.set_level(logging.WARNING)
    engine = EngineDouble()
    engine.slow["卡住"] = 3.0
    async with running_bot(tmp_path, engine, answer={"timeout_s": 0.5}, concurrent_updates=1) as h:
        for chat in (115, 116, 117):
            h.fake.push_text(chat, chat, f"卡住的问题{chat}")
        for chat in (115, 116, 117):
            (apology,) = await h.wait_for("sendMessage", chat_id=chat)
            assert apology.text == messages.TIMEOUT
        assert [q for q, _ in engine.questions] == ["卡住的问题115", "卡住的问题116"]
        while len(engine.spans) < 2:  # both stuck threads end, freeing their slots
            await asyncio.sleep(0.1)
        answer = await h.ask(118, QUESTION)
        assert "102.25亿元" in answer.text
    assert [q for q, _ in engine.questions].count("卡住的问题117") == 0, "never started"
    assert any("answer_threads_full" in r.getMessage() for r in caplog.records)


# ---- the question log ---------------------------------------------------------------


async def test_the_log_row_is_written_before_the_reply(tmp_path):
    seen: list[object] = []
    async with running_bot(tmp_path) as h:

        def check(call) -> None:  # runs before the fake answers the bot's request
            if call.method == "sendMessage" and call.buttons:
                with sqlite3.connect(h.db_path) as db:
                    seen.append(db.execute("SELECT question FROM questions").fetchall())

        h.fake.on_call = check
        await h.ask(106, QUESTION)
    assert seen == [[(QUESTION,)]]


async def test_a_full_disk_still_answers_but_without_dead_buttons(tmp_path, caplog):
    async with running_bot(tmp_path) as h:
        store = _store(h)

        def disk_full(*args):
            raise StoreError("问题日志 zonebot.sqlite3: database or disk is full")

        store.log_question = disk_full
        h.fake.push_text(107, 107, QUESTION)
        (answer,) = await h.wait_for("sendMessage", chat_id=107)
        assert "102.25亿元" in answer.text and answer.buttons == []
    assert any("store_failed" in r.getMessage() for r in caplog.records)


def _store(h) -> FeedbackStore:
    """The running bot's store (the handlers share it through BotState)."""
    for group in h.app.handlers.values():
        for handler in group:
            state = getattr(getattr(handler.callback, "__self__", None), "_state", None)
            if state is not None:
                return state.store
    raise AssertionError("no handler holds the bot state")


async def test_store_calls_run_off_the_event_loop(tmp_path):
    async with running_bot(tmp_path) as h:
        store, threads = _store(h), []
        real = store.source

        def spy(*args):
            threads.append(threading.current_thread().name)
            return real(*args)

        store.source = spy
        answer = await h.ask(108, QUESTION)
        h.fake.push_callback(108, answer.result, dict(answer.buttons)["📄 1"])
        await h.wait_for("sendMessage", 2, chat_id=108)
    assert threads and all(name.startswith("store") for name in threads)


def _version_1_database(path, answer_id: str, chunk: dict) -> None:
    """A question log as the previous release wrote it: a whole Chunk as JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as db:
        db.executescript(
            "CREATE TABLE questions (answer_id TEXT PRIMARY KEY, asked_at REAL NOT NULL, "
            "user_id INTEGER, chat_id INTEGER, question TEXT NOT NULL, found INTEGER NOT NULL, "
            "chunk_ids TEXT NOT NULL, latency_ms REAL NOT NULL);"
            "CREATE TABLE citations (answer_id TEXT NOT NULL, n INTEGER NOT NULL, "
            "chunk TEXT NOT NULL, quote TEXT NOT NULL, verified INTEGER NOT NULL, "
            "PRIMARY KEY (answer_id, n));"
            "CREATE TABLE feedback (answer_id TEXT NOT NULL, user_id INTEGER NOT NULL, "
            "vote INTEGER NOT NULL, voted_at REAL NOT NULL, PRIMARY KEY (answer_id, user_id));"
        )
        db.execute(
            "INSERT INTO questions VALUES (?, ?, 109, 109, 'q', 1, '[]', 5.0)",
            (answer_id, time.time()),
        )
        db.execute(
            "INSERT INTO citations VALUES (?, 1, ?, 'quote', 1)",
            (answer_id, json.dumps(chunk, ensure_ascii=False)),
        )


async def test_buttons_of_a_version_1_log_keep_working(tmp_path):
    """An old row holds a Chunk with a field the index has since dropped and without one
    it has since added; its 📄 button still shows the passage."""
    old = OUTPUT.to_dict() | {"retired_field": 1}
    del old["search_text"]
    _version_1_database(tmp_path / "data" / STORE_FILE, "abcdef012345", old)
    async with running_bot(tmp_path) as h:
        message = h.fake.push_text(109, 109, "之前的问题")  # any message of the chat to reply to
        await h.wait_for("sendMessage", chat_id=109)
        h.fake.push_callback(109, message, "src:abcdef012345:1")
        passage = (await h.wait_for("sendMessage", 2, chat_id=109))[-1]
        assert passage.text == f"[1] 《{REPORT}》 · 核心提示 · 第2段\n{OUTPUT.text}"
        h.fake.push_callback(109, message, "fb:abcdef012345:up")
        assert (await h.wait_for("answerCallbackQuery", 2))[-1].params["text"] == messages.THANKS
    with sqlite3.connect(tmp_path / "data" / STORE_FILE) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)


# ---- privacy ------------------------------------------------------------------------


async def test_forget_asks_first_and_deletes_only_the_users_own_data(tmp_path):
    async with running_bot(tmp_path) as h:
        mine = await h.ask(110, QUESTION)
        theirs = await h.ask(111, QUESTION)
        h.fake.push_callback(110, mine.result, dict(mine.buttons)["👍"])
        h.fake.push_callback(110, theirs.result, dict(theirs.buttons)["👎"])  # my vote on theirs
        h.fake.push_callback(111, theirs.result, dict(theirs.buttons)["👍"])
        await h.wait_for("answerCallbackQuery", 3)

        h.fake.push_text(110, 110, "/forget")
        confirm = (await h.wait_for("sendMessage", 2, chat_id=110))[-1]
        assert confirm.text == messages.FORGET_CONFIRM
        buttons = dict(confirm.buttons)
        h.fake.push_callback(111, confirm.result, buttons[messages.FORGET_YES])  # not theirs
        not_yours = (await h.wait_for("answerCallbackQuery", 4))[-1]
        assert not_yours.params["text"] == messages.NOT_YOURS
        h.fake.push_callback(110, confirm.result, buttons[messages.FORGET_YES])
        (done,) = await h.wait_for("editMessageText", contains="已删除")
        assert done.text == messages.FORGET_DONE.format(questions=1, votes=2)

        h.fake.push_callback(110, mine.result, dict(mine.buttons)["📄 1"])
        expired = (await h.wait_for("answerCallbackQuery", 6))[-1]
        assert expired.params["text"] == messages.EXPIRED
    with sqlite3.connect(h.db_path) as db:
        assert db.execute("SELECT user_id FROM questions").fetchall() == [(111,)]
        assert db.execute("SELECT user_id, vote FROM feedback").fetchall() == [(111, 1)]


async def test_forget_can_be_cancelled(tmp_path):
    async with running_bot(tmp_path) as h:
        await h.ask(112, QUESTION)
        h.fake.push_text(112, 112, "/forget")
        confirm = (await h.wait_for("sendMessage", 2, chat_id=112))[-1]
        h.fake.push_callback(112, confirm.result, dict(confirm.buttons)[messages.FORGET_NO])
        (cancelled,) = await h.wait_for("editMessageText")
        assert cancelled.text == messages.FORGET_CANCELLED
    with sqlite3.connect(h.db_path) as db:
        assert db.execute("SELECT COUNT(*) FROM questions").fetchone() == (1,)


async def test_the_bot_prunes_at_start_up(tmp_path):
    store = open_store("sqlite", tmp_path / "data")
    store.log_question("old000000000", 1, 1, EngineDouble().answer(QUESTION), 5.0)
    store._db.transact(
        lambda tx: tx.execute("UPDATE questions SET asked_at = ?", (time.time() - 40 * 86_400,))
    )
    store.close()
    async with running_bot(tmp_path, log_retention_days=30) as h:
        await h.settle()
        with sqlite3.connect(h.db_path) as db:
            ids = [r[0] for r in db.execute("SELECT answer_id FROM questions")]
        assert "old000000000" not in ids and len(ids) == 1


# ---- logs ---------------------------------------------------------------------------


async def test_every_question_logs_one_line_with_its_outcome(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    engine = EngineDouble()
    engine.slow["卡住"] = 1.0
    async with running_bot(tmp_path, engine, answer={"timeout_s": 0.3}) as h:
        await h.ask(113, QUESTION)
        await h.ask(113, "营口片区的常住人口有多少？")
        h.fake.push_text(113, 113, "卡住了")
        await h.wait_for("sendMessage", 3, chat_id=113)
    lines = [r.msg for r in caplog.records if r.getMessage().startswith("question ")]
    assert [line.fields["outcome"] for line in lines] == ["answered", "refused", "timeout"]
    first = lines[0].fields
    assert first["user"] == 113 and first["chat_type"] == "private"
    assert first["chunks"] == [OUTPUT.chunk_id] and first["latency_ms"] >= 0
    assert str(lines[0]).startswith('question user=113 chat=113 chat_type="private"')
    assert any(r.getMessage().startswith("started ") for r in caplog.records)
    assert any(r.getMessage().startswith("stopped") for r in caplog.records)


async def test_reindex_is_logged(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    reindex = make_reindex(EngineDouble(), 1, 0.05)
    async with running_bot(tmp_path, reindex=reindex, admins=[9]) as h:
        h.fake.push_text(9, 9, "/reindex")
        await h.wait_for("editMessageText", contains="✅")
        await asyncio.sleep(0.1)
    assert any(r.getMessage().startswith("reindexed ") for r in caplog.records)
