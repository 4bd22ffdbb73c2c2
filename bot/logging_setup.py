"""Logging for every command: one set-up, one line per event, and the bot token never
reaches any output.

`setup_logging` is called once, by `bot.cli.main`, for every command; `zonebot serve`
runs at INFO so that each question, start, stop and reindex leaves a line. Events are
logged as `event(name, key=value, ...)`: a `key=value` line in the text format, an
object with the same keys in the JSON format (`--log-format json`, for log shippers).

The token leaks in two ways: httpx logs every request URL (which contains the token)
at INFO, and PTB's `InvalidToken` message quotes the token, so it shows up in
tracebacks. Quietening httpx handles the first; a redacting filter on every handler
handles both, including exception text formatted by the handler.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Literal, TextIO

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LogFormat = Literal["text", "json"]
_MASK = "***"
_BOT_TOKEN = re.compile(r"\d+:[\w-]+")


class Event(str):
    """A log message that is also its fields: `name key=value ...` as a string, `name`
    and `fields` for the JSON formatter."""

    name: str
    fields: dict[str, object]

    def __new__(cls, name: str, fields: dict[str, object]) -> Event:
        text = " ".join([name, *(f"{key}={_value(value)}" for key, value in fields.items())])
        instance = super().__new__(cls, text)
        instance.name, instance.fields = name, fields
        return instance

    def redacted(self, redact: Callable[[str], str]) -> Event:
        """The same event with every secret masked in its values."""
        return Event(self.name, {k: json.loads(redact(_json(v))) for k, v in self.fields.items()})


def event(name: str, **fields: object) -> Event:
    """`name key=value ...` on one line; strings and lists as JSON so the line stays parseable."""
    return Event(name, fields)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, event (or message) and the event's
    fields; a traceback goes into `exception`."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
        }
        if isinstance(record.msg, Event):
            payload |= {"event": record.msg.name, **record.msg.fields}
        else:
            payload["message"] = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            payload["exception"] = record.exc_text
        return json.dumps(payload, ensure_ascii=False, default=str)


def setup_logging(
    level: int | str = logging.INFO, log_format: LogFormat = "text", stream: TextIO | None = None
) -> None:
    """Records of `level` and above to `stream` (stderr), replacing earlier zonebot handlers
    (handlers installed by others, such as pytest's, are left alone); httpx quiet."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "zonebot", False)]:
        root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.zonebot = True  # type: ignore[attr-defined]
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(FORMAT))
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("httpx", "httpcore"):  # one INFO line per request, URL (with token) included
        logging.getLogger(noisy).setLevel(logging.WARNING)


class RedactingFilter(logging.Filter):
    """Replaces secrets in a record's message and exception text before any handler formats it."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        # Only the part after the colon of a bot token is secret; the bot id stays readable.
        # Any other secret (a password with a colon in it) is masked whole.
        parts = {s.split(":", 1)[1] if _BOT_TOKEN.fullmatch(s) else s for s in secrets if s}
        self._secrets = sorted((p for p in parts if len(p) >= 4), key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, _MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, Event) and not record.args:
            record.msg = record.msg.redacted(self.redact)
        else:
            record.msg, record.args = self.redact(record.getMessage()), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def install_redaction(*secrets: str) -> RedactingFilter:
    """Attach a redacting filter to every handler of the root logger (call after setup)."""
    redactor = RedactingFilter(secrets)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redactor)
    return redactor


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return _json(value)
