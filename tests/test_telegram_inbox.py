"""The durable inbox over the fake Bot API: a question is stored before Telegram hears it
arrived, done after its reply, replayed at start (late ones with the apology), given up
after MAX_ATTEMPTS, and never answered twice when Telegram delivers it again.
(The kill -9 in the middle of an answer, with a real process: tests/test_telegram_serve.py.)"""

from __future__ import annotations

import json
import sqlite3
import time

import pytest

from bot.telegram import messages
from bot.telegram.inbox import MAX_ATTEMPTS
from bot.telegram.store import STORE_FILE, FeedbackStore, InboxEntry
from tests.tg_support import running_bot

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

QUESTION = "营口片区去年规模以上工业总产值是多少？"


def _rows(db_path) -> list[tuple]:
    with sqlite3.connect(db_path) as db:
        return db.execute(
            "SELECT chat_id, user_id, text, update_json, done_at IS NOT NULL FROM inbox"
        ).fetchall()


def _left_behind(
    chat_id: int, message_id: int, text: str, age: float = 0.0, attempts: int = 1
) -> InboxEntry:
    """An entry as a killed process leaves it: fetched, handled `attempts` times, not done."""
    sent = time.time() - age
    update = {
        "update_id": 1,
        "message": {
            "message_id": message_id,
            "date": int(sent),
            "chat": {"id": chat_id, "type": "private", "first_name": ""},
            "from": {"id": chat_id, "is_bot": False, "first_name": ""},
            "text": text,
        },
    }
    return InboxEntry(chat_id, message_id, chat_id, text, sent, json.dumps(update), attempts)


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
    store = FeedbackStore(tmp_path / "data" / STORE_FILE)
    store.inbox_add(_left_behind(122, 7, QUESTION))
    store.inbox_add(_left_behind(123, 8, "易办电是什么？", age=2 * 3600))
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
    store = FeedbackStore(tmp_path / "data" / STORE_FILE)
    store.inbox_add(_left_behind(124, 9, QUESTION, attempts=MAX_ATTEMPTS))
    store.close()
    async with running_bot(tmp_path) as h:
        (gave_up,) = await h.wait_for("sendMessage", chat_id=124)
        assert gave_up.text == messages.GAVE_UP
        await h.settle()
        assert len(h.fake.find("sendMessage", chat_id=124)) == 1
        assert [q for q, _ in h.engine.questions if q == QUESTION] == []
    assert all(done for *_, done in _rows(h.db_path))


def test_inbox_entries_go_with_forget_and_done_keys_after_a_day(tmp_path):
    store = FeedbackStore(tmp_path / STORE_FILE)
    assert store.inbox_add(_left_behind(125, 1, QUESTION))
    assert not store.inbox_add(_left_behind(125, 1, QUESTION)), "known: delivered again"
    store.inbox_add(_left_behind(126, 2, QUESTION))
    store.forget(125)
    assert [e.chat_id for e in store.inbox_replay()] == [126]
    store.inbox_done(126, 2, now=time.time() - 2 * 86_400)
    store.inbox_done(0, 0)  # any later done mark drops keys older than a day
    assert store.inbox_add(_left_behind(126, 2, QUESTION)), "forgotten after a day"
    store.close()
