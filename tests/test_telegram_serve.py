"""`zonebot serve` end to end: run_bot in the main thread against the fake Bot API
(polling and webhook, stopped by a real signal), and the real engine behind the bot."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.telegram import messages
from bot.telegram.app import run_bot
from tests.fake_telegram import FakeTelegram
from tests.serve_double import HANG_PHRASE
from tests.tg_support import (
    REPORT,
    EngineDouble,
    fresh_event_loop,
    make_settings,
    running_bot,
)

# PTB's own AIORateLimiter reads RetryAfter.retry_after, which warns about a future type.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

QUESTION = "营口片区去年规模以上工业总产值是多少？"
ROOT = Path(__file__).resolve().parent.parent


# ---- zonebot serve: run_bot in the main thread, stopped by a real signal ---------------


def _serve(settings, drive: Callable[[], None]) -> None:
    """Run `run_bot` here while `drive` talks to it from a thread; then SIGTERM stops it."""
    failure: list[BaseException] = []
    serving = threading.Event()

    def driver() -> None:
        try:
            drive()
        except BaseException as exc:
            failure.append(exc)
        finally:
            if not serving.is_set():  # run_bot still running: its signal handler is in place
                os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=driver)
    thread.start()
    try:
        with fresh_event_loop():
            run_bot(settings, EngineDouble)
    finally:
        serving.set()
        thread.join()
    if failure:
        raise failure[0]


def test_run_bot_polls_and_stops_cleanly_on_sigterm(tmp_path):
    fake = FakeTelegram().start()
    try:

        def drive() -> None:
            fake.wait_for("deleteWebhook")
            fake.push_text(60, 60, QUESTION)
            (answer,) = fake.wait_for("sendMessage", chat_id=60)
            assert "102.25亿元" in answer.text

        _serve(make_settings(tmp_path, fake), drive)
        assert fake.find("deleteWebhook")[0].params.get("drop_pending_updates") != "true"
        assert fake.commands[0]["command"] == "start"
    finally:
        fake.stop()


def test_run_bot_webhook_checks_the_secret_token(tmp_path, monkeypatch):
    monkeypatch.setenv("ZONEBOT_TEST_WEBHOOK_SECRET", "s3cret-Token_1")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    fake = FakeTelegram().start()
    webhook = {
        "enabled": True,
        "listen": "127.0.0.1",
        "port": port,
        "url_path": "tg-hook",
        "webhook_url": f"http://127.0.0.1:{port}/tg-hook",
        "secret_token_env": "ZONEBOT_TEST_WEBHOOK_SECRET",
    }
    try:

        def drive() -> None:
            (hook,) = fake.wait_for("setWebhook")
            assert hook.params["secret_token"] == "s3cret-Token_1"
            assert _post_until_up(f"http://127.0.0.1:{port}/tg-hook") == 403
            fake.push_text(61, 61, QUESTION)  # delivered to the webhook with the secret
            (answer,) = fake.wait_for("sendMessage", chat_id=61)
            assert "102.25亿元" in answer.text

        _serve(make_settings(tmp_path, fake, webhook=webhook), drive)
    finally:
        fake.stop()


def _post_until_up(url: str) -> int:
    """POST an update without the secret header; retry while the server is starting."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url, data=b"{}", headers={"Content-Type": "application/json"})
    for _ in range(100):
        try:
            with opener.open(request, timeout=5) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code
        except urllib.error.URLError:
            time.sleep(0.05)
    raise AssertionError(f"webhook server at {url} never came up")


# ---- the real engine -------------------------------------------------------------------


class TestRealEngine:
    @pytest.fixture(scope="class")
    @classmethod
    def engine(cls, request):
        from bot.wiring import build_engine

        request.getfixturevalue("real_retriever")  # builds the index of corpus/ once
        settings = request.getfixturevalue("real_settings")
        return build_engine(settings, request.getfixturevalue("real_embedder"))

    async def test_cited_answer_and_full_passage(self, tmp_path: Path, engine):
        async with running_bot(tmp_path, engine) as h:
            answer = await h.ask(70, QUESTION)
            assert "102.25亿元" in answer.text and "来源" in answer.text
            assert f"[1] 《{REPORT}" in answer.text and not h.fake.errors  # + its subtitle
            h.fake.push_callback(70, answer.result, dict(answer.buttons)["📄 1"])
            passage = (await h.wait_for("sendMessage", 2, chat_id=70))[-1]
            assert "102.25亿元" in passage.text

    async def test_unanswerable_question_is_refused_with_suggestions(self, tmp_path, engine):
        async with running_bot(tmp_path, engine) as h:
            answer = await h.ask(71, "上海自贸试验区临港新片区有哪些税收优惠?")
            assert "可以换个说法" in answer.text or "/sources" in answer.text
            labels = [label for label, _ in answer.buttons]
            assert labels[:2] == ["👍", "👎"]  # then 只看… for the places the corpus has
            assert all(label.startswith("只看") for label in labels[2:])


# ---- restarts: the real `zonebot serve` in its own process (engine double) -------------


def _config(tmp_path: Path, fake: FakeTelegram, base_url: str | None = None) -> Path:
    token_file = tmp_path / "bot-token"
    token_file.write_text(fake.token, encoding="utf-8")
    config = tmp_path / "config.yaml"
    config.write_text(
        "corpus: {paths: [corpus]}\nindex: {dir: index}\n"
        f"telegram:\n  token_file: {token_file}\n"
        f"  base_url: {base_url or fake.base_url}\n  base_file_url: {fake.base_file_url}\n",
        encoding="utf-8",
    )
    return config


def _start(config: Path, *options: str) -> subprocess.Popen:
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "TELEGRAM_BOT_TOKEN": ""}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.serve_double", "serve", "--config", str(config), *options],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )


