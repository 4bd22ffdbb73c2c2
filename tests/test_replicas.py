"""Two real bot processes on one PostgreSQL question log, behind a load balancer, against
the fake Bot API: an answer given by one has working 📄 buttons on the other, a vote is
counted once whichever replica records it, /stats agrees on both, /forget on one deletes
what the other logged, /reindex is off on a replica of a shipped index (index.read_only),
and neither replica logs the database password."""

from __future__ import annotations

import pytest

from bot.telegram import messages
from tests.fake_telegram import Call, FakeTelegram
from tests.replicas import replicas
from tests.tg_support import APPROVAL, OUTPUT, POWER

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

ADMIN = 500
EASY_POWER = "易办电是什么？"
QUESTION = "营口片区去年规模以上工业总产值是多少？"


def _route_by_kind(question_to: int, button_to: int):
    """Questions and commands to one replica, button presses to the other."""
    return lambda update: button_to if "callback_query" in update else question_to


def _ask(fake: FakeTelegram, chat: int, text: str) -> Call:
    before = len(fake.find("sendMessage", chat_id=chat))
    fake.push_text(chat, chat, text)
    return fake.wait_for("sendMessage", before + 1, chat_id=chat, timeout=20)[-1]


def _press(fake: FakeTelegram, user: int, message: Call, label: str) -> str:
    """Press the button `label` under `message`; the text of the bot's acknowledgement."""
    before = len(fake.find("answerCallbackQuery"))
    query_id = fake.push_callback(user, message.result, dict(message.buttons)[label])
    acks = fake.wait_for("answerCallbackQuery", before + 1, timeout=20)
    return next(c for c in acks if c.params["callback_query_id"] == query_id).params.get("text", "")


def _passage(fake: FakeTelegram, user: int, answer: Call, label: str) -> Call:
    """Press 📄 n under `answer` (no "expired" alert); the passage the bot replied with."""
    before = len(fake.find("sendMessage", chat_id=user))
    assert _press(fake, user, answer, label) == ""
    passage = fake.wait_for("sendMessage", before + 1, chat_id=user, timeout=20)[-1]
    assert passage.params["reply_parameters"]["message_id"] == answer.result["message_id"]
    return passage


def test_two_replicas_share_answers_buttons_votes_and_stats(tmp_path, pg_cluster, pg_url):
    fake = FakeTelegram().start()
    try:
        with replicas(
            tmp_path,
            fake,
            pg_url,
            pg_cluster.password,
            index={"dir": "index", "read_only": True},
            telegram={"admins": [ADMIN]},
        ) as (balancer, (a, b)):
            # Answered by A, its 📄 buttons pressed on B …
            balancer.route = _route_by_kind(question_to=0, button_to=1)
            answer = _ask(fake, 201, EASY_POWER)
            assert "国网营口供电公司" in answer.text
            assert [label for label, _ in answer.buttons] == ["📄 1", "📄 2", "👍", "👎"]
            for label, chunk in (("📄 1", POWER), ("📄 2", APPROVAL)):
                passage = _passage(fake, 201, answer, label)
                n = label.split()[1]
                assert passage.text.startswith(f"[{n}] 《") and passage.text.endswith(chunk.text)
            # … and the other way round.
            balancer.route = _route_by_kind(question_to=1, button_to=0)
            other = _ask(fake, 202, QUESTION)
            assert _passage(fake, 202, other, "📄 1").text.endswith(OUTPUT.text)

            # The same user's 👍 on B, then again on A: one vote. Another user's 👎 on A.
            balancer.route = lambda update: 1
            assert _press(fake, 201, answer, "👍") == messages.THANKS
            balancer.route = lambda update: 0
            assert _press(fake, 201, answer, "👍") == messages.THANKS
            assert _press(fake, 203, answer, "👎") == messages.THANKS
            taken = sorted(set(balancer.taken.values()))
            assert taken == [0, 1], "both replicas took updates"

            # /stats agrees on both replicas: 2 questions, 2 votes, 50 % 👍.
            stats = []
            for replica in (0, 1):
                balancer.route = lambda update, r=replica: r
                stats.append(_ask(fake, ADMIN, "/stats").text)
            assert stats[0] == stats[1]
            assert "累计：2 个问题" in stats[0] and "👍 50%（2 票）" in stats[0]

            # A replica of a shipped index rebuilds nothing: the build node does.
            assert _ask(fake, ADMIN, "/reindex").text == messages.NO_REINDEX

            # /forget confirmed on B deletes what A logged; its buttons then say so on A.
            balancer.route = _route_by_kind(question_to=1, button_to=1)
            confirm = _ask(fake, 201, "/forget")
            _press(fake, 201, confirm, messages.FORGET_YES)
            done = fake.wait_for("editMessageText", contains="已删除", timeout=20)[-1]
            assert done.text == messages.FORGET_DONE.format(questions=1, votes=1)
            balancer.route = lambda update: 0
            assert _press(fake, 201, answer, "📄 1") == messages.EXPIRED
            logs = [a.log(), b.log()]
        assert a.process.returncode == 0 and b.process.returncode == 0
    finally:
        fake.stop()
    for log in logs:
        assert "Traceback" not in log and " ERROR " not in log
        assert pg_cluster.password not in log
        assert "outcome=" in log  # each replica logged questions it answered
