"""Logging for the bot: one line per event, and the bot token never reaches any output.

The token leaks in two ways: httpx logs every request URL (which contains the token)
at INFO, and PTB's `InvalidToken` message quotes the token, so it shows up in
tracebacks. Quietening httpx handles the first; a redacting filter on every handler
handles both, including exception text formatted by the handler.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from typing import TextIO

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_MASK = "***"


def setup_logging(level: int | str = logging.INFO, stream: TextIO | None = None) -> None:
    """One-line records to `stream` (stderr) unless logging is set up already; httpx quiet."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(stream or sys.stderr)
        handler.setFormatter(logging.Formatter(FORMAT))
        root.addHandler(handler)
        root.setLevel(level)
    for noisy in ("httpx", "httpcore"):  # one INFO line per request, URL (with token) included
        logging.getLogger(noisy).setLevel(logging.WARNING)


class RedactingFilter(logging.Filter):
    """Replaces secrets in a record's message and exception text before any handler formats it."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        # Only the part after the colon of a bot token is secret; the bot id stays readable.
        parts = {s.split(":", 1)[1] if ":" in s else s for s in secrets if s}
        self._secrets = sorted((p for p in parts if len(p) >= 4), key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, _MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg, record.args = self.redact(message), None
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


def event(name: str, **fields: object) -> str:
    """`name key=value ...` on one line; strings and lists as JSON so the line stays parseable."""
    return " ".join([name, *(f"{key}={_value(value)}" for key, value in fields.items())])


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False)
