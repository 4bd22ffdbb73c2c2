"""The error handler: domain errors are shown as written; anything else is logged with its
traceback (token redacted), sent to the admin chat, and apologised for in the chat."""

from __future__ import annotations

import contextlib
import html
import logging
import traceback

from telegram import Bot, Update
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import ContextTypes

from bot.logging_setup import RedactingFilter, event
from bot.telegram.messages import APOLOGY
from index.errors import ZonebotError

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE

ADMIN_TRACE_CHARS = 3500  # tail of a traceback sent to the admin chat (message limit 4096)


class ErrorReporter:
    def __init__(self, admin_chat: int | None, secrets: list[str]) -> None:
        self._admin_chat = admin_chat
        self._redactor = RedactingFilter(secrets)

    async def on_error(self, update: object, context: Context) -> None:
        error = context.error
        if isinstance(error, Forbidden) or (
            isinstance(error, BadRequest) and "not modified" in error.message.lower()
        ):
            log.warning(event("telegram_error_ignored", error=str(error)))
            return
        if isinstance(error, ZonebotError):
            log.warning(event("domain_error", type=type(error).__name__, message=str(error)))
            text = str(error)
        else:
            log.error("unhandled error while processing an update", exc_info=error)
            text = APOLOGY
            await self._notify_admin_chat(context.bot, error)
        message = update.effective_message if isinstance(update, Update) else None
        if message is not None:
            with contextlib.suppress(TelegramError):
                await message.reply_text(text, parse_mode=None)

    async def _notify_admin_chat(self, bot: Bot, error: BaseException | None) -> None:
        if self._admin_chat is None or error is None:
            return
        trace = self._redactor.redact("".join(traceback.format_exception(error)))
        text = f"<b>zonebot 错误</b>\n<pre>{html.escape(trace[-ADMIN_TRACE_CHARS:])}</pre>"
        with contextlib.suppress(TelegramError):
            await bot.send_message(self._admin_chat, text)
