"""The bot token appears in no log output: not in httpx request lines, not in tracebacks,
not when start-up fails because Telegram rejects the token."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot.config import TokenMissing, bot_token
from bot.logging_setup import FORMAT, RedactingFilter, event, install_redaction, setup_logging
from bot.telegram.app import TokenRejected, run_bot
from tests.fake_telegram import TOKEN, FakeTelegram
from tests.tg_support import EngineDouble, fresh_event_loop, make_settings, running_bot

SECRET = TOKEN.split(":")[1]


@pytest.fixture
def debug_log() -> Iterator[io.StringIO]:
    """Everything logged at DEBUG, by every logger (httpx included), formatted with tracebacks."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(FORMAT))
    root = logging.getLogger()
    levels = {name: logging.getLogger(name).level for name in ("", "httpx", "httpcore")}
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def test_filter_redacts_messages_arguments_and_tracebacks():
    redactor = RedactingFilter([TOKEN])
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(redactor)
    log = logging.getLogger("test.redaction")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("POST http://api/bot%s/getMe", TOKEN)
        try:
            raise RuntimeError(f"The token `{TOKEN}` was rejected by the server.")
        except RuntimeError:
            log.exception("start-up failed", stack_info=True)
        log.error("secret alone: %s", SECRET)
    finally:
        log.removeHandler(handler)
        log.propagate = True
    output = stream.getvalue()
    assert SECRET not in output
    assert "bot123456:***/getMe" in output and "The token `123456:***` was rejected" in output
    assert "secret alone: ***" in output


async def test_no_token_in_debug_logs_of_a_whole_conversation(tmp_path, debug_log):
    logging.getLogger("httpx").setLevel(logging.DEBUG)  # worst case: request URLs logged
    install_redaction(TOKEN)
    async with running_bot(tmp_path, admin_chat=900) as h:
        await h.ask(1, "营口片区去年规模以上工业总产值是多少？")
        h.fake.push_text(2, 2, "触发故障")  # a traceback, also sent to the admin chat
        await h.wait_for("sendMessage", chat_id=900)
    output = debug_log.getvalue()
    assert "HTTP Request: POST" in output and "bot123456:***/sendMessage" in output
    assert "question user=1 chat=1" in output and "Traceback" in output
    assert SECRET not in output


def test_rejected_token_at_start_up_is_a_clear_error_and_never_logged(tmp_path, debug_log):
    fake = FakeTelegram(token="123456:THE-REAL-ONE").start()  # refuses TOKEN with 401
    try:
        settings = make_settings(tmp_path, fake)
        (tmp_path / "bot-token").write_text(TOKEN)
        with pytest.raises(TokenRejected) as error, fresh_event_loop():
            run_bot(settings, EngineDouble)
    finally:
        fake.stop()
    assert SECRET not in str(error.value) and "@BotFather" in str(error.value)
    assert error.value.__cause__ is None and error.value.__suppress_context__
    output = debug_log.getvalue()
    assert "getMe" in output and "Unauthorized" in output
    assert SECRET not in output


def test_missing_token_names_where_to_put_it(tmp_path, monkeypatch):
    fake = FakeTelegram()
    settings = make_settings(tmp_path, fake, token_env="ZONEBOT_TEST_EMPTY", token_file=None)
    monkeypatch.delenv("ZONEBOT_TEST_EMPTY", raising=False)
    with pytest.raises(TokenMissing, match=r"\$ZONEBOT_TEST_EMPTY"):
        bot_token(settings.telegram)
    monkeypatch.setenv("ZONEBOT_TEST_EMPTY", f"  {TOKEN}\n")
    assert bot_token(settings.telegram) == TOKEN, "the environment wins over the token file"


def test_webhook_mode_requires_its_secret(tmp_path, monkeypatch):
    fake = FakeTelegram()
    webhook = {
        "enabled": True,
        "webhook_url": "https://bot.example.org/tg",
        "secret_token_env": "ZONEBOT_TEST_NO_SECRET",
    }
    monkeypatch.delenv("ZONEBOT_TEST_NO_SECRET", raising=False)
    with pytest.raises(TokenMissing, match="ZONEBOT_TEST_NO_SECRET"):
        run_bot(make_settings(tmp_path, fake, webhook=webhook), EngineDouble)


def test_json_log_lines_keep_event_fields_and_redact_the_token():
    stream = io.StringIO()
    setup_logging(logging.INFO, "json", stream)
    try:
        install_redaction(TOKEN)
        log = logging.getLogger("test.json")
        log.info(event("question", user=1, url=f"http://api/bot{TOKEN}/getMe", chunks=["a:1"]))
        try:
            raise RuntimeError(f"token {TOKEN}")
        except RuntimeError:
            log.exception("plain %s", "message")
    finally:
        setup_logging(logging.WARNING)  # back to a stderr handler without the stream
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["event"] == "question" and first["user"] == 1 and first["chunks"] == ["a:1"]
    assert first["url"] == "http://api/bot123456:***/getMe" and first["level"] == "INFO"
    assert (
        second["message"] == "plain message"
        and "RuntimeError: token 123456:***" in second["exception"]
    )
    assert SECRET not in stream.getvalue()


def test_setting_up_twice_replaces_the_handler():
    setup_logging(logging.INFO)
    setup_logging(logging.WARNING)
    ours = [h for h in logging.getLogger().handlers if getattr(h, "zonebot", False)]
    assert len(ours) == 1 and logging.getLogger().level == logging.WARNING


def test_a_password_with_a_colon_is_masked_whole():
    """Only a bot token keeps its id before the colon; a PostgreSQL password is all secret."""
    redactor = RedactingFilter([TOKEN, "pa:ss-word"])
    assert redactor.redact(f"{TOKEN} pa:ss-word") == "123456:*** ***"
