"""End to end: the real PTB Application polls a fake Bot API on 127.0.0.1 (no network).

Each test starts its own fake server and Application (about 0.1 s), so no state leaks
between tests. The engine is the deterministic double from tests/tg_support.py, except
in `TestRealEngine`, which runs the real engine over corpus/ once it exists.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time

import pytest

from bot.answer.conversation import Conversation
from bot.telegram import messages, replies
from bot.telegram.render import render_sources, utf16_len
from index.errors import BadQuery, IndexCorrupt
from tests.fake_telegram import BOT_USERNAME
from tests.tg_support import (
    APPROVAL,
    LONG_PHRASE,
    RAISE_PHRASE,
    REPORT,
    SECRET_DETAIL,
    SHANGHAI,
    VILLAGE,
    EngineDouble,
    make_reindex,
    running_bot,
)

# PTB's own AIORateLimiter reads RetryAfter.retry_after, which warns about a future type.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

ADMIN = 900
GROUP = -100123
QUESTION = "营口片区去年规模以上工业总产值是多少？"


# ---- commands -----------------------------------------------------------------------


async def test_start_offers_three_tappable_examples_and_commands_are_registered(tmp_path):
    async with running_bot(tmp_path) as h:
        assert [c["command"] for c in h.fake.commands] == [
            "start",
            "help",
            "about",
            "sources",
            "forget",
            "documents",
        ]
        h.fake.push_text(1, 1, "/start")
        (welcome,) = await h.wait_for("sendMessage", chat_id=1)
        examples = [row[0]["text"] for row in welcome.params["reply_markup"]["keyboard"]]
        assert len(examples) == 3 and all(q in welcome.text for q in examples)
        assert f"《{REPORT}》" in examples[0] and "你好" in welcome.text

        answer = await h.ask(1, examples[0])  # tapping a button sends its text
        assert h.engine.questions[-1][0] == examples[0]
        assert [label for label, _ in answer.buttons] == ["👍", "👎"]


async def test_help_about_and_sources(tmp_path):
    async with running_bot(tmp_path) as h:
        for command in ("/help", "/about", "/sources"):
            h.fake.push_text(2, 2, command)
        sent = await h.wait_for("sendMessage", 3, chat_id=2)
        by_title = {c.text.split("\n")[0]: c.text for c in sent}
        assert set(by_title) == {"我能回答什么", "索引信息", "已收录 3 份文档"}
        help_text, about = by_title["我能回答什么"], by_title["索引信息"]
        assert "[1]" in help_text and "📄 1" in help_text and "@我" in help_text
        assert "3 份文档" in about and "42 个" in about and "2026-11-27 10:52 UTC" in about
        assert "multilingual-e5-small" in about
        assert all(f"《{t}》" in by_title["已收录 3 份文档"] for t in (REPORT, VILLAGE, SHANGHAI))


async def test_sources_split_when_the_corpus_is_large(tmp_path):
    titles = [f"第{i}号文件：关于进一步优化营商环境若干措施的通知" for i in range(200)]
    engine = EngineDouble(titles=titles)
    parts = len(render_sources(engine.info()))
    assert parts >= 2
    async with running_bot(tmp_path, engine) as h:
        h.fake.push_text(3, 3, "/sources")
        sent = await h.wait_for("sendMessage", parts, chat_id=3)
        text = "\n".join(c.text for c in sent)
        assert all(f"《{t}》" in text for t in titles)
        assert not h.fake.errors


async def test_unknown_command_in_private_points_to_help(tmp_path):
    async with running_bot(tmp_path) as h:
        h.fake.push_text(4, 4, "/foo")
        (reply,) = await h.wait_for("sendMessage", chat_id=4)
        assert reply.text == messages.UNKNOWN_COMMAND


# ---- answers ------------------------------------------------------------------------


async def test_question_gets_typing_then_html_answer_with_sources_and_buttons(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(replies, "TYPING_EVERY", 0.2)
    engine = EngineDouble()
    engine.slow["工业总产值"] = 0.7
    async with running_bot(tmp_path, engine) as h:
        answer = await h.ask(7, QUESTION)
        typing = h.fake.find("sendChatAction", chat_id=7)
        assert len(typing) >= 3, "typing is re-sent while the engine works"
        assert typing[0].params["action"] == "typing" and typing[0].at < answer.at
        assert answer.params["parse_mode"] == "HTML"
        assert "<b>来源</b>" in answer.params["text"]
        assert "<blockquote expandable>" in answer.params["text"]
        assert "102.25亿元" in answer.text and "[1]" in answer.text
        assert f"[1] 《{REPORT}》 · 核心提示 · 第2段" in answer.text
        assert [label for label, _ in answer.buttons] == ["📄 1", "👍", "👎"]
        assert all(len(data.encode()) < 64 for _, data in answer.buttons)
        count = len(h.fake.find("sendChatAction"))
        await asyncio.sleep(0.5)
        assert len(h.fake.find("sendChatAction")) == count, "typing stops with the answer"

        await h.ask(7, "那易办电呢？")
        (first, history), (follow_up, _) = engine.questions
        assert (first, follow_up) == (QUESTION, "那易办电呢？")
        assert isinstance(history, Conversation) and engine.histories == [(), (QUESTION,)]


async def test_user_and_document_text_is_escaped(tmp_path):
    question = "<script>alert('x')</script> 常住人口 & <b>多少"
    async with running_bot(tmp_path) as h:
        refusal = await h.ask(8, question)
        assert "<script>alert('x')</script>" in refusal.text  # shown literally
        assert "&lt;script&gt;" in refusal.params["text"]
        cited = await h.ask(8, "负面清单以外怎么管理？")
        assert "<国务院规定对国内投资项目保留核准的除外>" in cited.text and "R&D" in cited.text
        assert f"《{SHANGHAI}》 · 第三章 投资开放 · 第十四条" in cited.text
        assert "ℹ️ 问题过长，已截断" in cited.text
        assert not h.fake.errors, "no 400 can't parse entities"


async def test_html_refused_by_telegram_is_resent_as_plain_text(tmp_path):
    async with running_bot(tmp_path) as h:
        h.fake.fail_next(
            "sendMessage", 400, description="Bad Request: can't parse entities: bad tag"
        )
        answer = await h.ask(9, QUESTION)
        assert "parse_mode" not in answer.params
        assert "“去年,片区内规模以上工业总产值完成102.25亿元" in answer.text
        assert [label for label, _ in answer.buttons] == ["📄 1", "👍", "👎"]


async def test_long_answer_is_split_with_buttons_on_the_last_part(tmp_path):
    async with running_bot(tmp_path) as h:
        await h.ask(10, f"营口片区{LONG_PHRASE}有哪些？")
        parts = h.fake.find("sendMessage", chat_id=10)
        assert len(parts) >= 2 and not h.fake.errors
        assert all(utf16_len(p.text) <= 4096 for p in parts)
        assert [bool(p.buttons) for p in parts] == [False] * (len(parts) - 1) + [True]
        text = "\n".join(p.text for p in parts)
        assert all(f"第{i}项：" in text for i in range(1, 61))
        assert text.index("第60项") < text.index("来源")


async def test_not_found_is_friendly_and_suggests_documents(tmp_path):
    async with running_bot(tmp_path) as h:
        answer = await h.ask(11, "营口片区的常住人口有多少？")
        assert "未在文档中找到" in answer.text and "可以换个说法" in answer.text
        assert all(f"《{t}》" in answer.text for t in (REPORT, VILLAGE, SHANGHAI))
        assert [label for label, _ in answer.buttons] == ["👍", "👎"]


# ---- buttons ------------------------------------------------------------------------


async def test_source_button_replies_with_the_full_passage(tmp_path):
    async with running_bot(tmp_path) as h:
        answer = await h.ask(12, "易办电是什么？")
        assert [label for label, _ in answer.buttons] == ["📄 1", "📄 2", "👍", "👎"]
        h.fake.push_callback(12, answer.result, dict(answer.buttons)["📄 2"])
        await h.wait_for("answerCallbackQuery")
        passage = (await h.wait_for("sendMessage", 2, chat_id=12))[-1]
        assert APPROVAL.text in passage.text
        assert passage.text.startswith(f"[2] 《{REPORT}》 · 制度再创新 工作效能不断提升 · 第2段")
        assert passage.params["reply_parameters"]["message_id"] == answer.result["message_id"]

        h.fake.push_callback(12, answer.result, "src:0123456789ab:1")  # unknown answer id
        (_, expired) = await h.wait_for("answerCallbackQuery", 2)
        assert expired.params["text"] == messages.EXPIRED


async def test_thumbs_up_is_recorded_in_sqlite(tmp_path):
    async with running_bot(tmp_path) as h:
        answer = await h.ask(13, QUESTION)
        h.fake.push_callback(13, answer.result, dict(answer.buttons)["👍"])
        (ack,) = await h.wait_for("answerCallbackQuery")
        assert ack.params["text"] == messages.THANKS
        with sqlite3.connect(h.db_path) as db:
            row = db.execute("SELECT question, found, chunk_ids FROM questions").fetchone()
            votes = db.execute("SELECT user_id, vote FROM feedback").fetchall()
        assert row == (QUESTION, 1, '["yingkou-1:0002"]')
        assert votes == [(13, 1)]


# ---- admin --------------------------------------------------------------------------


async def test_stats_for_admins_only(tmp_path):
    async with running_bot(tmp_path, admins=[ADMIN]) as h:
        await h.ask(14, QUESTION)
        await h.ask(14, "营口片区的常住人口有多少？")
        h.fake.push_text(15, 15, "/stats")
        (refused,) = await h.wait_for("sendMessage", chat_id=15)
        assert refused.text == messages.ADMIN_ONLY
        h.fake.push_text(ADMIN, ADMIN, "/stats")
        (stats,) = await h.wait_for("sendMessage", chat_id=ADMIN)
        assert "今天：2 个问题" in stats.text and "累计：2 个问题" in stats.text
        assert "p95" in stats.text and "未找到 50%" in stats.text


async def test_reindex_reports_progress_and_swaps_while_questions_are_answered(tmp_path):
    old, new = EngineDouble(label="【旧】"), EngineDouble(label="【新】")
    reindex = make_reindex(new, steps=3, step_seconds=0.6)
    async with running_bot(tmp_path, old, reindex, admins=[ADMIN]) as h:
        h.fake.push_text(16, 16, "/reindex")
        (refused,) = await h.wait_for("sendMessage", chat_id=16)
        assert refused.text == messages.ADMIN_ONLY

        h.fake.push_text(ADMIN, ADMIN, "/reindex")
        (status,) = await h.wait_for("sendMessage", chat_id=ADMIN, contains="开始重建索引")
        during = await h.ask(17, QUESTION)
        assert "【旧】" in during.text, "questions are answered by the old index meanwhile"
        h.fake.push_text(ADMIN, ADMIN, "/reindex")
        await h.wait_for("sendMessage", chat_id=ADMIN, contains=messages.REINDEX_RUNNING)

        message_id = status.result["message_id"]
        await h.wait_for("editMessageText", message_id=message_id, contains="✅ 索引已更新")
        edits = [c.text for c in h.fake.find("editMessageText", message_id=message_id)]
        assert any("嵌入" in e for e in edits[:-1]) and "42 个片段" in edits[-1]
        after = await h.ask(17, QUESTION)
        assert "【新】" in after.text


async def test_failed_reindex_keeps_the_old_index(tmp_path):
    old = EngineDouble(label="【旧】")
    reindex = make_reindex(EngineDouble(), 1, 0.1, IndexCorrupt("语料目录里没有可读的文件。"))
    async with running_bot(tmp_path, old, reindex, admins=[ADMIN]) as h:
        h.fake.push_text(ADMIN, ADMIN, "/reindex")
        (failed,) = await h.wait_for("editMessageText", contains="❌ 重建失败")
        assert "语料目录里没有可读的文件" in failed.text
        assert "【旧】" in (await h.ask(18, QUESTION)).text


# ---- chats --------------------------------------------------------------------------


async def test_stickers_get_a_polite_reply_in_private_and_silence_in_groups(tmp_path):
    async with running_bot(tmp_path) as h:
        h.fake.push_sticker(19, 19)
        (reply,) = await h.wait_for("sendMessage", chat_id=19)
        assert reply.text == messages.NON_TEXT
        h.fake.push_sticker(GROUP, 19, chat_type="supergroup")
        await h.settle()
        assert not h.fake.find("sendMessage", chat_id=GROUP)


async def test_edited_message_is_not_answered_again(tmp_path):
    async with running_bot(tmp_path) as h:
        message = h.fake.push_text(20, 20, QUESTION)
        await h.wait_for("sendMessage", chat_id=20)
        h.fake.push_edit(message, "易办电是什么？")
        h.fake.push_edit({**message, "text": "/start"}, "/start")
        await h.settle()
        assert len(h.fake.find("sendMessage", chat_id=20)) == 1
        assert [q for q, _ in h.engine.questions].count(QUESTION) == 1


async def test_groups_answer_only_mentions_and_replies_to_the_bot(tmp_path):
    async with running_bot(tmp_path) as h:
        kw = {"chat_type": "supergroup"}
        h.fake.push_text(GROUP, 21, QUESTION, **kw)
        other = h.fake.push_text(GROUP, 22, "易办电是什么？", **kw)
        h.fake.push_text(GROUP, 21, "易办电呢", reply_to=other, **kw)  # reply to a human
        await h.settle()
        assert not h.fake.find("sendMessage", chat_id=GROUP)

        asked = h.fake.push_text(GROUP, 21, f"@{BOT_USERNAME} {QUESTION}", **kw)
        (answer,) = await h.wait_for("sendMessage", chat_id=GROUP)
        question, _ = h.engine.questions[-1]
        assert question == QUESTION, "the mention is stripped"
        assert answer.params["reply_parameters"]["message_id"] == asked["message_id"]

        await h.ask(GROUP, "那易办电呢？", user_id=22, reply_to=answer.result, **kw)
        question, _ = h.engine.questions[-1]
        assert question == "那易办电呢？" and h.engine.histories[-1] == (), "22's own history"

        await h.ask(GROUP, f"易办电呢 @{BOT_USERNAME.upper()}", user_id=23, **kw)
        assert h.engine.questions[-1][0] == "易办电呢", "usernames are case-insensitive"

        h.fake.push_text(GROUP, 21, f"/start@{BOT_USERNAME}", **kw)
        welcome = await h.wait_for("sendMessage", chat_id=GROUP, contains="你好")
        assert "reply_markup" not in welcome[0].params  # no reply keyboard in groups


async def test_allow_list_refuses_strangers_once_in_private_and_silently_in_groups(tmp_path):
    async with running_bot(tmp_path, allowed_users=[30], allowed_chats=[GROUP]) as h:
        h.fake.push_text(31, 31, QUESTION)
        h.fake.push_text(31, 31, "/start")
        h.fake.push_text(-555, 31, f"@{BOT_USERNAME} {QUESTION}", chat_type="group")
        await h.settle(sentinel_chat=30)
        refusals = h.fake.find("sendMessage", chat_id=31)
        assert [c.text for c in refusals] == [messages.NOT_ALLOWED]
        assert not h.fake.find("sendMessage", chat_id=-555)
        assert all(q == "工业总产值？" for q, _ in h.engine.questions)

        await h.ask(GROUP, f"@{BOT_USERNAME} {QUESTION}", user_id=31, chat_type="group")


async def test_rate_limit_throttles_the_eleventh_question_in_a_minute(tmp_path):
    limits = {"questions": 10, "per_seconds": 60, "in_flight": 12}
    async with running_bot(tmp_path, rate_limit=limits) as h:
        for i in range(12):
            h.fake.push_text(40, 40, f"{QUESTION} {i}")
        await h.wait_for("sendMessage", 11, chat_id=40)
        await h.settle()
        texts = [c.text for c in h.fake.find("sendMessage", chat_id=40)]
        assert texts.count(messages.THROTTLED) == 1 and len(texts) == 11
        assert len([q for q, _ in h.engine.questions if q.startswith(QUESTION)]) == 10


# ---- failures -----------------------------------------------------------------------


async def test_telegram_429_is_retried_transparently(tmp_path):
    async with running_bot(tmp_path) as h:
        h.fake.fail_next("sendMessage", 429, retry_after=1)
        started = time.perf_counter()
        answer = await h.ask(50, QUESTION)
        assert answer.at - started >= 1.0 and "102.25亿元" in answer.text
        assert [c.error[:17] for c in h.fake.errors] == ["Too Many Requests"]
        assert len(h.fake.find("sendMessage", chat_id=50)) == 1


async def test_telegram_500_gets_an_apology_without_the_exception_text(tmp_path, caplog):
    async with running_bot(tmp_path) as h:
        h.fake.fail_next("sendMessage", 500)
        h.fake.push_text(51, 51, QUESTION)
        (apology,) = await h.wait_for("sendMessage", chat_id=51)
        assert apology.text == messages.APOLOGY
        assert any(r.exc_info and r.levelno == logging.ERROR for r in caplog.records)


async def test_engine_exception_apologises_and_reports_to_the_admin_chat(tmp_path):
    async with running_bot(tmp_path, admin_chat=ADMIN) as h:
        h.fake.push_text(52, 52, f"{RAISE_PHRASE}了吗？")
        (apology,) = await h.wait_for("sendMessage", chat_id=52)
        assert apology.text == messages.APOLOGY and SECRET_DETAIL not in apology.text
        (report,) = await h.wait_for("sendMessage", chat_id=ADMIN)
        assert "RuntimeError" in report.text and SECRET_DETAIL in report.text
        assert h.fake.token.split(":")[1] not in report.text


async def test_domain_error_is_shown_as_written(tmp_path):
    engine = EngineDouble()
    engine.errors["太长"] = BadQuery("问题太长了，请精简到 512 字以内。")
    async with running_bot(tmp_path, engine) as h:
        h.fake.push_text(53, 53, "这个问题太长")
        (reply,) = await h.wait_for("sendMessage", chat_id=53)
        assert reply.text == "问题太长了，请精简到 512 字以内。"