def _reap(*bots: subprocess.Popen | None) -> None:
    """Kill what a failed test left running (a bot polling a stopped fake retries for ever)."""
    for bot in bots:
        if bot is not None and bot.poll() is None:
            bot.kill()
            bot.communicate()


def _stop(bot: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 15) -> str:
    """Signal the bot, wait for it to exit, return its log (stderr)."""
    bot.send_signal(sig)
    _, log = bot.communicate(timeout=timeout)
    return log


def test_questions_waiting_at_start_and_after_kill_9_are_answered(tmp_path):
    fake = FakeTelegram().start()
    bot = None
    try:
        config = _config(tmp_path, fake)
        fake.push_text(80, 80, QUESTION)  # sent while no bot was running …
        fake.push_text(81, 81, QUESTION, age=2 * 3600)  # … one of them long ago
        bot = _start(config)
        (answer,) = fake.wait_for("sendMessage", chat_id=80, timeout=30)
        assert "102.25亿元" in answer.text
        apology, late = fake.wait_for("sendMessage", 2, chat_id=81, timeout=30)
        assert apology.text == messages.BACKLOG.format(minutes=120) and "102.25亿元" in late.text
        log = _stop(bot, signal.SIGKILL)
        assert bot.returncode == -signal.SIGKILL

        fake.push_text(82, 82, QUESTION)  # sent while the bot was dead
        fake.push_text(83, 83, "易办电是什么？")
        bot = _start(config)
        assert "102.25亿元" in fake.wait_for("sendMessage", chat_id=82, timeout=30)[0].text
        assert "国网营口供电公司" in fake.wait_for("sendMessage", chat_id=83, timeout=30)[0].text
        log = _stop(bot)
        assert bot.returncode == 0
        assert len(fake.find("sendMessage", chat_id=82)) == 1, "answered once, not again"
    finally:
        _reap(bot)
        fake.stop()
    assert "Traceback" not in log
    assert re.search(r"INFO bot.telegram.questions: question user=82 chat=82 .*outcome=", log)


def test_a_question_being_answered_when_the_bot_is_killed_is_answered_after_restart(tmp_path):
    """The update is fetched and confirmed to Telegram (its offset passed), the answer is
    in progress, then kill -9: the restarted bot answers it from the inbox, once."""
    fake = FakeTelegram().start()
    bot = None
    try:
        config = _config(tmp_path, fake)
        bot = _start(config)
        fake.wait_for("setMyCommands", timeout=30)
        fake.push_text(85, 85, f"{HANG_PHRASE}：{QUESTION}")
        fake.wait_for("sendChatAction", chat_id=85, timeout=30)  # being answered
        deadline = time.monotonic() + 10
        while fake.pending and time.monotonic() < deadline:
            time.sleep(0.05)
        assert fake.pending == 0, "Telegram was told the update arrived"
        _stop(bot, signal.SIGKILL)
        assert not fake.find("sendMessage", chat_id=85)

        bot = _start(config)
        (answer,) = fake.wait_for("sendMessage", chat_id=85, timeout=30)
        assert "102.25亿元" in answer.text
        fake.push_text(86, 86, QUESTION)  # a later question: anything sent twice came first
        fake.wait_for("sendMessage", chat_id=86, timeout=30)
        log = _stop(bot)
        assert bot.returncode == 0 and len(fake.find("sendMessage", chat_id=85)) == 1
        assert "inbox_replayed questions=1" in log and "Traceback" not in log
    finally:
        _reap(bot)
        fake.stop()


def test_sigterm_finishes_the_question_in_flight_then_exits(tmp_path):
    fake = FakeTelegram().start()
    bot = None
    try:
        bot = _start(_config(tmp_path, fake), "--log-format", "json")
        fake.wait_for("setMyCommands", timeout=30)
        fake.push_text(84, 84, "慢慢回答：易办电是什么？")  # takes 1.5 s in the double
        fake.wait_for("sendChatAction", chat_id=84)
        log = _stop(bot)
        (answer,) = fake.find("sendMessage", chat_id=84)
    finally:
        _reap(bot)
        fake.stop()
    assert bot.returncode == 0 and "国网营口供电公司" in answer.text
    records = [json.loads(line) for line in log.splitlines()]  # every line is JSON
    events = [r.get("event") for r in records]
    assert events.index("question") < events.index("stopped")
    (question,) = [r for r in records if r.get("event") == "question"]
    assert question["outcome"] == "answered" and question["chat_type"] == "private"
    assert question["user"] == 84 and question["chunks"] and question["latency_ms"] > 1000


def test_serve_without_network_says_so_in_one_line(tmp_path):
    fake = FakeTelegram()  # never started: nothing listens on its port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}/bot"
    bot = _start(_config(tmp_path, fake, base_url=closed))
    _, log = bot.communicate(timeout=60)
    assert bot.returncode == 1
    lines = log.splitlines()
    assert len(lines) == 1 and "无法连接 Telegram" in lines[0] and "Traceback" not in log
    assert fake.token.split(":")[1] not in log


def test_the_fake_drops_pending_updates_only_when_asked():
    """What the restart tests rely on: Telegram keeps updates for a bot that is down,
    unless the bot starts with drop_pending_updates (as zonebot did before)."""
    fake = FakeTelegram().start()
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def delete_webhook(drop: str) -> None:
        url = f"{fake.base_url}{fake.token}/deleteWebhook?drop_pending_updates={drop}"
        with opener.open(urllib.request.Request(url, data=b""), timeout=5) as response:
            assert json.loads(response.read())["ok"]

    try:
        fake.push_text(90, 90, QUESTION)
        delete_webhook("false")
        assert fake.pending == 1
        delete_webhook("true")
        assert fake.pending == 0
    finally:
        fake.stop()
