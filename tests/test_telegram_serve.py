"""`zonebot serve` end to end: run_bot in the main thread against the fake Bot API
(polling and webhook, stopped by a real signal), and the real engine behind the bot."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.telegram.app import run_bot
from tests.fake_telegram import FakeTelegram
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
            assert [label for label, _ in answer.buttons] == ["👍", "👎"]
